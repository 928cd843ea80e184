// The analysis pipeline on a clock: stored events in, closed minutes judged, incidents and the threat level out.
// The live server and the simulator drive the same object, so a benchmark judges exactly what a deployment would.

import type { EventColumns } from '../core/event.ts';
import { BUCKET_MS, BucketAccumulator } from './buckets.ts';
import { PortSpikeDetector, type Finding, type PortSpikeOptions } from './detectors/port-spike/detector.ts';
import type { Incident, ThreatLevel, ThreatLevelChange } from './incidents/incident.ts';
import { IncidentTracker, type TrackerOptions } from './incidents/tracker.ts';
import { ThreatLevelEngine, type ThreatLevelOptions } from './threat-level.ts';

export interface PipelineOptions {
  detector?: Partial<PortSpikeOptions>;
  tracker?: Partial<TrackerOptions>;
  threat?: Partial<ThreatLevelOptions>;
  /** A minute is judged this long after it ends, so events still in flight from sensors are counted. */
  graceMs?: number;
  /** The fast lane's bucket width (0: no fast lane) and its grace. */
  fastMs?: number;
  fastGraceMs?: number;
}

export interface TickResult {
  /** Incidents opened or changed, each once, latest state. */
  incidents: Incident[];
  threat: ThreatLevelChange | null;
  /** Minutes judged. */
  buckets: number;
  /** Time spent judging them, ms. */
  evalMs: number;
}

/** Sensors not heard from for this long no longer count as part of the network. */
const ACTIVE_SENSOR_MS = 3_600_000;

export class AnalysisPipeline {
  readonly accumulator = new BucketAccumulator();
  readonly fast: BucketAccumulator | null;
  readonly fastGraceMs: number;
  readonly detector: PortSpikeDetector;
  readonly tracker: IncidentTracker;
  readonly threat: ThreatLevelEngine;
  readonly graceMs: number;
  readonly #sensorLastSeen = new Map<number, number>();

  constructor(
    now: number,
    opts: PipelineOptions = {},
    resume: { incidents?: Incident[]; threat?: ThreatLevel | null } = {},
  ) {
    this.detector = new PortSpikeDetector(opts.detector);
    this.tracker = new IncidentTracker(
      {
        recordSince: (k, v, before, of) => this.detector.recordSince(k, v, before, of),
        firstSeen: (k) => this.detector.firstSeen(k),
        activeSensors: () => this.#sensorLastSeen.size,
        groupKey: (name) => this.detector.groupKey(name),
      },
      opts.tracker,
    );
    this.tracker.resume(resume.incidents ?? []);
    for (const k of this.tracker.openKeys()) this.detector.open.add(k);
    this.threat = new ThreatLevelEngine(now, resume.threat ?? null, opts.threat);
    this.graceMs = opts.graceMs ?? 30_000;
    const fastMs = opts.fastMs ?? 10_000;
    this.fast = fastMs > 0 ? new BucketAccumulator(fastMs, null) : null;
    this.fastGraceMs = opts.fastGraceMs ?? 5_000;
  }

  /** Events stored from one sensor (or, from the simulator, a sensor per row). */
  add(sensor: number | Uint32Array, events: EventColumns): void {
    this.accumulator.add(sensor, events);
    this.fast?.add(sensor, events);
  }

  /**
   * Judges every minute that ended at least graceMs before `now` (and every fast-lane bucket fastGraceMs before).
   * `settled`, when the caller knows it (a replay), caps both: events before it are all in, later ones may not be.
   */
  tick(now: number, threatOverride?: ThreatLevel['override'], settled = Infinity): TickResult {
    const changed = new Map<string, Incident>();
    const t0 = performance.now();
    const judge = (findings: Finding[]) => {
      for (const f of this.tracker.update(findings, now)) changed.set(f.id, f);
      this.detector.open.clear();
      for (const k of this.tracker.openKeys()) this.detector.open.add(k);
    };
    if (this.fast !== null)
      for (const b of this.fast.close(Math.min(now - this.fastGraceMs, settled)))
        judge(this.detector.evaluateFast(b));
    const buckets = this.accumulator.close(Math.min(now - this.graceMs, settled));
    for (const b of buckets) {
      for (let j = 0; j < b.sensorHashes.length; j++) this.#sensorLastSeen.set(b.sensorHashes[j], b.t);
      judge(this.detector.evaluate(b));
      if (b.t % (10 * BUCKET_MS) === 0) this.#forgetQuietSensors(b.t);
    }
    const evalMs = performance.now() - t0;
    const threat = this.threat.update(this.tracker.openIncidents(), now, threatOverride);
    return { incidents: [...changed.values()], threat, buckets: buckets.length, evalMs };
  }

  #forgetQuietSensors(t: number): void {
    for (const [h, last] of this.#sensorLastSeen)
      if (last < t - ACTIVE_SENSOR_MS) this.#sensorLastSeen.delete(h);
  }
}
