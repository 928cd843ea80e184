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

/**
 * Source cells by address. IPv4 addresses (nearly all traffic) go through an open-addressing table
 * of typed arrays: a Map keyed by numbers above 2^30 would box every key it is asked about.
 */
export class SourceCells {
  #keys = new Uint32Array(1024);
  /** Index into #cells plus one; 0 marks an empty slot. */
  #slots = new Int32Array(1024);
  readonly #cells: SourceCell[] = [];
  readonly #v6 = new Map<string, SourceCell>();

  get size(): number {
    return this.#cells.length;
  }

  values(): IterableIterator<SourceCell> {
    return this.#cells.values();
  }

  /** The cell of the address at limbs[o..o+3], created empty if new. */
  cellOf(limbs: Uint32Array, o: number): SourceCell {
    if (limbs[o + 1] !== 0xffff || limbs[o + 2] !== 0 || limbs[o + 3] !== 0) {
      const key = `${limbs[o]}:${limbs[o + 1]}:${limbs[o + 2]}:${limbs[o + 3]}`;
      let c = this.#v6.get(key);
      if (c === undefined) {
        this.#v6.set(key, (c = new SourceCell(limbs.slice(o, o + 4))));
        this.#cells.push(c);
      }
      return c;
    }
    const v = limbs[o];
    const mask = this.#slots.length - 1;
    let i = (Math.imul(v, 0x9e3779b1) >>> 0) & mask;
    for (;;) {
      const slot = this.#slots[i];
      if (slot === 0) break;
      if (this.#keys[i] === v) return this.#cells[slot - 1];
      i = (i + 1) & mask;
    }
    const c = new SourceCell(limbs.slice(o, o + 4));
    this.#cells.push(c);
    this.#keys[i] = v;
    this.#slots[i] = this.#cells.length;
    if (this.#cells.length * 2 > this.#slots.length) this.#grow();
    return c;
  }

  #grow(): void {
    const keys = this.#keys;
    const slots = this.#slots;
    this.#keys = new Uint32Array(keys.length * 2);
    this.#slots = new Int32Array(slots.length * 2);
    const mask = this.#slots.length - 1;
    for (let j = 0; j < slots.length; j++) {
      if (slots[j] === 0) continue;
      let i = (Math.imul(keys[j], 0x9e3779b1) >>> 0) & mask;
      while (this.#slots[i] !== 0) i = (i + 1) & mask;
      this.#keys[i] = keys[j];
      this.#slots[i] = slots[j];
    }
  }
}

/** minute bucket start -> protoPortKey -> cell */
export type MinuteCells = Map<number, Map<number, RollupCell>>;

/** A delta taken for writing, with the highest ingest sequence it includes. */
export interface Taken<T> {
  cells: T;
  seq: number;
}

export class Aggregates {
  #minutes: MinuteCells = new Map();
  #sources = new SourceCells();
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
      const s = sources.cellOf(src, o);
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
    this.#sources = new SourceCells();
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
    for (const cell of cells.values()) this.#sources.cellOf(cell.addr, 0).merge(cell);
  }
}
