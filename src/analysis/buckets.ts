// Per-minute, per-port measures for the detectors, accumulated from stored events and handed over once a bucket closes.
//
// The store keeps its own rollups; the detectors keep these because they need measures the store does not
// (first-time sources, destination networks) and because the simulator feeds the very same code, so a
// benchmark run and a live run judge identical numbers.

import { hash32, hashLimbs, DistinctSketch } from '../core/sketch.ts';
import { prefixKey24 } from '../core/address.ts';
import type { EventColumns } from '../core/event.ts';

export const BUCKET_MS = 60_000;

/** The measures of one closed bucket, one row per protocol × port that saw anything, columnar. */
export interface BucketCounts {
  /** Start of the bucket, ms since the epoch. */
  t: number;
  /** Its width: a minute, or the fast lane's few seconds. */
  ms: number;
  length: number;
  /** (proto << 16) | port */
  keys: Int32Array;
  events: Float64Array;
  sources: Float64Array;
  targets: Float64Array;
  sensors: Float64Array;
  subnets: Float64Array;
  newSources: Float64Array;
  networks: Float64Array;
  /**
   * Row i's sensors (hashed) are sensorHashes[sensorStart[i] .. sensorStart[i + 1]), and its source /24s likewise:
   * the detector needs who, not just how many, to count distinct ones over several minutes. Listed while there are
   * at most 512 (the sketches' exact range); a row with more lists none, and its count says how many.
   */
  sensorStart: Uint32Array;
  sensorHashes: Int32Array;
  subnetStart: Uint32Array;
  subnetHashes: Int32Array;
  /** Row i's first-time sources, as (source /24 hash, sensor hash) pairs from newStart[i] * 2 to newStart[i + 1] * 2. */
  newStart: Uint32Array;
  newPairs: Int32Array;
}

/** The additive and distinct measures, in the order detectors index them. */
export const MEASURES = [
  'events',
  'sources',
  'targets',
  'sensors',
  'subnets',
  'newSources',
  'networks',
] as const;
export type MeasureName = (typeof MEASURES)[number];

class Cell {
  events = 0;
  newSources = 0;
  sources = new DistinctSketch();
  targets = new DistinctSketch();
  sensors = new DistinctSketch();
  subnets = new DistinctSketch();
  networks = new DistinctSketch();
  /** (source /24 hash, sensor hash) of each first-time source. */
  newPairs: number[] = [];
  lastSensor = Number.NaN;
}

/**
 * Which sources the network has seen: two generations of a Bloom filter that swap every `generationMs` of event
 * time, so a source counts as new if it was not seen for between one and two generations. IPv4 alone would need
 * a 512 MiB bitmap; 2 × 16 MiB holds tens of millions of sources with a few per cent false "seen before".
 */
export class SeenSources {
  /** log2 of the bits in one generation. */
  readonly #bits: number;
  #current: Uint32Array;
  #previous: Uint32Array;
  #generation = -1;
  readonly #generationMs: number;

  constructor(log2Bits = 27, generationMs = 14 * 86_400_000) {
    this.#bits = log2Bits;
    this.#current = new Uint32Array(1 << (log2Bits - 5));
    this.#previous = new Uint32Array(1 << (log2Bits - 5));
    this.#generationMs = generationMs;
  }

