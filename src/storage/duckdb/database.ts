// Opens the DuckDB file, applies migrations, and hands out connections; one process per file.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { PortentError } from '../../core/errors.ts';
import { MIGRATIONS } from './migrations.ts';

export interface DuckDBOptions {
  /** File path, or ':memory:' for tests. */
  path: string;
  threads?: number;
  memoryLimitBytes?: number;
}

export class DuckDBDatabase {
  readonly instance: DuckDBInstance;
  /** For migrations and for reads that need no consistency with a write lane. */
  readonly reader: DuckDBConnection;
  readonly #connections: DuckDBConnection[] = [];

  private constructor(instance: DuckDBInstance, reader: DuckDBConnection) {
    this.instance = instance;
    this.reader = reader;
  }

  /** A connection of its own, for a component that runs its own transactions; closed with the database. */
  async connect(): Promise<DuckDBConnection> {
    const con = await this.instance.connect();
    this.#connections.push(con);
    return con;
  }

  static async open(opts: DuckDBOptions): Promise<DuckDBDatabase> {
    if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true });
    const settings: Record<string, string> = {};
    if (opts.threads) settings.threads = String(opts.threads);
    if (opts.memoryLimitBytes) settings.memory_limit = `${Math.floor(opts.memoryLimitBytes / 1048576)}MiB`;
    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(opts.path, settings);
    } catch (err) {
      const text = String((err as Error).message ?? err);
      if (/lock/i.test(text))
        throw new PortentError('STORE_LOCKED', {
          message: `The store file ${opts.path} is held by another process.`,
          cause: err,
        });
      throw new PortentError('STORE_UNAVAILABLE', {
        message: `Could not open the store file ${opts.path}: ${text}`,
        cause: err,
      });
    }
    const db = new DuckDBDatabase(instance, await instance.connect());
    await db.migrate();
    return db;
  }

  /** Applies every migration newer than the file's schema version, each in its own transaction. */
  async migrate(): Promise<number> {
    const con = this.reader;
    await con.run(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied TIMESTAMP_MS NOT NULL)',
    );
    const rows = (
      await con.runAndReadAll('SELECT coalesce(max(version), 0) FROM schema_migrations')
    ).getRows();
    let current = Number(rows[0][0]);
    const newest = MIGRATIONS.at(-1)?.version ?? 0;
    if (current > newest) {
      throw new PortentError('STORE_UNAVAILABLE', {
        message: `The store's schema version ${current} is newer than this Portent understands (${newest}); upgrade Portent.`,
      });
    }
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      await con.run('BEGIN');
      try {
        for (const statement of m.sql) await con.run(statement);
        await con.run('INSERT INTO schema_migrations VALUES ($1, $2, epoch_ms($3::BIGINT))', [
          m.version,
          m.name,
          Date.now(),
        ]);
        await con.run('COMMIT');
      } catch (err) {
        await con.run('ROLLBACK');
        throw err;
      }
      current = m.version;
    }
    return current;
  }

  close(): void {
    for (const con of this.#connections) con.closeSync();
    this.reader.closeSync();
    this.instance.closeSync();
  }
}
