// Tests for worm dynamics against theory: logistic growth, ordered sequential sweeps, the C2 gate, patching.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBuffer } from './events.ts';
import { IPV4_SPACE, Population, SensorDeployment, SensorKind } from './internet.ts';
import { Worm, type StepContext, type WormConfig } from './worm.ts';

const T0 = Date.UTC(2006, 11, 18);

function context(sensors: SensorDeployment): StepContext {
  return { sensors, buffer: new EventBuffer(), up: new Uint8Array(sensors.count).fill(1), loss: 0 };
}

/** Steps `worm` from T0 for `ms`, returning the infected count at each step's end. */
function run(worm: Worm, ctx: StepContext, ms: number, stepMs: number): number[] {
  const out: number[] = [];
  for (let t = T0; t < T0 + ms; t += stepMs) {
    worm.step(t, t + stepMs, ctx);
    out.push(worm.infected);
    ctx.buffer.length = 0;
  }
  return out;
}

test("a random-scanning worm's infected count follows the logistic curve for its parameters", () => {
  const N = 131_072;
  const rate = 4000;
  const I0 = 1000;
  // Contact rate: each probe hits one of the N hosts with probability N / 2^32.
  const beta = (rate * N) / IPV4_SPACE; // 0.122 per second: doubling every 5.7 s
  const sensors = SensorDeployment.generate({ sensors: 200, coverage: (200 * 64) / IPV4_SPACE, seed: 1 });
  const worm = new Worm(
    {
      name: 'slammer-like',
      port: 1434,
      proto: 'udp',
      strategy: { kind: 'random' },
      scanRate: rate,
      population: { hosts: N },
      onset: T0,
      initial: I0,
      tool: 'slammer',
    },
    5,
  );
  const stepMs = 100;
  const infected = run(worm, context(sensors), 120_000, stepMs);
  const logistic = (t: number) => N / (1 + (N / I0 - 1) * Math.exp(-beta * t));
  // Where the curve is from 5 % to 95 %. Tolerance: starting from I0 = 1000 the random phase shifts
  // the curve in time by about 1 / (beta sqrt(I0)) = 0.26 s (sd), which at the steepest slope
  // (beta N / 4) is 0.8 % of N; stepping delays new hosts by under one step (0.1 s, another 0.3 %).
  // 3 % of N is about three and a half standard deviations.
  for (const share of [0.05, 0.25, 0.5, 0.75, 0.95]) {
    const t = Math.log(((N / I0 - 1) * share) / (1 - share)) / beta;
    const simulated = infected[Math.round((t * 1000) / stepMs) - 1];
    assert.ok(
      Math.abs(simulated - logistic(t)) < 0.03 * N,
      `at ${t.toFixed(1)} s: ${simulated} vs ${logistic(t).toFixed(0)}`,
    );
  }
  assert.ok(infected.at(-1)! > 0.999 * N);
});

test("a sequential scanner's targets are ordered, at the time its cursor passes them", () => {
  // Sensors low in the space and a few vulnerable hosts between them.
  const blocks = Array.from({ length: 30 }, (_, i) => ({
    start: 0x01000000 + i * 4096,
    size: 2 ** (i % 6),
    kind: SensorKind.firewall,
  }));
  const sensors = new SensorDeployment(blocks);
  const vulnerable = Uint32Array.from([0x01000800, 0x01004800, 0x01010800, 0x7f000001]);
  const worm = new Worm(
    {
      name: 'sagevo-like',
      port: 2967,
      proto: 'tcp',
      strategy: { kind: 'sequential', start: 'bottom', threads: 512, wrap: false },
      scanRate: 10_000,
      population: new Population(vulnerable),
      onset: T0,
      initial: 1,
      tool: 'windows-xp',
    },
    3,
  );
  const ctx = context(sensors);
  const first = Array.from(vulnerable).findIndex((_, i) => worm.isInfected(i));
  const times: number[] = [];
  const targets: number[] = [];
  const sources = new Set<number>();
  for (let t = T0; t < T0 + 10_000; t += 1000) {
    worm.step(t, t + 1000, ctx);
    for (let i = 0; i < ctx.buffer.length; i++) {
      if (ctx.buffer.src[i] !== vulnerable[first]) continue;
      times.push(ctx.buffer.time[i]);
      targets.push(ctx.buffer.dst[i]);
      sources.add(ctx.buffer.src[i]);
    }
    ctx.buffer.length = 0;
  }
  // 5.12 M probes a second from 0.0.0.0: 10 s covers every sensor block from 1.0.0.0 to 1.1.d.0.
  assert.equal(targets.length, sensors.monitored);
  for (let i = 1; i < targets.length; i++) {
    assert.ok(targets[i] > targets[i - 1], 'targets rise');
    // 5.12 M probes/s is 0.2 us apart: below a double's resolution at 2006 epoch milliseconds, so >=.
    assert.ok(times[i] >= times[i - 1], 'and are probed in that order');
  }
  assert.ok(Math.abs(times[0] - (T0 + (targets[0] / 5_120_000) * 1000)) < 1e-6);
  // Every host below 1.2.0.0 was reached and infected; the one at 127.0.0.1 not yet.
  assert.deepEqual(
    Array.from(vulnerable, (_, i) => worm.isInfected(i)),
    [true, true, true, false].map((x, i) => x || i === first),
  );
});

