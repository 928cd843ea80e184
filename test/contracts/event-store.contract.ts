// The event-store contract: every EventStore adapter must pass these, checked against brute force.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { eventsToColumns } from '../../src/core/wire/ndjson.ts';
import type { EventBatch, PortentEvent } from '../../src/core/event.ts';
import type { EventStore, Metric } from '../../src/storage/event-store.ts';

/** A store under test; `reopen` closes it and opens the same data again. */
export interface StoreHandle {
  store: EventStore;
  reopen(): Promise<EventStore>;
  close(): Promise<void>;
}

const T0 = Date.UTC(2026, 10, 23, 10, 0);
const MINUTE = 60_000;

/** Events over three hours, few ports and small address pools, so distinct counts are exact. */
const arbEvent: fc.Arbitrary<PortentEvent> = fc.record({
  time: fc.integer({ min: T0, max: T0 + 3 * 3_600_000 - 1 }),
  src: fc.oneof(
    {
      weight: 9,
      arbitrary: fc
        .tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 40 }))
        .map(([a, b]) => `198.51.${a}.${b}`),
    },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 5 }).map((x) => `2001:db8::${x}`) },
  ),
  srcPort: fc.integer({ min: 0, max: 65535 }),
  dst: fc.option(
    fc.integer({ min: 1, max: 60 }).map((x) => `203.0.113.${x}`),
    { freq: 8 },
  ),
  dstPort: fc.constantFrom(22, 23, 445, 2967, 5168),
  proto: fc.constantFrom(6, 17),
  tcpFlags: fc.constant(2),
  action: fc.constant('blocked' as const),
  origin: fc.constant('firewall' as const),
  ipId: fc.constant(null),
  ttl: fc.constant(null),
  window: fc.constant(null),
  seq: fc.constant(null),
  payloadSha256: fc.constant(null),
  count: fc.integer({ min: 1, max: 3 }),
  sampling: fc.constantFrom(1, 1, 1, 4),
});

function batchOf(events: PortentEvent[], seq = 0): EventBatch {
  return { batchId: randomUUID(), seq, created: T0, software: 'contract/1', events: eventsToColumns(events) };
}

interface Expected {
  events: number;
  sources: Set<string>;
  targets: Set<string>;
  sensors: Set<number>;
  subnets: Set<string>;
}

const empty = (): Expected => ({
  events: 0,
  sources: new Set(),
  targets: new Set(),
  sensors: new Set(),
  subnets: new Set(),
});
const subnetOf = (ip: string): string =>
  ip.includes(':') ? ip.split(':').slice(0, 3).join(':') : ip.split('.').slice(0, 3).join('.');

/** Brute force: per (step start, proto, port), from the events themselves. */
function bruteForce(
  batches: { sensor: number; events: PortentEvent[] }[],
  step: number,
): Map<string, Expected> {
  const out = new Map<string, Expected>();
  for (const { sensor, events } of batches) {
    for (const e of events) {
      const key = `${e.time - (e.time % step)}/${e.proto}/${e.dstPort}`;
      let x = out.get(key);
      if (!x) out.set(key, (x = empty()));
      x.events += e.count * e.sampling;
      x.sources.add(e.src);
      if (e.dst !== null) x.targets.add(e.dst);
      x.sensors.add(sensor);
      x.subnets.add(subnetOf(e.src));
    }
  }
  return out;
}

function assertSeriesMatch(
  points: { t: number; events: number; sources: number; targets: number; sensors: number; subnets: number }[],
  expected: Map<string, Expected>,
  proto: number,
  port: number,
  label: string,
): void {
  for (const p of points) {
    const x = expected.get(`${p.t}/${proto}/${port}`) ?? empty();
    assert.deepEqual(
      { events: p.events, sources: p.sources, targets: p.targets, sensors: p.sensors, subnets: p.subnets },
      {
        events: x.events,
        sources: x.sources.size,
        targets: x.targets.size,
        sensors: x.sensors.size,
        subnets: x.subnets.size,
      },
      `${label}: ${proto}/${port} at ${new Date(p.t).toISOString()}`,
    );
  }
}

