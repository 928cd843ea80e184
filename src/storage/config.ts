// The `storage` configuration section: where the DuckDB store lives, retention and rollup timing.

import Type, { type StaticDecode } from 'typebox';
import { ByteSizeOrEmpty, Duration, Section } from '../config/types.ts';

/** Schema of the `storage` section. */
export const StorageConfigSchema = Section(
  'The embedded DuckDB event store, its retention and its rollups.',
  {
    path: Type.Refine(
      Type.String({
        default: './data/portent.duckdb',
        description:
          'DuckDB database file, relative to the working directory. Only one process can open it at a time.',
      }),
      (v) => v !== '',
      () => 'must not be empty; give the path of the DuckDB file, e.g. "./data/portent.duckdb"',
    ),
    raw_retention: Duration({
      default: '30d',
      minimum: '1h',
      description: 'Raw events older than this are pruned; rollups and per-source state are kept.',
    }),
    retention_check_interval: Duration({
      default: '1h',
      minimum: '1s',
      maximum: '1d',
      description: 'How often the pruning of raw events past `raw_retention` runs.',
    }),
    rollup_flush_interval: Duration({
      default: '2s',
      minimum: '100ms',
      maximum: '1m',
      description: 'How often in-memory per-minute rollups are written to the store.',
    }),
    rollup_resident: Duration({
      default: '15m',
      minimum: '1s',
      maximum: '6h',
      description: 'How long a minute stays in memory after its last event before it is written and evicted.',
    }),
    source_cache_entries: Type.Integer({
      default: 500000,
      minimum: 1,
      maximum: 100000000,
      description: 'How many per-source state entries are kept in memory.',
    }),
    duckdb_threads: Type.Integer({
      default: 0,
      minimum: 0,
      maximum: 1024,
      description: 'DuckDB worker threads; 0 leaves it to DuckDB (one per core).',
    }),
    duckdb_memory_limit: ByteSizeOrEmpty({
      default: '',
      minimum: '64MiB',
      emptyMeans: "DuckDB's default",
      description: 'DuckDB\'s memory limit; "" leaves DuckDB\'s default (80% of physical memory).',
    }),
  },
);

/**
 * The loaded `storage` section; durations are in milliseconds, and `duckdb_memory_limit` is bytes or null
 * for DuckDB's default.
 */
export type StorageConfig = StaticDecode<typeof StorageConfigSchema>;
