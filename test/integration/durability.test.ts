// Durability: batches acknowledged by a real `portent server` survive `kill -9`, exactly once,
// and the rollups and per-source state rebuilt after the restart count every stored event once.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { exited, freePort, startServerProcess } from '../support/server-process.ts';
import { DuckDBDatabase } from '../../src/storage/duckdb/database.ts';
import { DuckDBEventStore } from '../../src/storage/duckdb/event-store.ts';
import { BackgroundTraffic } from '../../src/sim/background.ts';
import { newBatch, submitBatch, type SensorCredentials } from '../../src/sensor/shipper/submit.ts';
import type { EventBatch } from '../../src/core/event.ts';

/** Short flush intervals, so that kills land between writes of rollups and per-source state. */
const SERVER_ENV = {
  PORTENT_STORAGE_ROLLUP_FLUSH_INTERVAL: '300ms',
  PORTENT_STORAGE_SOURCES_FLUSH_INTERVAL: '700ms',
};

const dir = mkdtempSync(join(tmpdir(), 'portent-durability-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test(
  'every acknowledged batch survives kill -9 exactly once; re-sending stores the rest once',
  { timeout: 120_000 },
  async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const adminToken = randomBytes(24).toString('hex');
    let server = await startServerProcess(dir, port, adminToken, SERVER_ENV);

    const sensors: (SensorCredentials & { num: number })[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${url}/api/v1/sensors`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `durable-${i}` }),
      });
      sensors.push({ ...((await res.json()) as SensorCredentials), num: i + 1 });
    }
    const traffic = new BackgroundTraffic({ seed: 3, sources: 5000 });
    const now = Date.now();
    const batches: { sensor: (typeof sensors)[number]; batch: EventBatch }[] = Array.from(
      { length: 80 },
      (_, i) => ({
        sensor: sensors[i % 3],
        batch: newBatch(
          traffic.generate(500 + ((i * 997) % 2500), (20 + i) * 2 ** 24, now - 600_000, now),
          i,
          now,
        ),
      }),
    );
    const total = batches.reduce((s, b) => s + b.batch.events.length, 0);

    // Submit with several in flight; kill -9 the server once a third are acknowledged.
    const acked = new Set<string>();
    let next = 0;
    let killed = false;
    const worker = async () => {
      while (next < batches.length && !killed) {
        const b = batches[next++];
        try {
          const res = await submitBatch(url, b.sensor, b.batch, Date.now());
          if (res.status === 200) acked.add(b.batch.batchId);
          if (!killed && acked.size >= batches.length / 3) {
            killed = true;
            server.kill('SIGKILL');
          }
        } catch {
          // the connection died with the server: not acknowledged
        }
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    await exited(server);
    assert.ok(acked.size >= batches.length / 3, 'enough batches were acknowledged before the kill');
    assert.ok(acked.size < batches.length, 'the kill came before every batch was sent');

    // Restart on the same file and re-send everything, as a sensor's spool would.
    server = await startServerProcess(dir, port, adminToken, SERVER_ENV);
    for (const b of batches) {
      const res = await submitBatch(url, b.sensor, b.batch, Date.now());
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const status = (res.body as { status: string }).status;
      if (acked.has(b.batch.batchId))
        assert.equal(status, 'duplicate', 'an acknowledged batch is never stored again');
    }
    server.kill('SIGKILL'); // and once more, before the re-sent batches' aggregates were necessarily written
    await exited(server);

    const db = await DuckDBDatabase.open({ path: join(dir, 'portent.duckdb') });
    try {
      const store = await DuckDBEventStore.open(db, { compactAfterMs: 0 });
      const q = async (sql: string) =>
        (await db.reader.runAndReadAll(sql)).getRows().map((r) => r.map(Number));
      assert.deepEqual(await q('SELECT count(*), count(DISTINCT batch_id) FROM batches'), [[80, 80]]);
      assert.deepEqual(await q('SELECT count(*) FROM events'), [[total]]);
      // Each batch's rows are exactly its events: none lost, none twice.
      assert.deepEqual(
        await q(
          'SELECT count(*) FROM batches b WHERE events <> (SELECT count(*) FROM events e WHERE e.ingest = b.ingest)',
        ),
        [[0]],
      );
      // Aggregates rebuilt after two kills count every event once.
      await store.flush();
      await store.compact();
      // The newest minute's parts stay uncompacted until the minute is old enough.
      const parts = '(SELECT coalesce(sum(events), 0) FROM rollup_parts)';
      assert.deepEqual(await q(`SELECT sum(events) + ${parts} FROM rollup_minute`), [[total]]);
      assert.deepEqual(await q(`SELECT sum(events) + ${parts} FROM rollup_day`), [[total]]);
      assert.deepEqual(await q('SELECT sum(events) FROM sources'), [[total]]);
      await store.close();
    } finally {
      db.close();
    }
  },
);
