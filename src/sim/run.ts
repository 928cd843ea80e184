// The accelerated in-process runner: steps every generator through simulated time and yields each step's sensor
// events in time order, deterministic for a seed, with the run's ground truth kept beside it.

import { writeFileSync } from 'node:fs';
import type { EventColumns } from '../core/event.ts';
import { EventBuffer } from './events.ts';
import { SensorDeployment, type DeploymentConfig } from './internet.ts';
import {
  BackgroundRadiation,
  Misconfiguration,
  ProbeCampaign,
  ResearchScanner,
  type BackgroundConfig,
  type CampaignConfig,
  type MisconfigConfig,
  type ResearchScannerConfig,
} from './noise.ts';
import { Rng } from './random.ts';
import { Worm, type InfectionSample, type StepContext, type WormConfig } from './worm.ts';

export interface NetworkConditions {
  /** Probability a probe to a monitored address never reaches the sensor's log (default 0). */
  loss?: number;
  /** Outages a sensor has a day on average (default 0). */
  outagesPerSensorDay?: number;
  /** Mean outage length (default 2 h). */
  outageMeanMs?: number;
  /** Standard deviation of each sensor's constant clock error (default 0). */
  clockSkewSdMs?: number;
}

export interface SimulationConfig {
  seed: number;
  /** Simulated start, ms since the epoch. */
  start: number;
  durationMs: number;
  /** Simulated time per batch (default 1 s); worm dynamics are exact within the limits docs/simulator.md gives. */
  stepMs?: number;
  sensors: (Omit<DeploymentConfig, 'seed'> & { seed?: number }) | SensorDeployment;
  worms?: WormConfig[];
  campaigns?: CampaignConfig[];
  /** false for none; default on. */
  background?: BackgroundConfig | false;
  research?: ResearchScannerConfig[];
  misconfig?: MisconfigConfig | false;
  network?: NetworkConditions;
  /** How often ground truth samples the infected population (default: every step up to 10,000 samples). */
  truthEveryMs?: number;
}

/** One step's output: the sensor of each row beside the events, because sensors submit separately. */
export interface SimBatch {
  /** End of the step (exclusive), ms since the epoch. */
  time: number;
  events: EventColumns;
  sensor: Uint32Array;
}

export interface ScannerTruth {
  name: string;
  kind: 'worm' | 'campaign' | 'research' | 'background' | 'misconfig';
  port?: number | number[];
  proto?: string;
  strategy?: string;
  tool?: string;
  /** True onset: first infection or first probe, ms since the epoch. */
  onset?: number;
  /** Events sensors logged from it. */
  events: number;
  /** When a sensor first logged one of its probes (true time, ms), or null. */
  firstSeen?: number | null;
  /** When the first ten sensors to log it each first did, earliest first (true time, ms). */
  sensorSightings?: number[];
  detail?: Record<string, unknown>;
}

export interface GroundTruth {
  seed: number;
  start: number;
  end: number;
  stepMs: number;
  sensors: { count: number; monitored: number; coverage: number; honeypots: number };
  scanners: ScannerTruth[];
  /** Per worm: infected population over time. */
  infected: Record<string, InfectionSample[]>;
  /** Sensor outages: [sensor, from, to]. */
  outages: [number, number, number][];
  clockSkewMs: number[];
  events: number;
}

export class Simulation {
  readonly config: SimulationConfig;
  readonly sensors: SensorDeployment;
  readonly worms: Worm[];
  readonly campaigns: ProbeCampaign[];
  readonly research: ResearchScanner[];
  readonly background: BackgroundRadiation | null;
  readonly misconfig: Misconfiguration | null;
  readonly #rng: Rng;
  readonly #skew: Float64Array;
  readonly #up: Uint8Array;
  readonly #nextChange: Float64Array;
  readonly #outages: [number, number, number][] = [];
  readonly #samples: Record<string, InfectionSample[]> = {};
  #events = 0;

