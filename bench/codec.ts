// Benchmark of the wire codecs on one core: a realistic 10,000-event IPv4 batch through binary, NDJSON and gzip.
//
// Run: node_modules/.bin/node bench/codec.ts. Prints a table, then as its last line one JSON object with
// every figure, for scripts to compare runs. Each figure is the median of several timed rounds after a
// warm-up, so JIT tiering and GC pauses do not decide the result.

import { gunzipSync, gzipSync } from 'node:zlib';
import { FakeClock } from '../src/core/clock.ts';
import type { EventBatch, PortentEvent } from '../src/core/event.ts';
import { decodeBinaryBatch, encodeBinaryBatch } from '../src/core/wire/binary.ts';
import { decodeNdjsonBatch, encodeNdjsonBatch, eventsToColumns } from '../src/core/wire/ndjson.ts';

const N = 10_000;
const NOW = Date.UTC(2026, 0, 1, 12);

/** Deterministic PRNG (mulberry32) so every run measures the same batch. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A firewall sensor's 10 s batch: sources spread over ~3,000 /24s (scanners and a few busy ones),
 * destinations in the sensor's own /24, destination ports Zipf-skewed towards the usual targets.
 */
function realisticBatch(): EventBatch {
  const r = rng(42);
  const ports = [
    23, 22, 80, 443, 445, 3389, 8080, 2323, 5555, 1433, 3306, 6379, 8443, 5900, 21, 25, 53, 123, 161, 1900,
  ];
  const zipf = ports.map((_, i) => 1 / (i + 1));
  const total = zipf.reduce((a, b) => a + b, 0);
  const pickPort = (): number => {
    if (r() < 0.15) return Math.floor(r() * 65536); // the long tail of full-range scans
    let x = r() * total;
    for (let i = 0; i < ports.length; i++) if ((x -= zipf[i]) <= 0) return ports[i];
    return ports[0];
  };
  const nets = Array.from({ length: 3000 }, () => [
    1 + Math.floor(r() * 222),
    Math.floor(r() * 256),
    Math.floor(r() * 256),
  ]);
  const events: PortentEvent[] = [];
  for (let i = 0; i < N; i++) {
    const net = nets[Math.floor(r() ** 2 * nets.length)]; // some networks are much busier than others
    const udp = r() < 0.1;
    events.push({
      time: NOW - 10_000 + Math.floor((i * 10_000) / N),
      src: `${net[0]}.${net[1]}.${net[2]}.${1 + Math.floor(r() * 254)}`,
      srcPort: 1024 + Math.floor(r() * 64511),
      dst: `203.0.113.${1 + Math.floor(r() * 254)}`,
      dstPort: pickPort(),
      proto: udp ? 17 : 6,
      tcpFlags: udp ? 0 : 2,
      action: 'blocked',
      origin: 'firewall',
      ipId: null,
      ttl: null,
      window: null,
      seq: null,
      payloadSha256: null,
      count: 1,
      sampling: 1,
    });
  }
  return {
    batchId: '3f2b8c1e-0d4a-4e6b-9a7c-5e1f2d3c4b5a',
    seq: 1,
    created: NOW,
    software: 'portent-sensor/0.1.0',
    events: eventsToColumns(events),
  };
}

/** Events per second of `fn` (which handles N events per call): median of rounds of ~250 ms each. */
function measure(fn: () => unknown, rounds = 7): number {
  const warmUntil = performance.now() + 300;
  while (performance.now() < warmUntil) fn();
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let calls = 0;
    const start = performance.now();
    let elapsed: number;
    do {
      fn();
      calls++;
      elapsed = performance.now() - start;
    } while (elapsed < 250);
    rates.push((calls * N) / (elapsed / 1000));
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)];
}

const batch = realisticBatch();
const limits = { maxEvents: 100_000, clock: new FakeClock(NOW) };
const binary = encodeBinaryBatch(batch);
const ndjsonText = encodeNdjsonBatch(batch);
const ndjson = new TextEncoder().encode(ndjsonText);
const gzBinary = gzipSync(binary);
const gzNdjson = gzipSync(ndjson);
const eventLines = ndjsonText.split('\n').slice(1, -1);

let sink = 0;
const results = {
  events: N,
  binary_bytes_per_event: binary.length / N,
  ndjson_bytes_per_event: ndjson.length / N,
  gzip_binary_bytes_per_event: gzBinary.length / N,
  gzip_ndjson_bytes_per_event: gzNdjson.length / N,
  binary_decode_events_per_s: measure(() => (sink += decodeBinaryBatch(binary, limits).events.length)),
  binary_encode_events_per_s: measure(() => (sink += encodeBinaryBatch(batch).length)),
  gzip_binary_decode_events_per_s: measure(
    () => (sink += decodeBinaryBatch(gunzipSync(gzBinary), limits).events.length),
  ),
  ndjson_decode_events_per_s: measure(() => (sink += decodeNdjsonBatch(ndjson, limits).events.length)),
  gzip_ndjson_decode_events_per_s: measure(
    () => (sink += decodeNdjsonBatch(gunzipSync(gzNdjson), limits).events.length),
  ),
  json_parse_events_per_s: measure(() => {
    for (const line of eventLines) sink += JSON.parse(line).src_port;
  }),
};
if (sink === 0) throw new Error('nothing measured');

const fmt = (v: number): string => (v >= 1000 ? `${(v / 1e6).toFixed(2)} M/s` : v.toFixed(2));
const rows: [string, string][] = [
  ['binary decode', fmt(results.binary_decode_events_per_s)],
  ['binary encode', fmt(results.binary_encode_events_per_s)],
  ['gzip + binary decode', fmt(results.gzip_binary_decode_events_per_s)],
  ['NDJSON decode (bytes -> columns)', fmt(results.ndjson_decode_events_per_s)],
  ['gzip + NDJSON decode', fmt(results.gzip_ndjson_decode_events_per_s)],
  ['JSON.parse of the event lines alone', fmt(results.json_parse_events_per_s)],
  ['binary bytes/event', fmt(results.binary_bytes_per_event)],
  ['gzip binary bytes/event', fmt(results.gzip_binary_bytes_per_event)],
  ['NDJSON bytes/event', fmt(results.ndjson_bytes_per_event)],
  ['gzip NDJSON bytes/event', fmt(results.gzip_ndjson_bytes_per_event)],
];
console.log(`Wire codecs, one core, batch of ${N} IPv4 events (${process.version})`);
for (const [name, value] of rows) console.log(`  ${name.padEnd(38)} ${value.padStart(12)}`);
console.log(JSON.stringify(results));
