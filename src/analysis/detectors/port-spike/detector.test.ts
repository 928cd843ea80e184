// The port-spike detector on constructed series: quiet on flat, seasonal and overdispersed counts; quick on steps,
// ramps and dormant ports waking up; deaf to one sensor, one source network, and a lone outlier.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BucketCounts } from '../../buckets.ts';
import { poissonUpperTail } from '../../counts.ts';
import { Rng } from '../../../sim/random.ts';
import { PortSpikeDetector, type Finding } from './detector.ts';

const MINUTE = 60_000;
const START = Date.UTC(2026, 0, 5);
const TCP = 6;
const key = (port: number) => (TCP << 16) | port;

/** One key's minute: counts, the sensors that saw it, and where its first-time sources came from. */
interface Row {
  port: number;
  sources: number;
  /** Distinct source /24s (default: as many as sources). */
  subnets?: number;
  /** Sensor ids that saw it (default: `sensors` distinct ones from 1). */
  sensorIds?: number[];
  sensors?: number;
  newSources?: number;
  /** /24 ids of the first-time sources (default: all different). */
  newSubnetIds?: number[];
}

/** Source /24 ids: a fresh one for each source unless a row names its /24s. */
let nextSubnet = 1_000_000;

function bucket(t: number, rows: Row[]): BucketCounts {
  rows = rows.filter((r) => r.sources > 0).sort((a, b) => a.port - b.port);
  const n = rows.length;
  const subnetLists = rows.map((r) =>
    Array.from({ length: r.subnets ?? r.sources }, (_, i) =>
      r.subnets === undefined ? nextSubnet++ : 500_000 + i,
    ),
  );
  const sensorLists = rows.map(
    (r) => r.sensorIds ?? Array.from({ length: r.sensors ?? Math.min(r.sources, 50) }, (_, i) => i + 1),
  );
  const newLists = rows.map((r) =>
    Array.from({ length: r.newSources ?? 0 }, (_, i) => [
      r.newSubnetIds?.[i] ?? nextSubnet++,
      sensorLists[rows.indexOf(r)][i % sensorLists[rows.indexOf(r)].length],
    ]),
  );
  const b: BucketCounts = {
    t,
    ms: MINUTE,
    length: n,
    keys: Int32Array.from(rows, (r) => key(r.port)),
    events: Float64Array.from(rows, (r) => r.sources * 2),
    sources: Float64Array.from(rows, (r) => r.sources),
    targets: Float64Array.from(rows, (r) => r.sources),
    sensors: Float64Array.from(sensorLists, (l) => l.length),
    subnets: Float64Array.from(rows, (r) => r.subnets ?? r.sources),
    newSources: Float64Array.from(rows, (r) => r.newSources ?? 0),
    networks: Float64Array.from(sensorLists, (l) => l.length),
    sensorStart: new Uint32Array(n + 1),
    sensorHashes: Int32Array.from(sensorLists.flat()),
    subnetStart: new Uint32Array(n + 1),
    subnetHashes: Int32Array.from(subnetLists.flat()),
    newStart: new Uint32Array(n + 1),
    newPairs: Int32Array.from(newLists.flat(2)),
  };
  for (let i = 0; i < n; i++) {
    b.sensorStart[i + 1] = b.sensorStart[i] + sensorLists[i].length;
    b.subnetStart[i + 1] = b.subnetStart[i] + subnetLists[i].length;
    b.newStart[i + 1] = b.newStart[i] + newLists[i].length;
  }
  return b;
}

/** Runs minutes [0, minutes) through a detector; `rowsAt(m)` gives minute m's rows. Returns anomalous findings. */
function run(minutes: number, rowsAt: (m: number) => Row[], det = new PortSpikeDetector()): Finding[] {
  const found: Finding[] = [];
  for (let m = 0; m < minutes; m++)
    found.push(...det.evaluate(bucket(START + m * MINUTE, rowsAt(m))).filter((f) => f.anomalous));
  return found;
}

const DAY = 1440;

test('a flat Poisson port raises nothing in three days', () => {
  const r = new Rng(1);
  assert.deepEqual(
    run(3 * DAY, () => [{ port: 22, sources: r.poisson(40) }]),
    [],
  );
});

