// Tests of the pcap/pcapng reader on captures built byte by byte: golden results, streaming in chunks, truncation and fuzzing.

import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import fc from 'fast-check';
import { assertCollectorAccepts } from '../../../test/helpers/collector-accepts.ts';
import { assertGolden } from '../../../test/helpers/golden-json.ts';
import {
  ETHERTYPE,
  ethernet,
  ipv4,
  pcapFile,
  pcapngFile,
  tcp,
} from '../../../test/helpers/capture-builder.ts';
import { BASE_SECONDS, scenarios } from '../../../test/helpers/capture-scenarios.ts';
import type { ParseResult } from '../parsers/types.ts';
import {
  CaptureDecoder,
  countResult,
  decodeCapture,
  emptyCounts,
  looksLikeCapture,
  readCapture,
  readCaptureBatches,
} from './reader.ts';

const NOW = Date.UTC(2026, 0, 1);
const ctx = { now: NOW };
const GOLDEN = new URL('../../../test/golden/formats/pcap.json', import.meta.url).pathname;

function decodeAll(bytes: Uint8Array): ParseResult[] {
  return [...decodeCapture(bytes, ctx)];
}

function decodeInChunks(bytes: Uint8Array, sizes: (i: number) => number): ParseResult[] {
  const decoder = new CaptureDecoder(ctx);
  const out: ParseResult[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = Math.max(1, sizes(i));
    out.push(...decoder.push(bytes.subarray(at, at + n)));
    at += n;
  }
  out.push(...decoder.end());
  return out;
}

test('golden: every scenario capture decodes to the committed results', () => {
  const all = scenarios().map((s) => ({ capture: s.name, results: decodeAll(s.bytes) }));
  for (const { results } of all) {
    for (const r of results) if (r.kind === 'event') assertCollectorAccepts(r.event, NOW);
  }
  assertGolden(GOLDEN, all);
});

test('both byte orders and both timestamp units give the same results', () => {
  const [le, be] = scenarios();
  const strip = (rs: ParseResult[]) => rs;
  assert.deepEqual(strip(decodeAll(be.bytes)), strip(decodeAll(le.bytes)));
  const [pngLe, pngBe] = scenarios().filter((s) => s.name.startsWith('pcapng'));
  assert.deepEqual(decodeAll(pngBe.bytes), decodeAll(pngLe.bytes));
});

test('timestamps are exact to the millisecond, rounded down, in every resolution', () => {
  const png = scenarios().find((s) => s.name.startsWith('pcapng, little'))!;
  const times = decodeAll(png.bytes).flatMap((r) => (r.kind === 'event' ? [r.event.time] : []));
  const base = BASE_SECONDS * 1000;
  // µs .123456 -> 123; ns .987654321 -> 987; 2^-20 s units at half a second, minus the offset -> 500; ms 5.
  assert.deepEqual(times, [base + 123, base + 987, base + 500, base + 5]);
});

test('the decoder gives the same results whatever the chunk sizes', () => {
  for (const s of scenarios()) {
    const whole = decodeAll(s.bytes);
    assert.deepEqual(
      decodeInChunks(s.bytes, () => 1),
      whole,
      `${s.name}, 1-byte chunks`,
    );
    assert.deepEqual(
      decodeInChunks(s.bytes, (i) => (i * 7919) % 97),
      whole,
      `${s.name}, uneven chunks`,
    );
  }
});

test('readCapture reads a Node stream in chunks as it arrives', async () => {
  const s = scenarios()[0];
  const chunks = [];
  for (let at = 0; at < s.bytes.length; at += 100) chunks.push(s.bytes.subarray(at, at + 100));
  const results: ParseResult[] = [];
  for await (const r of readCapture(Readable.from(chunks), ctx)) results.push(r);
  assert.deepEqual(results, decodeAll(s.bytes));
});

test('readCaptureBatches gives the same results, one array per chunk', async () => {
  const s = scenarios()[1];
  const chunks = [];
  for (let at = 0; at < s.bytes.length; at += 333) chunks.push(s.bytes.subarray(at, at + 333));
  const batches: ParseResult[][] = [];
  for await (const b of readCaptureBatches(Readable.from(chunks), ctx)) batches.push(b);
  assert.ok(batches.length > 1 && batches.every((b) => b.length > 0));
  assert.deepEqual(batches.flat(), decodeAll(s.bytes));
});

test('a stream opened as text is reported, not misread', async () => {
  const results: ParseResult[] = [];
  for await (const r of readCapture(Readable.from(['not bytes']), ctx)) results.push(r);
  assert.equal(results.length, 1);
  assert.equal(results[0].kind, 'error');
});

test('every prefix of a capture ends cleanly: the whole records, then one truncation error', () => {
  for (const s of scenarios().filter((x) => x.bytes.length < 4000)) {
    const whole = decodeAll(s.bytes);
    for (let cut = 0; cut < s.bytes.length; cut++) {
      const part = decodeAll(s.bytes.subarray(0, cut));
      const last = part.at(-1);
      const truncated =
        last?.kind === 'error' && /truncated|inside the file header|empty capture/.test(last.message);
      // Either the cut fell inside a record (one truncation error after the whole records before it)
      // or exactly between records (a shorter, complete capture).
      const wholeRecords = truncated ? part.slice(0, -1) : part;
      assert.deepEqual(wholeRecords, whole.slice(0, wholeRecords.length), `${s.name} cut at ${cut}`);
      assert.ok(
        truncated || part.length < whole.length,
        `${s.name} cut at ${cut}: fewer results than the whole`,
      );
    }
  }
});