export function eventStoreContract(name: string, open: () => Promise<StoreHandle>): void {
  test(`${name}: rollups equal a brute-force recomputation, before and after flush and compaction`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            sensor: fc.integer({ min: 1, max: 4 }),
            events: fc.array(arbEvent, { minLength: 1, maxLength: 60 }),
          }),
          { minLength: 1, maxLength: 8 },
        ),
        async (batches) => {
          const h = await open();
          try {
            await h.store.append(
              batches.map((b, i) => ({ sensor: b.sensor, batch: batchOf(b.events, i), received: T0 })),
            );
            const check = async (label: string) => {
              for (const step of [MINUTE, 5 * MINUTE, 3_600_000]) {
                const expected = bruteForce(batches, step);
                for (const [proto, port] of [
                  [6, 5168],
                  [17, 23],
                  [6, 22],
                ]) {
                  const points = await h.store.portSeries(proto, port, T0, T0 + 3 * 3_600_000, step);
                  assertSeriesMatch(points, expected, proto, port, `${label}, step ${step / MINUTE} min`);
                }
              }
            };
            await check('unflushed');
            await h.store.flush();
            await check('flushed');
            await h.store.compact();
            await check('compacted');
          } finally {
            await h.close();
          }
        },
      ),
      { numRuns: 12 },
    );
  });

  test(`${name}: top ports and source summaries equal brute force`, async () => {
    const h = await open();
    try {
      const batches = fc.sample(
        fc.record({
          sensor: fc.integer({ min: 1, max: 4 }),
          events: fc.array(arbEvent, { minLength: 20, maxLength: 200 }),
        }),
        { numRuns: 10, seed: 42 },
      );
      await h.store.append(
        batches.map((b, i) => ({ sensor: b.sensor, batch: batchOf(b.events, i), received: T0 })),
      );
      await h.store.compact();
      const window = bruteForce(batches, 24 * 3_600_000);
      const byPort = new Map<string, Expected & { proto: number; port: number }>();
      for (const [key, x] of window) {
        const [, proto, port] = key.split('/').map(Number);
        byPort.set(`${proto}/${port}`, { ...x, proto, port });
      }
      for (const by of ['events', 'sources', 'targets', 'sensors', 'subnets'] as Metric[]) {
        const top = await h.store.topPorts(T0, T0 + 3 * 3_600_000, by, 3);
        const value = (x: Expected) => (by === 'events' ? x.events : x[by].size);
        const expected = [...byPort.values()]
          .sort((a, b) => value(b) - value(a) || a.proto - b.proto || a.port - b.port)
          .slice(0, 3);
        assert.deepEqual(
          top.map((t) => [t.proto, t.port, t[by]]),
          expected.map((x) => [x.proto, x.port, value(x)]),
          `top by ${by}`,
        );
      }
      const all = batches.flatMap((b) => b.events.map((e) => ({ ...e, sensor: b.sensor })));
      const ip = all[0].src;
      const mine = all.filter((e) => e.src === ip);
      const summary = await h.store.source(ip);
      assert.ok(summary);
      assert.equal(summary.ip, ip);
      assert.equal(summary.firstSeen, Math.min(...mine.map((e) => e.time)));
      assert.equal(summary.lastSeen, Math.max(...mine.map((e) => e.time)));
      assert.equal(
        summary.events,
        mine.reduce((s, e) => s + e.count * e.sampling, 0),
      );
      assert.equal(summary.ports, new Set(mine.map((e) => `${e.proto}/${e.dstPort}`)).size);
      assert.equal(summary.targets, new Set(mine.filter((e) => e.dst !== null).map((e) => e.dst)).size);
      assert.equal(summary.sensors, new Set(mine.map((e) => e.sensor)).size);
      assert.equal(await h.store.source('192.0.2.250'), null);
      assert.equal(await h.store.source('not an address'), null);
    } finally {
      await h.close();
    }
  });

  test(`${name}: a batch is stored once, whether re-sent later or twice in one group`, async () => {
    const h = await open();
    try {
      const events = fc.sample(arbEvent, { numRuns: 50, seed: 7 });
      const batch = batchOf(events);
      const [first] = await h.store.append([{ sensor: 1, batch, received: T0 }]);
      assert.equal(first.status, 'stored');
      const again = await h.store.append([
        { sensor: 1, batch, received: T0 },
        { sensor: 1, batch, received: T0 },
      ]);
      assert.deepEqual(again, [
        { status: 'duplicate', ingestSeq: first.ingestSeq },
        { status: 'duplicate', ingestSeq: first.ingestSeq },
      ]);
      // The same batch id from another sensor is another batch.
      const [other] = await h.store.append([{ sensor: 2, batch, received: T0 }]);
      assert.equal(other.status, 'stored');
      // Concurrent groups carrying the same new batch store it once.
      const fresh = batchOf(events);
      const results = await Promise.all(
        [1, 2, 3].map(() => h.store.append([{ sensor: 3, batch: fresh, received: T0 }])),
      );
      assert.equal(results.flat().filter((o) => o.status === 'stored').length, 1);
      assert.equal(new Set(results.flat().map((o) => o.ingestSeq)).size, 1);
      assert.deepEqual(await h.store.stats(), { events: 3 * events.length, batches: 3 });
    } finally {
      await h.close();
    }
  });

  test(`${name}: after reopening, everything is there once and nothing is counted twice`, async () => {
    const h = await open();
    let store = h.store;
    try {
      const events = fc.sample(arbEvent, { numRuns: 200, seed: 11 });
      const batches = [batchOf(events.slice(0, 100)), batchOf(events.slice(100))];
      await store.append([{ sensor: 1, batch: batches[0], received: T0 }]);
      await store.flush(); // the first batch is in written parts, the second only in raw events
      await store.append([{ sensor: 2, batch: batches[1], received: T0 }]);
      const before = await store.portSeries(6, 5168, T0, T0 + 3 * 3_600_000, 3_600_000);
      store = await h.reopen();
      assert.deepEqual(await store.portSeries(6, 5168, T0, T0 + 3 * 3_600_000, 3_600_000), before);
      assert.deepEqual(await store.stats(), { events: 200, batches: 2 });
      const [again] = await store.append([{ sensor: 1, batch: batches[0], received: T0 }]);
      assert.equal(again.status, 'duplicate');
      await store.compact();
      assert.deepEqual(await store.portSeries(6, 5168, T0, T0 + 3 * 3_600_000, 3_600_000), before);
    } finally {
      await h.close();
    }
  });

  test(`${name}: pruning raw events keeps rollups and per-source state`, async () => {
    const h = await open();
    try {
      const events = fc.sample(arbEvent, { numRuns: 100, seed: 5 });
      await h.store.append([{ sensor: 1, batch: batchOf(events), received: T0 }]);
      const series = await h.store.portSeries(6, 22, T0, T0 + 3 * 3_600_000, MINUTE);
      const source = await h.store.source(events[0].src);
      await h.store.flush();
      assert.equal(await h.store.pruneRaw(T0 + 1), 100);
      assert.deepEqual(await h.store.stats(), { events: 0, batches: 0 });
      assert.deepEqual(await h.store.portSeries(6, 22, T0, T0 + 3 * 3_600_000, MINUTE), series);
      assert.deepEqual(
        { ...(await h.store.source(events[0].src)), topPorts: [] },
        { ...source, topPorts: [] },
      );
    } finally {
      await h.close();
    }
  });

  test(`${name}: pruning never removes raw events the written aggregates do not include`, async () => {
    const h = await open();
    try {
      const events = fc.sample(arbEvent, { numRuns: 30, seed: 9 });
      await h.store.append([{ sensor: 1, batch: batchOf(events), received: T0 }]);
      // Not flushed: the raw events are still needed to rebuild the aggregates after a crash.
      assert.equal(await h.store.pruneRaw(T0 + 1), 0);
      assert.equal((await h.store.stats()).events, 30);
    } finally {
      await h.close();
    }
  });
}
