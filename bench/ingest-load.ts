// Load generator for bench/ingest: posts signed gzip binary batches from many sensors, counts acks.
// Runs in its own process so its CPU is not the server's. Input on argv as JSON; result on stdout.

import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { gzipSync } from 'node:zlib';
import type { EventBatch, EventColumns } from '../src/core/event.ts';
import { signRequest } from '../src/core/signing.ts';
import { encodeBinaryBatch } from '../src/core/wire/binary.ts';
import { BackgroundTraffic } from '../src/sim/background.ts';

interface LoadSpec {
  url: string;
  sensors: { id: string; secret: string }[];
  seconds: number;
  warmupSeconds: number;
  concurrency: number;
  seed: number;
}

const spec = JSON.parse(process.argv[2]) as LoadSpec;
const PATH = '/api/v1/batches';

// A pool of distinct batches (1,000-10,000 events, realistic port and address mix), re-sent with
// fresh batch ids and times; encoding, compression and signing happen per request, as a sensor would.
const traffic = new BackgroundTraffic({ seed: spec.seed, sources: 300_000 });
const pool: EventColumns[] = [];
for (let i = 0; i < 48; i++) {
  const n = 1000 + Math.floor((9000 * ((i * 7919) % 48)) / 47);
  const net = ((10 + (i % 200)) * 2 ** 24 + i * 65_536 * 3) >>> 0;
  pool.push(traffic.generate(n, net, 0, 60_000));
}

const agent = new Agent({ keepAlive: true, maxSockets: spec.concurrency });
const url = new URL(spec.url);

function post(body: Buffer, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: PATH,
        method: 'POST',
        agent,
        headers: { ...headers, 'content-length': String(body.length) },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString() }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

let acked = 0;
let ackedBatches = 0;
let failures = 0;
let bytesSent = 0;
const failureSamples: string[] = [];
const start = Date.now();
const measureFrom = start + spec.warmupSeconds * 1000;
const end = measureFrom + spec.seconds * 1000;
let measuredEvents = 0;
let k = 0;

async function worker(w: number): Promise<void> {
  let seq = 0;
  while (Date.now() < end) {
    const columns = pool[k++ % pool.length];
    const now = Date.now();
    // Shift the pool's times to now so rollups see live minutes.
    const shifted: EventColumns = { ...columns, time: columns.time.map((t) => t + now - 60_000) };
    const sensor = spec.sensors[(w + seq * spec.concurrency) % spec.sensors.length];
    const batch: EventBatch = {
      batchId: randomUUID(),
      seq: seq++,
      created: now,
      software: 'portent-bench/1',
      events: shifted,
    };
    const body = gzipSync(encodeBinaryBatch(batch), { level: 1 });
    const headers = {
      'content-type': 'application/vnd.portent.batch',
      'content-encoding': 'gzip',
      ...signRequest(sensor.id, sensor.secret, 'POST', PATH, body, now),
    };
    const res = await post(body, headers);
    bytesSent += body.length;
    if (res.status === 200) {
      acked += batch.events.length;
      ackedBatches++;
      const at = Date.now();
      if (at >= measureFrom && at < end) measuredEvents += batch.events.length;
    } else {
      failures++;
      if (failureSamples.length < 5) failureSamples.push(`${res.status} ${res.body.slice(0, 200)}`);
      if (res.status === 429 || res.status === 503) await new Promise((r) => setTimeout(r, 50));
    }
  }
}

await Promise.all(Array.from({ length: spec.concurrency }, (_, w) => worker(w)));
agent.destroy();
process.stdout.write(
  JSON.stringify({
    acked,
    ackedBatches,
    failures,
    failureSamples,
    measuredEvents,
    measuredSeconds: spec.seconds,
    bytesSent,
    totalSeconds: (Date.now() - start) / 1000,
  }) + '\n',
);
