// Benchmark for src/core/sketch.ts: insert throughput, and accuracy against DuckDB's approx_count_distinct.
//
// Run: node_modules/.bin/node bench/sketch.ts   (prints a table; the last line is a JSON summary)
// The figures quoted in docs/adr/0003-distinct-sketches.md come from this script.

import v8 from 'node:v8';
import vm from 'node:vm';
import { DuckDBDataChunk, DuckDBInstance, INTEGER, UINTEGER } from '@duckdb/node-api';
import { DistinctSketch, EXACT_THRESHOLD, hash32 } from '../src/core/sketch.ts';

// Deterministic PRNG (mulberry32) so runs are comparable.
let rngState = 0x2545f491;
function rand32(): number {
  rngState = (rngState + 0x6d2b79f5) | 0;
  let t = rngState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}
function rand01(): number {
  return rand32() / 4294967296;
}

// A bijection unrelated to fmix32 (Wellons' lowbias32), to make distinct "random" addresses
// from a counter without a dedup set: our hash then sees no structure it was built to undo.
function lowbias32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}
function pct(x: number): string {
  return `${(x * 100).toFixed(3)} %`;
}

// ---------------------------------------------------------------------------------------------
// (a) Insert throughput.

function throughput(): { mixed: number; exact: number; dense: number } {
  // Exact-heavy: 50,000 small sketches (1..300 distinct each), inserts interleaved across all of
  // them so the working set does not sit in L1 - the collector's per-group rollups look like this.
  const nSmall = 50_000;
  const small: DistinctSketch[] = [];
  for (let i = 0; i < nSmall; i++) small.push(new DistinctSketch());
  const nOps = 4_000_000;
  const which = new Int32Array(nOps);
  const vals = new Uint32Array(nOps);
  for (let i = 0; i < nOps; i++) {
    which[i] = rand32() % nSmall;
    // ~80 distinct values per sketch with repeats, like sources hitting the same port again.
    vals[i] = rand32() % 4096;
  }
  const exactRate = timeInserts(() => {
    for (let i = 0; i < nOps; i++) small[which[i]].add(hash32(vals[i]));
  }, nOps);

  // Dense: a few large sketches (popular ports), random sources.
  const big: DistinctSketch[] = [];
  for (let i = 0; i < 4; i++) big.push(new DistinctSketch());
  const bigVals = new Uint32Array(nOps);
  for (let i = 0; i < nOps; i++) bigVals[i] = rand32();
  const denseRate = timeInserts(() => {
    for (let i = 0; i < nOps; i++) big[i & 3].add(hash32(bigVals[i]));
  }, nOps);

  // Mixed, event-shaped: each event does 4 inserts (src, dst, sensor, src /24) into the group of
  // its port; ports are Zipf-ish so a few groups are huge and most stay exact.
  const nGroups = 20_000;
  const groups: DistinctSketch[][] = [];
  for (let g = 0; g < nGroups; g++) {
    groups.push([new DistinctSketch(), new DistinctSketch(), new DistinctSketch(), new DistinctSketch()]);
  }
  const nEvents = 2_000_000;
  const gIdx = new Int32Array(nEvents);
  const src = new Uint32Array(nEvents);
  const dst = new Uint32Array(nEvents);
  const sensor = new Uint32Array(nEvents);
  for (let i = 0; i < nEvents; i++) {
    gIdx[i] = Math.min(nGroups - 1, Math.floor(Math.exp(rand01() * Math.log(nGroups + 1))) - 1);
    src[i] = rand32() % 2_000_000;
    dst[i] = 0x0a000000 + (rand32() % 65536);
    sensor[i] = rand32() % 200;
  }
  const mixedRate = timeInserts(() => {
    for (let i = 0; i < nEvents; i++) {
      const g = groups[gIdx[i]];
      const s = src[i];
      g[0].add(hash32(s));
      g[1].add(hash32(dst[i]));
      g[2].add(hash32(sensor[i]));
      g[3].add(hash32(s >>> 8));
    }
  }, nEvents * 4);
  let dense = 0;
  for (const g of groups) for (const s of g) if (!s.isExact) dense++;
  console.log(`  mixed run: ${fmt(nGroups * 4)} sketches, ${fmt(dense)} of them ended dense`);
  return { mixed: mixedRate, exact: exactRate, dense: denseRate };
}

// Best of a few runs (the first warms the JIT up).
function timeInserts(fn: () => void, inserts: number): number {
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, performance.now() - t0);
  }
  return (inserts / best) * 1000;
}

