// The event store interface: what the collector writes and the read API asks, whatever the engine.

import type { EventBatch } from '../core/event.ts';

/** One batch to append, already authenticated and validated. */
export interface AppendItem {
  /** Internal numeric id of the sensor that signed the batch. */
  sensor: number;
  batch: EventBatch;
  /** When the collector received it, ms since the epoch. */
  received: number;
}

export type AppendOutcome =
  | { status: 'stored'; ingestSeq: number }
  /** Stored before under the same (sensor, batch id): acknowledged again, never stored twice. */
  | { status: 'duplicate'; ingestSeq: number };

export type Metric = 'events' | 'sources' | 'targets' | 'sensors' | 'subnets';
export const METRICS: readonly Metric[] = ['events', 'sources', 'targets', 'sensors', 'subnets'];

/** One step of a port's time series. */
export interface SeriesPoint {
  /** Start of the step, ms since the epoch. */
  t: number;
  /** Events, weighted by count and sampling. */
  events: number;
  /** Distinct source addresses. */
  sources: number;
  /** Distinct destination addresses (withheld destinations are not counted). */
  targets: number;
  /** Distinct sensors that saw the port. */
  sensors: number;
  /** Distinct source /24 networks (IPv6: /48). */
  subnets: number;
}

export interface TopPort {
  proto: number;
  port: number;
  events: number;
  sources: number;
  targets: number;
  sensors: number;
  subnets: number;
}

export interface SourceSummary {
  /** The address in text form. */
  ip: string;
  firstSeen: number;
  lastSeen: number;
  events: number;
  /** Distinct destination ports, destinations and sensors, over the source's whole history. */
  ports: number;
  targets: number;
  sensors: number;
  /** The ports it hit most over the raw-retention window, most first. */
  topPorts: { proto: number; port: number; events: number }[];
}

export interface EventStore {
  /**
   * Appends batches atomically and durably: when the promise resolves, every 'stored' batch is on
   * disk and survives a crash; a batch already stored under the same (sensor, batch id) is
   * reported as 'duplicate' and not stored again. Rejects without storing anything on failure.
   */
  append(items: AppendItem[]): Promise<AppendOutcome[]>;
  /** Per-step series for one protocol and port; steps are multiples of one minute. */
  portSeries(proto: number, port: number, from: number, to: number, stepMs: number): Promise<SeriesPoint[]>;
  /** The busiest ports over [from, to), ranked by `by`. */
  topPorts(from: number, to: number, by: Metric, limit: number): Promise<TopPort[]>;
  /** Everything known about one source address, or null if never seen. */
  source(ip: string): Promise<SourceSummary | null>;
  /** Deletes raw events older than `before`; rollups and per-source state are kept. Returns rows deleted. */
  pruneRaw(before: number): Promise<number>;
  /** Writes in-memory aggregates so that a restart need not replay them (reads always see them). */
  flush(): Promise<void>;
  /** Merges written aggregate parts into their final rows; reads give the same answers before and after. */
  compact(): Promise<void>;
  /** Counts for health and metrics. */
  stats(): Promise<{ events: number; batches: number }>;
  /** Memory the store's engine holds, in bytes by component, for /metrics. */
  memory(): Promise<Record<string, number>>;
  close(): Promise<void>;
}
