// The port-spike detector: judges every protocol × port in each closed minute against its own seasonal baseline,
// and says how significant, how broad and how large any rise is.
//
// Two tests, each a negative-binomial tail (counts.ts) on counts, never a z-score:
// - broad scanning: distinct source /24s above their baseline, in the minute or over the last 5, seen by at least
//   `minSensors` sensors — so a research scanner probing from one /24 (however many addresses), a misconfigured
//   host, or an attack on one network is not mass scanning; and a port a research scanner keeps busy still shows
//   a campaign from elsewhere, which a count of sources would hide;
// - new sources: sources the network has never seen, summed over 5, 15 and 60 minutes, spread over at least
//   `minSensors` sensors and source /24s — the first sign of a worm, whose victims are new scanners, long before
//   they outnumber a busy port's background.
// A port nobody scans is expected to be at least as busy as a random port of its protocol, so a never-seen or
// dormant port that wakes up is judged against the network's stray-probe rate, not against zero.

import type { BucketCounts } from '../../buckets.ts';
import { negBinomialUpperTail } from '../../counts.ts';
import type { Measures } from '../../incidents/incident.ts';
import { SeasonalBaseline, type Expected } from './baseline.ts';
import { DEFAULT_PORT_GROUPS, GROUP_BASE, groupBucket, membership, type PortGroup } from './groups.ts';

/** Baseline measure indices. */
const EVENTS = 0;
const SOURCES = 1;
const TARGETS = 2;
const SENSORS = 3;
const SUBNETS = 4;
const NEW = 5;
const NETWORKS = 6;
const MEASURE_COUNT = 7;
/** The fast lane's measures: sources, source /24s, events. */
const FAST_MEASURES = 3;

/** Per-minute values kept for the windowed tests: sources, subnets, new sources. */
const RING = 60;
const RING_MEASURES = [SOURCES, SUBNETS, NEW] as const;
const BROAD_WINDOWS = [1, 5] as const;
const NEW_WINDOWS = [5, 15, 60] as const;
/** Number of tests per key and minute, for the multiple-testing correction. */
const TESTS = BROAD_WINDOWS.length + NEW_WINDOWS.length;
/** Minutes of sensor breadth kept for the broad test's gate. */
const SENSOR_WINDOW = 5;
/** First-time sources remembered per key for the new-source test's breadth (more than enough to pass any gate). */
const NEW_CAP = 2048;

export interface PortSpikeOptions {
  /** Below this evidence (−log10 p, corrected) a minute is not anomalous. */
  anomalous: number;
  /** Sensors that must see a rise for it to count as scanning rather than one network's trouble. */
  minSensors: number;
  /** Source /24s the new sources must come from. */
  minSubnets: number;
  /** Minutes after the detector starts during which nothing is judged (baselines and the seen-sources memory fill). */
  warmupMinutes: number;
  /** Ports judged together as well as one by one. */
  groups: readonly PortGroup[];
}

export const DEFAULT_PORT_SPIKE: PortSpikeOptions = {
  anomalous: 6,
  minSensors: 3,
  minSubnets: 3,
  warmupMinutes: 60,
  groups: DEFAULT_PORT_GROUPS,
};

/** What the detector found for one key in one minute. */
export interface Finding {
  key: number;
  proto: number;
  /** The port, or null for a port group. */
  port: number | null;
  /** The port group's name, or null for a single port. */
  group: string | null;
  t: number;
  /** −log10 of the smallest tail probability of the key's tests, less log10 of their number; 0 when unremarkable. */
  evidence: number;
  anomalous: boolean;
  measures: Measures;
  expected: Measures;
  /** The tests that were significant, in words. */
  reasons: string[];
  /** From the fast lane (a bucket of a few seconds); it may open or confirm an incident, not shape it. */
  fast?: boolean;
}

class PortState {
  readonly baseline: SeasonalBaseline;
  readonly firstSeen: number;
  /** Start of the last minute learned. */
  lastT: number;
  readonly ring = new Float32Array(RING * RING_MEASURES.length);
  /** The last few minutes' buckets and this key's row in each: which sensors saw it, from which source /24s. */
  readonly recentBuckets: (BucketCounts | null)[] = new Array(SENSOR_WINDOW).fill(null);
  readonly recentRow = new Int32Array(SENSOR_WINDOW);
  /** (t, subnet hash, sensor hash) of recent first-time sources, oldest first. */
  newRecent: number[] = [];
  /** New sources in the ring (the last 60 minutes), kept as a running total. */
  newInRing = 0;
  /** Monotone stacks of (t, value): each value exceeds every later one, so "largest since" is a short scan. */
  readonly eventRecords: number[] = [];
  readonly evidenceRecords: number[] = [];

