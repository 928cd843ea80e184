// Exactly once through crashes: a sensor writing to its spool and shipping to a real `portent server` is
// killed with SIGKILL twice while shipping, restarted each time, and in the end the server holds every
// event written to the spool once, with its content intact.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import { exited, freePort, startServerProcess } from '../support/server-process.ts';
import type { EventColumns } from '../../src/core/event.ts';
import { DuckDBDatabase } from '../../src/storage/duckdb/database.ts';
import { CHUNK_EVENTS, chunkEvents } from './spool-child.ts';

const root = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'portent-spool-crash-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CHUNKS = 60;
const TOTAL = CHUNKS * CHUNK_EVENTS;

interface Progress {
  appended: number;
  acked: number;
  unshipped: number;
}

/**
 * Runs the sensor until it has `killAt` events acknowledged, then kills it with SIGKILL and returns
 * its last progress report; without `killAt`, until it is done.
 */
async function runSensor(env: Record<string, string>, killAt?: number): Promise<Progress> {
  const child = spawn(process.execPath, [join(root, 'test/integration/spool-child.ts')], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let last: Progress = { appended: 0, acked: 0, unshipped: 0 };
  let done = false;
  for await (const line of createInterface({ input: child.stdout! })) {
    const msg = JSON.parse(line) as Progress | 'done';
    if (msg === 'done') done = true;
    else last = msg;
    if (killAt !== undefined && last.acked >= killAt) {
      child.kill('SIGKILL');
      break;
    }
  }
  await exited(child);
  if (killAt === undefined) {
    assert.ok(done, 'the sensor finished');
    assert.equal(child.exitCode, 0);
  } else assert.equal(child.signalCode, 'SIGKILL');
  return last;
}

function keysOf(chunks: EventColumns[]): string[] {
  const keys: string[] = [];
  for (const c of chunks) {
    for (let i = 0; i < c.length; i++) {
      const s = c.src.subarray(4 * i, 4 * i + 4);
      const src = BigInt(s[0]) + (BigInt(s[1]) << 32n) + (BigInt(s[2]) << 64n) + (BigInt(s[3]) << 96n);
      keys.push(
        [c.time[i], src, c.srcPort[i], c.dstPort[i], c.proto[i], c.tcpFlags[i], c.sampling[i]].join('|'),
      );
    }
  }
  return keys.sort();
}

test(
  'a sensor killed twice mid-shipping delivers every spooled event exactly once',
  { timeout: 180_000 },
  async (t) => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const adminToken = randomBytes(24).toString('hex');
    const server = await startServerProcess(dir, port, adminToken);
    const res = await fetch(`${url}/api/v1/sensors`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'crash-test' }),
    });
    const sensor = (await res.json()) as { id: string; secret: string };
    const base = Date.now() - 3_600_000;
    const env = {
      PORTENT_TEST_SPOOL: join(dir, 'spool'),
      PORTENT_TEST_URL: url,
      PORTENT_TEST_SENSOR_ID: sensor.id,
      PORTENT_TEST_SENSOR_SECRET: sensor.secret,
      PORTENT_TEST_CHUNKS: String(CHUNKS),
      PORTENT_TEST_BASE: String(base),
    };

    try {
      // Killed while it is still writing and shipping: some events acknowledged, others waiting.
      const first = await runSensor(env, TOTAL / 4);
      assert.ok(
        first.appended < TOTAL && first.unshipped > 0,
        `killed mid-shipping: ${JSON.stringify(first)}`,
      );
      const second = await runSensor(env, TOTAL / 2);
      assert.ok(second.acked > first.acked, 'the restarted sensor went on shipping');
      assert.ok(second.unshipped > 0, `killed mid-shipping again: ${JSON.stringify(second)}`);
      const last = await runSensor(env);
      assert.deepEqual(last, { appended: TOTAL, acked: TOTAL, unshipped: 0 });
      const metrics = await (await fetch(`${url}/metrics`)).text();
      const duplicates =
        /portent_batches_ingested_total\{outcome="duplicate"\} (\d+)/.exec(metrics)?.[1] ?? '0';
      // A kill between the server's answer and ack.json makes one; whether a kill lands there is chance.
      t.diagnostic(
        `killed at ${first.acked} and ${second.acked} acknowledged; ${duplicates} batches re-sent as duplicates`,
      );
    } finally {
      server.kill('SIGTERM');
      await exited(server);
    }

    const db = await DuckDBDatabase.open({ path: join(dir, 'portent.duckdb') });
    try {
      const rows = async (sql: string) => (await db.reader.runAndReadAll(sql)).getRows();
      const stored = (
        await rows(
          'SELECT epoch_ms(time), src::VARCHAR, src_port, dst_port, proto, tcp_flags, sampling FROM events',
        )
      )
        .map((r) => r.map(String).join('|'))
        .sort();
      const expected = keysOf(Array.from({ length: CHUNKS }, (_, i) => chunkEvents(i, base)));
      assert.equal(stored.length, TOTAL, 'as many events as were written');
      assert.deepEqual(stored, expected, 'each written event once, as written');
      const [[batches, distinct, events]] = await rows(
        'SELECT count(*), count(DISTINCT batch_id), sum(events) FROM batches',
      );
      assert.equal(Number(batches), Number(distinct));
      assert.equal(Number(events), TOTAL);
    } finally {
      db.close();
    }
  },
);
