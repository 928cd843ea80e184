// Runs the incidents and threat-level state-store contract against the DuckDB adapter, on a temporary file.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBDatabase } from '../../src/storage/duckdb/database.ts';
import { DuckDBStateStore } from '../../src/storage/duckdb/state-store.ts';
import { stateStoreIncidentsContract } from './state-store-incidents.contract.ts';

stateStoreIncidentsContract('duckdb', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portent-state-contract-'));
  const db = await DuckDBDatabase.open({ path: join(dir, 'portent.duckdb'), threads: 1 });
  const store = await DuckDBStateStore.open(db);
  return {
    store,
    async close() {
      await store.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
