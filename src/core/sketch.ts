// Distinct-count sketch: an exact set of 32-bit hashes while small, HyperLogLog (p = 12) beyond.
//
// Why this shape (docs/adr/0003-distinct-sketches.md has the numbers):
// - Most rollup groups (minute × proto × port, per-source state) see a handful of distinct values,
//   and an analyst reading "3 sources" must be able to trust it, so small counts are exact.
// - Beyond EXACT_THRESHOLD distinct hashes the set is replaced by 4,096 one-byte registers: the
//   exact table at that point is 1,024 slots × 4 bytes, so the switch never grows memory.
// - Everything on the insert path is int32 arithmetic on object fields and typed arrays: no
//   allocation per insert (only when a table is created, doubles or converts), because the
//   collector inserts ~4 values per event at over a million events a second.
// - Up to INLINE_CAPACITY non-zero hashes live in the sketch object's own int32 fields, with no
//   table at all: there are hundreds of thousands of per-source and per-minute sketches and most
//   of them hold 1 to 3 values, so a typed array each (~250 bytes with its ArrayBuffer, and more
//   objects for the GC to trace) would dominate the collector's memory.
// - Values are hashed with a bijective 32-bit mixer, so for IPv4 (and ports, sensor ids, /24s)
//   a set of hashes has exactly as many members as the set of values: exactness is real, not
//   "exact up to hash collisions".

/** HyperLogLog precision: 2^12 registers, standard error 1.04 / sqrt(4096) ≈ 1.63 %. */
export const SKETCH_PRECISION = 12;
/** Number of HyperLogLog registers. */
export const SKETCH_REGISTERS = 1 << SKETCH_PRECISION;
/** Largest number of distinct hashes kept exactly; one more converts to HyperLogLog. */
export const EXACT_THRESHOLD = 512;
/** Serialisation format version (first byte of every serialised sketch). */
export const SKETCH_FORMAT_VERSION = 1;

// Bits of the hash left for the rank once the register index is taken (Ertl's q).
const Q = 32 - SKETCH_PRECISION;
// Largest register value: Q leading zeros plus one.
const MAX_RANK = Q + 1;
// OR-ed below the rank bits so that clz32 stops at Q: ranks are then 1..Q+1 without a branch.
const RANK_SENTINEL = 1 << (SKETCH_PRECISION - 1);
// Non-zero hashes held in the fields v0..v3 before a table is allocated (the hash 0 is a flag).
const INLINE_CAPACITY = 4;
// The table is created when the (INLINE_CAPACITY + 1)-th non-zero hash arrives; capacity is a
// power of two and load (the zero flag included) stays ≤ 1/2, so the smallest table that can
// take the inline values, the zero flag and the newcomer is 16 slots, and the largest exact table
// is 2 × EXACT_THRESHOLD slots.
const MIN_TABLE_CAPACITY = 16;
// V8 cost of the sketch object itself: a 3-word header and 9 in-object fields, 8 bytes each
// (measured: 96 bytes of heap per sketch over 300k sketches holding one or two hashes).
const OBJECT_BYTES = 96;
// Approximate V8 cost of one typed array besides its elements: the typed array and ArrayBuffer
// objects and the backing store's header (measured: 376 bytes for a sketch with a 16-slot table,
// 4,411 dense; within 20 bytes for the larger tables, whose elements live off the V8 heap).
const ARRAY_OVERHEAD_BYTES = 216;

const KIND_EXACT = 0;
const KIND_DENSE = 1;
const HEADER_BYTES = 4;
// Dense registers are 0..21, so 5 bits each: 4,096 registers in 2,560 bytes.
const REGISTER_BITS = 5;
const PACKED_REGISTER_BYTES = (SKETCH_REGISTERS * REGISTER_BITS) / 8;

const EMPTY_TABLE = new Int32Array(0);

