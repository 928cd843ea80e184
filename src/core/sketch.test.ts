// Tests for the distinct-count sketch: exactness, merge algebra, serialisation, hostile input, accuracy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DistinctSketch,
  EXACT_THRESHOLD,
  SKETCH_FORMAT_VERSION,
  SKETCH_PRECISION,
  SKETCH_REGISTERS,
  SketchFormatError,
  hash32,
  hashLimbs,
} from './sketch.ts';

// HyperLogLog's asymptotic standard error for m registers; the brief's bound is 1.5× this.
const STD_ERROR = 1.04 / Math.sqrt(SKETCH_REGISTERS);

// Seeded PRNG (mulberry32): the accuracy tests are statistical, so they must be reproducible.
function prng(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

// A bijection unrelated to fmix32, so base + i gives n distinct, random-looking values.
function scramble(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

// murmur3 fmix32's inverse: if it undoes hash32, hash32 is a bijection.
function unhash32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x7ed1b41d);
  h ^= (h >>> 13) ^ (h >>> 26);
  h = Math.imul(h, 0xa5cb9243);
  h ^= h >>> 16;
  return h >>> 0;
}

function sketchOf(values: Iterable<number>): DistinctSketch {
  const s = new DistinctSketch();
  for (const v of values) s.add(hash32(v));
  return s;
}

function assertRejects(buf: Uint8Array, pattern?: RegExp): void {
  assert.throws(
    () => DistinctSketch.deserialize(buf),
    (e: unknown) => e instanceof SketchFormatError && (pattern === undefined || pattern.test(e.message)),
  );
}

// Accepting hostile input is allowed only if what was accepted is a canonical sketch.
function assertRejectsOrCanonical(buf: Uint8Array): void {
  let s: DistinctSketch;
  try {
    s = DistinctSketch.deserialize(buf);
  } catch (e) {
    assert.ok(e instanceof SketchFormatError, `unexpected ${String(e)}`);
    return;
  }
  assert.deepEqual(s.serialize(), buf);
  assert.ok(Number.isFinite(s.estimate()) && s.estimate() >= 0);
}

test('hash32 is a bijection on 32-bit integers (its inverse undoes it)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), (x) => {
      assert.equal(unhash32(hash32(x)), x);
    }),
    { numRuns: 2000 },
  );
  // And a dense range of 2^20 consecutive values has 2^20 distinct hashes.
  const n = 1 << 20;
  const hs = new Uint32Array(n);
  for (let i = 0; i < n; i++) hs[i] = hash32(i);
  hs.sort();
  for (let i = 1; i < n; i++) assert.ok(hs[i] !== hs[i - 1]);
});

test('hashLimbs: IPv4-mapped addresses hash like hash32 of the IPv4 value, others differ', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 4, maxLength: 4 }),
      (v4, v6) => {
        // Little-endian limbs: limb 0 is the low 32 bits, so ::ffff:a.b.c.d is [a.b.c.d, 0xffff, 0, 0].
        const limbs = new Uint32Array([7, 7, 7, v4, 0xffff, 0, 0]);
        assert.equal(hashLimbs(limbs, 3), hash32(v4));
        const other = new Uint32Array(v6);
        const mapped = other[1] === 0xffff && other[2] === 0 && other[3] === 0;
        if (!mapped) assert.equal(hashLimbs(other, 0), hashLimbs(new Uint32Array(v6), 0));
      },
    ),
    { numRuns: 1000 },
  );
  // IPv6 addresses differing in any single limb hash differently (no limb is ignored).
  const a = new Uint32Array([1, 2, 3, 0x20010db8]);
  const seen = new Set([hashLimbs(a, 0)]);
  for (let limb = 0; limb < 4; limb++) {
    const b = a.slice();
    b[limb] ^= 1;
    seen.add(hashLimbs(b, 0));
  }
  assert.equal(seen.size, 5);
  // ::ffff:0.0.0.0 hashes to 0 like the value 0; the sketch must still count it.
  assert.equal(hashLimbs(new Uint32Array([0, 0xffff, 0, 0]), 0), 0);
});

