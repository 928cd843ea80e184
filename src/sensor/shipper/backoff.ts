// Waiting between attempts: exponential backoff with full jitter, and sleeping as an injectable dependency.

import { setTimeout as delay } from 'node:timers/promises';

/**
 * Waits `ms` milliseconds, or less if `signal` aborts; never rejects. Injected so tests and replays wait
 * on a FakeClock (advance it and return) instead of the wall clock.
 */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const realSleep: Sleep = (ms, signal) => delay(ms, undefined, { signal }).catch(() => {});

/**
 * Full jitter: a delay drawn uniformly from [0, min(maxMs, baseMs · 2^attempt)). Spreading retries over
 * the whole window keeps a fleet of sensors that lost the collector at once from returning in lockstep.
 */
export function fullJitter(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const window = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 52));
  return Math.floor(random() * window);
}