  constructor(t: number, quietMinutes: number) {
    this.baseline = new SeasonalBaseline(MEASURE_COUNT, quietMinutes);
    this.firstSeen = t;
    this.lastT = t - 60_000;
  }
}

const PROTO_TCP = 6;
/** Ports per protocol: the denominator of the stray-probe rate. */
const PORTS = 65_536;
const PRIOR_ALPHA = 1 / 360;

export class PortSpikeDetector {
  readonly options: PortSpikeOptions;
  readonly #states = new Map<number, PortState>();
  /** Per protocol family (TCP, other): the mean per-port value of each measure over ports with no steady traffic. */
  readonly #prior = [new Float64Array(MEASURE_COUNT), new Float64Array(MEASURE_COUNT)];
  #priorN = 0;
  #start: number | null = null;
  /** Keys the incident tracker holds open: learned slowly, and reported every minute even when quiet. */
  readonly open = new Set<number>();
  readonly #x = new Float64Array(MEASURE_COUNT);
  /** The fast lane's own baselines, of sources, source /24s and events per fast bucket. */
  readonly #fast = new Map<number, { baseline: SeasonalBaseline; lastT: number }>();
  readonly #fx = new Float64Array(FAST_MEASURES);
  readonly #zeros = new Float64Array(MEASURE_COUNT);

  readonly #groups: readonly PortGroup[];
  readonly #memberOf: Map<number, number[]>;

  constructor(options: Partial<PortSpikeOptions> = {}) {
    this.options = { ...DEFAULT_PORT_SPIKE, ...options };
    this.#groups = this.options.groups;
    this.#memberOf = membership(this.#groups);
  }

  get keys(): number {
    return this.#states.size;
  }