test('exact below the threshold: estimate is the size of the distinct set', () => {
  fc.assert(
    fc.property(
      // size 'max': without it fast-check keeps arrays short and the threshold is never approached.
      fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: EXACT_THRESHOLD, size: 'max' }),
      fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 2 * EXACT_THRESHOLD, size: 'max' }),
      (wide, narrow) => {
        // Wide values rarely repeat; narrow ones repeat a lot and include 0 (whose hash is 0).
        for (const values of [wide, narrow, [...wide, ...wide, 0]]) {
          const distinct = new Set(values).size;
          const s = sketchOf(values);
          if (distinct <= EXACT_THRESHOLD) {
            assert.equal(s.isExact, true);
            assert.equal(s.estimate(), distinct);
          } else {
            assert.equal(s.isExact, false);
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('the hash 0 is counted like any other, through growth, serialisation, merge and densify', () => {
  assert.equal(hash32(0), 0);
  const s = new DistinctSketch();
  s.add(0);
  s.add(0);
  assert.equal(s.estimate(), 1);
  for (let i = 1; i < 100; i++) s.add(hash32(i));
  assert.equal(s.estimate(), 100);
  const back = DistinctSketch.deserialize(s.serialize());
  assert.equal(back.estimate(), 100);
  back.add(0);
  assert.equal(back.estimate(), 100);
  const m = sketchOf([0]).merge(sketchOf([5]));
  assert.equal(m.estimate(), 2);
  // Exactly at the threshold with 0 in the set: the next value converts, and 0 is kept.
  const full = sketchOf(Array.from({ length: EXACT_THRESHOLD }, (_, i) => i));
  assert.equal(full.isExact, true);
  assert.equal(full.estimate(), EXACT_THRESHOLD);
  full.add(hash32(EXACT_THRESHOLD));
  assert.equal(full.isExact, false);
  const withoutZero = sketchOf(Array.from({ length: EXACT_THRESHOLD + 1 }, (_, i) => i + 1));
  // hash 0 sets register 0 to the maximum rank, so it is visible in the dense state.
  assert.notDeepEqual(full.serialize(), withoutZero.serialize());
});

test('switching to dense happens at exactly EXACT_THRESHOLD + 1 distinct hashes', () => {
  const s = new DistinctSketch();
  for (let i = 1; i <= EXACT_THRESHOLD; i++) {
    s.add(hash32(i));
    s.add(hash32(i)); // duplicates never push it over
  }
  assert.equal(s.isExact, true);
  assert.equal(s.estimate(), EXACT_THRESHOLD);
  s.add(hash32(EXACT_THRESHOLD + 1));
  assert.equal(s.isExact, false);
  assert.ok(Math.abs(s.estimate() - (EXACT_THRESHOLD + 1)) < 0.1 * EXACT_THRESHOLD);
});

// Sets built from up to three value ranges: overlaps give shared members, long ranges go dense,
// and short ones keep about a fifth of the unions exact (some from exact parts that merge to dense).
const rangeLength = fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 1500 }));
const setSpec = fc.array(fc.tuple(fc.integer({ min: 0, max: 4000 }), rangeLength), { maxLength: 3 });
function valuesOf(spec: [number, number][]): number[] {
  const out: number[] = [];
  for (const [start, len] of spec) for (let i = 0; i < len; i++) out.push(start + i);
  return out;
}

