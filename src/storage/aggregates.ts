// In-memory rollups and per-source state, maintained per event at ingest and written by the store.
//
// Cells live in memory while their bucket (or source) is active, so most events merge into a cell
// that is already complete. A cell created for a bucket or source that may already be stored is a
// *delta* (`needsMerge`): the store loads the stored row and merges it in before writing the cell
// back whole. Distinct sketches make union idempotent; event counts are exact sums.

import { hash32, hashLimbs, DistinctSketch } from '../core/sketch.ts';
import { prefixKey24 } from '../core/address.ts';
import type { EventColumns } from '../core/event.ts';

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

/** A rollup level: bucket width in ms and its table-friendly name. */
export const LEVELS = [
  { name: 'minute', ms: MINUTE },
  { name: 'hour', ms: HOUR },
  { name: 'day', ms: DAY },
] as const;
export type LevelName = (typeof LEVELS)[number]['name'];

/** One bucket × protocol × port. */
export class RollupCell {
  events = 0;
  /** Events added since the last propagation to coarser levels. */
  pending = 0;
  sources = new DistinctSketch();
  targets = new DistinctSketch();
  sensors = new DistinctSketch();
  subnets = new DistinctSketch();
  dirty = true;
  needsMerge = true;
  touched = 0;

  mergeFrom(o: {
    events: number;
    sources: DistinctSketch;
    targets: DistinctSketch;
    sensors: DistinctSketch;
    subnets: DistinctSketch;
  }): void {
    this.events += o.events;
    this.sources.merge(o.sources);
    this.targets.merge(o.targets);
    this.sensors.merge(o.sensors);
    this.subnets.merge(o.subnets);
  }
}

/** Everything known about one source address. */
export class SourceCell {
  first = Infinity;
  last = -Infinity;
  events = 0;
  ports = new DistinctSketch();
  targets = new DistinctSketch();
  sensors = new DistinctSketch();
  dirty = true;
  needsMerge = true;
  touched = 0;
  /** The address's four limbs (little-endian). */
  readonly addr: Uint32Array;
  constructor(addr: Uint32Array) {
    this.addr = addr;
  }

  mergeFrom(o: {
    first: number;
    last: number;
    events: number;
    ports: DistinctSketch;
    targets: DistinctSketch;
    sensors: DistinctSketch;
  }): void {
    if (o.first < this.first) this.first = o.first;
    if (o.last > this.last) this.last = o.last;
    this.events += o.events;
    this.ports.merge(o.ports);
    this.targets.merge(o.targets);
    this.sensors.merge(o.sensors);
  }
}

/** Packs protocol and port into one small integer key. */
export const protoPortKey = (proto: number, port: number): number => (proto << 16) | port;

/** A source's map key: the IPv4 value for IPv4-mapped addresses, a string for IPv6. */
function sourceKey(src: Uint32Array, o: number): number | string {
  if (src[o + 1] === 0xffff && src[o + 2] === 0 && src[o + 3] === 0) return src[o];
  return `${src[o]}:${src[o + 1]}:${src[o + 2]}:${src[o + 3]}`;
}

export interface ResidencyPolicy {
  /** A cell untouched for this long (wall clock) is evicted once written. */
  residentMs: number;
  /** Most source cells kept in memory; the least recently touched written ones go first. */
  maxSources: number;
}

export class Aggregates {
  /** level name -> bucket start -> protoPortKey -> cell */
  readonly levels: Record<LevelName, Map<number, Map<number, RollupCell>>> = {
    minute: new Map(),
    hour: new Map(),
    day: new Map(),
  };
  readonly sources = new Map<number | string, SourceCell>();
  /** Highest ingest sequence whose events are in these aggregates. */
  lastSeq = 0;
  readonly #policy: ResidencyPolicy;

  constructor(policy: ResidencyPolicy) {
    this.#policy = policy;
  }

