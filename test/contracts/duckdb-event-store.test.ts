// Runs the event-store contract against the embedded DuckDB adapter, on a file in a temporary directory.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBDatabase } from '../../src/storage/duckdb/database.ts';
import { DuckDBEventStore } from '../../src/storage/duckdb/event-store.ts';
import { eventStoreContract } from './event-store.contract.ts';

eventStoreContract('duckdb', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portent-contract-'));
  const path = join(dir, 'portent.duckdb');
  let db = await DuckDBDatabase.open({ path });
  let store = await DuckDBEventStore.open(db, { compactAfterMs: 0 });
  const shut = async () => {
    await store.close();
    db.close();
  };
  return {
    store,
    async reopen() {
      // A close without a final flush, as after a crash: what is not in written parts is replayed.
      db.close();
      db = await DuckDBDatabase.open({ path });
      store = await DuckDBEventStore.open(db, { compactAfterMs: 0 });
      return store;
    },
    async close() {
      await shut().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