test('merge is commutative, associative and idempotent, and equals inserting the union', () => {
  fc.assert(
    fc.property(setSpec, setSpec, setSpec, (sa, sb, sc) => {
      const [a, b, c] = [valuesOf(sa), valuesOf(sb), valuesOf(sc)];
      const A = sketchOf(a);
      const B = sketchOf(b);
      const C = sketchOf(c);
      const ab = A.clone().merge(B);
      const ba = B.clone().merge(A);
      assert.deepEqual(ab.serialize(), ba.serialize());
      assert.equal(ab.estimate(), ba.estimate());
      const abC = A.clone().merge(B).merge(C);
      const aBC = A.clone().merge(B.clone().merge(C));
      assert.deepEqual(abC.serialize(), aBC.serialize());
      assert.equal(abC.estimate(), aBC.estimate());
      assert.deepEqual(A.clone().merge(A).serialize(), A.serialize());
      assert.deepEqual(A.clone().merge(A.clone()).serialize(), A.serialize());
      assert.deepEqual(ab.clone().merge(B).serialize(), ab.serialize());
      // The state depends only on the set: merging equals inserting everything into one sketch.
      const union = sketchOf([...a, ...b, ...c]);
      assert.deepEqual(abC.serialize(), union.serialize());
      assert.equal(abC.isExact, union.isExact);
      if (union.isExact) assert.equal(abC.estimate(), new Set([...a, ...b, ...c]).size);
    }),
    { numRuns: 300 },
  );
});

test('serialisation is canonical: insertion order does not matter', () => {
  fc.assert(
    fc.property(setSpec, fc.integer(), (spec, seed) => {
      const values = valuesOf(spec);
      const shuffled = values.slice();
      const rnd = prng(seed);
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = rnd() % (i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
      }
      assert.deepEqual(sketchOf(values).serialize(), sketchOf(shuffled).serialize());
    }),
    { numRuns: 100 },
  );
});

test('serialize / deserialize round trip keeps the set, the estimate and later behaviour', () => {
  fc.assert(
    fc.property(setSpec, setSpec, (spec, more) => {
      const s = sketchOf(valuesOf(spec));
      const buf = s.serialize();
      assert.equal(buf[0], SKETCH_FORMAT_VERSION);
      const back = DistinctSketch.deserialize(buf);
      assert.equal(back.isExact, s.isExact);
      assert.equal(back.estimate(), s.estimate());
      assert.deepEqual(back.serialize(), buf);
      // A decoded sketch keeps working: adding the same values to both gives the same state.
      for (const v of valuesOf(more)) {
        s.add(hash32(v));
        back.add(hash32(v));
      }
      assert.deepEqual(back.serialize(), s.serialize());
      assert.equal(back.estimate(), s.estimate());
    }),
    { numRuns: 150 },
  );
  // A Buffer (a Uint8Array subclass with an offset into a pool) decodes too.
  const s = sketchOf([1, 2, 3]);
  const pooled = Buffer.concat([Buffer.from([9, 9, 9]), s.serialize()]).subarray(3);
  assert.equal(DistinctSketch.deserialize(pooled).estimate(), 3);
});

test('sizes: exact grows with the set, never past the dense size; serialised forms are compact', () => {
  const empty = new DistinctSketch();
  const full = sketchOf(Array.from({ length: EXACT_THRESHOLD }, (_, i) => i));
  const dense = full.clone();
  dense.add(hash32(-1));
  // Up to 4 non-zero hashes (and the hash 0) live in the object: no table, nothing but the object.
  assert.ok(empty.bytes <= 128);
  assert.equal(sketchOf([0, 1, 2, 3, 4]).bytes, empty.bytes);
  const table = sketchOf([1, 2, 3, 4, 5]); // the smallest table: 16 slots
  assert.ok(table.bytes > empty.bytes + 64);
  assert.ok(full.bytes <= dense.bytes);
  assert.equal(dense.bytes - table.bytes + 16 * 4, SKETCH_REGISTERS); // the registers, one byte each
  assert.equal(empty.serialize().length, 8);
  assert.equal(sketchOf([42]).serialize().length, 12);
  assert.equal(full.serialize().length, 8 + 4 * EXACT_THRESHOLD);
  assert.equal(dense.serialize().length, 4 + (SKETCH_REGISTERS * 5) / 8);
});

test('clone is independent of its original', () => {
  for (const n of [3, 2000]) {
    const s = sketchOf(Array.from({ length: n }, (_, i) => i));
    const c = s.clone();
    const before = s.serialize();
    for (let i = 0; i < 5000; i++) c.add(hash32(1_000_000 + i));
    assert.deepEqual(s.serialize(), before);
    assert.ok(c.estimate() > s.estimate());
  }
});