function gated(down: [number, number][]): WormConfig {
  return {
    name: 'gated',
    port: 2967,
    proto: 'tcp',
    strategy: { kind: 'random' },
    scanRate: 5000,
    population: { hosts: 100_000, seed: 11 },
    onset: T0,
    initial: 50,
    c2Down: down,
    tool: 'windows-xp',
  };
}

test('while the command-and-control server is down the worm scans but does not replicate', () => {
  const sensors = SensorDeployment.generate({ sensors: 500, coverage: (500 * 128) / IPV4_SPACE, seed: 2 });
  const reopen = T0 + 60_000;
  const worm = new Worm(gated([[T0, reopen]]), 9);
  const ctx = context(sensors);
  const infected = run(worm, ctx, 120_000, 1000);
  // 50 hosts x 5,000 probes/s hit the 100,000 vulnerable hosts 5.8 times a second: the gate is what holds.
  assert.deepEqual(infected.slice(0, 60), new Array(60).fill(50));
  assert.ok(worm.sample(T0).seen > 0, 'sensors still see its scans');
  assert.ok(infected.at(-1)! > 100, `replication resumes when the server is back: ${infected.at(-1)}`);
  const open = new Worm(gated([]), 9);
  assert.ok(run(open, context(sensors), 60_000, 1000).at(-1)! > 100);
});

test('patching removes infected hosts and slows the spread', () => {
  const sensors = SensorDeployment.generate({ sensors: 100, seed: 2 });
  const base = gated([]);
  const unpatched = run(new Worm(base, 4), context(sensors), 300_000, 1000).at(-1)!;
  const patchedWorm = new Worm({ ...base, patchPerHour: 60 }, 4);
  const patched = run(patchedWorm, context(sensors), 300_000, 1000).at(-1)!;
  assert.ok(patched < unpatched / 2, `${patched} vs ${unpatched}`);
  assert.ok(patchedWorm.sample(0).removed > 0);
});

test("local preference concentrates probes in the infected host's own network", () => {
  // One sensor /24 inside the /16 of every vulnerable host, one far away: same coverage each.
  const hosts = Uint32Array.from({ length: 200 }, (_, i) => 0x0a0a0000 + 300 + i);
  const sensors = new SensorDeployment([
    { start: 0x0a0a8000, size: 256, kind: SensorKind.firewall },
    { start: 0x50000000, size: 256, kind: SensorKind.firewall },
  ]);
  const worm = new Worm(
    {
      name: 'local',
      port: 445,
      proto: 'tcp',
      strategy: { kind: 'local', prefer: [{ prefix: 16, p: 0.5 }] },
      scanRate: 100,
      population: new Population(hosts),
      onset: T0,
      initial: 200,
      tool: 'windows-xp',
    },
    1,
  );
  const ctx = context(sensors);
  worm.step(T0, T0 + 10_000, ctx);
  let near = 0;
  for (let i = 0; i < ctx.buffer.length; i++) if (ctx.buffer.dst[i] >>> 16 === 0x0a0a) near++;
  // Expected near: 200 x 100 x 10 x 0.5 x 256 / 65536 = 390; far: 200,000 x 0.5 x 256 / 2^32 = 0.006.
  assert.ok(near > 300 && near < 480, `${near} near`);
  assert.ok(ctx.buffer.length - near < 3);
});

test('a permutation scanner probes each monitored address once until it is sent elsewhere', () => {
  const sensors = SensorDeployment.generate({ sensors: 50, coverage: (50 * 256) / IPV4_SPACE, seed: 8 });
  const worm = new Worm(
    {
      name: 'perm',
      port: 80,
      proto: 'tcp',
      strategy: { kind: 'permutation' },
      scanRate: 2 ** 32 / 100,
      population: { hosts: 1, seed: 1 },
      onset: T0,
      initial: 1,
      tool: 'windows-2000',
    },
    6,
  );
  const ctx = context(sensors);
  worm.step(T0, T0 + 50_000, ctx);
  // Half the permutation in 50 s: about half the monitored addresses, none twice.
  const dsts = Array.from(ctx.buffer.dst.subarray(0, ctx.buffer.length));
  assert.equal(new Set(dsts).size, dsts.length);
  assert.ok(Math.abs(dsts.length / sensors.monitored - 0.5) < 0.05, `${dsts.length} of ${sensors.monitored}`);
  for (const d of dsts) assert.ok(sensors.sensorAt(d) >= 0);
});

test('a hit-list worm infects its list first', () => {
  const sensors = SensorDeployment.generate({ sensors: 10, seed: 2 });
  const worm = new Worm({ ...gated([]), initial: 1, hitList: 5000, scanRate: 1000 }, 7);
  worm.step(T0, T0 + 1000, context(sensors));
  // 1,000 probes in the first second, every one on a listed (vulnerable) host.
  assert.ok(worm.infected > 900, `${worm.infected}`);
});
