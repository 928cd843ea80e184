// bench/detect's work: one scenario run through the analysis pipeline with its ground truth and the reference scores
// beside it; the all-ports timing; the real data through the parsers and the pipeline.

import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { eventsToColumns } from '../src/core/wire/ndjson.ts';
import type { EventColumns, PortentEvent } from '../src/core/event.ts';
import { DistinctSketch, hash32, hashLimbs } from '../src/core/sketch.ts';
import type { BucketCounts } from '../src/analysis/buckets.ts';
import { PortSpikeDetector } from '../src/analysis/detectors/port-spike/detector.ts';
import type { Incident } from '../src/analysis/incidents/incident.ts';
import { AnalysisPipeline } from '../src/analysis/pipeline.ts';
import { replaySimulation } from '../src/analysis/replay.ts';
import {
  greyNoiseThresholds,
  iscTrend,
  MIN_HISTORY_DAYS,
  type DailyCounts,
} from '../src/analysis/reference-scores.ts';
import { PORT_MIX } from '../src/sim/background.ts';
import { LINE_FORMATS, detectFormat } from '../src/sensor/parsers/index.ts';
import { readFileOnce } from '../src/sensor/sources/once.ts';
import { loadScenario } from '../src/sim/scenario.ts';
import { Simulation, type GroundTruth, type ScannerTruth, type SimulationConfig } from '../src/sim/run.ts';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const WEEK = 7 * DAY;
/** ISC publishes no threshold: a trend above √χ²₂ at 1 % (3.03) with sources up is counted as its flag. */
const ISC_FLAG = Math.sqrt(9.21);

/** Portent, and the reference scores by the day (as published) and by the hour (the same formulas on hours). */
export const METHODS = ['portent', 'isc', 'greynoise', 'isc-hourly', 'greynoise-hourly'] as const;
export type Method = (typeof METHODS)[number];
type Reference = Exclude<Method, 'portent'>;

export interface Detection {
  /** Alert time minus the scanner's true onset, seconds; null when never flagged. */
  delayS: number | null;
  /** Worms: share of the vulnerable population infected at the alert. */
  infectedShare: number | null;
  /** How many minute judgements after the one covering the third sensor's first sighting (0: that very one). */
  bucketsAfterThirdSensor: number | null;
}

export interface RunReport {
  scenario: string;
  seed: number;
  wallS: number;
  events: number;
  /** Protocol × port keys that saw traffic, times the run's length in weeks. */
  portWeeks: number;
  /** The same for the keys the hourly references follow. */
  hourlyPortWeeks: number;
  scanners: { name: string; kind: string; port: number; detection: Record<Method, Detection> }[];
  trueIncidents: Record<Method, number>;
  falseIncidents: Record<Method, number>;
  /** Portent's confirmed incidents, in words, for the report. */
  incidents: string[];
}

/**
 * Distinct sources and targets per key and period (a UTC day, or an hour): what ISC and GreyNoise judge. `track`
 * limits which keys are kept (hourly sketches for every port would take gigabytes).
 */
class PeriodPorts {
  readonly periodMs: number;
  readonly #track: (key: number) => boolean;
  readonly periods = new Map<number, Map<number, { sources: DistinctSketch; targets: DistinctSketch }>>();

  constructor(periodMs: number, track: (key: number) => boolean = () => true) {
    this.periodMs = periodMs;
    this.#track = track;
  }

