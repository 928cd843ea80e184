// Drives the analysis pipeline through a simulation in accelerated time, judging each bucket when a live server would.

import type { SimBatch, Simulation } from '../sim/run.ts';
import type { Incident } from './incidents/incident.ts';
import { AnalysisPipeline } from './pipeline.ts';
import type { Alert } from '../sim/experiment.ts';

/**
 * Feeds every simulated step to the pipeline and ticks its clock as a live server's would run: once all events
 * before a step's end are in, the fast lane is judged its grace later, and — when steps are long enough to tell —
 * the minute lane its own grace later rather than at the next step. Calls `changed` with every tick's incidents.
 * `onBatch` sees each step's events first. Returns the number of events.
 */
export function replaySimulation(
  sim: Simulation,
  pipeline: AnalysisPipeline,
  changed: (incidents: Incident[], now: number) => void,
  onBatch?: (b: SimBatch) => void,
): number {
  const { start, durationMs } = sim.config;
  const step = sim.config.stepMs ?? 1000;
  let events = 0;
  const tick = (now: number, settled: number) => {
    const r = pipeline.tick(now, undefined, settled);
    if (r.incidents.length > 0) changed(r.incidents, now);
  };
  for (const b of sim.run()) {
    events += b.events.length;
    onBatch?.(b);
    pipeline.add(b.sensor, b.events);
    tick(b.time + pipeline.fastGraceMs, b.time);
    if (step >= pipeline.graceMs) tick(b.time + pipeline.graceMs, b.time);
  }
  tick(start + durationMs + pipeline.graceMs + 60_000, start + durationMs);
  return events;
}

/** `portent simulate`'s detector: the default pipeline over the run, its confirmed incidents as alerts. */
export function detectWithPipeline(sim: Simulation): { events: number; alerts: Alert[] } {
  const pipeline = new AnalysisPipeline(sim.config.start);
  const alerts = new Map<string, Alert>();
  const events = replaySimulation(sim, pipeline, (changed) => {
    for (const i of changed)
      if (i.confirmed !== null && !alerts.has(i.id))
        alerts.set(i.id, { id: i.id, proto: i.proto, port: i.port, confirmed: i.confirmed });
  });
  return { events, alerts: [...alerts.values()] };
}
