// Tests for the scenario files: each loads, bad files are refused with the field named, and each tells its story.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { IPV4_SPACE } from './internet.ts';
import { SCENARIO_DIR, loadScenario, scenarioFromYaml, scenarioNames } from './scenario.ts';
import { Simulation, type SimulationConfig } from './run.ts';

const HOUR = 3_600_000;

/** The scenario's own worms and campaigns on fewer sensors and without background, so the test stays fast. */
function quiet(config: SimulationConfig, sensors = 2000, meanAddresses = 64): SimulationConfig {
  return {
    ...config,
    sensors: { sensors, coverage: (sensors * meanAddresses) / IPV4_SPACE, honeypotShare: 0.05 },
    background: false,
    misconfig: false,
    research: [],
    network: {},
  };
}

test('every scenario file loads, under its own name', () => {
  const names = scenarioNames();
  assert.deepEqual(names, ['codered-80', 'quiet-week', 'sagevo-2967', 'serverprotect-5168', 'slammer-1434']);
  for (const name of names) {
    const s = loadScenario(name);
    assert.equal(s.name, name);
    assert.ok(s.config.durationMs > 0 && s.config.stepMs! > 0);
    assert.equal(loadScenario(name, { seed: 9 }).config.seed, 9);
  }
});

test('a scenario with an unknown key or a bad duration is refused, naming the field', () => {
  const good = readFileSync(join(SCENARIO_DIR, 'slammer-1434.yaml'), 'utf8');
  assert.throws(
    () => scenarioFromYaml(good.replace('seed: 1434', 'seed: 1434\nsede: 3'), 'x.yaml'),
    /^RangeError: x\.yaml: \/sede: unknown key$/,
  );
  assert.throws(
    () => scenarioFromYaml(good.replace('duration: 150m', 'duration: 150 minutes'), 'x.yaml'),
    /x\.yaml: duration: /,
  );
  assert.throws(
    () => scenarioFromYaml(good.replace('proto: udp', 'proto: sctp'), 'x.yaml'),
    /\/worms\/0\/proto/,
  );
});

test('slammer-1434 doubles every 8.5 s and infects 90 % within 10 minutes', () => {
  const s = loadScenario('slammer-1434');
  const sim = new Simulation(quiet(s.config, 100));
  for (const _ of sim.run());
  const series = sim.truth().infected.slammer;
  const onset = s.config.worms![0].onset;
  const when = (n: number) => series.find((x) => x.infected >= n)!.t;
  // Between 1,000 and 16,000 infected (before saturation bends the curve) there are four doublings;
  // the logistic factor (1 - I/N) slows the last one by up to 20 %, so allow 8.5 s x 4 x (1 +- 0.15).
  const doublings = (when(16_000) - when(1000)) / 1000 / 4;
  assert.ok(doublings > 8.5 * 0.9 && doublings < 8.5 * 1.25, `${doublings.toFixed(2)} s per doubling`);
  assert.ok(when(0.9 * 75_000) - onset < 10 * 60_000 + 60_000, 'about 90 % in 10 minutes');
});

test('codered-80 doubles about every 37 minutes', () => {
  const s = loadScenario('codered-80');
  const sim = new Simulation(quiet(s.config, 100));
  for (const _ of sim.run());
  const series = sim.truth().infected.codered;
  const when = (n: number) => series.find((x) => x.infected >= n)!.t;
  const minutes = (when(32_000) - when(1000)) / 60_000 / 5;
  assert.ok(minutes > 37 * 0.9 && minutes < 37 * 1.25, `${minutes.toFixed(1)} min per doubling`);
  assert.ok(series.at(-1)!.infected > 0.99 * 359_000);
});

test('sagevo-2967: about 70 infected who never replicate, scans in waves seen by more sensors each day', () => {
  const s = loadScenario('sagevo-2967');
  const sim = new Simulation(quiet(s.config, 2000, 16));
  const sensorsByDay: Set<number>[] = Array.from({ length: 7 }, () => new Set());
  const windows = s.config.worms![0].scanWindows!;
  for (const batch of sim.run())
    for (let i = 0; i < batch.events.length; i++) {
      const t = batch.events.time[i];
      assert.ok(
        windows.some(([a, b]) => t >= a && t < b),
        'only inside a wave',
      );
      sensorsByDay[Math.floor((t - s.config.start) / (24 * HOUR))].add(batch.sensor[i]);
    }
  const truth = sim.truth();
  assert.ok(truth.infected.sagevo.every((x) => x.infected === 70 || x.t <= s.config.worms![0].onset));
  const seen = sensorsByDay.map((d) => d.size);
  assert.equal(seen[0], 0);
  assert.ok(seen[1] > 0);
  // Each wave is a fresh sweep from 0.0.0.0 that lasts longer than the one before: it reaches higher.
  for (let d = 2; d < 7; d++) assert.ok(seen[d] > seen[d - 1], `sensors a day: ${seen}`);
});

test('serverprotect-5168: ~300 sources reach ~1,000 targets in the peak hour; one honeypot captures the payload', () => {
  const s = loadScenario('serverprotect-5168');
  const sim = new Simulation(quiet(s.config));
  // The day-before scanning, then the spike the reports describe.
  const [before, c] = s.config.campaigns!;
  const peak = c.start + c.rampMs;
  const targets = new Set<number>();
  const sources = new Set<number>();
  const payloads: { sha: string; honeypot: boolean }[] = [];
  for (const batch of sim.run())
    for (let i = 0; i < batch.events.length; i++) {
      const e = batch.events;
      assert.ok(e.time[i] >= before.start && e.time[i] < c.end);
      if (e.time[i] >= c.start) sources.add(e.src[4 * i]);
      if (e.time[i] >= peak - HOUR / 2 && e.time[i] < peak + HOUR / 2) targets.add(e.dst[4 * i]);
      const sha = e.payloadSha256[i];
      if (sha) payloads.push({ sha, honeypot: sim.sensors.kinds[batch.sensor[i]] === 1 });
    }
  assert.ok(targets.size > 700 && targets.size < 1500, `${targets.size} targets in the peak hour`);
  assert.ok(sources.size > 280 && sources.size <= 300, `${sources.size} sources`);
  const payload = s.file.campaigns![1].payload!;
  assert.match(payload, /203\.0\.113\.77/);
  assert.deepEqual(payloads, [{ sha: createHash('sha256').update(payload).digest('hex'), honeypot: true }]);
});