  add(c: EventColumns): void {
    for (let i = 0; i < c.length; i++) {
      const k = (c.proto[i] << 16) | c.dstPort[i];
      if (!this.#track(k)) continue;
      const period = c.time[i] - (c.time[i] % this.periodMs);
      let keys = this.periods.get(period);
      if (keys === undefined) this.periods.set(period, (keys = new Map()));
      let cell = keys.get(k);
      if (cell === undefined)
        keys.set(k, (cell = { sources: new DistinctSketch(), targets: new DistinctSketch() }));
      cell.sources.add(hashLimbs(c.src, i * 4));
      cell.targets.add(hashLimbs(c.dst, i * 4));
    }
  }

  /**
   * Every key's history, quiet periods as zeros, in order. The reference functions count in days, so an hourly
   * history is handed to them with each hour standing for a day; `at` keeps the true end of each period.
   */
  histories(): Map<number, { counts: DailyCounts[]; ends: number[] }> {
    const periods = [...this.periods.keys()].sort((a, b) => a - b);
    const out = new Map<number, { counts: DailyCounts[]; ends: number[] }>();
    for (const keys of this.periods.values())
      for (const k of keys.keys()) out.set(k, { counts: [], ends: [] });
    for (const [k, h] of out)
      periods.forEach((p, j) => {
        const c = this.periods.get(p)!.get(k);
        h.counts.push({
          day: j * DAY,
          sources: c?.sources.estimate() ?? 0,
          targets: c?.targets.estimate() ?? 0,
        });
        h.ends.push(p + this.periodMs);
      });
    return out;
  }
}

/**
 * When each reference flags a key: the ends of the periods it flags (the figure exists once the period is over).
 * ISC publishes no threshold: a trend above √χ²₂ at 1 % (3.03) with sources up counts as its flag. Both need
 * MIN_HISTORY_DAYS earlier periods, as greyNoiseThresholds does.
 */
function referenceFlags(h: { counts: DailyCounts[]; ends: number[] }): {
  isc: number[];
  greynoise: number[];
} {
  const isc: number[] = [];
  const greynoise: number[] = [];
  h.counts.forEach((today, j) => {
    const t = iscTrend(h.counts, today);
    if (t.days >= MIN_HISTORY_DAYS && t.trend >= ISC_FLAG && today.sources > t.meanSources)
      isc.push(h.ends[j]);
    const g = greyNoiseThresholds(h.counts, today);
    if (g.iqrFlag || g.sigmaFlag) greynoise.push(h.ends[j]);
  });
  return { isc, greynoise };
}

/** The background's busy ports: always followed by the hourly references. */
const BUSY = new Set(PORT_MIX.map(([proto, port]) => (proto << 16) | port));

/** The keys of a scenario's worms and campaigns, from its configuration. */
function loadScenarioTargets(config: SimulationConfig): Set<number> {
  const key = (proto: string, port: number) => ((proto === 'udp' ? 17 : 6) << 16) | port;
  return new Set([
    ...(config.worms ?? []).map((w) => key(w.proto, w.port)),
    ...(config.campaigns ?? []).map((c) => key(c.proto, c.port)),
  ]);
}

const keyOf = (s: ScannerTruth) =>
  ((s.proto === 'udp' ? 17 : 6) << 16) | (Array.isArray(s.port) ? s.port[0] : s.port!);

function infectedAt(truth: GroundTruth, name: string, t: number): number | null {
  const series = truth.infected[name];
  if (series === undefined) return null;
  let n = series[0]?.infected ?? 0;
  for (const x of series) if (x.t <= t) n = x.infected;
  return n;
}

export function runScenario(name: string, seed: number): RunReport {
  const { config } = loadScenario(name, { seed });
  const sim = new Simulation(config);
  const pipeline = new AnalysisPipeline(config.start);
  const targets0 = loadScenarioTargets(config);
  // Hourly references on the ports that matter and a fixed sample of the rest (all, by the day).
  const tracked = (k: number) => targets0.has(k) || BUSY.has(k) || (k >>> 16 === 6 && hash32(k) % 128 === 0);
  const references = { daily: new PeriodPorts(DAY), hourly: new PeriodPorts(HOUR, tracked) };
  const confirmed = new Map<string, Incident>();
  const t0 = performance.now();
  const events = replaySimulation(
    sim,
    pipeline,
    (incidents) => {
      for (const i of incidents)
        if (i.confirmed !== null && !confirmed.has(i.id)) confirmed.set(i.id, structuredClone(i));
    },
    (b) => {
      references.daily.add(b.events);
      references.hourly.add(b.events);
    },
  );
  const truth = sim.truth();
  const end = config.start + config.durationMs;
  const targets = truth.scanners.filter((s) => s.kind === 'worm' || s.kind === 'campaign');

  const zero = (): Record<Method, number> =>
    Object.fromEntries(METHODS.map((m) => [m, 0])) as Record<Method, number>;
  const trueIncidents = zero();
  const falseIncidents = zero();
  /** Whether an alert at `t` on `key` belongs to a scanner running then (an hour's grace after it stops). */
  const explains = (key: number, t: number) =>
    targets.some((s) => keyOf(s) === key && t >= s.onset! && t <= Number(s.detail?.end ?? end) + 3_600_000);
  const incidents = [...confirmed.values()];
  for (const i of incidents) {
    const key = (i.proto << 16) | i.port!;
    if (explains(key, i.confirmed!)) trueIncidents.portent++;
    else falseIncidents.portent++;
  }
  const flags = new Map<string, number[]>();
  for (const [period, suffix] of [
    [references.daily, ''],
    [references.hourly, '-hourly'],
  ] as const)
    for (const [key, h] of period.histories()) {
      const f = referenceFlags(h);
      for (const base of ['isc', 'greynoise'] as const) {
        const m = `${base}${suffix}` as Reference;
        flags.set(`${m} ${key}`, f[base]);
        for (const at of f[base]) {
          if (explains(key, at - 1)) trueIncidents[m]++;
          else falseIncidents[m]++;
        }
      }
    }
  const hourlyKeys = new Set([...references.hourly.periods.values()].flatMap((m) => [...m.keys()])).size;

  const scanners = targets.map((s) => {
    const key = keyOf(s);
    const onset = s.onset!;
    const vulnerable = Number(s.detail?.vulnerable ?? 0);
    const third = s.sensorSightings?.[2];
    const detection = (alertAt: number | null): Detection => {
      if (alertAt === null) return { delayS: null, infectedShare: null, bucketsAfterThirdSensor: null };
      const infected = vulnerable > 0 ? infectedAt(truth, s.name, alertAt) : null;
      const thirdJudged = third === undefined ? null : third - (third % MINUTE) + MINUTE + pipeline.graceMs;
      return {
        delayS: (alertAt - onset) / 1000,
        infectedShare: infected === null ? null : infected / vulnerable,
        bucketsAfterThirdSensor:
          thirdJudged === null ? null : Math.max(0, Math.ceil((alertAt - thirdJudged) / MINUTE)),
      };
    };
    const portent = incidents
      .filter((i) => ((i.proto << 16) | i.port!) === key && i.confirmed! >= onset)
      .map((i) => i.confirmed!)
      .sort((a, b) => a - b)[0];
    const first = (m: Reference) => flags.get(`${m} ${key}`)?.find((x) => x > onset) ?? null;
    return {
      name: s.name,
      kind: s.kind,
      port: key & 0xffff,
      detection: {
        portent: detection(portent ?? null),
        isc: detection(first('isc')),
        greynoise: detection(first('greynoise')),
        'isc-hourly': detection(first('isc-hourly')),
        'greynoise-hourly': detection(first('greynoise-hourly')),
      },
    };
  });
  return {
    scenario: name,
    seed,
    wallS: (performance.now() - t0) / 1000,
    events,
    portWeeks: (pipeline.detector.keys * config.durationMs) / WEEK,
    hourlyPortWeeks: (hourlyKeys * config.durationMs) / WEEK,
    scanners,
    trueIncidents,
    falseIncidents,
    incidents: incidents.map((i) => `${i.id} ${i.severity}: ${i.reasons[0] ?? ''}`),
  };
}

/**
 * Milliseconds to judge one minute in which every TCP and UDP port saw something, on a detector that knows every
 * key (the median of five such minutes).
 */
export function evaluateAllPorts(): number {
  const det = new PortSpikeDetector();
  const n = 2 * 65_536;
  const start = Date.UTC(2026, 0, 5);
  const bucket = (t: number, seed: number): BucketCounts => {
    let x = seed;
    const rand = () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    const keys = Int32Array.from({ length: n }, (_, i) => ((i < 65_536 ? 6 : 17) << 16) | (i & 0xffff));
    const counts = Float64Array.from({ length: n }, () => 1 + Math.floor(rand() * 3));
    const starts = Uint32Array.from({ length: n + 1 }, (_, i) => i);
    return {
      t,
      ms: MINUTE,
      length: n,
      keys,
      events: counts,
      sources: counts,
      targets: counts,
      sensors: Float64Array.from(counts, () => 1),
      subnets: counts,
      newSources: new Float64Array(n),
      networks: Float64Array.from(counts, () => 1),
      sensorStart: starts,
      sensorHashes: Int32Array.from({ length: n }, () => Math.floor(rand() * 2000)),
      subnetStart: starts,
      subnetHashes: Int32Array.from({ length: n }, () => Math.floor(rand() * 2 ** 24)),
      newStart: new Uint32Array(n + 1),
      newPairs: new Int32Array(0),
    };
  };
  const warm = det.options.warmupMinutes;
  for (let m = 0; m <= warm; m++) det.evaluate(bucket(start + m * MINUTE, m + 1));
  const times: number[] = [];
  for (let m = warm + 1; m <= warm + 5; m++) {
    const b = bucket(start + m * MINUTE, m + 1);
    const t = performance.now();
    det.evaluate(b);
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[2];
}

/** Real logs from one vantage point each: parsed as the sensor would, judged with one sensor allowed. */
const REAL = [
  { dataset: 'rafmio-ufw', match: /^ufw\.log/ },
  { dataset: 'kareiva-cowrie-logs', match: /^cowrie\.json\./ },
  { dataset: 'rita-zeek-conn-3days', match: /_conn\./ },
  { dataset: 'windows-pfirewall', match: /pfirewall/ },
];

export interface RealFindings {
  dataset: string;
  events: number;
  incidents: string[];
  skipped?: string;
}

export async function realDataFindings(): Promise<RealFindings[]> {
  const corpus = process.env.PORTENT_CORPUS ?? resolve(import.meta.dirname, '../../shared/data');
  const out: RealFindings[] = [];
  for (const { dataset, match } of REAL) {
    const dir = join(corpus, dataset);
    if (!existsSync(dir)) {
      out.push({ dataset, events: 0, incidents: [], skipped: `${dir} not found` });
      continue;
    }
    const events: PortentEvent[] = [];
    for (const file of readdirSync(dir)
      .filter((f) => match.test(f))
      .sort()) {
      const lines: string[] = [];
      for await (const line of readFileOnce(join(dir, file))) lines.push(line.text);
      const format = detectFormat(lines.slice(0, 50)).format;
      if (format === null) continue;
      const parser = LINE_FORMATS.find((f) => f.name === format)!.create({
        now: Date.now(),
        timeZone: 'UTC',
      });
      for (const l of lines) {
        const r = parser.parse(l);
        if (r.kind === 'event') events.push(r.event);
      }
    }
    events.sort((a, b) => a.time - b.time);
    out.push({ dataset, events: events.length, incidents: judgeOneSensor(events) });
  }
  return out;
}

/** The pipeline over one sensor's events in time order, a minute at a time; the confirmed incidents in words. */
function judgeOneSensor(events: PortentEvent[]): string[] {
  if (events.length === 0) return [];
  const pipeline = new AnalysisPipeline(events[0].time, { detector: { minSensors: 1 }, fastMs: 0 });
  const found = new Map<string, Incident>();
  let i = 0;
  for (let t = events[0].time - (events[0].time % MINUTE) + MINUTE; i < events.length; t += MINUTE) {
    const from = i;
    while (i < events.length && events[i].time < t) i++;
    if (i > from) pipeline.add(1, eventsToColumns(events.slice(from, i)));
    for (const inc of pipeline.tick(t + pipeline.graceMs, undefined, t).incidents)
      if (inc.confirmed !== null) found.set(inc.id, inc);
  }
  return [...found.values()].map(
    (inc) =>
      `${inc.proto === 17 ? 'UDP' : 'TCP'} ${inc.port ?? `ports of ${inc.group}`} at ${new Date(inc.onset).toISOString()} (${inc.severity}, ${Math.round(inc.peak.sources)} sources at the peak)`,
  );
}
