// Golden incidents: a seed scenario at its fixed seed, replayed through the analysis pipeline, gives exactly the
// committed incidents (UPDATE_GOLDEN=1 rewrites them after an intended change, to be read in the diff). One test
// file per scenario, so the runner replays them side by side.
//
// Each replay is the scenario cut to some hours before its first onset and after it, so CI stays quick; the
// network, the background and the outbreak are the scenario's own.

import { join } from 'node:path';
import { AnalysisPipeline } from '../../src/analysis/pipeline.ts';
import type { Incident } from '../../src/analysis/incidents/incident.ts';
import { replaySimulation } from '../../src/analysis/replay.ts';
import { loadScenario } from '../../src/sim/scenario.ts';
import { Simulation } from '../../src/sim/run.ts';
import { assertGolden } from './golden-json.ts';

export const HOUR = 3_600_000;
const GOLDEN = join(import.meta.dirname, '../golden/incidents');

/** The confirmed incidents of a scenario replayed from `before` its first onset to `after` it. */
export function incidents(name: string, before: number, after: number): Incident[] {
  const { config } = loadScenario(name);
  const onset = Math.min(
    ...(config.worms ?? []).map((w) => w.onset),
    ...(config.campaigns ?? []).map((c) => c.start),
  );
  const start = onset - before;
  const sim = new Simulation({ ...config, start, durationMs: before + after });
  const pipeline = new AnalysisPipeline(start);
  const latest = new Map<string, Incident>();
  replaySimulation(sim, pipeline, (changed) => {
    for (const i of changed)
      if (i.confirmed !== null || latest.has(i.id)) latest.set(i.id, structuredClone(i));
  });
  return [...latest.values()];
}

/** What the golden file keeps: what an analyst reads, rounded so a change of the last digit is not a diff. */
const view = (i: Incident) => ({
  id: i.id,
  state: i.state,
  surge: i.surge,
  onset: new Date(i.onset).toISOString(),
  confirmed: i.confirmed === null ? null : new Date(i.confirmed).toISOString(),
  peak_at: new Date(i.peakAt).toISOString(),
  peak: Object.fromEntries(Object.entries(i.peak).map(([k, v]) => [k, v === null ? null : Math.round(v)])),
  xfold: Math.round(i.xfold * 10) / 10,
  severity: i.severity,
  reasons: i.reasons.slice(0, 3),
  summary: i.summary,
});

/** The incidents against `test/golden/incidents/NAME.json`. */
export function assertGoldenIncidents(name: string, found: Incident[]): void {
  assertGolden(join(GOLDEN, `${name}.json`), found.map(view));
}
