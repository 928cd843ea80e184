// The streaming seasonal baseline: learns hours of the day apart, and does not learn a surge it is told to resist.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeasonalBaseline } from './baseline.ts';

const MINUTE = 60_000;
const DAY = 1440;
const START = Date.UTC(2026, 0, 5);

test('each hour of the day has its own expectation once seen', () => {
  const b = new SeasonalBaseline(1);
  // Two days: 1 a minute, except 20 a minute from 12:00 to 13:00.
  for (let m = 0; m < 2 * DAY; m++) b.learn(START + m * MINUTE, [m % DAY >= 720 && m % DAY < 780 ? 20 : 1]);
  assert.ok(b.seasonal);
  assert.ok(Math.abs(b.expected(0, START + 2 * DAY * MINUTE + 730 * MINUTE).mean - 20) < 2);
  assert.ok(Math.abs(b.expected(0, START + 2 * DAY * MINUTE + 800 * MINUTE).mean - 1) < 0.5);
});

test('a surge learned slowly does not become the expectation, even in a young slot', () => {
  const b = new SeasonalBaseline(1);
  for (let m = 0; m < 3 * DAY; m++) b.learn(START + m * MINUTE, [2]);
  const hour = START + 3 * DAY * MINUTE;
  for (let m = 0; m < 60; m++) b.learn(hour + m * MINUTE, [10], true);
  const mean = b.expected(0, hour + 59 * MINUTE).mean;
  assert.ok(mean < 2.5, `the slot expects ${mean.toFixed(2)} after an hour of surge`);
});

test('quiet minutes decay the level in one step exactly as minute by minute', () => {
  const [a, b] = [new SeasonalBaseline(1, 100), new SeasonalBaseline(1, 100)];
  a.learn(START, [0.3]);
  b.learn(START, [0.3]);
  a.learnQuiet(START + 501 * MINUTE, 500, [0]);
  for (let m = 1; m <= 500; m++) b.learn(START + m * MINUTE, [0]);
  assert.ok(Math.abs(a.levelMean(0) - b.levelMean(0)) < 1e-12, `${a.levelMean(0)} vs ${b.levelMean(0)}`);
  assert.equal(a.n, b.n);
});