  constructor(config: SimulationConfig) {
    this.config = config;
    const root = new Rng(config.seed);
    this.sensors =
      config.sensors instanceof SensorDeployment
        ? config.sensors
        : SensorDeployment.generate({ ...config.sensors, seed: config.sensors.seed ?? root.u32() });
    // Each component draws from its own stream, so adding one leaves the others' events unchanged.
    this.worms = (config.worms ?? []).map((w, i) => new Worm(w, new Rng(config.seed).fork(100 + i).u32()));
    this.campaigns = (config.campaigns ?? []).map(
      (c, i) => new ProbeCampaign(c, new Rng(config.seed).fork(200 + i).u32()),
    );
    this.research = (config.research ?? []).map(
      (c, i) => new ResearchScanner(c, new Rng(config.seed).fork(300 + i).u32()),
    );
    this.background =
      config.background === false
        ? null
        : new BackgroundRadiation(config.background ?? {}, new Rng(config.seed).fork(400).u32());
    this.misconfig =
      config.misconfig === false
        ? null
        : new Misconfiguration(config.misconfig ?? {}, new Rng(config.seed).fork(500).u32());
    this.#rng = new Rng(config.seed).fork(600);
    const n = this.sensors.count;
    const sd = config.network?.clockSkewSdMs ?? 0;
    this.#skew = Float64Array.from({ length: n }, () => Math.round(sd * this.#rng.normal()));
    this.#up = new Uint8Array(n).fill(1);
    this.#nextChange = new Float64Array(n);
    const perDay = config.network?.outagesPerSensorDay ?? 0;
    for (let s = 0; s < n; s++)
      this.#nextChange[s] = perDay > 0 ? config.start + this.#rng.exponential(perDay / 86_400_000) : Infinity;
    for (const w of this.worms) this.#samples[w.config.name] = [];
  }

  get stepMs(): number {
    return this.config.stepMs ?? 1000;
  }

