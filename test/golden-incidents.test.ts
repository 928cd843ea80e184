// Golden incidents: the seed scenarios at their fixed seeds, replayed through the analysis pipeline, give exactly the
// committed incidents (UPDATE_GOLDEN=1 rewrites them after an intended change, to be read in the diff).
//
// Each replay is the scenario cut to the day before its first onset and the hours after it, so CI stays quick; the
// network, the background and the outbreak are the scenario's own.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AnalysisPipeline } from '../src/analysis/pipeline.ts';
import type { Incident } from '../src/analysis/incidents/incident.ts';
import { replaySimulation } from '../src/analysis/replay.ts';
import { loadScenario } from '../src/sim/scenario.ts';
import { Simulation } from '../src/sim/run.ts';
import { assertGolden } from './helpers/golden-json.ts';

const HOUR = 3_600_000;
const GOLDEN = join(import.meta.dirname, 'golden/incidents');

/** The confirmed incidents of a scenario replayed from `before` its first onset to `after` it. */
function incidents(name: string, before: number, after: number): Incident[] {
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

test('serverprotect-5168: the scanning is an incident on TCP 5168 within 5 minutes, and nothing else is', () => {
  const found = incidents('serverprotect-5168', 24 * HOUR, 6 * HOUR);
  assertGolden(join(GOLDEN, 'serverprotect-5168.json'), found.map(view));
  const onset = Date.parse('2007-08-23T00:00:00Z');
  const first = found.find((i) => i.port === 5168);
  assert.ok(first?.confirmed, 'no incident on TCP 5168');
  assert.ok(
    first.confirmed - onset <= 5 * 60_000,
    `alerted ${(first.confirmed - onset) / 1000} s after onset`,
  );
  assert.deepEqual(
    found.filter((i) => i.port !== 5168).map((i) => i.id),
    [],
  );
});

test('sagevo-2967: the first wave is one incident on TCP 2967, and nothing else is', () => {
  const found = incidents('sagevo-2967', 12 * HOUR, 10 * HOUR);
  assertGolden(join(GOLDEN, 'sagevo-2967.json'), found.map(view));
  assert.deepEqual(
    found.map((i) => i.port),
    [2967],
  );
});
