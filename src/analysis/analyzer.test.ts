// The analyzer on a real DuckDB state store and an in-process bus, driven by a FakeClock: a dormant port wakes
// up across many sensors and sources, and the incident is saved, published, served, closed by an analyst, and
// resumed after a restart.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { decodeJson, SUBJECTS } from '../bus/bus.ts';
import { MemoryBus } from '../bus/memory.ts';
import { FakeClock } from '../core/clock.ts';
import { allocColumns, type EventColumns } from '../core/event.ts';
import { resolveConfig } from '../config/load.ts';
import { buildApp } from '../server/app.ts';
import { DuckDBDatabase } from '../storage/duckdb/database.ts';
import { DuckDBEventStore } from '../storage/duckdb/event-store.ts';
import { DuckDBStateStore } from '../storage/duckdb/state-store.ts';
import { Analyzer, pipelineOptions } from './analyzer.ts';
import type { Incident, ThreatLevel } from './incidents/incident.ts';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const ADMIN_TOKEN = 'analyzer-test-admin-token-0123456789abcdef';
const SENSORS = 20;
/** The dormant port that wakes up. */
const PORT = 5168;

const dir = mkdtempSync(join(tmpdir(), 'portent-analyzer-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A deterministic generator, so the test judges the same events every run. */
function random(seed: number): () => number {
  let s = seed;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

interface Row {
  t: number;
  src: number;
  dst: number;
  port: number;
}

function columns(rows: Row[]): EventColumns {
  const c = allocColumns(rows.length);
  rows.forEach((r, i) => {
    c.time[i] = r.t;
    // IPv4 as the mapped address ::ffff:a.b.c.d: little-endian limbs, the address in limb 0, 0xffff in limb 1.
    c.src[i * 4] = r.src >>> 0;
    c.src[i * 4 + 1] = 0xffff;
    c.dst[i * 4] = r.dst >>> 0;
    c.dst[i * 4 + 1] = 0xffff;
    c.srcPort[i] = 40_000;
    c.dstPort[i] = r.port;
    c.proto[i] = 6;
  });
  return c;
}

/**
 * One minute of events per sensor: a few stray probes of random high ports, and, while `surge`, probes of
 * PORT from 300 sources in 300 /24s on 15 of the 20 sensors.
 */
function minute(m: number, surge: boolean, rnd: () => number): Map<number, EventColumns> {
  const out = new Map<number, EventColumns>();
  const t = T0 + m * MINUTE;
  for (let s = 1; s <= SENSORS; s++) {
    const rows: Row[] = [];
    const dst = () => (10 << 24) | (s << 16) | Math.floor(rnd() * 256);
    for (let k = 0; k < 5; k++)
      rows.push({
        t: t + Math.floor(rnd() * MINUTE),
        src: 0x0b000000 + Math.floor(rnd() * 3000),
        dst: dst(),
        port: 1024 + Math.floor(rnd() * 60_000),
      });
    if (surge && s <= 15)
      for (let k = 0; k < 40; k++)
        rows.push({
          t: t + Math.floor(rnd() * MINUTE),
          src: 0xc6000007 + (Math.floor(rnd() * 300) << 8),
          dst: dst(),
          port: PORT,
        });
    rows.sort((a, b) => a.t - b.t);
    out.set(s, columns(rows));
  }
  return out;
}

let stores = 0;
async function rig(path = join(dir, `store-${++stores}.duckdb`)) {
  const clock = new FakeClock(T0);
  const db = await DuckDBDatabase.open({ path, threads: 1 });
  const events = await DuckDBEventStore.open(db);
  const state = await DuckDBStateStore.open(db);
  const bus = new MemoryBus({ onError: (err) => assert.fail(String(err)) });
  const heard = { incidents: [] as Incident[], threat: [] as ThreatLevel[] };
  bus.subscribe(SUBJECTS.incidents, (d) => void heard.incidents.push(decodeJson<Incident>(d)));
  bus.subscribe(SUBJECTS.threatLevel, (d) => void heard.threat.push(decodeJson<ThreatLevel>(d)));
  const config = resolveConfig({ analysis: { warmup: '0s' } }).analysis;
  const analyzer = await Analyzer.open({
    state,
    bus,
    clock,
    pipeline: pipelineOptions(config),
    tickMs: config.tick,
  });
  const built = await buildApp({
    events,
    state,
    clock,
    bus,
    collector: {
      maxBatchBytes: 1 << 20,
      maxDecompressedBytes: 1 << 20,
      maxBatchEvents: 1000,
      maxClockSkewMs: 5 * MINUTE,
      sensorEventsPerS: 1000,
      sensorBurstEvents: 1000,
      adminToken: ADMIN_TOKEN,
    },
    maxPendingBatches: 8,
    version: '0.0.0-test',
    logger: false,
    processMetrics: false,
  });
  return {
    path,
    clock,
    state,
    analyzer,
    heard,
    app: built.app,
    async close() {
      await analyzer.stop();
      await built.writer.close();
      await built.app.close();
      await bus.close();
      await state.close();
      await events.close();
      db.close();
    },
  };
}

/** Feeds minutes [from, to) and runs the analyzer once each minute has passed its grace. */
async function play(
  r: Awaited<ReturnType<typeof rig>>,
  from: number,
  to: number,
  surge: (m: number) => boolean,
) {
  const rnd = random(from + 1);
  for (let m = from; m < to; m++) {
    for (const [sensor, c] of minute(m, surge(m), rnd)) r.analyzer.observe(sensor, c);
    r.clock.set(T0 + (m + 1) * MINUTE + 30_000);
    await r.analyzer.runOnce();
  }
  // Lets the bus deliver what was published.
  await new Promise((resolve) => setImmediate(resolve));
}

const get = async (r: Awaited<ReturnType<typeof rig>>, url: string) => {
  const res = await r.app.inject({ method: 'GET', url });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
};

it('raises, publishes and serves an incident when a dormant port wakes up; an analyst closes it; a restart resumes it', async () => {
  const r = await rig();
  let path: string;
  let opened: string;
  try {
    assert.equal((await get(r, '/api/v1/threatlevel')).level, 'green');
    await play(r, 0, 30, () => false);
    assert.deepEqual((await get(r, '/api/v1/incidents')).incidents, [], 'stray probes raise nothing');
    await play(r, 30, 36, () => true);

    const [found] = await r.state.incidents({ proto: 6, port: PORT, limit: 10 });
    assert.ok(found !== undefined, 'the incident is saved');
    const id = found.id;
    opened = id;
    assert.ok(found.onset >= T0 + 30 * MINUTE && found.onset < T0 + 31 * MINUTE, 'its onset is the surge');
    const saved = (await r.state.incident(id))!;
    assert.equal(saved.port, PORT);
    assert.notEqual(saved.state, 'candidate');
    assert.ok(
      r.heard.incidents.some((i) => i.id === id && i.state === 'active'),
      'published as active',
    );
    const listed = (await get(r, '/api/v1/incidents')).incidents as { id: string; state: string }[];
    assert.deepEqual(
      listed.map((i) => i.id),
      [id],
    );
    const level = await get(r, '/api/v1/threatlevel');
    assert.notEqual(level.level, 'green', 'the threat level rose');
    assert.ok(
      r.heard.threat.length > 0 && r.heard.threat.at(-1)!.level === level.level,
      'the change was published',
    );
    const history = await get(r, '/api/v1/threatlevel/history');
    assert.ok(JSON.stringify(history).includes(level.level), JSON.stringify(history));

    // A restart before the analyst acts: a new analyzer on the same store picks up the open incident.
    await r.close();
    path = r.path;
  } catch (err) {
    await r.close();
    throw err;
  }

  const again = await rig(path);
  try {
    assert.deepEqual(
      again.analyzer.pipeline.tracker.openIncidents().map((i) => i.id),
      [opened],
      'the open incident is resumed',
    );
    assert.notEqual(again.analyzer.pipeline.threat.current.level, 'green', 'the threat level is resumed');
    const id = again.analyzer.pipeline.tracker.openIncidents()[0].id;

    const res = await again.app.inject({
      method: 'POST',
      url: `/api/v1/incidents/${id}/override`,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      payload: { author: 'bo', reason: 'known research scanner', close: true },
    });
    assert.equal(res.statusCode, 200, res.body);
    again.clock.set(T0 + 37 * MINUTE);
    const run = await again.analyzer.runOnce();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(run.open, [], 'closed on the next run');
    const closed = await again.state.incident(id);
    assert.equal(closed?.state, 'ended');
    assert.equal(closed?.override?.close, true);
    assert.ok(
      again.heard.incidents.some((i) => i.id === id && i.state === 'ended'),
      'the end was published',
    );
    assert.equal((await get(again, '/api/v1/incidents?open=true')).incidents.length, 0);
  } finally {
    await again.close();
  }
});