// Small sets of raw hashes around the inline → table switch (4 non-zero hashes inline, the hash 0
// in a flag): 0, negative int32s, the extremes, and a narrow range so that values repeat.
const rawHash = fc.oneof(
  fc.constant(0),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  fc.integer({ min: -6, max: 6 }),
  fc.constantFrom(-1, -(2 ** 31), 2 ** 31 - 1, 1),
);
const smallHashes = fc.array(rawHash, { maxLength: 20 });

// `add` takes a hash as an int32 or as the uint32 with the same bits: use both.
function sketchOfHashes(hashes: readonly number[]): DistinctSketch {
  const s = new DistinctSketch();
  for (const [i, h] of hashes.entries()) s.add(i & 1 ? h >>> 0 : h);
  return s;
}

// The exact encoding written out independently: header, count, distinct uint32 hashes ascending.
function exactEncoding(hashes: readonly number[]): Uint8Array {
  const sorted = [...new Set(hashes.map((h) => h >>> 0))].sort((a, b) => a - b);
  const out = new Uint8Array(8 + 4 * sorted.length);
  out.set([SKETCH_FORMAT_VERSION, 0, SKETCH_PRECISION, 0]);
  const view = new DataView(out.buffer);
  view.setUint32(4, sorted.length, true);
  for (const [i, h] of sorted.entries()) view.setUint32(8 + 4 * i, h, true);
  return out;
}

// Whether a set of hashes is held inline (no table): at most 4 distinct non-zero hashes.
function fitsInline(hashes: readonly number[]): boolean {
  return new Set(hashes.filter((h) => h !== 0).map((h) => h >>> 0)).size <= 4;
}

const EMPTY_BYTES = new DistinctSketch().bytes;

test('small sets across the inline → table switch: exact, canonical, and inline up to 4 values', () => {
  fc.assert(
    fc.property(smallHashes, (hashes) => {
      const distinct = new Set(hashes.map((h) => h >>> 0)).size;
      const s = sketchOfHashes(hashes);
      assert.equal(s.isExact, true);
      assert.equal(s.estimate(), distinct);
      const buf = s.serialize();
      assert.deepEqual(buf, exactEncoding(hashes));
      assert.deepEqual(sketchOfHashes(hashes.slice().reverse()).serialize(), buf);
      // Inline exactly when there are at most 4 non-zero hashes: the object is all the memory.
      assert.equal(s.bytes === EMPTY_BYTES, fitsInline(hashes));
      // Decoding gives the same form (inline for ≤ 4) and a sketch that keeps working.
      const back = DistinctSketch.deserialize(buf);
      assert.equal(back.estimate(), distinct);
      assert.equal(back.bytes === EMPTY_BYTES, fitsInline(hashes));
      assert.deepEqual(back.serialize(), buf);
      const more = [...hashes, 7, 0, -7, 7];
      for (const h of [7, 0, -7, 7]) {
        back.add(h);
        s.add(h >>> 0);
      }
      assert.deepEqual(back.serialize(), exactEncoding(more));
      assert.deepEqual(s.serialize(), back.serialize());
      assert.equal(s.estimate(), new Set(more.map((h) => h >>> 0)).size);
    }),
    { numRuns: 2000 },
  );
  // The switch itself, with and without the hash 0 and with the most negative int32.
  const four = [-(2 ** 31), -1, 1, 2 ** 31 - 1];
  for (const zero of [[], [0]]) {
    const s = sketchOfHashes([...zero, ...four, ...four]);
    assert.equal(s.bytes, EMPTY_BYTES);
    assert.equal(s.estimate(), 4 + zero.length);
    s.add(5);
    assert.ok(s.bytes > EMPTY_BYTES);
    assert.equal(s.estimate(), 5 + zero.length);
    for (const h of [...zero, ...four, 5]) s.add(h); // all still found after the move
    assert.equal(s.estimate(), 5 + zero.length);
    assert.deepEqual(s.serialize(), exactEncoding([...zero, ...four, 5]));
  }
});

