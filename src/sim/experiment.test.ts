// Tests for experiments over scenarios: consecutive seeds, results from the ground truth, deterministic summaries.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IPV4_SPACE } from './internet.ts';
import { formatExperiment, runExperiment } from './experiment.ts';
import type { SimulationConfig } from './run.ts';
import { detectWithPipeline } from '../analysis/replay.ts';

/** Slammer on 200 sensors without background: the worm's own story, fast. */
const small = (c: SimulationConfig): SimulationConfig => ({
  ...c,
  sensors: { sensors: 200, coverage: (200 * 64) / IPV4_SPACE },
  background: false,
  misconfig: false,
});

test('an experiment runs consecutive seeds and reads sighting delay and infected share from the ground truth', () => {
  let batches = 0;
  const result = runExperiment('slammer-1434', {
    runs: 3,
    seed: 10,
    adjust: small,
    onBatch: () => batches++,
  });
  assert.deepEqual(
    result.runs.map((r) => r.seed),
    [10, 11, 12],
  );
  assert.equal(batches, 3 * 150 * 60);
  for (const run of result.runs) {
    const [slammer] = run.scanners;
    assert.equal(slammer.name, 'slammer');
    // 12,800 monitored addresses: one probe in 335,000 lands on a sensor, so the first infected
    // host (4,670 probes/s) is seen within about a minute, while almost nothing else is infected.
    assert.ok(
      slammer.sightingDelayMs! > 0 && slammer.sightingDelayMs! < 5 * 60_000,
      `${slammer.sightingDelayMs}`,
    );
    assert.ok(slammer.infectedShareAtSighting! < 0.001);
    assert.ok(slammer.infectedShareAtEnd! > 0.99);
    assert.equal(slammer.firstSeen! - slammer.onset!, slammer.sightingDelayMs);
    assert.deepEqual(run.detection, { delayMs: null, infectedShareAtFirstAlert: null, falseAlarms: null });
  }
  const delays = result.runs.map((r) => r.scanners[0].sightingDelayMs!).sort((a, b) => a - b);
  assert.deepEqual(result.summary.slammer.sightingDelayMs, {
    median: delays[1],
    min: delays[0],
    max: delays[2],
  });
  const again = runExperiment('slammer-1434', { runs: 1, seed: 11, adjust: small });
  assert.deepEqual(again.runs[0].scanners, result.runs[1].scanners);
  const text = formatExperiment(result).join('\n');
  assert.match(text, /slammer-1434 seed 10: [\d,]+ events/);
  assert.match(text, /slammer \(worm, port 1434\): first seen [\d.]+ s after onset/);
  assert.match(text, /slammer over 3 runs: first seen after/);
});

test('with a detector, each run says when the worm was alerted, how far it had spread, and what else alarmed', () => {
  const result = runExperiment('slammer-1434', {
    runs: 1,
    seed: 10,
    adjust: small,
    detect: detectWithPipeline,
  });
  const [run] = result.runs;
  const [slammer] = run.scanners;
  assert.ok(
    slammer.alertDelayMs! > 0 && slammer.alertDelayMs! < 120_000,
    `alert after ${slammer.alertDelayMs} ms`,
  );
  assert.ok(slammer.infectedShareAtAlert! < 0.001, `${slammer.infectedShareAtAlert} infected at the alert`);
  assert.deepEqual(run.detection, {
    delayMs: slammer.alertDelayMs,
    infectedShareAtFirstAlert: slammer.infectedShareAtAlert,
    falseAlarms: 0,
  });
  assert.match(
    formatExperiment(result).join('\n'),
    /slammer: alert .* after onset, 0\.0\d+ % infected then\n {2}false alarms: 0/,
  );
});
