// Tests for the simulated Internet: clustered populations and the sensor deployment's coverage and lookups.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IPV4_SPACE, Population, SensorDeployment, SensorKind } from './internet.ts';
import { Rng } from './random.ts';

test('a generated deployment monitors exactly the sum of its blocks, near the coverage asked for', () => {
  const d = SensorDeployment.generate({
    sensors: 2000,
    coverage: (2000 * 40) / IPV4_SPACE,
    honeypotShare: 0.1,
    seed: 7,
  });
  assert.equal(d.count, 2000);
  const sum = Array.from(d.sizes).reduce((s, x) => s + x, 0);
  assert.equal(d.monitored, sum);
  assert.equal(d.coverage, sum / IPV4_SPACE);
  // Doubling stops only when no block can grow without overshooting: the target is met exactly here.
  assert.equal(d.monitored, 80_000);
  assert.equal(d.kinds.filter((k) => k === SensorKind.honeypot).length, 200);
  for (let i = 0; i < d.count; i++) {
    assert.ok(d.sizes[i] >= 1 && d.sizes[i] <= 256 && (d.sizes[i] & (d.sizes[i] - 1)) === 0);
    assert.equal(d.starts[i] % d.sizes[i], 0, 'blocks are aligned');
    if (d.kinds[i] === SensorKind.honeypot) assert.equal(d.sizes[i], 1);
  }
  // Spread: no two sensors share a /24, and they span many /8s.
  assert.equal(new Set(Array.from(d.starts, (s) => s >>> 8)).size, 2000);
  assert.ok(new Set(Array.from(d.starts, (s) => s >>> 24)).size > 150);
});

test('coverage of a sensor set matches its address count, address by address', () => {
  // Every address of one /16 holding 40 blocks of every size, checked one by one.
  const r = new Rng(9);
  const base = 0x0a140000;
  const blocks = Array.from({ length: 40 }, (_, i) => {
    const size = 2 ** (i % 9);
    return { start: base + i * 1024 + r.int(1024 / size) * size, size, kind: SensorKind.firewall };
  });
  const d = new SensorDeployment(blocks);
  let seen = 0;
  for (let a = base; a < base + 65536; a++) {
    if ((a & 0xfff) === 0) assert.equal(d.monitoredBelow(a), seen);
    const s = d.sensorAt(a);
    if (s >= 0) {
      seen++;
      assert.ok(a >= d.starts[s] && a < d.starts[s] + d.sizes[s]);
    }
  }
  assert.equal(seen, d.monitored);
  assert.equal(d.monitoredInRange(base, base + 65536), seen);
  assert.equal(d.monitoredInRange(0, IPV4_SPACE), seen);
  assert.equal(d.sensorAt(base - 1), -1);
  assert.equal(d.sensorAt(0xffffffff), -1);
  // Ranks map one to one onto monitored addresses, in address order.
  let previous = -1;
  for (let rank = 0; rank < d.monitored; rank++) {
    const s = d.sensorOfRank(rank);
    const a = d.addressOfRank(rank, s);
    assert.equal(d.sensorAt(a), s);
    assert.ok(a > previous);
    previous = a;
  }
});

test('overlapping sensor blocks are refused', () => {
  assert.throws(
    () =>
      new SensorDeployment([
        { start: 256, size: 256, kind: 0 },
        { start: 300, size: 1, kind: 0 },
      ]),
    /overlap/,
  );
});

test('a population has exactly the hosts asked for, distinct, sorted and clustered', () => {
  const p = Population.generate({ hosts: 50_000, networks: 300, seed: 3 });
  assert.equal(p.size, 50_000);
  for (let i = 1; i < p.size; i++) assert.ok(p.addrs[i] > p.addrs[i - 1]);
  const slash16 = new Set(Array.from(p.addrs, (a) => a >>> 16));
  const slash24 = new Set(Array.from(p.addrs, (a) => a >>> 8));
  assert.equal(slash16.size, 300);
  // Clustered: uniform placement would put nearly every host in its own /24.
  assert.ok(slash24.size < 15_000, `${slash24.size} /24s`);
  assert.equal(p.indexOf(p.addrs[1234]), 1234);
  assert.equal(p.countInRange(0, IPV4_SPACE), 50_000);
  assert.equal(p.countInRange(p.addrs[10], p.addrs[20]), 10);
  // Zipf: the biggest network holds far more than the mean.
  const perNet = new Map<number, number>();
  for (const a of p.addrs) perNet.set(a >>> 16, (perNet.get(a >>> 16) ?? 0) + 1);
  assert.ok(Math.max(...perNet.values()) > 10 * (50_000 / 300));
});