// A sketch of one of three forms: inline (≤ 4 non-zero hashes), table (5..20 distinct hashes) or
// dense (600..1,500 hashes from a range of which the other side may share part), with its hashes.
const nonZeroHash = rawHash.filter((h) => h !== 0);
// Distinct non-zero hashes (as uint32), with or without the hash 0 and with some repeated.
const hashSet = (minLength: number, maxLength: number): fc.Arbitrary<number[]> =>
  fc
    .tuple(
      fc.uniqueArray(nonZeroHash, { minLength, maxLength, selector: (h) => h >>> 0 }),
      fc.nat(3),
      fc.nat(4),
    )
    .map(([hs, zero, repeat]) => {
      const out = [...hs, ...hs.slice(0, repeat)];
      if (zero === 1) out.unshift(0);
      if (zero === 2) out.push(0, 0);
      return out;
    });
const sketchForm = fc.oneof(
  hashSet(0, 4).map((hs) => ({ kind: 'inline', hs })),
  hashSet(5, 20).map((hs) => ({ kind: 'table', hs })),
  fc
    .tuple(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 600, max: 1500 }), smallHashes)
    .map(([start, n, extra]) => ({
      kind: 'dense',
      hs: [...extra, ...Array.from({ length: n }, (_, i) => hash32(start + i))],
    })),
);

function expectedForm(hashes: readonly number[]): string {
  const distinct = new Set(hashes.map((h) => h >>> 0)).size;
  if (distinct > EXACT_THRESHOLD) return 'dense';
  return fitsInline(hashes) ? 'inline' : 'table';
}

function formOf(s: DistinctSketch): string {
  if (!s.isExact) return 'dense';
  return s.bytes === EMPTY_BYTES ? 'inline' : 'table';
}

test('merge across inline, table and dense forms equals the sketch of the union, canonically', () => {
  const seen = new Set<string>();
  fc.assert(
    fc.property(sketchForm, sketchForm, (a, b) => {
      const A = sketchOfHashes(a.hs);
      const B = sketchOfHashes(b.hs);
      assert.equal(formOf(A), a.kind);
      assert.equal(formOf(B), b.kind);
      seen.add(`${a.kind}+${b.kind}`);
      const beforeB = B.serialize();
      const union = [...a.hs, ...b.hs];
      const direct = sketchOfHashes(union);
      for (const merged of [A.clone().merge(B), B.clone().merge(A)]) {
        assert.deepEqual(merged.serialize(), direct.serialize());
        assert.equal(merged.isExact, direct.isExact);
        assert.equal(merged.estimate(), direct.estimate());
        assert.equal(formOf(merged), expectedForm(union));
        assert.equal(formOf(direct), expectedForm(union));
        if (merged.isExact) assert.equal(merged.estimate(), new Set(union.map((h) => h >>> 0)).size);
      }
      // The argument is left alone, and merging again changes nothing.
      assert.deepEqual(B.serialize(), beforeB);
      assert.deepEqual(A.clone().merge(B).merge(B).merge(A).serialize(), direct.serialize());
      // Merging into an empty sketch, or into a decoded copy, is the same union.
      assert.deepEqual(new DistinctSketch().merge(A).merge(B).serialize(), direct.serialize());
      assert.deepEqual(DistinctSketch.deserialize(A.serialize()).merge(B).serialize(), direct.serialize());
    }),
    { numRuns: 1500 },
  );
  for (const x of ['inline', 'table', 'dense']) {
    for (const y of ['inline', 'table', 'dense']) assert.ok(seen.has(`${x}+${y}`), `${x}+${y} not exercised`);
  }
});