  /** Adds one batch's events from `sensor`; `now` is the wall clock, for residency. */
  add(sensor: number, c: EventColumns, ingestSeq: number, now: number): void {
    const minutes = this.levels.minute;
    const sensorHash = hash32(sensor);
    const { time, src, dst, dstPort, proto, count, sampling } = c;
    let lastBucket = NaN;
    let bucket: Map<number, RollupCell> | undefined;
    for (let i = 0; i < c.length; i++) {
      const o = i * 4;
      const b = time[i] - (time[i] % MINUTE);
      if (b !== lastBucket) {
        bucket = minutes.get(b);
        if (bucket === undefined) minutes.set(b, (bucket = new Map()));
        lastBucket = b;
      }
      const k = (proto[i] << 16) | dstPort[i];
      let cell = bucket!.get(k);
      if (cell === undefined) bucket!.set(k, (cell = new RollupCell()));
      const w = count[i] * sampling[i];
      const hs = hashLimbs(src, o);
      const dstKnown = (dst[o] | dst[o + 1] | dst[o + 2] | dst[o + 3]) !== 0;
      const hd = dstKnown ? hashLimbs(dst, o) : 0;
      cell.events += w;
      cell.pending += w;
      cell.sources.add(hs);
      if (dstKnown) cell.targets.add(hd);
      cell.sensors.add(sensorHash);
      cell.subnets.add(hash32(prefixKey24(src, o)));
      cell.dirty = true;
      cell.touched = now;

      const sk = sourceKey(src, o);
      let s = this.sources.get(sk);
      if (s === undefined) this.sources.set(sk, (s = new SourceCell(src.slice(o, o + 4))));
      if (time[i] < s.first) s.first = time[i];
      if (time[i] > s.last) s.last = time[i];
      s.events += w;
      s.ports.add(hash32(k));
      if (dstKnown) s.targets.add(hd);
      s.sensors.add(sensorHash);
      s.dirty = true;
      s.touched = now;
    }
    if (ingestSeq > this.lastSeq) this.lastSeq = ingestSeq;
  }

  /** Folds the events minute cells gained since last time into their hour and day cells. */
  propagate(now: number): void {
    for (const [b, cells] of this.levels.minute) {
      for (const [k, cell] of cells) {
        if (cell.pending === 0) continue;
        for (const level of ['hour', 'day'] as const) {
          const width = level === 'hour' ? HOUR : DAY;
          const lb = b - (b % width);
          let m = this.levels[level].get(lb);
          if (m === undefined) this.levels[level].set(lb, (m = new Map()));
          let up = m.get(k);
          if (up === undefined) m.set(k, (up = new RollupCell()));
          up.events += cell.pending;
          up.sources.merge(cell.sources);
          up.targets.merge(cell.targets);
          up.sensors.merge(cell.sensors);
          up.subnets.merge(cell.subnets);
          up.dirty = true;
          up.touched = now;
        }
        cell.pending = 0;
      }
    }
  }

  /** Forgets written cells that have gone quiet, keeping memory flat. */
  evict(now: number): void {
    const cutoff = now - this.#policy.residentMs;
    for (const levelMap of Object.values(this.levels)) {
      for (const [b, cells] of levelMap) {
        for (const [k, cell] of cells)
          if (!cell.dirty && cell.pending === 0 && cell.touched < cutoff) cells.delete(k);
        if (cells.size === 0) levelMap.delete(b);
      }
    }
    for (const [k, s] of this.sources) if (!s.dirty && s.touched < cutoff) this.sources.delete(k);
    if (this.sources.size > this.#policy.maxSources) {
      const clean = [...this.sources].filter(([, s]) => !s.dirty).sort((a, b) => a[1].touched - b[1].touched);
      for (let i = 0; i < clean.length && this.sources.size > this.#policy.maxSources; i++)
        this.sources.delete(clean[i][0]);
    }
  }

  /** Cells that must be merged with stored rows before they can be written. */
  *unmerged(): Generator<{ level: LevelName; bucket: number; key: number; cell: RollupCell }> {
    for (const { name } of LEVELS)
      for (const [bucket, cells] of this.levels[name])
        for (const [key, cell] of cells) if (cell.needsMerge) yield { level: name, bucket, key, cell };
  }

  *dirtyCells(): Generator<{ level: LevelName; bucket: number; key: number; cell: RollupCell }> {
    for (const { name } of LEVELS)
      for (const [bucket, cells] of this.levels[name])
        for (const [key, cell] of cells) if (cell.dirty) yield { level: name, bucket, key, cell };
  }

  /** The resident cell for one bucket, protocol and port, if any. */
  cell(level: LevelName, bucket: number, proto: number, port: number): RollupCell | undefined {
    return this.levels[level].get(bucket)?.get(protoPortKey(proto, port));
  }
}
