// In-memory deltas of the rollups and per-source state, updated per event at ingest.
//
// The deltas hold only what arrived since they were last taken: the store appends them as "parts"
// and later compacts parts into one row per key. Taking a delta swaps in an empty one, so memory
// stays flat however long the server runs, and the ingest sequence recorded with each part says
// exactly which raw events it covers (the rest are replayed after a crash).

import { hash32, hashLimbs, DistinctSketch } from '../core/sketch.ts';
import { prefixKey24 } from '../core/address.ts';
import type { EventColumns } from '../core/event.ts';

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

/** Rollup levels: bucket width in ms. */
export const LEVELS = { minute: MINUTE, hour: HOUR, day: DAY } as const;
export type LevelName = keyof typeof LEVELS;

/** Counts and distinct sketches of one bucket × protocol × port. */
export class RollupCell {
  events = 0;
  sources = new DistinctSketch();
  targets = new DistinctSketch();
  sensors = new DistinctSketch();
  subnets = new DistinctSketch();

  merge(o: RollupCell): this {
    this.events += o.events;
    this.sources.merge(o.sources);
    this.targets.merge(o.targets);
    this.sensors.merge(o.sensors);
    this.subnets.merge(o.subnets);
    return this;
  }
}

/** What is known about one source address. */
export class SourceCell {
  first = Infinity;
  last = -Infinity;
  events = 0;
  ports = new DistinctSketch();
  targets = new DistinctSketch();
  sensors = new DistinctSketch();
  /** The address's four little-endian limbs. */
  readonly addr: Uint32Array;
  constructor(addr: Uint32Array) {
    this.addr = addr;
  }

  merge(o: SourceCell): this {
    if (o.first < this.first) this.first = o.first;
    if (o.last > this.last) this.last = o.last;
    this.events += o.events;
    this.ports.merge(o.ports);
    this.targets.merge(o.targets);
    this.sensors.merge(o.sensors);
    return this;
  }
}

/** Packs protocol and port into one small integer key. */
export const protoPortKey = (proto: number, port: number): number => (proto << 16) | port;

/** A source's map key: the IPv4 value for IPv4-mapped addresses, a string otherwise. */
export function sourceKey(src: Uint32Array, o: number): number | string {
  if (src[o + 1] === 0xffff && src[o + 2] === 0 && src[o + 3] === 0) return src[o];
  return `${src[o]}:${src[o + 1]}:${src[o + 2]}:${src[o + 3]}`;
}

/** minute bucket start -> protoPortKey -> cell */
export type MinuteCells = Map<number, Map<number, RollupCell>>;
export type SourceCells = Map<number | string, SourceCell>;

/** A delta taken for writing, with the highest ingest sequence it includes. */
export interface Taken<T> {
  cells: T;
  seq: number;
}

export class Aggregates {
  #minutes: MinuteCells = new Map();
  #sources: SourceCells = new Map();
  /** Highest ingest sequence included in the current rollup and source deltas (or taken before). */
  #rollupSeq = 0;
  #sourceSeq = 0;

  /** Starts after what the store already holds. */
  constructor(rollupSeq = 0, sourceSeq = 0) {
    this.#rollupSeq = rollupSeq;
    this.#sourceSeq = sourceSeq;
  }

  /**
   * Adds one batch's events from `sensor`. A batch the rollups (or sources) already include, by
   * sequence number, is skipped for them: replay after a crash starts from the older checkpoint.
   */
  add(sensor: number, c: EventColumns, ingestSeq: number): void {
    const rollups = ingestSeq > this.#rollupSeq;
    const sources = ingestSeq > this.#sourceSeq;
    if (rollups) {
      this.#addRollups(sensor, c);
      this.#rollupSeq = ingestSeq;
    }
    if (sources) {
      this.#addSources(sensor, c);
      this.#sourceSeq = ingestSeq;
    }
  }

  #addRollups(sensor: number, c: EventColumns): void {
    const minutes = this.#minutes;
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
      cell.events += count[i] * sampling[i];
      cell.sources.add(hashLimbs(src, o));
      if ((dst[o] | dst[o + 1] | dst[o + 2] | dst[o + 3]) !== 0) cell.targets.add(hashLimbs(dst, o));
      cell.sensors.add(sensorHash);
      cell.subnets.add(hash32(prefixKey24(src, o)));
    }
  }

  #addSources(sensor: number, c: EventColumns): void {
    const sources = this.#sources;
    const sensorHash = hash32(sensor);
    const { time, src, dst, dstPort, proto, count, sampling } = c;
    for (let i = 0; i < c.length; i++) {
      const o = i * 4;
      const sk = sourceKey(src, o);
      let s = sources.get(sk);
      if (s === undefined) sources.set(sk, (s = new SourceCell(src.slice(o, o + 4))));
      const t = time[i];
      if (t < s.first) s.first = t;
      if (t > s.last) s.last = t;
      s.events += count[i] * sampling[i];
      s.ports.add(hash32((proto[i] << 16) | dstPort[i]));
      if ((dst[o] | dst[o + 1] | dst[o + 2] | dst[o + 3]) !== 0) s.targets.add(hashLimbs(dst, o));
      s.sensors.add(sensorHash);
    }
  }

  /** Hands over the rollup delta and starts an empty one. */
  takeRollups(): Taken<MinuteCells> {
    const cells = this.#minutes;
    this.#minutes = new Map();
    return { cells, seq: this.#rollupSeq };
  }

  /** Hands over the per-source delta and starts an empty one. */
  takeSources(): Taken<SourceCells> {
    const cells = this.#sources;
    this.#sources = new Map();
    return { cells, seq: this.#sourceSeq };
  }

  /** Puts back a delta whose write failed, so nothing is lost before the next try. */
  giveBackRollups(cells: MinuteCells): void {
    for (const [b, cellsOfMinute] of cells) {
      let current = this.#minutes.get(b);
      if (current === undefined) this.#minutes.set(b, (current = new Map()));
      for (const [k, cell] of cellsOfMinute) {
        const now = current.get(k);
        current.set(k, now === undefined ? cell : now.merge(cell));
      }
    }
  }

  giveBackSources(cells: SourceCells): void {
    for (const [k, cell] of cells) {
      const now = this.#sources.get(k);
      this.#sources.set(k, now === undefined ? cell : now.merge(cell));
    }
  }

  /** The not-yet-written delta of one minute, protocol and port, for reads. */
  minuteCell(bucket: number, key: number): RollupCell | undefined {
    return this.#minutes.get(bucket)?.get(key);
  }

  /** The not-yet-written minute deltas, for reads. */
  get minutes(): MinuteCells {
    return this.#minutes;
  }

  /** The not-yet-written delta of one source, for reads. */
  source(key: number | string): SourceCell | undefined {
    return this.#sources.get(key);
  }
}
