// Tests for the simulator's random samplers: exact laws checked by moments, the scan-order bijection by round trips.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AliasTable, Rng, permute32, unpermute32 } from './random.ts';

/** Mean and variance of `draws` samples. */
function moments(draw: () => number, draws: number): { mean: number; variance: number } {
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < draws; i++) {
    const x = draw();
    sum += x;
    sq += x * x;
  }
  const mean = sum / draws;
  return { mean, variance: sq / draws - mean * mean };
}

test('binomial draws have the mean n p and variance n p (1 - p), small and huge n', () => {
  const r = new Rng(1);
  const draws = 20_000;
  for (const [n, p] of [
    [10, 0.3],
    [1000, 0.02],
    [1e6, 0.4],
    [3e8, 1e-5],
    [2 ** 32, 2 ** -20],
  ]) {
    const { mean, variance } = moments(() => r.binomial(n, p), draws);
    const v = n * p * (1 - p);
    // The sample mean's standard error is sqrt(v / draws): five of them is a false failure once in 10^6.
    assert.ok(Math.abs(mean - n * p) < 5 * Math.sqrt(v / draws), `n=${n} p=${p}: mean ${mean} vs ${n * p}`);
    // The sample variance's relative standard error is about sqrt(2 / draws) = 1 %; allow 6 %.
    assert.ok(Math.abs(variance / v - 1) < 0.06, `n=${n} p=${p}: variance ${variance} vs ${v}`);
  }
});

test('binomial draws stay within 0..n and are whole', () => {
  const r = new Rng(2);
  for (let i = 0; i < 2000; i++) {
    const n = Math.floor(r.next() * 1e7);
    const k = r.binomial(n, r.next());
    assert.ok(Number.isInteger(k) && k >= 0 && k <= n);
  }
});

test('poisson draws have mean and variance equal to the rate', () => {
  const r = new Rng(3);
  const draws = 20_000;
  for (const lambda of [0.5, 7, 30, 1000, 1e7]) {
    const { mean, variance } = moments(() => r.poisson(lambda), draws);
    assert.ok(Math.abs(mean - lambda) < 5 * Math.sqrt(lambda / draws), `lambda=${lambda}: mean ${mean}`);
    assert.ok(Math.abs(variance / lambda - 1) < 0.06, `lambda=${lambda}: variance ${variance}`);
  }
});

test('the same seed gives the same stream, another seed another', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const c = new Rng(43);
  const xs = Array.from({ length: 100 }, () => a.u32());
  assert.deepEqual(
    xs,
    Array.from({ length: 100 }, () => b.u32()),
  );
  assert.notDeepEqual(
    xs,
    Array.from({ length: 100 }, () => c.u32()),
  );
});

test('unpermute32 inverts permute32 for any key', () => {
  const r = new Rng(4);
  for (let i = 0; i < 100_000; i++) {
    const x = r.u32();
    const key = r.u32();
    assert.equal(unpermute32(permute32(x, key), key), x);
  }
});

test('an alias table draws each outcome in proportion to its weight', () => {
  const weights = [5, 0, 1, 3, 0.5, 10];
  const total = weights.reduce((s, w) => s + w, 0);
  const table = new AliasTable(weights);
  const r = new Rng(5);
  const counts = new Array<number>(weights.length).fill(0);
  const draws = 200_000;
  for (let i = 0; i < draws; i++) counts[table.draw(r)]++;
  weights.forEach((w, i) => {
    const p = w / total;
    // Binomial standard error sqrt(p (1 - p) / draws); five of them, and zero weight never drawn.
    assert.ok(
      Math.abs(counts[i] / draws - p) <= 5 * Math.sqrt((p * (1 - p)) / draws),
      `outcome ${i}: ${counts[i]}`,
    );
  });
});