test('clone is independent of its original in every form', () => {
  fc.assert(
    fc.property(sketchForm, smallHashes, smallHashes, (form, forClone, forOriginal) => {
      const s = sketchOfHashes(form.hs);
      const c = s.clone();
      assert.deepEqual(c.serialize(), s.serialize());
      assert.equal(c.bytes, s.bytes);
      assert.equal(c.estimate(), s.estimate());
      assert.equal(formOf(c), form.kind);
      const before = s.serialize();
      // Five fresh values besides the random ones, so an inline clone always moves to a table.
      const fresh = [11, -12, 13, -14, 15].map((i) => hash32(0x7000_0000 + i));
      for (const h of [...forClone, ...fresh]) c.add(h);
      assert.deepEqual(s.serialize(), before);
      assert.equal(formOf(s), form.kind);
      assert.deepEqual(c.serialize(), sketchOfHashes([...form.hs, ...forClone, ...fresh]).serialize());
      const cloneState = c.serialize();
      for (const h of forOriginal) s.add(h);
      assert.deepEqual(c.serialize(), cloneState);
      assert.deepEqual(s.serialize(), sketchOfHashes([...form.hs, ...forOriginal]).serialize());
    }),
    { numRuns: 500 },
  );
});

test('deserialize rejects truncated and extended input', () => {
  const samples = [
    new DistinctSketch(),
    sketchOf([0]),
    sketchOf([1, 2, 3]),
    sketchOf(Array.from({ length: EXACT_THRESHOLD }, (_, i) => i)),
    sketchOf(Array.from({ length: 5000 }, (_, i) => i)),
  ];
  for (const s of samples) {
    const buf = s.serialize();
    for (let len = 0; len < buf.length; len++) assertRejects(buf.subarray(0, len));
    const longer = new Uint8Array(buf.length + 1);
    longer.set(buf);
    assertRejects(longer);
  }
});

test('deserialize rejects bad headers and inconsistent bodies with a clear error', () => {
  const exact = sketchOf([1, 2, 3]).serialize();
  const dense = sketchOf(Array.from({ length: 5000 }, (_, i) => i)).serialize();
  const patched = (buf: Uint8Array, at: number, value: number): Uint8Array => {
    const b = buf.slice();
    b[at] = value;
    return b;
  };
  for (const version of [0, 2, 255]) assertRejects(patched(exact, 0, version), /version/);
  assertRejects(patched(exact, 1, 7), /kind/);
  assertRejects(patched(exact, 2, SKETCH_PRECISION + 2), /precision/);
  assertRejects(patched(dense, 2, 14), /precision/);
  assertRejects(patched(exact, 3, 1), /reserved/);
  assertRejects(patched(dense, 1, 0)); // dense body read as exact
  assertRejects(patched(exact, 1, 1)); // exact body read as dense
  // Count larger than the threshold, or than the bytes present.
  const huge = exact.slice();
  new DataView(huge.buffer).setUint32(4, 0xffffffff, true);
  assertRejects(huge, /threshold/);
  assertRejects(patched(exact, 4, 4), /bytes/);
  // Hashes out of order or repeated.
  const dup = exact.slice();
  dup.copyWithin(12, 8, 12);
  assertRejects(dup, /ascending/);
  // A register above the largest possible rank (21): all ones in the first 5 bits.
  assertRejects(patched(dense, 4, dense[4] | 0x1f), /register/);
  assertRejects([1, 0, 12, 0, 0, 0, 0, 0] as unknown as Uint8Array, /Uint8Array/);
});

test('deserialize of random or corrupted bytes throws SketchFormatError or yields a canonical sketch', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000 }), (bytes) => assertRejectsOrCanonical(bytes)),
    { numRuns: 500 },
  );
  // Past the header, so the body checks are what is exercised.
  fc.assert(
    fc.property(
      fc.constantFrom(0, 1),
      fc.uint8Array({ maxLength: 2600 }),
      fc.nat(40),
      (kind, body, count) => {
        const buf = new Uint8Array(4 + body.length);
        buf.set([SKETCH_FORMAT_VERSION, kind, SKETCH_PRECISION, 0]);
        buf.set(body, 4);
        if (kind === 0 && buf.length >= 8) buf.set([count, 0, 0, 0], 4);
        assertRejectsOrCanonical(buf);
      },
    ),
    { numRuns: 500 },
  );
  // Valid sketches with one byte changed.
  const valid = [
    sketchOf([1, 2, 3]).serialize(),
    sketchOf(Array.from({ length: 3000 }, (_, i) => i)).serialize(),
  ];
  fc.assert(
    fc.property(fc.constantFrom(...valid), fc.nat(), fc.integer({ min: 0, max: 255 }), (buf, at, value) => {
      const b = buf.slice();
      b[at % b.length] = value;
      assertRejectsOrCanonical(b);
    }),
    { numRuns: 1000 },
  );
});