  /** Records the source of hash h at time t; true when it had not been seen. */
  firstSighting(h: number, t: number): boolean {
    const g = Math.floor(t / this.#generationMs);
    if (g > this.#generation) {
      if (this.#generation >= 0) {
        // Old generation out, current becomes previous; a gap of two or more generations forgets both.
        this.#previous = g === this.#generation + 1 ? this.#current : this.#current.fill(0);
        this.#current = new Uint32Array(this.#previous.length);
      }
      this.#generation = g;
    }
    // A blocked Bloom filter: the three bits share one 64-byte block, so a lookup costs one cache miss, not three.
    const block = (h >>> (32 - (this.#bits - 9))) << 4;
    const h2 = hash32(h ^ 0x5bd1e995);
    let seen = true;
    for (let i = 0; i < 27; i += 9) {
      const bit = (h2 >>> i) & 511;
      const word = block + (bit >>> 5);
      const mask = 1 << (bit & 31);
      if ((this.#current[word] & mask) === 0) {
        this.#current[word] |= mask;
        if ((this.#previous[word] & mask) === 0) seen = false;
      }
    }
    return !seen;
  }
}

export interface AccumulatorStats {
  /** Events that arrived after their bucket had closed: stored, but not judged. */
  late: number;
}

/**
 * Collects events into minute buckets until the clock closes them. Events are taken in any order within the
 * open buckets; a bucket closes at `close(upTo)` once its end is at or before `upTo`.
 */
export class BucketAccumulator {
  readonly #open = new Map<number, Map<number, Cell>>();
  /** null: first-time sources are not counted (the fast lane leaves that to the minute buckets). */
  readonly #seen: SeenSources | null;
  readonly bucketMs: number;
  /** Every bucket before this has been handed over. */
  #closedBefore = -Infinity;
  readonly stats: AccumulatorStats = { late: 0 };

  constructor(bucketMs = BUCKET_MS, seen: SeenSources | null = new SeenSources()) {
    this.bucketMs = bucketMs;
    this.#seen = seen;
  }

  /** Start of the oldest bucket still open, or null. */
  get oldestOpen(): number | null {
    let min: number | null = null;
    for (const t of this.#open.keys()) if (min === null || t < min) min = t;
    return min;
  }

  /** Adds events from one sensor, or from the sensor of each row (the simulator's batches mix them). */
  add(sensor: number | Uint32Array, c: EventColumns): void {
    const perRow = typeof sensor !== 'number';
    let sensorHash = perRow ? 0 : hash32(sensor);
    const seen = this.#seen;
    const { time, src, dst, dstPort, proto, count, sampling } = c;
    let lastBucket = Number.NaN;
    let bucket: Map<number, Cell> | undefined;
    for (let i = 0; i < c.length; i++) {
      const t = time[i];
      const b = t - (t % this.bucketMs);
      if (b !== lastBucket) {
        lastBucket = b;
        if (b < this.#closedBefore) bucket = undefined;
        else {
          bucket = this.#open.get(b);
          if (bucket === undefined) this.#open.set(b, (bucket = new Map()));
        }
      }
      if (bucket === undefined) {
        this.stats.late++;
        continue;
      }
      const o = i * 4;
      if (perRow) sensorHash = hash32(sensor[i]);
      const k = (proto[i] << 16) | dstPort[i];
      let cell = bucket.get(k);
      if (cell === undefined) bucket.set(k, (cell = new Cell()));
      cell.events += count[i] * sampling[i];
      const h = hashLimbs(src, o);
      const subnet = hash32(prefixKey24(src, o));
      cell.sources.add(h);
      if (seen !== null && seen.firstSighting(h, t)) {
        cell.newSources++;
        cell.newPairs.push(subnet, sensorHash);
      }
      const d0 = dst[o];
      if ((d0 | dst[o + 1] | dst[o + 2] | dst[o + 3]) !== 0) {
        cell.targets.add(hashLimbs(dst, o));
        // The destination /16 for IPv4, its /32 for IPv6 (the usual end-site allocation is a /48, but a /32 is
        // one provider: the question is how many different networks saw it).
        cell.networks.add(
          hash32(dst[o + 1] === 0xffff && dst[o + 2] === 0 ? d0 >>> 16 : dst[o + 3] ^ 0x40000000),
        );
      }
      if (cell.lastSensor !== sensorHash) {
        cell.sensors.add(sensorHash);
        cell.lastSensor = sensorHash;
      }
      cell.subnets.add(subnet);
    }
  }

  /** Hands over, oldest first, every bucket that ends at or before `upTo`, including empty ones since the last. */
  close(upTo: number): BucketCounts[] {
    const width = this.bucketMs;
    const last = upTo - (upTo % width) - width;
    if (last < this.#closedBefore) return [];
    let first = this.#closedBefore === -Infinity ? (this.oldestOpen ?? last) : this.#closedBefore;
    first = Math.min(first, last + width);
    const out: BucketCounts[] = [];
    for (let t = first; t <= last; t += width) {
      const cells = this.#open.get(t);
      this.#open.delete(t);
      out.push(toCounts(t, width, cells));
    }
    this.#closedBefore = last + width;
    return out;
  }
}

/** A bucket of `n` zeroed rows, its member lists empty; callers fill it. */
export function emptyCounts(t: number, ms: number, n: number): BucketCounts {
  return {
    t,
    ms,
    length: n,
    keys: new Int32Array(n),
    events: new Float64Array(n),
    sources: new Float64Array(n),
    targets: new Float64Array(n),
    sensors: new Float64Array(n),
    subnets: new Float64Array(n),
    newSources: new Float64Array(n),
    networks: new Float64Array(n),
    sensorStart: new Uint32Array(n + 1),
    sensorHashes: new Int32Array(0),
    subnetStart: new Uint32Array(n + 1),
    subnetHashes: new Int32Array(0),
    newStart: new Uint32Array(n + 1),
    newPairs: new Int32Array(0),
  };
}

function toCounts(t: number, ms: number, cells: Map<number, Cell> | undefined): BucketCounts {
  const out = emptyCounts(t, ms, cells?.size ?? 0);
  if (cells === undefined) return out;
  // Sorted by key, so everything downstream runs in a deterministic order.
  const keys = [...cells.keys()].sort((a, b) => a - b);
  const sensorList: number[] = [];
  const subnetList: number[] = [];
  const newList: number[] = [];
  keys.forEach((k, i) => {
    const c = cells.get(k)!;
    out.keys[i] = k;
    out.events[i] = c.events;
    out.sources[i] = c.sources.estimate();
    out.targets[i] = c.targets.estimate();
    out.sensors[i] = c.sensors.estimate();
    out.subnets[i] = c.subnets.estimate();
    out.newSources[i] = c.newSources;
    out.networks[i] = c.networks.estimate();
    c.sensors.exactMembers(sensorList);
    c.subnets.exactMembers(subnetList);
    for (const v of c.newPairs) newList.push(v);
    out.sensorStart[i + 1] = sensorList.length;
    out.subnetStart[i + 1] = subnetList.length;
    out.newStart[i + 1] = newList.length / 2;
  });
  out.sensorHashes = Int32Array.from(sensorList);
  out.subnetHashes = Int32Array.from(subnetList);
  out.newPairs = Int32Array.from(newList);
  return out;
}