test('a strong daily cycle raises nothing once learned', () => {
  const r = new Rng(2);
  const rate = (m: number) => 30 * (1 + 0.8 * Math.sin((2 * Math.PI * m) / DAY));
  const found = run(6 * DAY, (m) => [{ port: 80, sources: r.poisson(rate(m)) }]);
  assert.deepEqual(found, []);
});

test('overdispersed counts raise nothing, though a Poisson model would have cried wolf', () => {
  const r = new Rng(3);
  // Gamma-mixed Poisson (negative binomial with r = 4): variance 20 times the mean at mean 80.
  const series = Array.from({ length: 3 * DAY }, () => r.poisson((80 * r.gamma(4)) / 4));
  assert.deepEqual(
    run(series.length, (m) => [{ port: 445, sources: series[m] }]),
    [],
  );
  const poissonAlarms = series.slice(DAY).filter((v) => poissonUpperTail(v, 80) < 1e-7).length;
  assert.ok(poissonAlarms > 10, `a Poisson model would flag ${poissonAlarms} minutes`);
});

test('a broad step is flagged in its first minute', () => {
  const r = new Rng(4);
  const found = run(DAY + 10, (m) => [{ port: 3389, sources: r.poisson(m < DAY ? 20 : 100), sensors: 40 }]);
  assert.ok(found.length > 0);
  assert.equal(found[0].t, START + DAY * MINUTE);
  assert.match(found[0].reasons[0], /^\d+ source \/24s this minute \(p=1e-[\d.]+\) on 40 sensors$/);
});

test('a ramp is flagged well before it triples', () => {
  const r = new Rng(5);
  const rate = (m: number) => (m < DAY ? 30 : 30 * (1 + (m - DAY) / 60));
  const found = run(DAY + 180, (m) => [{ port: 8080, sources: r.poisson(rate(m)) }]);
  assert.ok(found.length > 0);
  const at = (found[0].t - START) / MINUTE;
  assert.ok(rate(at) < 90, `flagged at ${rate(at).toFixed(0)} sources a minute (baseline 30)`);
});

test('a single moderate outlier is at most one anomalous minute', () => {
  const r = new Rng(6);
  const found = run(DAY + 30, (m) => [{ port: 1433, sources: m === DAY ? 90 : r.poisson(30) }]);
  assert.ok(found.every((f) => f.t === START + DAY * MINUTE));
});

test('a dormant port waking up on a few sensors is flagged at once', () => {
  const r = new Rng(7);
  // Stray probes: a random port sees one every few hours; then 6 sources from 6 /24s on 6 sensors.
  const found = run(2 * DAY + 3, (m) => {
    const stray = r.next() < 0.005 ? [{ port: 5168, sources: 1 }] : [];
    // Many other ports keep the network's stray-probe rate realistic.
    const others = Array.from({ length: 200 }, (_, i) => ({
      port: 10_000 + ((m * 7 + i * 331) % 50_000),
      sources: 1,
    }));
    return m >= 2 * DAY ? [...others, { port: 5168, sources: 6, sensors: 6 }] : [...others, ...stray];
  });
  const hit = found.filter((f) => f.port === 5168);
  assert.ok(hit.length > 0, 'port 5168 not flagged');
  assert.equal(hit[0].t, START + 2 * DAY * MINUTE);
});

test('one source network sweeping many sensors is not mass scanning', () => {
  const r = new Rng(8);
  const found = run(DAY + 60, (m) => [
    { port: 22, sources: r.poisson(20) },
    ...(m >= DAY
      ? [
          {
            port: 6379,
            sources: 200,
            subnets: 1,
            sensors: 300,
            newSources: 200,
            newSubnetIds: Array(200).fill(7),
          },
        ]
      : []),
  ]);
  assert.deepEqual(
    found.filter((f) => f.port === 6379),
    [],
  );
});

