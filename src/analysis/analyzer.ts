// The analyzer service: feeds stored events to the analysis pipeline, judges closed minutes on a timer, and
// saves and publishes the incidents and threat level that change, with analysts' overrides applied.

import type { Clock } from '../core/clock.ts';
import type { EventColumns } from '../core/event.ts';
import { publishJson, SUBJECTS, type Bus } from '../bus/bus.ts';
import type { IncidentStore } from '../storage/state-store.ts';
import type { AnalysisConfig } from './config.ts';
import type { Incident, ThreatLevel, ThreatLevelChange } from './incidents/incident.ts';
import { AnalysisPipeline, type PipelineOptions } from './pipeline.ts';

const MINUTE = 60_000;

/** The pipeline's options from a loaded `analysis` config section. */
export function pipelineOptions(c: Omit<AnalysisConfig, 'enabled' | 'tick'>): PipelineOptions {
  return {
    graceMs: c.grace,
    detector: {
      anomalous: c.anomalous,
      minSensors: c.min_sensors,
      minSubnets: c.min_subnets,
      warmupMinutes: c.warmup / MINUTE,
    },
    tracker: {
      confirm: c.confirm,
      confirmRun: c.confirm_run,
      sustain: c.sustain,
      endAfterMinutes: c.end_after / MINUTE,
      reopenWithinMs: c.reopen_within,
    },
    threat: { lowerAfterMs: c.lower_after, minHoldMs: c.min_hold },
  };
}

/** What one run did, for metrics and logs. */
export interface AnalyzerRun {
  /** Minutes judged. */
  buckets: number;
  /** Time spent judging them, seconds. */
  evalSeconds: number;
  /** Incidents saved and published (detector changes and overrides). */
  changed: Incident[];
  threatChange: ThreatLevelChange | null;
  /** Incidents not yet ended, after the run. */
  open: Incident[];
  threat: ThreatLevel;
}

export interface AnalyzerDeps {
  state: IncidentStore;
  bus: Bus;
  clock: Clock;
  pipeline: PipelineOptions;
  /** Time between runs of the timer `start()` sets, ms. */
  tickMs: number;
  /** Called after every successful run (metrics). */
  observe?: (run: AnalyzerRun) => void;
  /** Called with each timer run's failure, or with nothing when a run succeeds (the server's failing tasks). */
  report?: (err?: unknown) => void;
}

/**
 * One per deployment holds the incident state: in the embedded profile the server's, fed directly by the group
 * writer after each commit (docs/adr/0009). Saves come before publishes, so a subscriber can always read back
 * what it was told; what fails to save or publish is kept and tried again on the next run.
 */
export class Analyzer {
  readonly pipeline: AnalysisPipeline;
  readonly #deps: AnalyzerDeps;
  /** Changed incidents not yet saved and published, by id; the latest version wins. */
  readonly #unsent = new Map<string, Incident>();
  /** The threat level to save, the changes not yet in the history, and whether subscribers are still to be told. */
  #unsentThreat: { level: ThreatLevel; changes: ThreatLevelChange[]; publish: boolean } | null = null;
  /** The level last saved, as JSON: an unchanged level is not written again. */
  #lastSavedThreat = '';
  #running: Promise<AnalyzerRun> | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #stopped = false;

  private constructor(deps: AnalyzerDeps, pipeline: AnalysisPipeline) {
    this.#deps = deps;
    this.pipeline = pipeline;
  }

  /** Resumes the open incidents and the threat level a previous run left in the store (unless `resume` is false). */
  static async open(deps: AnalyzerDeps, resume = true): Promise<Analyzer> {
    const incidents = resume ? await deps.state.incidents({ open: true, limit: 100_000 }) : [];
    const threat = resume ? await deps.state.threatLevel() : null;
    return new Analyzer(deps, new AnalysisPipeline(deps.clock.now(), deps.pipeline, { incidents, threat }));
  }

  /** Events one sensor had stored. Cheap: the columns are read into minute buckets, not copied. */
  observe(sensor: number, columns: EventColumns): void {
    this.pipeline.add(sensor, columns);
  }

  /** Applies analysts' overrides, judges the closed minutes, then saves and publishes what changed. Runs never overlap. */
  runOnce(): Promise<AnalyzerRun> {
    const run = (this.#running ?? Promise.resolve()).catch(() => undefined).then(() => this.#run());
    this.#running = run;
    return run;
  }

  async #run(): Promise<AnalyzerRun> {
    const { state, clock } = this.#deps;
    const p = this.pipeline;
    const now = clock.now();
    const ids = p.tracker.openIncidents().map((i) => i.id);
    const overridden = p.tracker.applyOverrides(await state.incidentOverrides(ids), now);
    const tick = p.tick(now, await state.threatOverride());
    const changed = [...overridden, ...tick.incidents];
    for (const i of changed) this.#unsent.set(i.id, i);
    const level = p.threat.current;
    if (
      tick.threat !== null ||
      this.#unsentThreat !== null ||
      JSON.stringify(level) !== this.#lastSavedThreat
    ) {
      const changes = [...(this.#unsentThreat?.changes ?? []), ...(tick.threat ? [tick.threat] : [])];
      this.#unsentThreat = { level, changes, publish: this.#unsentThreat?.publish ?? false };
    }
    await this.#send();
    const result: AnalyzerRun = {
      buckets: tick.buckets,
      evalSeconds: tick.evalMs / 1000,
      changed: [...new Map(changed.map((i) => [i.id, i])).values()],
      threatChange: tick.threat,
      open: p.tracker.openIncidents(),
      threat: level,
    };
    this.#deps.observe?.(result);
    return result;
  }

  async #send(): Promise<void> {
    const { state, bus } = this.#deps;
    for (const [id, incident] of [...this.#unsent]) {
      await state.saveIncident(incident);
      // The stored view carries the analysts' notes and override beside the analyzer's fields.
      await publishJson(bus, SUBJECTS.incidents, (await state.incident(id)) ?? incident);
      this.#unsent.delete(id);
    }
    const t = this.#unsentThreat;
    if (t === null) return;
    // Each change goes to the history; the current level is written with it (or alone when it only explains).
    if (t.changes.length === 0) await state.saveThreatLevel(t.level, null);
    while (t.changes.length > 0) {
      await state.saveThreatLevel(t.level, t.changes[0]);
      t.changes.shift();
      t.publish = true;
    }
    this.#lastSavedThreat = JSON.stringify(t.level);
    if (t.publish) await publishJson(bus, SUBJECTS.threatLevel, t.level);
    this.#unsentThreat = null;
  }

  /** Runs every `tickMs` until stop(); a failed run is reported and the next one tries again. */
  start(): void {
    if (this.#timer !== null || this.#stopped) return;
    const next = (): void => {
      if (this.#stopped) return;
      this.#timer = setTimeout(() => {
        this.runOnce()
          .then(
            () => this.#deps.report?.(),
            (err: unknown) => this.#deps.report?.(err),
          )
          .finally(next);
      }, this.#deps.tickMs);
    };
    next();
  }

  /** Stops the timer and waits for a run under way. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running?.catch(() => undefined);
  }
}
