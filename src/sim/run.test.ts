// Tests for the accelerated runner and the background it mixes in: determinism, time order, ground truth, noise laws.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { concatColumns, allocColumns, Action, Origin, type EventColumns } from '../core/event.ts';
import { IPV4_SPACE } from './internet.ts';
import { RESEARCH_SCANNERS, diurnalFactor, REGIONS } from './noise.ts';
import { Simulation, writeGroundTruth, type SimulationConfig } from './run.ts';

const T0 = Date.UTC(2007, 7, 23);
const HOUR = 3_600_000;

function everything(seed: number): SimulationConfig {
  return {
    seed,
    start: T0,
    durationMs: 2 * HOUR,
    stepMs: 60_000,
    sensors: { sensors: 300, coverage: (300 * 16) / IPV4_SPACE, honeypotShare: 0.05 },
    background: { perAddressHour: 5 },
    worms: [
      {
        name: 'worm',
        port: 2967,
        proto: 'tcp',
        strategy: { kind: 'sequential', start: 'bottom', threads: 512, wrap: true },
        scanRate: 200,
        population: { hosts: 5000 },
        onset: T0 + HOUR / 2,
        initial: 3,
        tool: 'windows-xp',
      },
    ],
    campaigns: [
      {
        name: 'probe-5168',
        port: 5168,
        proto: 'tcp',
        sources: 300,
        peakRate: 50_000,
        start: T0 + HOUR / 4,
        rampMs: HOUR / 4,
        halfLifeMs: HOUR / 4,
        end: T0 + 2 * HOUR,
        tool: 'linux',
        payloadSha256: 'ab'.repeat(32),
      },
    ],
    research: RESEARCH_SCANNERS(T0 - HOUR),
    network: { loss: 0.01, outagesPerSensorDay: 2, clockSkewSdMs: 2000 },
  };
}

function collect(sim: Simulation): { events: EventColumns; sensor: number[] } {
  const batches = [...sim.run()];
  // Concatenating in halves keeps the copying at n log n.
  const join = (from: number, to: number): EventColumns =>
    to - from === 0
      ? allocColumns(0)
      : to - from === 1
        ? batches[from].events
        : concatColumns(join(from, (from + to) >> 1), join((from + to) >> 1, to));
  return { events: join(0, batches.length), sensor: batches.flatMap((b) => Array.from(b.sensor)) };
}

test('the same seed gives the same events; another seed other events', () => {
  const a = collect(new Simulation(everything(1)));
  const b = collect(new Simulation(everything(1)));
  const c = collect(new Simulation(everything(2)));
  assert.ok(a.events.length > 10_000, `${a.events.length} events`);
  assert.deepEqual(a.events, b.events);
  assert.deepEqual(a.sensor, b.sensor);
  assert.notDeepEqual(a.events.time, c.events.time);
});

test('batches come one per step, in time order, with well-formed events', () => {
  const sim = new Simulation({ ...everything(3), network: {} });
  let last = -Infinity;
  let steps = 0;
  let ports = new Set<number>();
  for (const batch of sim.run()) {
    steps++;
    const e = batch.events;
    for (let i = 0; i < e.length; i++) {
      assert.ok(e.time[i] >= last && e.time[i] < batch.time);
      last = e.time[i];
      assert.equal(e.src[4 * i + 1], 0xffff);
      assert.equal(sim.sensors.sensorAt(e.dst[4 * i]), batch.sensor[i]);
      const honeypot = sim.sensors.kinds[batch.sensor[i]] === 1;
      assert.equal(e.action[i], honeypot ? Action.honeypot : Action.blocked);
      assert.equal(e.origin[i], honeypot ? Origin.honeypot : Origin.firewall);
      assert.ok(e.ttl[i] > 0 && e.ttl[i] < 256);
    }
    ports = new Set([...ports, ...e.dstPort]);
  }
  assert.equal(steps, 120);
  for (const p of [2967, 5168, 23, 443]) assert.ok(ports.has(p), `port ${p}`);
});