test('many sources at one sensor are not mass scanning', () => {
  const r = new Rng(9);
  const found = run(DAY + 60, (m) => [
    { port: 22, sources: r.poisson(20) },
    ...(m >= DAY ? [{ port: 9200, sources: 80, sensorIds: [42], newSources: 80 }] : []),
  ]);
  assert.deepEqual(
    found.filter((f) => f.port === 9200),
    [],
  );
});

test('never-seen sources on a busy port are flagged while the port total barely moves', () => {
  const r = new Rng(10);
  // 500 sources a minute from a known population, and from minute DAY a worm adds a few new ones, growing.
  const found = run(DAY + 120, (m) => {
    const worm = m < DAY ? 0 : Math.round(2 * Math.pow(2, (m - DAY) / 30));
    return [{ port: 80, sources: r.poisson(500) + worm, newSources: r.poisson(0.5) + worm, sensors: 50 }];
  });
  assert.ok(found.length > 0, 'not flagged');
  const after = (found[0].t - START) / MINUTE - DAY;
  assert.ok(after <= 60, `flagged ${after} minutes after onset`);
  assert.match(found[0].reasons.join(' '), /never-seen sources/);
});

test('nothing is judged during the warm-up', () => {
  const found = run(30, (m) => [{ port: 23, sources: m === 20 ? 1000 : 1 }]);
  assert.deepEqual(found, []);
});

test('the fast lane is quiet on a steady busy port and sees a dormant port wake up within 10 seconds', () => {
  const r = new Rng(11);
  const det = new PortSpikeDetector();
  const fast: Finding[] = [];
  const FAST = 10_000;
  for (let m = 0; m < 6 * 60; m++) {
    const t = START + m * MINUTE;
    for (let j = 0; j < 6; j++) {
      // A busy port whose sources repeat within the minute: 10 seconds see more than a sixth of the minute's.
      const rows: Row[] = [{ port: 23, sources: r.poisson(300), sensors: 200 }];
      if (m === 5 * 60 && j === 3) rows.push({ port: 1434, sources: 40, sensors: 30 });
      fast.push(...det.evaluateFast({ ...bucket(t + j * FAST, rows), ms: FAST }));
    }
    det.evaluate(bucket(t, [{ port: 23, sources: r.poisson(900), sensors: 600 }]));
  }
  assert.deepEqual(
    fast.map((f) => [f.port, (f.t - START) / FAST]),
    [[1434, 5 * 360 + 3]],
  );
  assert.equal(fast[0].fast, true);
});

test('scanning spread over a port group is flagged as the group when no single port stands out', () => {
  const r = new Rng(12);
  const found = run(DAY + 30, (m) => {
    // Stray probes on random ports set the network's rate for a quiet port, as in a real network.
    const rows: Row[] = [
      { port: 22, sources: r.poisson(20) },
      ...Array.from({ length: 300 }, (_, i) => ({ port: 10_000 + ((m * 7 + i * 331) % 50_000), sources: 1 })),
    ];
    // From DAY on, 12 sources a minute, each on one random port of 8000-8099: about one per port in 8 minutes.
    if (m >= DAY)
      for (const [port, n] of countBy(Array.from({ length: 12 }, () => 8000 + r.int(100))))
        rows.push({ port, sources: n, sensors: n });
    return rows;
  });
  assert.ok(found.length > 0, 'not flagged');
  assert.deepEqual([...new Set(found.map((f) => f.group ?? f.port))], ['http-alt'], 'only the group');
  assert.equal(found[0].port, null);
  assert.equal(found[0].t, START + DAY * MINUTE);
});

function countBy(xs: number[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

test('a surge does not sink into a young seasonal slot: an hour-long campaign stays anomalous to its end', () => {
  const r = new Rng(13);
  // A day of steady traffic fills each hour's slot once; then an hour-long campaign of 8 extra /24s a minute.
  const found = run(DAY + 60, (m) => [
    { port: 3306, sources: r.poisson(2) + (m >= DAY ? 8 : 0), sensors: 20 },
  ]);
  const minutes = new Set(found.map((f) => (f.t - START) / MINUTE - DAY));
  assert.ok(minutes.has(30) && minutes.has(59), `anomalous minutes: ${[...minutes].join(' ')}`);
});