/**
 * murmur3's fmix32 finaliser: a bijection on 32-bit integers with full avalanche.
 *
 * Returned as a signed int32 (the same 32 bits as the uint32 hash): int32 values stay unboxed
 * small integers in V8 when they cross a non-inlined call, whereas uint32 values ≥ 2^31 would be
 * boxed as heap numbers, i.e. an allocation per insert. `add` accepts either representation.
 */
export function hash32(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

/**
 * Hash of a 128-bit address stored as four little-endian uint32 limbs at `limbs[offset..offset+3]`
 * (the EventColumns / DuckDB UHUGEINT layout: limb 0 holds the lowest 32 bits).
 *
 * An IPv4-mapped address ::ffff:a.b.c.d hashes exactly like `hash32(a.b.c.d)`, so IPv4 keeps the
 * bijection and stays exactly counted. Other addresses go through murmur3_32 over the 16 bytes,
 * so two distinct IPv6 addresses (or an IPv6 and an IPv4 address) collide with probability 2^-32:
 * an exact-mode IPv6 count can in principle be one short, far below HyperLogLog's own error.
 */
export function hashLimbs(limbs: Uint32Array, offset: number): number {
  const l0 = limbs[offset] | 0;
  const l1 = limbs[offset + 1] | 0;
  const l2 = limbs[offset + 2] | 0;
  const l3 = limbs[offset + 3] | 0;
  if (l1 === 0xffff && l2 === 0 && l3 === 0) return hash32(l0);
  // murmur3_32 body over four blocks with a fixed seed, then the same fmix32 as hash32.
  let h = 0x5f0d1e3b;
  h = murmurBlock(h, l0);
  h = murmurBlock(h, l1);
  h = murmurBlock(h, l2);
  h = murmurBlock(h, l3);
  return hash32(h ^ 16);
}

function murmurBlock(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** A serialised sketch that cannot be decoded; nothing of it is trusted. */
export class SketchFormatError extends Error {
  constructor(message: string) {
    super(`Invalid distinct sketch: ${message}`);
    this.name = 'SketchFormatError';
  }
}

/**
 * Distinct counter over 32-bit hashes (from `hash32` / `hashLimbs`).
 *
 * Exact mode: up to INLINE_CAPACITY non-zero hashes in the fields v0..v3 (inline), beyond that an
 * open-addressing set (linear probing, int32 slots, 0 = empty) holding up to EXACT_THRESHOLD
 * hashes; the hash 0 itself is kept in a flag either way. Dense mode: 4,096 HyperLogLog registers
 * indexed by the hash's top 12 bits, the rank taken from the remaining 20 bits, estimated with
 * Ertl's improved raw estimator. The state depends only on the set of hashes inserted, whatever
 * the order or the merge tree, so serialisations of equal sets are byte-identical.
 */
export class DistinctSketch {
  // Field order is memory order (each is a class field): the ones every `add` reads come first.
  // Dense mode: the registers; null while exact.
  private regs: Uint8Array | null;
  // Exact mode past INLINE_CAPACITY non-zero hashes: the hash table. EMPTY_TABLE while the set is
  // inline and once dense (a shared constant rather than null, so the field keeps one type).
  private table: Int32Array;
  // Exact mode: number of distinct hashes, including the zero flag.
  private count: number;
  // Inline exact mode: the non-zero hashes as int32, filled in order; 0 marks an unused field.
  // All 0 whenever there is a table or registers, so code that visits v0..v3 and the table
  // together sees each member once, whatever the mode. A set has a table only if it holds more
  // than INLINE_CAPACITY non-zero hashes (no path creates one earlier), so whether a set is
  // inline depends on the set alone (a table's capacity can still depend on the history).
  private v0: number;
  private v1: number;
  private v2: number;
  private v3: number;
  // Whether hash 0 is in the set (0 marks an empty slot, so it cannot live in the table).
  private hasZero: boolean;
  // Dense mode: the last estimate, or -1 once a register changed since.
  private cached: number;

  constructor() {
    this.regs = null;
    this.table = EMPTY_TABLE;
    this.count = 0;
    this.v0 = 0;
    this.v1 = 0;
    this.v2 = 0;
    this.v3 = 0;
    this.hasZero = false;
    this.cached = -1;
  }

  /** True while the sketch is an exact set (estimate() is then the exact distinct count). */
  get isExact(): boolean {
    return this.regs === null;
  }

  /** Approximate memory held by this sketch, in bytes (object overhead included). */
  get bytes(): number {
    const t = this.table;
    const regs = this.regs;
    return (
      OBJECT_BYTES +
      (t.length === 0 ? 0 : ARRAY_OVERHEAD_BYTES + t.byteLength) +
      (regs === null ? 0 : ARRAY_OVERHEAD_BYTES + regs.byteLength)
    );
  }

  /** Inserts one hash (a uint32 or the same bits as an int32). */
  add(h: number): void {
    h |= 0;
    const regs = this.regs;
    if (regs !== null) {
      const idx = h >>> Q;
      const rank = Math.clz32((h << SKETCH_PRECISION) | RANK_SENTINEL) + 1;
      if (rank > regs[idx]) {
        regs[idx] = rank;
        this.cached = -1;
      }
      return;
    }
    if (h === 0) {
      if (!this.hasZero) this.addNew(0);
      return;
    }
    const t = this.table;
    if (t.length === 0) {
      // Inline: unused fields hold 0 and h is not 0, so four comparisons decide membership.
      if (h !== this.v0 && h !== this.v1 && h !== this.v2 && h !== this.v3) this.addInline(h);
      return;
    }
    const mask = t.length - 1;
    let i = h & mask;
    for (;;) {
      const v = t[i];
      if (v === h) return;
      if (v === 0) break;
      i = (i + 1) & mask;
    }
    if (this.count < t.length >>> 1) {
      t[i] = h;
      this.count++;
      return;
    }
    this.addNew(h);
  }

  // Slow path for a hash known to be absent: the zero flag, growing, or converting to dense.
  // Kept out of `add` so the hot path stays small enough to inline into the caller's loop.
  private addNew(h: number): void {
    if (this.count >= EXACT_THRESHOLD) {
      this.toDense();
      this.add(h);
      return;
    }
    if (h === 0) {
      this.hasZero = true;
      this.count++;
      return;
    }
    if (this.count >= this.table.length >>> 1) this.resize(this.table.length << 1);
    insertAbsent(this.table, h);
    this.count++;
  }

  // Slow path for a non-zero hash known to be absent from an inline set. Separate from addNew so
  // that neither grows large when the compiler inlines it into a loop calling `add`.
  private addInline(h: number): void {
    // Inline fields fill in order; a hash that finds them all taken moves them into a table.
    if (this.v0 === 0) this.v0 = h;
    else if (this.v1 === 0) this.v1 = h;
    else if (this.v2 === 0) this.v2 = h;
    else if (this.v3 === 0) this.v3 = h;
    else {
      this.toTable(capacityFor(this.count + 1));
      insertAbsent(this.table, h);
    }
    this.count++;
  }

  // Moves the inline hashes into a new table of `capacity` slots.
  private toTable(capacity: number): void {
    const t = new Int32Array(capacity);
    if (this.v0 !== 0) insertAbsent(t, this.v0);
    if (this.v1 !== 0) insertAbsent(t, this.v1);
    if (this.v2 !== 0) insertAbsent(t, this.v2);
    if (this.v3 !== 0) insertAbsent(t, this.v3);
    this.table = t;
    this.clearInline();
  }

  private clearInline(): void {
    this.v0 = 0;
    this.v1 = 0;
    this.v2 = 0;
    this.v3 = 0;
  }

  private resize(capacity: number): void {
    const old = this.table;
    const t = new Int32Array(capacity);
    for (let i = 0; i < old.length; i++) {
      const v = old[i];
      if (v !== 0) insertAbsent(t, v);
    }
    this.table = t;
  }

  private toDense(): void {
    const regs = new Uint8Array(SKETCH_REGISTERS);
    if (this.v0 !== 0) setRegister(regs, this.v0);
    if (this.v1 !== 0) setRegister(regs, this.v1);
    if (this.v2 !== 0) setRegister(regs, this.v2);
    if (this.v3 !== 0) setRegister(regs, this.v3);
    const t = this.table;
    for (let i = 0; i < t.length; i++) {
      const v = t[i];
      if (v !== 0) setRegister(regs, v);
    }
    if (this.hasZero) setRegister(regs, 0);
    this.regs = regs;
    this.table = EMPTY_TABLE;
    this.clearInline();
    this.hasZero = false;
    this.count = 0;
    this.cached = -1;
  }

  /** Appends the members' hashes (as int32) to `out` while the sketch is exact; false, appending nothing, once dense. */
  exactMembers(out: number[]): boolean {
    if (this.regs !== null) return false;
    if (this.v0 !== 0) out.push(this.v0);
    if (this.v1 !== 0) out.push(this.v1);
    if (this.v2 !== 0) out.push(this.v2);
    if (this.v3 !== 0) out.push(this.v3);
    const t = this.table;
    for (let i = 0; i < t.length; i++) if (t[i] !== 0) out.push(t[i]);
    if (this.hasZero) out.push(0);
    return true;
  }

  /** Distinct count: exact in exact mode, else Ertl's improved HyperLogLog estimate (rounded). */
  estimate(): number {
    const regs = this.regs;
    if (regs === null) return this.count;
    if (this.cached < 0) this.cached = ertlEstimate(regs);
    return this.cached;
  }

  /** Adds every hash of `other` to this sketch (set union); returns this. */
  merge(other: DistinctSketch): this {
    if (other === this) return this;
    const oregs = other.regs;
    if (oregs !== null) {
      if (this.regs === null) this.toDense();
      const regs = this.regs as Uint8Array;
      let changed = false;
      for (let i = 0; i < SKETCH_REGISTERS; i++) {
        const r = oregs[i];
        if (r > regs[i]) {
          regs[i] = r;
          changed = true;
        }
      }
      if (changed) this.cached = -1;
      return this;
    }
    // Pre-size for the union (bounded by the largest exact table) so inserting other's slots in
    // their order cannot meet a crowded small table. Two inline sets need no table unless their
    // union is too big to stay inline, and then add() creates it.
    if (this.regs === null && (this.table.length !== 0 || other.table.length !== 0)) {
      const cap = capacityFor(Math.min(this.count + other.count, EXACT_THRESHOLD));
      if (this.table.length === 0) this.toTable(cap);
      else if (cap > this.table.length) this.resize(cap);
    }
    if (other.v0 !== 0) this.add(other.v0);
    if (other.v1 !== 0) this.add(other.v1);
    if (other.v2 !== 0) this.add(other.v2);
    if (other.v3 !== 0) this.add(other.v3);
    const t = other.table;
    for (let i = 0; i < t.length; i++) {
      const v = t[i];
      if (v !== 0) this.add(v);
    }
    if (other.hasZero) this.add(0);
    return this;
  }

  /** An independent copy. */
  clone(): DistinctSketch {
    const c = new DistinctSketch();
    c.table = this.table.length === 0 ? EMPTY_TABLE : this.table.slice();
    c.hasZero = this.hasZero;
    c.count = this.count;
    c.v0 = this.v0;
    c.v1 = this.v1;
    c.v2 = this.v2;
    c.v3 = this.v3;
    c.regs = this.regs === null ? null : this.regs.slice();
    c.cached = this.cached;
    return c;
  }

  /**
   * Compact, canonical encoding (little-endian):
   *   byte 0 version (1), byte 1 kind (0 exact, 1 dense), byte 2 precision (12), byte 3 zero;
   *   exact: uint32 count, then count hashes as uint32 in ascending order;
   *   dense: 4,096 registers packed 5 bits each, least significant bits first (2,560 bytes).
   */
  serialize(): Uint8Array {
    const regs = this.regs;
    if (regs === null) {
      const hashes = new Uint32Array(this.count);
      let n = 0;
      if (this.hasZero) hashes[n++] = 0;
      // Stored as uint32: negative int32 hashes sort after the positive ones.
      if (this.v0 !== 0) hashes[n++] = this.v0;
      if (this.v1 !== 0) hashes[n++] = this.v1;
      if (this.v2 !== 0) hashes[n++] = this.v2;
      if (this.v3 !== 0) hashes[n++] = this.v3;
      const t = this.table;
      for (let i = 0; i < t.length; i++) if (t[i] !== 0) hashes[n++] = t[i];
      hashes.sort();
      const out = new Uint8Array(HEADER_BYTES + 4 + 4 * n);
      writeHeader(out, KIND_EXACT);
      writeU32(out, HEADER_BYTES, n);
      for (let i = 0; i < n; i++) writeU32(out, HEADER_BYTES + 4 + 4 * i, hashes[i]);
      return out;
    }
    const out = new Uint8Array(HEADER_BYTES + PACKED_REGISTER_BYTES);
    writeHeader(out, KIND_DENSE);
    let acc = 0;
    let bits = 0;
    let o = HEADER_BYTES;
    for (let i = 0; i < SKETCH_REGISTERS; i++) {
      acc |= regs[i] << bits;
      bits += REGISTER_BITS;
      while (bits >= 8) {
        out[o++] = acc & 0xff;
        acc >>>= 8;
        bits -= 8;
      }
    }
    return out;
  }

  /** Decodes `serialize()` output. Input is untrusted: anything malformed throws SketchFormatError. */
  static deserialize(buf: Uint8Array): DistinctSketch {
    if (!(buf instanceof Uint8Array)) throw new SketchFormatError('expected a Uint8Array');
    const len = buf.length;
    if (len < HEADER_BYTES) throw new SketchFormatError(`truncated header (${len} bytes)`);
    if (buf[0] !== SKETCH_FORMAT_VERSION) {
      throw new SketchFormatError(`unsupported version ${buf[0]} (expected ${SKETCH_FORMAT_VERSION})`);
    }
    if (buf[2] !== SKETCH_PRECISION) {
      throw new SketchFormatError(`unsupported precision ${buf[2]} (expected ${SKETCH_PRECISION})`);
    }
    if (buf[3] !== 0) throw new SketchFormatError('reserved header byte is not zero');
    const s = new DistinctSketch();
    if (buf[1] === KIND_EXACT) {
      if (len < HEADER_BYTES + 4) throw new SketchFormatError('truncated exact count');
      const n = readU32(buf, HEADER_BYTES);
      if (n > EXACT_THRESHOLD) {
        throw new SketchFormatError(`exact set of ${n} exceeds the threshold ${EXACT_THRESHOLD}`);
      }
      const expected = HEADER_BYTES + 4 + 4 * n;
      if (len !== expected)
        throw new SketchFormatError(`exact set of ${n} needs ${expected} bytes, got ${len}`);
      // Hashes ascend strictly, so 0 can only come first; the rest stay inline if they fit.
      const nonZero = n > 0 && readU32(buf, HEADER_BYTES + 4) === 0 ? n - 1 : n;
      if (nonZero > INLINE_CAPACITY) s.table = new Int32Array(capacityFor(n));
      let prev = -1;
      let stored = 0;
      for (let i = 0; i < n; i++) {
        const h = readU32(buf, HEADER_BYTES + 4 + 4 * i);
        if (h <= prev) throw new SketchFormatError('exact hashes are not strictly ascending');
        prev = h;
        if (h === 0) s.hasZero = true;
        else if (s.table.length !== 0) insertAbsent(s.table, h | 0);
        else if (stored === 0) s.v0 = h | 0;
        else if (stored === 1) s.v1 = h | 0;
        else if (stored === 2) s.v2 = h | 0;
        else s.v3 = h | 0;
        if (h !== 0) stored++;
      }
      s.count = n;
      return s;
    }
    if (buf[1] === KIND_DENSE) {
      const expected = HEADER_BYTES + PACKED_REGISTER_BYTES;
      if (len !== expected) throw new SketchFormatError(`dense sketch needs ${expected} bytes, got ${len}`);
      const regs = new Uint8Array(SKETCH_REGISTERS);
      let acc = 0;
      let bits = 0;
      let o = HEADER_BYTES;
      for (let i = 0; i < SKETCH_REGISTERS; i++) {
        if (bits < REGISTER_BITS) {
          acc |= buf[o++] << bits;
          bits += 8;
        }
        const r = acc & 0x1f;
        acc >>>= REGISTER_BITS;
        bits -= REGISTER_BITS;
        if (r > MAX_RANK) throw new SketchFormatError(`register ${i} holds ${r} (max ${MAX_RANK})`);
        regs[i] = r;
      }
      s.regs = regs;
      return s;
    }
    throw new SketchFormatError(`unknown kind ${buf[1]}`);
  }
}

// Table capacity for `n` hashes (the zero flag included) at load ≤ 1/2.
function capacityFor(n: number): number {
  let cap = MIN_TABLE_CAPACITY;
  while (n > cap >>> 1) cap <<= 1;
  return cap;
}

// Linear-probing insert of a non-zero hash known to be absent, into a table with a free slot.
function insertAbsent(t: Int32Array, h: number): void {
  const mask = t.length - 1;
  let i = h & mask;
  while (t[i] !== 0) i = (i + 1) & mask;
  t[i] = h;
}

function setRegister(regs: Uint8Array, h: number): void {
  const idx = h >>> Q;
  const rank = Math.clz32((h << SKETCH_PRECISION) | RANK_SENTINEL) + 1;
  if (rank > regs[idx]) regs[idx] = rank;
}

function writeHeader(out: Uint8Array, kind: number): void {
  out[0] = SKETCH_FORMAT_VERSION;
  out[1] = kind;
  out[2] = SKETCH_PRECISION;
  out[3] = 0;
}

function writeU32(out: Uint8Array, o: number, v: number): void {
  out[o] = v & 0xff;
  out[o + 1] = (v >>> 8) & 0xff;
  out[o + 2] = (v >>> 16) & 0xff;
  out[o + 3] = (v >>> 24) & 0xff;
}

function readU32(buf: Uint8Array, o: number): number {
  return (buf[o] | (buf[o + 1] << 8) | (buf[o + 2] << 16) | (buf[o + 3] << 24)) >>> 0;
}

const HASH_SPACE = 2 ** 32;

// Register histogram scratch space (estimate is not re-entrant, and need not be).
const histogram = new Float64Array(MAX_RANK + 1);

/**
 * Ertl, "New cardinality estimation algorithms for HyperLogLog sketches" (2017), algorithm 6:
 * the improved raw estimator. Its σ term takes over linear counting's job at small cardinalities
 * and its τ term handles saturated registers at large ones, with one smooth formula: no switch
 * between estimators, hence no bias bump (HLL++ needs an empirical bias table for that).
 */
function ertlEstimate(regs: Uint8Array): number {
  histogram.fill(0);
  for (let i = 0; i < SKETCH_REGISTERS; i++) histogram[regs[i]]++;
  const m = SKETCH_REGISTERS;
  let z = m * tau(1 - histogram[MAX_RANK] / m);
  for (let k = Q; k >= 1; k--) z = 0.5 * (z + histogram[k]);
  z += m * sigma(histogram[0] / m);
  // All registers saturated makes z = 0: the sketch has seen (about) every 32-bit hash, and no
  // set of hashes is larger than that.
  return Math.min(HASH_SPACE, Math.round(((0.5 / Math.LN2) * m * m) / z));
}

function sigma(x: number): number {
  if (x === 1) return Infinity;
  let y = 1;
  let z = x;
  let prev: number;
  do {
    x *= x;
    prev = z;
    z += x * y;
    y += y;
  } while (z !== prev);
  return z;
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  let prev: number;
  do {
    x = Math.sqrt(x);
    prev = z;
    y *= 0.5;
    z -= (1 - x) * (1 - x) * y;
  } while (z !== prev);
  return z / 3;
}