test('ground truth records onset, infected population over time and strategies, and is written as JSON', () => {
  const sim = new Simulation(everything(4));
  const { events } = collect(sim);
  const truth = sim.truth();
  assert.equal(truth.events, events.length);
  const worm = truth.scanners.find((s) => s.kind === 'worm')!;
  assert.equal(worm.onset, T0 + HOUR / 2);
  assert.match(worm.strategy!, /sequential from bottom, 512 threads/);
  assert.ok(worm.events > 0, 'sensors low in the space saw the worm');
  const series = truth.infected.worm;
  assert.ok(series.length >= 100);
  assert.equal(series.at(-1)!.t, T0 + 2 * HOUR);
  for (let i = 1; i < series.length; i++) assert.ok(series[i].t > series[i - 1].t);
  assert.ok(series.every((s) => s.infected >= 3 || s.t <= T0 + HOUR / 2));
  const campaign = truth.scanners.find((s) => s.name === 'probe-5168')!;
  assert.equal(campaign.detail!.honeypotCompromise, true);
  assert.equal(events.payloadSha256.filter((p) => p === 'ab'.repeat(32)).length, 1);
  assert.equal(truth.scanners.filter((s) => s.kind === 'research').length, 3);
  assert.ok(truth.outages.length > 0);
  const dir = mkdtempSync(join(tmpdir(), 'portent-sim-'));
  try {
    writeGroundTruth(join(dir, 'truth.json'), truth);
    assert.deepEqual(
      JSON.parse(readFileSync(join(dir, 'truth.json'), 'utf8')),
      JSON.parse(JSON.stringify(truth)),
    );
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test("background radiation arrives at its table rate and follows the sources' local time", () => {
  const sim = new Simulation({
    seed: 5,
    start: T0,
    durationMs: 24 * HOUR,
    stepMs: HOUR,
    sensors: { sensors: 100, coverage: (100 * 100) / IPV4_SPACE },
    background: { perAddressHour: 10 },
    misconfig: false,
  });
  const perHour: number[] = [];
  for (const batch of sim.run()) perHour.push(batch.events.length);
  const expected = perHour.map(
    (_, h) => sim.background!.ratePerAddressHour(T0 + (h + 0.5) * HOUR) * sim.sensors.monitored,
  );
  const total = perHour.reduce((s, x) => s + x, 0);
  const expectedTotal = expected.reduce((s, x) => s + x, 0);
  // Poisson: total sd is sqrt(240,000) = 490, 0.2 %; 1 % is five of them.
  assert.ok(Math.abs(total / expectedTotal - 1) < 0.01, `${total} vs ${expectedTotal}`);
  assert.ok(
    Math.abs(expectedTotal / (10 * 24 * sim.sensors.monitored) - 1) < 0.01,
    'the diurnal cycle averages to 1',
  );
  for (let h = 0; h < 24; h++) assert.ok(Math.abs(perHour[h] - expected[h]) < 5 * Math.sqrt(expected[h]));
  assert.ok(Math.max(...expected) / Math.min(...expected) > 1.1, 'a visible daily cycle');
  assert.equal(
    diurnalFactor(0, Date.UTC(2007, 0, 1, 12)),
    1 + REGIONS[0].diurnal,
    'east Asia peaks at 20:00 local',
  );
});

test('a research scanner probes every monitored address once per sweep', () => {
  const sim = new Simulation({
    seed: 6,
    start: T0,
    durationMs: 24 * HOUR,
    stepMs: HOUR,
    sensors: { sensors: 50, coverage: (50 * 32) / IPV4_SPACE },
    background: false,
    misconfig: false,
    research: [
      {
        name: 'census',
        firstSource: 0x0b000000,
        sources: 8,
        ports: [80],
        sweepHours: 12,
        start: T0,
        tool: 'zmap',
      },
    ],
  });
  const sweeps = [new Map<number, number>(), new Map<number, number>()];
  for (const batch of sim.run())
    for (let i = 0; i < batch.events.length; i++) {
      const m = sweeps[batch.events.time[i] < T0 + 12 * HOUR ? 0 : 1];
      m.set(batch.events.dst[4 * i], (m.get(batch.events.dst[4 * i]) ?? 0) + 1);
      assert.equal(batch.events.ipId[i], 54321, 'ZMap fingerprint');
    }
  for (const m of sweeps) {
    assert.equal(m.size, sim.sensors.monitored);
    assert.ok([...m.values()].every((n) => n === 1));
  }
});

test('packet loss thins events, outages silence a sensor, skew shifts its clock', () => {
  const base: SimulationConfig = {
    seed: 7,
    start: T0,
    durationMs: 6 * HOUR,
    stepMs: 10 * 60_000,
    sensors: { sensors: 100, coverage: (100 * 128) / IPV4_SPACE },
    background: { perAddressHour: 2 },
    misconfig: false,
  };
  const count = (cfg: SimulationConfig) => collect(new Simulation(cfg)).events.length;
  const clean = count(base);
  const lossy = count({ ...base, network: { loss: 0.2 } });
  assert.ok(Math.abs(lossy / clean - 0.8) < 0.02, `${lossy} / ${clean}`);
  const step = base.stepMs!;
  const withOutages = new Simulation({
    ...base,
    network: { outagesPerSensorDay: 4, outageMeanMs: 3 * HOUR },
  });
  const { events, sensor } = collect(withOutages);
  // A sensor's state changes at step boundaries: silent from the first step starting after `from`
  // to the first step starting after `to`.
  const outages = withOutages.truth().outages;
  assert.ok(outages.length > 10);
  const timesBySensor = new Map<number, number[]>();
  for (let i = 0; i < events.length; i++) {
    if (!timesBySensor.has(sensor[i])) timesBySensor.set(sensor[i], []);
    timesBySensor.get(sensor[i])!.push(events.time[i]);
  }
  let silenced = 0;
  for (const [s, from, to] of outages)
    for (const t of timesBySensor.get(s) ?? [])
      if (t >= Math.ceil(from / step) * step && t < Math.ceil(to / step) * step) silenced++;
  assert.equal(silenced, 0);
  assert.ok(events.length < 0.95 * clean, 'outages cost events');
  const skewed = new Simulation({ ...base, network: { clockSkewSdMs: 60_000 } });
  const got = collect(skewed);
  const plain = collect(new Simulation(base));
  const skew = skewed.truth().clockSkewMs;
  assert.ok(skew.some((s) => Math.abs(s) > 10_000));
  for (let i = 0; i < 1000; i++) assert.equal(got.events.time[i], plain.events.time[i] + skew[got.sensor[i]]);
});