test('something that is not a capture is one error', () => {
  assert.deepEqual(decodeAll(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), [
    { kind: 'error', message: 'not a pcap or pcapng file (starts with 0x47455420)' },
  ]);
  assert.deepEqual(decodeAll(Buffer.alloc(0)), [{ kind: 'error', message: 'empty capture' }]);
  assert.equal(looksLikeCapture(scenarios()[0].bytes), true);
  assert.equal(looksLikeCapture(scenarios()[1].bytes), true);
  assert.equal(looksLikeCapture(Buffer.from('{"a":1}')), false);
});

test('a record claiming an absurd length ends the reading with one error', () => {
  const bytes = Buffer.from(scenarios()[0].bytes);
  bytes.writeUInt32LE(0x7fffffff, 24 + 8); // first record's captured length
  const results = decodeAll(bytes);
  assert.equal(results.length, 1);
  assert.match((results[0] as { message: string }).message, /claims 2147483647 captured bytes/);
});

test('counts sum every result', () => {
  const c = emptyCounts();
  for (const r of decodeAll(scenarios()[0].bytes)) countResult(c, r);
  assert.equal(c.events + c.skips + c.errors, decodeAll(scenarios()[0].bytes).length);
  assert.ok(c.events > 10 && c.skips > 5 && c.errors >= 2);
  assert.equal(c.skipReasons.get('TCP segment with ACK (part of a connection, not a probe)'), 3);
});

/** Runs the decoder and checks the invariants any input must keep. */
function checkAnyInput(bytes: Uint8Array): void {
  const results = decodeAll(bytes);
  for (const r of results) {
    assert.ok(r.kind === 'event' || r.kind === 'skip' || r.kind === 'error');
    if (r.kind === 'event') assertCollectorAccepts(r.event, NOW);
  }
  assert.deepEqual(
    decodeInChunks(bytes, (i) => 1 + ((i * 31) % 13)),
    results,
  );
}

test('fuzz: bit flips anywhere in pcap and pcapng captures never throw, and every event is valid', () => {
  const bases = scenarios().map((s) => s.bytes);
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: bases.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 8 }),
      fc.option(fc.nat(), { nil: undefined }),
      (which, flips, cut) => {
        const bytes = Buffer.from(bases[which]);
        for (const [at, bit] of flips) bytes[at % bytes.length] ^= 1 << bit;
        checkAnyInput(cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.length + 1)));
      },
    ),
    { numRuns: 1500 },
  );
});

test('fuzz: random packet bytes behind valid file headers never throw', () => {
  const linkTypes = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276];
  fc.assert(
    fc.property(
      fc.constantFrom(...linkTypes),
      fc.array(fc.uint8Array({ maxLength: 120 }), { maxLength: 6 }),
      fc.boolean(),
      (linkType, frames, asPcapng) => {
        const packets = frames.map((f, i) => ({
          seconds: BASE_SECONDS + i,
          fraction: 0,
          data: Buffer.from(f),
        }));
        const bytes = asPcapng
          ? pcapngFile([
              {
                littleEndian: true,
                interfaces: [{ linkType }],
                packets: packets.map((p) => ({
                  iface: 0,
                  timestamp: BigInt(p.seconds) * 1_000_000n,
                  data: p.data,
                })),
              },
            ])
          : pcapFile(packets, { littleEndian: true, nanoseconds: false, linkType });
        checkAnyInput(bytes);
      },
    ),
    { numRuns: 1500 },
  );
});

test('fuzz: IP headers with random fields behind Ethernet never throw', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 20, maxLength: 80 }),
      fc.integer({ min: 0, max: 255 }),
      (rest, proto) => {
        const ip = Buffer.from(rest);
        ip[0] = 0x40 | (ip[0] & 0x0f); // IPv4 with a random header length
        ip[9] = proto;
        const frame = ethernet(ETHERTYPE.ipv4, ip);
        checkAnyInput(
          pcapFile([{ seconds: BASE_SECONDS, fraction: 0, data: frame }], {
            littleEndian: true,
            nanoseconds: false,
            linkType: 1,
          }),
        );
      },
    ),
    { numRuns: 1000 },
  );
});

test('an Ethernet frame of a SYN gives every fingerprint', () => {
  const frame = ethernet(
    ETHERTYPE.ipv4,
    ipv4({
      src: '203.0.113.5',
      dst: '192.0.2.1',
      proto: 6,
      id: 4242,
      ttl: 37,
      payload: tcp({ sport: 1, dport: 23, seq: 99, flags: 2, window: 14600 }),
    }),
  );
  const [r] = decodeAll(
    pcapFile([{ seconds: BASE_SECONDS, fraction: 1500, data: frame }], {
      littleEndian: true,
      nanoseconds: false,
      linkType: 1,
    }),
  );
  assert.deepEqual(r, {
    kind: 'event',
    event: {
      time: BASE_SECONDS * 1000 + 1,
      src: '203.0.113.5',
      srcPort: 1,
      dst: '192.0.2.1',
      dstPort: 23,
      proto: 6,
      tcpFlags: 2,
      action: 'unknown',
      origin: 'capture',
      ipId: 4242,
      ttl: 37,
      window: 14600,
      seq: 99,
      payloadSha256: null,
      count: 1,
      sampling: 1,
    },
  });
});
