// GET /api/v1/incidents/{id}/reference: ISC's trend and GreyNoise-style thresholds for the incident's port and onset
// day, from the daily series in a real DuckDB store.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { referenceSchema } from '../src/api/reference.ts';
import { FakeClock } from '../src/core/clock.ts';
import type { PortentEvent } from '../src/core/event.ts';
import { eventsToColumns } from '../src/core/wire/ndjson.ts';
import { buildApp } from '../src/server/app.ts';
import { DuckDBDatabase } from '../src/storage/duckdb/database.ts';
import { DuckDBEventStore } from '../src/storage/duckdb/event-store.ts';
import { DuckDBStateStore } from '../src/storage/duckdb/state-store.ts';
import { incidentOf } from './contracts/state-store-incidents.contract.ts';
import { LIMITS, assertSchema, expectError } from './support/collector-harness.ts';

const DAY = 86_400_000;
const DAY0 = Date.UTC(2026, 0, 1);
const dir = mkdtempSync(join(tmpdir(), 'portent-reference-route-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const probe = (time: number, src: string, dst: string): PortentEvent => ({
  time,
  src,
  srcPort: 40_000,
  dst,
  dstPort: 5168,
  proto: 6,
  tcpFlags: 2,
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

it("shows what ISC and GreyNoise would have said of the incident's port on its onset day", async () => {
  const db = await DuckDBDatabase.open({ path: join(dir, 'store.duckdb'), threads: 1 });
  const events = await DuckDBEventStore.open(db);
  const state = await DuckDBStateStore.open(db);
  try {
    // Ten quiet days of 3 sources and 3 targets a day, then 60 sources on 90 targets.
    const all: PortentEvent[] = [];
    for (let d = 0; d < 10; d++)
      for (let k = 0; k < 3; k++)
        all.push(probe(DAY0 + d * DAY + k * 3_600_000, `198.51.100.${k + 1}`, `192.0.2.${k + 1}`));
    for (let k = 0; k < 90; k++)
      all.push(probe(DAY0 + 10 * DAY + k * 60_000, `203.0.113.${(k % 60) + 1}`, `192.0.2.${k + 10}`));
    await events.append([
      {
        sensor: 1,
        batch: {
          batchId: randomUUID(),
          seq: 0,
          created: DAY0,
          software: 'test/1',
          events: eventsToColumns(all),
        },
        received: DAY0,
      },
    ]);
    const onset = DAY0 + 10 * DAY + 3_600_000;
    await state.saveIncident(incidentOf({ id: 'inc_tcp_5168_x', port: 5168, onset }));
    await state.saveIncident(incidentOf({ id: 'inc_tcp_smb_x', port: null, group: 'smb', onset }));
    const { app } = await buildApp({
      events,
      state,
      clock: new FakeClock(onset + DAY),
      collector: LIMITS,
      maxPendingBatches: 8,
      version: '0.0.0-test',
      logger: false,
      processMetrics: false,
    });
    const res = await app.inject({ method: 'GET', url: '/api/v1/incidents/inc_tcp_5168_x/reference' });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assertSchema(referenceSchema, body);
    assert.equal(body.day, '2026-01-11');
    assert.deepEqual([body.sources, body.targets], [60, 90]);
    assert.equal(body.isc.days, 10, JSON.stringify(body));
    assert.deepEqual([body.isc.mean_sources, body.isc.sources_ratio, body.isc.targets_ratio], [3, 20, 30]);
    // sqrt((60 − 3)²/3 + (90 − 3)²/3)
    assert.ok(Math.abs(body.isc.trend - Math.sqrt(57 ** 2 / 3 + 87 ** 2 / 3)) < 1e-9);
    assert.deepEqual(
      [body.greynoise.iqr_flag, body.greynoise.sigma_flag, body.greynoise.days],
      [true, true, 10],
    );

    expectError(
      await app.inject({ method: 'GET', url: '/api/v1/incidents/inc_tcp_smb_x/reference' }),
      400,
      'QUERY_INVALID',
    );
    expectError(
      await app.inject({ method: 'GET', url: '/api/v1/incidents/nope/reference' }),
      404,
      'INCIDENT_NOT_FOUND',
    );
    await app.close();
  } finally {
    await events.close();
    await state.close();
    db.close();
  }
});
