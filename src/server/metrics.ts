// Prometheus metrics of one server instance, on a registry of its own so test apps do not collide.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class ServerMetrics {
  readonly registry = new Registry();
  readonly eventsIngested = new Counter({
    name: 'portent_events_ingested_total',
    help: 'Events stored durably (duplicates of earlier batches are not counted).',
    registers: [this.registry],
  });
  readonly batchesIngested = new Counter({
    name: 'portent_batches_ingested_total',
    help: 'Batches acknowledged, by outcome: stored, or duplicate of a batch stored before.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly rejects = new Counter({
    name: 'portent_rejects_total',
    help: 'Requests refused, by error code (docs/errors.md).',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly storeCommitSeconds = new Histogram({
    name: 'portent_store_commit_seconds',
    help: 'Time to make one group of batches durable in the event store.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly pendingBatches = new Gauge({
    name: 'portent_pending_batches',
    help: 'Batches accepted and waiting for the store to make them durable.',
    registers: [this.registry],
  });

  /** Filled on each scrape from EventStore.memory(); see ServerMetrics.storeMemoryFrom. */
  readonly storeMemory = new Gauge({
    name: 'portent_store_memory_bytes',
    help: "Memory the event store's engine holds, by component (for DuckDB: its duckdb_memory() tags).",
    labelNames: ['component'] as const,
    registers: [this.registry],
  });

  readonly analysisEvalSeconds = new Histogram({
    name: 'portent_analysis_eval_seconds',
    help: 'Time the analyzer spent judging the minutes that closed since its previous run (one observation per run).',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly incidentsOpen = new Gauge({
    name: 'portent_incidents_open',
    help: 'Incidents not yet ended, by state (candidate, active, peaking, tapering).',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });
  readonly threatLevel = new Gauge({
    name: 'portent_threat_level',
    help: 'The threat level the analyzer holds: 0 green, 1 yellow, 2 orange, 3 red.',
    registers: [this.registry],
  });

  readonly backgroundFailures = new Counter({
    name: 'portent_background_failures_total',
    help: 'Failed runs of background work (writing rollups and per-source state, compaction, pruning), by task.',
    labelNames: ['task'] as const,
    registers: [this.registry],
  });
  /** Background tasks whose last run failed, with the error: /api/v1/health reports them. */
  readonly failing = new Map<string, string>();

  /** Records the outcome of one run of a background task. */
  background(task: string, err?: unknown): void {
    if (err === undefined) this.failing.delete(task);
    else {
      this.failing.set(task, String((err as Error)?.message ?? err).slice(0, 500));
      this.backgroundFailures.inc({ task });
    }
  }

  constructor(withProcessMetrics = true) {
    if (withProcessMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'portent_' });
  }
}