// Heap cost of many tiny sketches, to check the `bytes` estimate against V8's real overhead.
function measureSmallSketchHeap(): number {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const n = 100_000;
  gc();
  const before = process.memoryUsage();
  const keep: DistinctSketch[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const s = new DistinctSketch();
    s.add(hash32(i));
    keep[i] = s;
  }
  gc();
  const after = process.memoryUsage();
  const perSketch =
    (after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers)) / n - 8; /* array slot */
  if (keep.length !== n) throw new Error('unreachable');
  return perSketch;
}

// ---------------------------------------------------------------------------------------------
// (b) Accuracy: realistic per-minute groups, our sketch vs DuckDB on the same rows.

interface GroupResult {
  exact: number;
  ours: number;
  duck: number;
  clustered: boolean;
}

async function accuracy(): Promise<{ groups: GroupResult[]; rows: number; seconds: number }> {
  const t0 = performance.now();
  const nGroups = 2_000;
  const maxDistinct = 200_000;
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  await con.run('create table t (g integer, v uinteger)');
  const app = await con.createAppender('t');
  // Bulk path of the appender: one 2,048-row data chunk at a time, ~4x faster than per-value calls.
  const chunkRows = 2048;
  const chunk = DuckDBDataChunk.create([INTEGER, UINTEGER], chunkRows);
  const gVec = chunk.getColumnVector(0);
  const vVec = chunk.getColumnVector(1);
  let fill = 0;
  let rows = 0;
  const flushChunk = (): void => {
    if (fill === 0) return;
    chunk.rowCount = fill;
    gVec.flush();
    vVec.flush();
    app.appendDataChunk(chunk);
    fill = 0;
  };
  const sketches: DistinctSketch[] = [];
  const truth: number[] = [];
  let counter = 0;
  for (let g = 0; g < nGroups; g++) {
    // Group key as minute × port would be; only its identity matters here.
    const n = Math.max(1, Math.min(maxDistinct, Math.round(Math.exp(rand01() * Math.log(maxDistinct)))));
    // Half the groups count scattered addresses (sources); half count addresses packed into a few
    // /16s (destinations inside sensor networks): structure a weak hash would show up on.
    const clustered = (g & 1) === 1;
    const prefixBase = rand32();
    const base = counter;
    counter += n;
    const valueOf = (i: number): number =>
      clustered
        ? ((lowbias32(prefixBase + (i >>> 16)) & 0xffff0000) | (i & 0xffff)) >>> 0
        : lowbias32(base + i);
    // Duplicates: each group repeats 0..100 % of its distinct values once more, at random.
    const dups = Math.floor(n * rand01());
    const s = new DistinctSketch();
    for (let r = 0; r < n + dups; r++) {
      const i = r < n ? r : rand32() % n;
      const v = valueOf(i);
      s.add(hash32(v));
      gVec.setItem(fill, g);
      vVec.setItem(fill, v);
      if (++fill === chunkRows) flushChunk();
    }
    rows += n + dups;
    sketches.push(s);
    truth.push(n);
  }
  flushChunk();
  app.flushSync();
  app.closeSync();
  const reader = await con.runAndReadAll(
    'select g, approx_count_distinct(v), count(distinct v) from t group by g order by g',
  );
  const groups: GroupResult[] = [];
  for (const row of reader.getRows()) {
    const g = Number(row[0]);
    const exact = Number(row[2]);
    if (exact !== truth[g]) throw new Error(`group ${g}: count(distinct) ${exact} != generated ${truth[g]}`);
    groups.push({ exact, ours: sketches[g].estimate(), duck: Number(row[1]), clustered: (g & 1) === 1 });
  }
  con.closeSync();
  instance.closeSync();
  return { groups, rows, seconds: (performance.now() - t0) / 1000 };
}

interface ErrStats {
  n: number;
  oursMean: number;
  oursMax: number;
  duckMean: number;
  duckMax: number;
}

function errStats(gs: GroupResult[]): ErrStats {
  let om = 0;
  let ox = 0;
  let dm = 0;
  let dx = 0;
  for (const g of gs) {
    const eo = Math.abs(g.ours - g.exact) / g.exact;
    const ed = Math.abs(g.duck - g.exact) / g.exact;
    om += eo;
    dm += ed;
    ox = Math.max(ox, eo);
    dx = Math.max(dx, ed);
  }
  const n = gs.length;
  return { n, oursMean: n ? om / n : 0, oursMax: ox, duckMean: n ? dm / n : 0, duckMax: dx };
}

// ---------------------------------------------------------------------------------------------

