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
      description:
        'How often the per-minute rollup changes held in memory are appended to the store; reads include what is still in memory.',
    }),
    sources_flush_interval: Duration({
      default: '10s',
      minimum: '100ms',
      maximum: '10m',
      description:
        'How often per-source changes held in memory are appended to the store. Longer means fewer rows written under heavy load, and more raw events to replay after a crash.',
    }),
    compaction_interval: Duration({
      default: '1m',
      minimum: '1s',
      maximum: '1h',
      description:
        'How often appended rollup and per-source changes are merged into one row per minute, hour, day and source.',
    }),
    duckdb_threads: Type.Integer({
      default: 0,
      minimum: 0,
      maximum: 1024,
      description: 'DuckDB worker threads; 0 leaves it to DuckDB (one per core).',
    }),
    duckdb_memory_limit: ByteSizeOrEmpty({
      default: '512MiB',
      minimum: '64MiB',
      emptyMeans: "DuckDB's default",
      description:
        'DuckDB\'s memory limit (its buffer pool: cached table blocks, query working memory; larger queries spill to disk). Without it the cache grows with the file towards 80% of physical memory; "" leaves it at that.',
    }),
  },
);

/**
 * The loaded `storage` section; durations are in milliseconds, and `duckdb_memory_limit` is bytes or null
 * for DuckDB's default.
 */
export type StorageConfig = StaticDecode<typeof StorageConfigSchema>;
