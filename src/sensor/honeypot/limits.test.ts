// Token buckets and the bounded source table, timed by a fake clock.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../../core/clock.ts';
import { SourceTable, TokenBucket } from './limits.ts';

test('a token bucket gives its burst at once, then its rate', () => {
  const clock = new FakeClock();
  const b = new TokenBucket(2, 3, clock.now());
  assert.deepEqual(
    [b.take(clock.now()), b.take(clock.now()), b.take(clock.now()), b.take(clock.now())],
    [true, true, true, false],
  );
  clock.advance(499);
  assert.equal(b.take(clock.now()), false);
  clock.advance(1);
  assert.equal(b.take(clock.now()), true);
  assert.equal(b.isFull(clock.now()), false);
  clock.advance(10_000);
  assert.equal(b.isFull(clock.now()), true, 'refills to the burst and no further');
  assert.deepEqual(
    [b.take(clock.now()), b.take(clock.now()), b.take(clock.now()), b.take(clock.now())],
    [true, true, true, false],
  );
});

test('a clock stepping back does not drain or refill a bucket', () => {
  const clock = new FakeClock();
  const b = new TokenBucket(1, 1, clock.now());
  assert.equal(b.take(clock.now()), true);
  clock.advance(-60_000);
  assert.equal(b.take(clock.now()), false);
  clock.advance(60_000 + 999);
  assert.equal(b.take(clock.now()), false, 'time counts from the latest instant seen');
  clock.advance(1);
  assert.equal(b.take(clock.now()), true);
});

test('the source table is bounded, and sweeping forgets only idle, refilled sources', () => {
  const clock = new FakeClock();
  const table = new SourceTable({
    maxSources: 3,
    attemptsPerS: 1,
    attemptBurst: 2,
    repliesPerS: 1,
    replyBurst: 1,
  });
  const a = table.get('a', clock.now())!;
  const b = table.get('b', clock.now())!;
  table.get('c', clock.now());
  assert.equal(table.get('d', clock.now()), null, 'full: a new source is refused');
  assert.equal(table.get('a', clock.now()), a, 'known sources are still served');
  a.attempts.take(clock.now());
  b.open = 1;
  table.sweep(clock.now());
  assert.equal(table.size, 2, 'c was idle and full; a is still refilling; b has a connection open');
  clock.advance(1000);
  table.sweep(clock.now());
  assert.equal(table.size, 1);
  assert.ok(table.get('d', clock.now()) !== null);
});