const t0 = performance.now();
console.log('Distinct sketch benchmark');
console.log('');
// Heap first, while the heap is still quiet: later phases leave garbage that a GC would subtract.
const heapSmall = measureSmallSketchHeap();
console.log('(a) inserts per second (hash32 + add, best of 3)');
const tp = throughput();
console.log(`  exact-mode, 50k small sketches : ${fmt(tp.exact / 1e6, 1)} M inserts/s`);
console.log(`  dense-mode, 4 large sketches   : ${fmt(tp.dense / 1e6, 1)} M inserts/s`);
console.log(
  `  mixed, 4 inserts per event     : ${fmt(tp.mixed / 1e6, 1)} M inserts/s = ${fmt(tp.mixed / 4e6, 1)} M events/s`,
);

const one = new DistinctSketch();
one.add(1);
const full = new DistinctSketch();
for (let i = 0; i < EXACT_THRESHOLD; i++) full.add(hash32(i));
const dense = full.clone();
dense.add(hash32(EXACT_THRESHOLD));
console.log('');
console.log('memory per sketch');
console.log(
  `  1 value       : bytes=${one.bytes}, measured V8 heap ≈ ${fmt(heapSmall)} B, serialised ${one.serialize().length} B`,
);
console.log(`  ${EXACT_THRESHOLD} values    : bytes=${full.bytes}, serialised ${full.serialize().length} B`);
console.log(`  dense (HLL)   : bytes=${dense.bytes}, serialised ${dense.serialize().length} B`);

console.log('');
console.log('(b) accuracy: 2,000 groups, distinct counts log-uniform in 1..200,000, with duplicates');
const acc = await accuracy();
console.log(`  ${fmt(acc.rows)} rows, built and counted both ways in ${acc.seconds.toFixed(1)} s`);
console.log('');
const buckets: [string, (g: GroupResult) => boolean][] = [
  ['all groups', () => true],
  [`exact range (≤ ${EXACT_THRESHOLD})`, (g) => g.exact <= EXACT_THRESHOLD],
  [`large (> ${EXACT_THRESHOLD})`, (g) => g.exact > EXACT_THRESHOLD],
  ['  large, scattered values', (g) => g.exact > EXACT_THRESHOLD && !g.clustered],
  ['  large, values in few /16s', (g) => g.exact > EXACT_THRESHOLD && g.clustered],
  ['1 .. 10', (g) => g.exact <= 10],
  ['11 .. 100', (g) => g.exact > 10 && g.exact <= 100],
  [`101 .. ${EXACT_THRESHOLD}`, (g) => g.exact > 100 && g.exact <= EXACT_THRESHOLD],
  [`${EXACT_THRESHOLD + 1} .. 1,000`, (g) => g.exact > EXACT_THRESHOLD && g.exact <= 1000],
  ['1,001 .. 10,000', (g) => g.exact > 1000 && g.exact <= 10_000],
  ['10,001 .. 100,000', (g) => g.exact > 10_000 && g.exact <= 100_000],
  ['100,001 .. 200,000', (g) => g.exact > 100_000],
];
const header = ['groups', 'n', 'sketch mean', 'sketch max', 'duckdb mean', 'duckdb max'];
const table: string[][] = [header];
let overall: ErrStats | undefined;
for (const [name, pred] of buckets) {
  const st = errStats(acc.groups.filter(pred));
  overall ??= st;
  table.push([name, String(st.n), pct(st.oursMean), pct(st.oursMax), pct(st.duckMean), pct(st.duckMax)]);
}
const widths = header.map((_, c) => Math.max(...table.map((r) => r[c].length)));
for (const [i, r] of table.entries()) {
  console.log(
    '  ' + r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '),
  );
  if (i === 0) console.log('  ' + widths.map((w) => '-'.repeat(w)).join('  '));
}
console.log('');
console.log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const st = overall as ErrStats;
console.log(
  JSON.stringify({
    inserts_per_s: Math.round(tp.mixed),
    inserts_per_s_exact: Math.round(tp.exact),
    inserts_per_s_dense: Math.round(tp.dense),
    sketch_mean_rel_error: +st.oursMean.toFixed(6),
    sketch_max_rel_error: +st.oursMax.toFixed(6),
    duckdb_approx_mean_rel_error: +st.duckMean.toFixed(6),
    duckdb_approx_max_rel_error: +st.duckMax.toFixed(6),
    bytes_exact_max: full.bytes,
    bytes_dense: dense.bytes,
    serialized_bytes_exact_max: full.serialize().length,
    serialized_bytes_dense: dense.serialize().length,
  }),
);
