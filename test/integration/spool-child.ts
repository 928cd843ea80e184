// A sensor for the spool crash test: writes numbered chunks of events to a spool while shipping them, resuming after a kill.
//
// Run as a child process (see spool-crash.test.ts) with PORTENT_TEST_* variables. It reports progress as
// JSON lines on stdout, and "done" once every chunk is written and acknowledged.

import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import type { EventColumns } from '../../src/core/event.ts';
import { Shipper } from '../../src/sensor/shipper/shipper.ts';
import { Spool } from '../../src/sensor/spool/spool.ts';
import { BackgroundTraffic } from '../../src/sim/background.ts';

export const CHUNK_EVENTS = 1000;

/** Chunk `i`: the same events every time it is made, each with its own time (base + its number). */
export function chunkEvents(i: number, base: number): EventColumns {
  const c = new BackgroundTraffic({ seed: i + 1, sources: 400 }).generate(
    CHUNK_EVENTS,
    (30 + (i % 50)) * 2 ** 24,
    base - 60_000,
    base,
  );
  for (let j = 0; j < CHUNK_EVENTS; j++) c.time[j] = base + i * CHUNK_EVENTS + j;
  return c;
}

async function main(): Promise<void> {
  const env = (name: string): string => {
    const v = process.env[`PORTENT_TEST_${name}`];
    if (v === undefined) throw new Error(`PORTENT_TEST_${name} is not set`);
    return v;
  };
  const chunks = Number(env('CHUNKS'));
  const base = Number(env('BASE'));
  const spool = await Spool.open({
    dir: env('SPOOL'),
    maxBytes: 1024 ** 3,
    // Small segments: the test crosses many segment boundaries and deletions.
    segmentBytes: 64 * 1024,
    fsync: 'always',
    samplingAdjustMs: 1000,
  });
  const shipper = new Shipper(spool, {
    url: env('URL'),
    credentials: { id: env('SENSOR_ID'), secret: env('SENSOR_SECRET') },
    minBatchEvents: 1000,
    maxBatchEvents: 2500,
    lingerMs: 20,
    retryBaseMs: 20,
    retryMaxMs: 200,
    requestTimeoutMs: 10_000,
  });
  const report = () => {
    const h = spool.health();
    process.stdout.write(
      `${JSON.stringify({ appended: h.appendedEvents, acked: h.ackedEvents, unshipped: h.unshippedEvents })}\n`,
    );
  };
  const shipping = shipper.run();
  shipping.catch((err) => {
    console.error(err);
    process.exit(2);
  });

  // Chunks are single records, written whole or not at all: the spool says which one is next.
  const written = spool.health().appendedEvents;
  if (written % CHUNK_EVENTS !== 0) throw new Error(`the spool holds ${written} events, not whole chunks`);
  for (let i = written / CHUNK_EVENTS; i < chunks; i++) {
    await spool.append(chunkEvents(i, base));
    report();
    await delay(5);
  }
  while (spool.health().unshippedEvents > 0) {
    report();
    await delay(10);
  }
  report();
  await shipper.close();
  await spool.close();
  process.stdout.write('"done"\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