  /** Sensor up or down for this step: outages start as a Poisson process and last an exponential time. */
  #updateOutages(t: number): void {
    const perDay = this.config.network?.outagesPerSensorDay ?? 0;
    if (perDay <= 0) return;
    const mean = this.config.network?.outageMeanMs ?? 7_200_000;
    for (let s = 0; s < this.#up.length; s++) {
      while (this.#nextChange[s] <= t) {
        const at = this.#nextChange[s];
        if (this.#up[s]) {
          this.#up[s] = 0;
          const end = at + this.#rng.exponential(1 / mean);
          this.#outages.push([s, at, end]);
          this.#nextChange[s] = end;
        } else {
          this.#up[s] = 1;
          this.#nextChange[s] = at + this.#rng.exponential(perDay / 86_400_000);
        }
      }
    }
  }

  /** Steps through the whole run, one batch per step (empty steps included, so time always moves). */
  *run(): Generator<SimBatch> {
    const { start, durationMs } = this.config;
    const step = this.stepMs;
    const end = start + durationMs;
    const every = this.config.truthEveryMs ?? Math.max(step, durationMs / 10_000);
    let nextSample = start;
    const buffer = new EventBuffer();
    const ctx: StepContext = {
      sensors: this.sensors,
      buffer,
      up: this.#up,
      loss: this.config.network?.loss ?? 0,
    };
    const skewed = (this.config.network?.clockSkewSdMs ?? 0) > 0;
    for (let t0 = start; t0 < end; t0 += step) {
      const t1 = Math.min(end, t0 + step);
      this.#updateOutages(t0);
      this.background?.step(t0, t1, ctx);
      this.misconfig?.step(t0, t1, ctx);
      for (const r of this.research) r.step(t0, t1, ctx);
      for (const c of this.campaigns) c.step(t0, t1, ctx);
      for (const w of this.worms) w.step(t0, t1, ctx);
      if (t1 >= nextSample || t1 === end) {
        for (const w of this.worms) this.#samples[w.config.name].push(w.sample(t1));
        nextSample += every * Math.max(1, Math.ceil((t1 - nextSample) / every));
      }
      const { events, sensor } = buffer.drain(skewed ? this.#skew : undefined);
      this.#events += events.length;
      yield { time: t1, events, sensor };
    }
  }

  /** What really happened, as far as the run has gone. */
  truth(): GroundTruth {
    const c = this.config;
    const scanners: ScannerTruth[] = [];
    for (const w of this.worms) {
      const cfg = w.config;
      scanners.push({
        name: cfg.name,
        kind: 'worm',
        port: cfg.port,
        proto: cfg.proto,
        strategy: describe(cfg),
        tool: cfg.tool,
        onset: cfg.onset,
        events: this.#samples[cfg.name].at(-1)?.seen ?? 0,
        firstSeen: w.firstSeen,
        sensorSightings: firstTen(w.sensorFirstSeen),
        detail: {
          vulnerable: w.population.size,
          everInfected: w.everInfected,
          scanRate: cfg.scanRate,
          c2Down: cfg.c2Down ?? [],
          scanWindows: cfg.scanWindows ?? null,
        },
      });
    }
    for (const p of this.campaigns)
      scanners.push({
        name: p.config.name,
        kind: 'campaign',
        port: p.config.port,
        proto: p.config.proto,
        strategy: `human-operated probing from ${p.config.sources} sources, peak ${p.config.peakRate}/s each`,
        tool: p.config.tool,
        onset: p.config.start,
        events: p.emitted,
        firstSeen: p.firstSeen,
        sensorSightings: firstTen(p.sensorFirstSeen),
        detail: { end: p.config.end, honeypotCompromise: p.compromised },
      });
    for (const r of this.research)
      scanners.push({
        name: r.config.name,
        kind: 'research',
        port: r.config.ports,
        proto: 'tcp',
        strategy: `sweep of IPv4 every ${r.config.sweepHours} h per port`,
        tool: r.config.tool,
        onset: r.config.start,
        events: r.emitted,
      });
    if (this.background)
      scanners.push({ name: 'background', kind: 'background', events: this.background.emitted });
    if (this.misconfig)
      scanners.push({ name: 'misconfiguration', kind: 'misconfig', events: this.misconfig.emitted });
    return {
      seed: c.seed,
      start: c.start,
      end: c.start + c.durationMs,
      stepMs: this.stepMs,
      sensors: {
        count: this.sensors.count,
        monitored: this.sensors.monitored,
        coverage: this.sensors.coverage,
        honeypots: this.sensors.kinds.reduce((s, k) => s + k, 0),
      },
      scanners,
      infected: this.#samples,
      outages: this.#outages,
      clockSkewMs: Array.from(this.#skew),
      events: this.#events,
    };
  }
}

function describe(w: WormConfig): string {
  const s = w.strategy;
  const hit = w.hitList ? `hit-list of ${w.hitList}, then ` : '';
  switch (s.kind) {
    case 'random':
      return `${hit}random uniform at ${w.scanRate}/s per host`;
    case 'sequential':
      return (
        `${hit}sequential from ${s.start}, ${s.threads} threads at ${w.scanRate}/s each` +
        `${s.wrap ? ', wrapping' : ''}${s.restartEachWindow ? ', a fresh sweep each wave' : ''}`
      );
    case 'local':
      return `${hit}local preference (${s.prefer.map((x) => `${x.p} in own /${x.prefix}`).join(', ')}), else uniform, at ${w.scanRate}/s`;
    case 'permutation':
      return `${hit}permutation scanning at ${w.scanRate}/s per host`;
  }
}

/** Writes the ground truth as JSON beside a run's output. */
function firstTen(first: Map<number, number>): number[] {
  return [...first.values()].sort((a, b) => a - b).slice(0, 10);
}

export function writeGroundTruth(path: string, truth: GroundTruth): void {
  writeFileSync(path, JSON.stringify(truth, null, 2) + '\n');
}
