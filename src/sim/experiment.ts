// Experiments: a scenario run several times with consecutive seeds in accelerated time, each run summarised against
// its ground truth (what `portent simulate` will print). Detection figures wait for the detectors to exist.

import type { EventColumns } from '../core/event.ts';
import { loadScenario } from './scenario.ts';
import { Simulation, type GroundTruth, type SimulationConfig } from './run.ts';

export interface ScannerResult {
  name: string;
  kind: string;
  port?: number | number[];
  onset?: number;
  /** When a sensor first logged it, and how long after the true onset. */
  firstSeen: number | null;
  sightingDelayMs: number | null;
  /** Worms: share of the vulnerable population infected when a sensor first logged it. */
  infectedShareAtSighting: number | null;
  /** Worms: share infected at the end of the run. */
  infectedShareAtEnd: number | null;
  events: number;
}

export interface RunResult {
  seed: number;
  events: number;
  wallSeconds: number;
  scanners: ScannerResult[];
  /**
   * Detection delay, infected share at the first alert and false alarms need the analysis
   * pipeline's detectors; null until they exist.
   */
  detection: { delayMs: number | null; infectedShareAtFirstAlert: number | null; falseAlarms: number | null };
  truth: GroundTruth;
}

export interface ExperimentOptions {
  runs?: number;
  /** First seed; run i uses seed + i. Default: the scenario's own. */
  seed?: number;
  /** Adjusts each run's config (tests use it to drop the background). */
  adjust?: (config: SimulationConfig) => SimulationConfig;
  /** Sees every batch, for a consumer such as the analysis pipeline. */
  onBatch?: (time: number, events: EventColumns, sensor: Uint32Array) => void;
}

export interface ExperimentResult {
  scenario: string;
  runs: RunResult[];
  /** Per scanner: median, min and max of the sighting delay and of the infected share at sighting. */
  summary: Record<string, { sightingDelayMs: Stats | null; infectedShareAtSighting: Stats | null }>;
}

export interface Stats {
  median: number;
  min: number;
  max: number;
}

export function runExperiment(name: string, opts: ExperimentOptions = {}): ExperimentResult {
  const first = loadScenario(name);
  const baseSeed = opts.seed ?? first.config.seed;
  const runs: RunResult[] = [];
  for (let i = 0; i < (opts.runs ?? 1); i++) {
    const seed = (baseSeed + i) >>> 0;
    const config = loadScenario(name, { seed }).config;
    const sim = new Simulation(opts.adjust ? opts.adjust(config) : config);
    const t0 = performance.now();
    let events = 0;
    for (const batch of sim.run()) {
      events += batch.events.length;
      opts.onBatch?.(batch.time, batch.events, batch.sensor);
    }
    const truth = sim.truth();
    runs.push({
      seed,
      events,
      wallSeconds: (performance.now() - t0) / 1000,
      scanners: truth.scanners
        .filter((s) => s.kind === 'worm' || s.kind === 'campaign')
        .map((s) => scannerResult(s, truth)),
      detection: { delayMs: null, infectedShareAtFirstAlert: null, falseAlarms: null },
      truth,
    });
  }
  const summary: ExperimentResult['summary'] = {};
  for (const s of runs[0]?.scanners ?? []) {
    const of = (pick: (r: ScannerResult) => number | null) =>
      stats(
        runs
          .map((r) => pick(r.scanners.find((x) => x.name === s.name)!))
          .filter((x): x is number => x !== null),
      );
    summary[s.name] = {
      sightingDelayMs: of((r) => r.sightingDelayMs),
      infectedShareAtSighting: of((r) => r.infectedShareAtSighting),
    };
  }
  return { scenario: name, runs, summary };
}

function scannerResult(s: GroundTruth['scanners'][number], truth: GroundTruth): ScannerResult {
  const firstSeen = s.firstSeen ?? null;
  const series = truth.infected[s.name];
  const vulnerable = Number(s.detail?.vulnerable ?? 0);
  const infectedAt = (t: number) => {
    let n = series[0]?.infected ?? 0;
    for (const x of series) if (x.t <= t) n = x.infected;
    return n;
  };
  return {
    name: s.name,
    kind: s.kind,
    port: s.port,
    onset: s.onset,
    firstSeen,
    sightingDelayMs: firstSeen === null || s.onset === undefined ? null : firstSeen - s.onset,
    infectedShareAtSighting:
      series && firstSeen !== null && vulnerable > 0 ? infectedAt(firstSeen) / vulnerable : null,
    infectedShareAtEnd: series && vulnerable > 0 ? (series.at(-1)?.infected ?? 0) / vulnerable : null,
    events: s.events,
  };
}

function stats(xs: number[]): Stats | null {
  if (xs.length === 0) return null;
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted.at(-1)! };
}

/** Readable lines for a terminal. */
export function formatExperiment(result: ExperimentResult): string[] {
  const lines: string[] = [];
  const duration = (ms: number | null) =>
    ms === null ? 'never' : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60_000).toFixed(1)} min`;
  const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toPrecision(3)} %`);
  for (const run of result.runs) {
    lines.push(
      `${result.scenario} seed ${run.seed}: ${run.events.toLocaleString('en-US')} events in ${run.wallSeconds.toFixed(1)} s`,
    );
    for (const s of run.scanners)
      lines.push(
        `  ${s.name} (${s.kind}, port ${s.port}): first seen ${duration(s.sightingDelayMs)} after onset` +
          (s.infectedShareAtSighting === null
            ? ''
            : `, ${pct(s.infectedShareAtSighting)} infected then, ${pct(s.infectedShareAtEnd)} at the end`) +
          `; ${s.events.toLocaleString('en-US')} events`,
      );
    lines.push(
      '  detection delay, infected share at the first alert, false alarms: not measured yet (no detectors)',
    );
  }
  for (const [name, s] of Object.entries(result.summary))
    if (s.sightingDelayMs)
      lines.push(
        `${name} over ${result.runs.length} runs: first seen after ${duration(s.sightingDelayMs.median)} (median; ${duration(s.sightingDelayMs.min)} to ${duration(s.sightingDelayMs.max)})`,
      );
  return lines;
}