  /** Judges one closed minute; returns findings for anomalous keys (ports and port groups) and every key held open. */
  evaluate(b: BucketCounts): Finding[] {
    this.#start ??= b.t;
    const judging = b.t >= this.#start + this.options.warmupMinutes * 60_000;
    const out: Finding[] = [];
    const seen = new Set<number>();
    const sparse = [new Float64Array(MEASURE_COUNT), new Float64Array(MEASURE_COUNT)];
    this.#rows(b, judging, out, seen, sparse);
    if (this.#groups.length > 0)
      this.#rows(groupBucket(b, this.#groups, this.#memberOf), judging, out, seen, null);
    for (const key of this.open) {
      if (seen.has(key)) continue;
      const st = this.#states.get(key);
      if (st === undefined) continue;
      out.push(this.#finding(key, st, b.t, this.#zeros, false));
    }
    this.#learnPrior(sparse);
    return out;
  }

  /** Judges and learns each row of a bucket; `sparse` (ports only) collects the stray-probe rate's sums. */
  #rows(
    b: BucketCounts,
    judging: boolean,
    out: Finding[],
    seen: Set<number>,
    sparse: Float64Array[] | null,
  ): void {
    const x = this.#x;
    for (let i = 0; i < b.length; i++) {
      const key = b.keys[i];
      x[EVENTS] = b.events[i];
      x[SOURCES] = b.sources[i];
      x[TARGETS] = b.targets[i];
      x[SENSORS] = b.sensors[i];
      x[SUBNETS] = b.subnets[i];
      x[NEW] = b.newSources[i];
      x[NETWORKS] = b.networks[i];
      let st = this.#states.get(key);
      if (st === undefined) this.#states.set(key, (st = new PortState(b.t, (b.t - this.#start!) / 60_000)));
      this.#catchUp(st, b.t);
      if (sparse !== null && st.baseline.levelMean(EVENTS) < 0.5)
        for (let m = 0; m < MEASURE_COUNT; m++) sparse[this.#family(key)][m] += x[m];
      this.#remember(st, b, i);
      let evidence = judging ? this.#evidence(st, key, b.t, x) : 0;
      // A group says less than one of its ports: while a member port has an incident, the group stays quiet.
      if (
        key >= GROUP_BASE &&
        evidence > 0 &&
        this.#groups[key - GROUP_BASE].ports.some((p) =>
          this.open.has((this.#groups[key - GROUP_BASE].proto << 16) | p),
        )
      )
        evidence = 0;
      const anomalous = evidence >= this.options.anomalous;
      const open = this.open.has(key);
      // Findings are built before learning: they report what was expected of this minute.
      if (anomalous || open) out.push(this.#finding(key, st, b.t, x, judging));
      st.baseline.learn(b.t, x, anomalous || open);
      st.lastT = b.t;
      pushRecord(st.eventRecords, b.t, x[EVENTS]);
      pushRecord(st.evidenceRecords, b.t, evidence);
      seen.add(key);
    }
  }

  /** 0 for TCP ports and groups, 1 for the rest: which stray-probe rate applies. */
  #family(key: number): number {
    const proto = key >= GROUP_BASE ? this.#groups[key - GROUP_BASE].proto : key >>> 16;
    return proto === PROTO_TCP ? 0 : 1;
  }

  /**
   * The fast lane: a bucket of a few seconds judged for outbreaks that double in seconds (Slammer infected 90 % of
   * its victims within ten minutes; a minute's wait is three doublings). Only the broad test, on the bucket's own
   * sensors and /24s, against a baseline of such buckets: distinct counts do not scale with the window (a busy port's
   * sources repeat within a minute), so a tenth of the minute's baseline would cry wolf on every busy port. It opens
   * or confirms incidents; the minute lane shapes them.
   */
  evaluateFast(b: BucketCounts): Finding[] {
    const out: Finding[] = [];
    if (this.#start === null) return out;
    const judging = b.t >= this.#start + this.options.warmupMinutes * 60_000;
    const scale = b.ms / 60_000;
    const correction = Math.log10((2 * 60_000) / b.ms);
    const x = this.#fx;
    for (let i = 0; i < b.length; i++) {
      const key = b.keys[i];
      const prior = this.#prior[key >>> 16 === PROTO_TCP ? 0 : 1];
      let fs = this.#fast.get(key);
      if (fs === undefined) {
        fs = { baseline: new SeasonalBaseline(FAST_MEASURES, (b.t - this.#start) / b.ms), lastT: b.t - b.ms };
        this.#fast.set(key, fs);
      }
      const gap = Math.round((b.t - fs.lastT) / b.ms) - 1;
      if (gap > 0) fs.baseline.learnQuiet(b.t, gap, this.#zeros);
      fs.lastT = b.t;
      x[0] = b.sources[i];
      x[1] = b.subnets[i];
      x[2] = b.events[i];
      let evidence = 0;
      if (judging && b.sensors[i] >= this.options.minSensors) {
        evidence = Math.max(
          0,
          decades(x[1], fs.baseline.expected(1, b.t, prior[SUBNETS] * scale), 1) - correction,
        );
      }
      const anomalous = evidence >= this.options.anomalous;
      if (anomalous) out.push(this.#fastFinding(b, i, fs.baseline, evidence, correction, prior));
      fs.baseline.learn(b.t, x, anomalous || this.open.has(key));
    }
    return out;
  }

  #fastFinding(
    b: BucketCounts,
    i: number,
    baseline: SeasonalBaseline,
    evidence: number,
    correction: number,
    prior: Float64Array,
  ): Finding {
    const key = b.keys[i];
    const scale = b.ms / 60_000;
    const m = (sources: number, subnets: number, events: number): Measures => ({
      events,
      sources,
      targets: b.targets[i],
      sensors: b.sensors[i],
      subnets,
      newSources: 0,
      networks: b.networks[i],
      countries: null,
    });
    const e = (j: number, measure: number) => baseline.expected(j, b.t, prior[measure] * scale).mean;
    const expected = m(e(0, SOURCES), e(1, SUBNETS), e(2, EVENTS));
    return {
      key,
      proto: key >>> 16,
      port: key & 0xffff,
      group: null,
      t: b.t,
      evidence,
      anomalous: true,
      measures: m(b.sources[i], b.subnets[i], b.events[i]),
      expected: { ...expected, targets: 0, sensors: 0, networks: 0 },
      reasons: [
        `${b.subnets[i]} source /24s in ${b.ms / 1000} seconds (p=1e-${(evidence + correction).toFixed(1)}) on ${b.sensors[i]} sensors`,
      ],
      fast: true,
    };
  }

  /**
   * The latest minute before `before` in which the key saw at least `events` events (or, with `evidence`, at least
   * that much evidence); null when never, i.e. the largest since the key was first seen.
   */
  recordSince(key: number, value: number, before: number, of: 'events' | 'evidence'): number | null {
    const st = this.#states.get(key);
    if (st === undefined) return null;
    const r = of === 'events' ? st.eventRecords : st.evidenceRecords;
    for (let j = r.length - 2; j >= 0; j -= 2) if (r[j] < before && r[j + 1] >= value) return r[j];
    return null;
  }

  groupKey(name: string): number | null {
    const i = this.#groups.findIndex((g) => g.name === name);
    return i < 0 ? null : GROUP_BASE + i;
  }

  firstSeen(key: number): number | null {
    return this.#states.get(key)?.firstSeen ?? null;
  }

  #learnPrior(sparse: Float64Array[]): void {
    const a = Math.max(PRIOR_ALPHA, 1 / ++this.#priorN);
    for (let f = 0; f < 2; f++)
      for (let m = 0; m < MEASURE_COUNT; m++)
        this.#prior[f][m] += a * (sparse[f][m] / PORTS - this.#prior[f][m]);
  }

  /** Learns the quiet minutes since the key was last seen, and clears its windows of them. */
  #catchUp(st: PortState, t: number): void {
    const gap = Math.round((t - st.lastT) / 60_000) - 1;
    if (gap <= 0) return;
    st.baseline.learnQuiet(t, gap, this.#zeros);
    if (gap >= RING) {
      st.ring.fill(0);
      st.newInRing = 0;
      return;
    }
    const now = (t / 60_000) % RING;
    const width = RING_MEASURES.length;
    for (let j = 1; j <= gap; j++) {
      const slot = ((now - j + RING) % RING) * width;
      st.newInRing -= st.ring[slot + 2];
      st.ring[slot] = st.ring[slot + 1] = st.ring[slot + 2] = 0;
    }
  }

  #remember(st: PortState, b: BucketCounts, i: number): void {
    const minute = b.t / 60_000;
    const slot = (minute % RING) * RING_MEASURES.length;
    st.ring[slot] = b.sources[i];
    st.ring[slot + 1] = b.subnets[i];
    st.newInRing += b.newSources[i] - st.ring[slot + 2];
    st.ring[slot + 2] = b.newSources[i];
    const s = minute % SENSOR_WINDOW;
    st.recentBuckets[s] = b;
    st.recentRow[s] = i;
    const from = b.newStart[i] * 2;
    const to = b.newStart[i + 1] * 2;
    if (to > from || st.newRecent.length > 0) {
      const keepAfter = b.t - RING * 60_000;
      let drop = 0;
      while (
        drop < st.newRecent.length &&
        (st.newRecent[drop] <= keepAfter || st.newRecent.length - drop >= NEW_CAP * 3)
      )
        drop += 3;
      if (drop > 0) st.newRecent = st.newRecent.slice(drop);
      for (let j = from; j < to && st.newRecent.length < NEW_CAP * 3; j += 2)
        st.newRecent.push(b.t, b.newPairs[j], b.newPairs[j + 1]);
    }
  }

  /**
   * The key's evidence this minute. Most keys are far from their tails, so this is written to cost little for them;
   * `reasons`, when given, collects the significant tests in words.
   */
  #evidence(st: PortState, key: number, t: number, x: Float64Array, reasons?: string[]): number {
    const prior = this.#prior[this.#family(key)];
    const { minSensors, minSubnets, anomalous } = this.options;
    const now = (t / 60_000) % RING;
    const ring = st.ring;
    const sum = (measure: number, w: number) => {
      let s = 0;
      for (let j = 0; j < w; j++) s += ring[((now - j + RING) % RING) * RING_MEASURES.length + measure];
      return s;
    };
    let best = 0;
    const eSubnets = st.baseline.expected(SUBNETS, t, prior[SUBNETS]);
    let sensors = -1;
    for (const w of BROAD_WINDOWS) {
      // Distinct /24s over the window (a scanner in one /24 is one, however long it runs) against the per-minute
      // baseline summed: a busy port's /24s repeat from minute to minute, so this errs on the quiet side.
      const subnets = w === 1 ? x[SUBNETS] : this.#distinctWithin(st, t, w, 'subnets');
      const e = decades(subnets, eSubnets, w, reasons !== undefined);
      if (e === 0 || (e <= best && !(reasons && e >= anomalous))) continue;
      if (sensors < 0) sensors = this.#distinctWithin(st, t, SENSOR_WINDOW, 'sensors');
      if (sensors < minSensors) break;
      if (e > best) best = e;
      if (reasons && e >= anomalous)
        reasons.push(
          `${subnets} source /24s ${w === 1 ? 'this minute' : `over ${w} minutes`} (p=1e-${e.toFixed(1)}) on ${sensors} sensors`,
        );
    }
    if (st.newInRing >= minSubnets) {
      const eNew = st.baseline.expected(NEW, t, prior[NEW]);
      for (const w of NEW_WINDOWS) {
        const n = sum(2, w);
        if (n < minSubnets) continue;
        const e = decades(n, eNew, w, reasons !== undefined);
        if (e <= best && !(reasons && e >= anomalous)) continue;
        const spread = newSpread(st.newRecent, t - (w - 1) * 60_000);
        if (spread.subnets < Math.max(minSubnets, n / 2) || spread.sensors < minSensors) continue;
        if (e > best) best = e;
        if (reasons && e >= anomalous)
          reasons.push(
            `${n} never-seen sources over ${w} minutes (p=1e-${e.toFixed(1)}) from ${spread.subnets} /24s on ${spread.sensors} sensors`,
          );
      }
    }
    return Math.max(0, best - Math.log10(TESTS));
  }

  #finding(key: number, st: PortState, t: number, x: Float64Array, judging: boolean): Finding {
    const reasons: string[] = [];
    const evidence = judging ? this.#evidence(st, key, t, x, reasons) : 0;
    const prior = this.#prior[this.#family(key)];
    const group = key >= GROUP_BASE ? this.#groups[key - GROUP_BASE] : null;
    const expected = new Float64Array(MEASURE_COUNT);
    for (let m = 0; m < MEASURE_COUNT; m++) expected[m] = st.baseline.expected(m, t, prior[m]).mean;
    return {
      key,
      proto: group?.proto ?? key >>> 16,
      port: group === null ? key & 0xffff : null,
      group: group?.name ?? null,
      t,
      evidence,
      anomalous: evidence >= this.options.anomalous,
      measures: measures(x),
      expected: measures(expected),
      reasons,
    };
  }

  /** Distinct sensors (or source /24s) of the key over the last `w` minutes, up to the minute starting at t. */
  #distinctWithin(st: PortState, t: number, w: number, of: 'sensors' | 'subnets'): number {
    const set = new Set<number>();
    let most = 0;
    for (let s = 0; s < SENSOR_WINDOW; s++) {
      const b = st.recentBuckets[s];
      if (b === null || b.t <= t - w * 60_000) continue;
      const row = st.recentRow[s];
      const [start, hashes, count] =
        of === 'sensors'
          ? [b.sensorStart, b.sensorHashes, b.sensors]
          : [b.subnetStart, b.subnetHashes, b.subnets];
      // A minute with more than the sketches list is counted by its number alone: a lower bound of the union.
      most = Math.max(most, count[row]);
      for (let j = start[row]; j < start[row + 1]; j++) set.add(hashes[j]);
    }
    return Math.max(set.size, most);
  }
}

/** −log10 of P(X ≥ observed) for the sum over w minutes of a negative-binomial count (sizes add). */
function decades(observed: number, e: Expected, w: number, exact = false): number {
  const mean = e.mean * w;
  const r = e.r * w;
  // Cheap screen: within four standard deviations (plus 3, for the long right tail of small counts) p is above
  // about 1e-5, far from opening anything, and the incomplete beta or gamma function is not worth it. An open
  // incident's keys are judged `exact`ly: their weaker evidence decides whether the incident stays open.
  const sd = Math.sqrt(mean + (r === Infinity ? 0 : (mean * mean) / r));
  if (observed <= mean + (exact ? sd : 4 * sd + 3)) return 0;
  const p = negBinomialUpperTail(observed, mean, r);
  return p > 0 ? -Math.log10(p) : 300;
}

function newSpread(recent: number[], from: number): { subnets: number; sensors: number } {
  const subnets = new Set<number>();
  const sensors = new Set<number>();
  for (let j = recent.length - 3; j >= 0 && recent[j] >= from; j -= 3) {
    subnets.add(recent[j + 1]);
    sensors.add(recent[j + 2]);
  }
  return { subnets: subnets.size, sensors: sensors.size };
}

function pushRecord(r: number[], t: number, v: number): void {
  if (v <= 0) return;
  while (r.length > 0 && r[r.length - 1] <= v) {
    r.pop();
    r.pop();
  }
  r.push(t, v);
}

function measures(v: ArrayLike<number>): Measures {
  return {
    events: v[EVENTS],
    sources: v[SOURCES],
    targets: v[TARGETS],
    sensors: v[SENSORS],
    subnets: v[SUBNETS],
    newSources: v[NEW],
    networks: v[NETWORKS],
    countries: null,
  };
}
