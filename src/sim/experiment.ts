// Experiments: a scenario run several times with consecutive seeds in accelerated time, each run summarised against
// its ground truth (what `portent simulate` prints), with the detectors' alerts judged against it when given.

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
  /** The first alert on its port after its onset, how long after the onset, and the share infected then. */
  alertDelayMs: number | null;
  infectedShareAtAlert: number | null;
}

/** An alert (a confirmed incident) as the experiment judges it; the analysis pipeline's incidents are these. */
export interface Alert {
  id: string;
  proto: number;
  port: number | null;
  confirmed: number;
}

/** Runs the simulation through a detector; returns its events and the alerts it raised. */
export type Detect = (sim: Simulation) => { events: number; alerts: Alert[] };

export interface RunResult {
  seed: number;
  events: number;
  wallSeconds: number;
  scanners: ScannerResult[];
  /**
   * Over the run's worms and campaigns: the earliest alert's delay after its scanner's onset, the infected share
   * then, and the alerts no scanner explains (on another port, or outside the scanner's time). Null without `detect`.
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
  /** Runs each simulation through a detector instead (the composition root passes the analysis pipeline). */
  detect?: Detect;
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
    let alerts: Alert[] | null = null;
    if (opts.detect) ({ events, alerts } = opts.detect(sim));
    else
      for (const batch of sim.run()) {
        events += batch.events.length;
        opts.onBatch?.(batch.time, batch.events, batch.sensor);
      }
    const truth = sim.truth();
    const targets = truth.scanners.filter((s) => s.kind === 'worm' || s.kind === 'campaign');
    const scanners = targets.map((s) => scannerResult(s, truth, alerts));
    const alerted = scanners
      .filter((s) => s.alertDelayMs !== null)
      .sort((a, b) => a.alertDelayMs! - b.alertDelayMs!);
    const end = sim.config.start + sim.config.durationMs;
    const explained = (a: Alert) =>
      targets.some(
        (s) =>
          a.port !== null &&
          portsOf(s).includes(a.port) &&
          a.confirmed >= s.onset! &&
          a.confirmed <= Number(s.detail?.end ?? end) + 3_600_000,
      );
    runs.push({
      seed,
      events,
      wallSeconds: (performance.now() - t0) / 1000,
      scanners,
      detection:
        alerts === null
          ? { delayMs: null, infectedShareAtFirstAlert: null, falseAlarms: null }
          : {
              delayMs: alerted[0]?.alertDelayMs ?? null,
              infectedShareAtFirstAlert:
                alerted.find((s) => s.infectedShareAtAlert !== null)?.infectedShareAtAlert ?? null,
              falseAlarms: alerts.filter((a) => !explained(a)).length,
            },
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

const portsOf = (s: GroundTruth['scanners'][number]): number[] =>
  s.port === undefined ? [] : Array.isArray(s.port) ? s.port : [s.port];

function scannerResult(
  s: GroundTruth['scanners'][number],
  truth: GroundTruth,
  alerts: Alert[] | null,
): ScannerResult {
  const firstSeen = s.firstSeen ?? null;
  const series = truth.infected[s.name];
  const vulnerable = Number(s.detail?.vulnerable ?? 0);
  const infectedAt = (t: number) => {
    let n = series[0]?.infected ?? 0;
    for (const x of series) if (x.t <= t) n = x.infected;
    return n;
  };
  const proto = s.proto === 'udp' ? 17 : 6;
  const alert = (alerts ?? [])
    .filter(
      (a) =>
        a.proto === proto && a.port !== null && portsOf(s).includes(a.port) && a.confirmed >= (s.onset ?? 0),
    )
    .sort((a, b) => a.confirmed - b.confirmed)[0];
  return {
    name: s.name,
    kind: s.kind,
    port: s.port,
    onset: s.onset,
    alertDelayMs: alert === undefined || s.onset === undefined ? null : alert.confirmed - s.onset,
    infectedShareAtAlert: alert && series && vulnerable > 0 ? infectedAt(alert.confirmed) / vulnerable : null,
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
    if (run.detection.falseAlarms === null) continue;
    for (const s of run.scanners)
      lines.push(
        `  ${s.name}: ${s.alertDelayMs === null ? 'no alert' : `alert ${duration(s.alertDelayMs)} after onset`}` +
          (s.infectedShareAtAlert === null ? '' : `, ${pct(s.infectedShareAtAlert)} infected then`),
      );
    lines.push(`  false alarms: ${run.detection.falseAlarms}`);
  }
  for (const [name, s] of Object.entries(result.summary))
    if (s.sightingDelayMs)
      lines.push(
        `${name} over ${result.runs.length} runs: first seen after ${duration(s.sightingDelayMs.median)} (median; ${duration(s.sightingDelayMs.min)} to ${duration(s.sightingDelayMs.max)})`,
      );
  return lines;
}