// Mean absolute and mean signed relative error of `trials` sketches of n distinct values.
function errors(n: number, trials: number, seed: number, clustered: boolean): { mae: number; bias: number } {
  const rnd = prng(seed);
  let sumAbs = 0;
  let sum = 0;
  for (let t = 0; t < trials; t++) {
    const base = rnd();
    const s = new DistinctSketch();
    // Scattered (sources anywhere) or one contiguous run (a swept address block).
    if (clustered) for (let i = 0; i < n; i++) s.add(hash32(base + i));
    else for (let i = 0; i < n; i++) s.add(hash32(scramble(base + i)));
    const e = (s.estimate() - n) / n;
    sumAbs += Math.abs(e);
    sum += e;
  }
  return { mae: sumAbs / trials, bias: sum / trials };
}

test('error bounds at 1e3..1e6: mean absolute relative error below 1.5 × 1.04/√m', () => {
  const bound = 1.5 * STD_ERROR;
  const trialsFor: [number, number][] = [
    [1_000, 200],
    [10_000, 100],
    [100_000, 40],
    [1_000_000, 40],
  ];
  for (const [n, trials] of trialsFor) {
    for (const clustered of [false, true]) {
      const { mae } = errors(n, trials, n + (clustered ? 1 : 0), clustered);
      assert.ok(mae < bound, `n=${n} clustered=${clustered}: mean abs rel error ${mae} ≥ ${bound}`);
    }
  }
  // Far beyond: the estimator must not drift at 10M either (τ term, saturating registers).
  const { mae } = errors(10_000_000, 2, 7, false);
  assert.ok(mae < 3 * STD_ERROR, `n=1e7: ${mae}`);
});

test('no bump across the switch point: exact up to it, unbiased and tight just beyond', () => {
  for (const n of [1, 2, 100, 400, EXACT_THRESHOLD - 1, EXACT_THRESHOLD]) {
    const { mae } = errors(n, 20, n, false);
    assert.equal(mae, 0, `n=${n} should be exact`);
  }
  for (const n of [EXACT_THRESHOLD + 1, EXACT_THRESHOLD + 10, 550, 600, 700, 800, 1000, 1500, 2000, 3000]) {
    const { mae, bias } = errors(n, 300, n, false);
    // Just past the switch, HLL is in its linear-counting regime and does better than 1.04/√m.
    assert.ok(mae < STD_ERROR, `n=${n}: mean abs rel error ${mae}`);
    assert.ok(Math.abs(bias) < 0.003, `n=${n}: bias ${bias}`);
  }
});

test('a saturated sketch (every register at its maximum) estimates 2^32, not Infinity', () => {
  const buf = new Uint8Array(4 + (SKETCH_REGISTERS * 5) / 8);
  buf.set([SKETCH_FORMAT_VERSION, 1, SKETCH_PRECISION, 0]);
  // 21 = 0b10101 in every 5-bit field, least significant bits first.
  let bit = 32;
  for (let i = 0; i < SKETCH_REGISTERS; i++, bit += 5) {
    for (let k = 0; k < 5; k++) if ((21 >> k) & 1) buf[(bit + k) >> 3] |= 1 << ((bit + k) & 7);
  }
  const s = DistinctSketch.deserialize(buf);
  assert.equal(s.estimate(), 2 ** 32);
  assert.deepEqual(s.serialize(), buf);
});

test('estimate follows dense inserts (its cache is invalidated)', () => {
  const s = sketchOf(Array.from({ length: 1000 }, (_, i) => i));
  const first = s.estimate();
  for (let i = 1000; i < 20_000; i++) s.add(hash32(i));
  assert.ok(s.estimate() > 10 * first);
  const other = sketchOf(Array.from({ length: 200_000 }, (_, i) => 1_000_000 + i));
  const before = s.estimate();
  s.merge(other);
  assert.ok(s.estimate() > 5 * before);
});
