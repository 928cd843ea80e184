// GroupWriter's onStored hook on a real DuckDB event store: called after the commit with stored batches only.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { allocColumns } from '../core/event.ts';
import { newBatch } from '../sensor/shipper/submit.ts';
import type { AppendItem } from '../storage/event-store.ts';
import { DuckDBDatabase } from '../storage/duckdb/database.ts';
import { DuckDBEventStore } from '../storage/duckdb/event-store.ts';
import { GroupWriter } from './group-writer.ts';

it('tells onStored of the batches a commit stored, the same objects, and not of duplicates', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portent-group-writer-'));
  const db = await DuckDBDatabase.open({ path: join(dir, 'store.duckdb'), threads: 1 });
  const events = await DuckDBEventStore.open(db);
  try {
    const told: AppendItem[] = [];
    const writer = new GroupWriter(events, { maxPending: 8, onStored: (items) => told.push(...items) });
    const t = Date.UTC(2026, 0, 1, 12);
    const cols = allocColumns(3);
    cols.time.fill(t);
    cols.src.set([0, 0, 0xffff, 0x0b000001]);
    cols.dst.set([0, 0, 0xffff, 0x0a000001]);
    const item: AppendItem = { sensor: 1, batch: newBatch(cols, 0, t, 'test'), received: t };
    assert.equal((await writer.submit(item)).status, 'stored');
    assert.equal((await writer.submit({ ...item })).status, 'duplicate');
    await writer.close();
    assert.equal(told.length, 1);
    assert.equal(told[0], item, 'the submitted item itself, not a copy');
  } finally {
    await events.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
