// Count statistics against reference values (mpmath, 40 digits) and their monotonicity, range and robustness.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  negBinomialUpperTail,
  poissonUpperTail,
  regularizedGammaP,
  robustCountStats,
  robustOverdispersion,
  seasonalBaseline,
  seasonSlot,
} from './counts.ts';

function close(actual: number, expected: number, rel: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= rel * Math.abs(expected),
    `${what}: ${actual} is not within ${rel} of ${expected}`,
  );
}

// P(X >= k | Poisson mu) = gammainc(k, 0, mu, regularized=True) with mpmath at 40 digits.
const POISSON: [k: number, mu: number, tail: number][] = [
  [5, 3, 0.18473675547622792],
  [20, 10, 0.0034543419758568078],
  [60, 10, 6.521903327818374e-27],
  [150, 100, 1.88421046603867e-6],
  [1_000_000, 1e6, 0.5001329807608725],
  [1_005_000, 1e6, 2.934034048031641e-7],
  [1, 0.001, 0.0009995001666250085],
];

// P(X >= k) for a negative binomial with mean mu, Var = mu + mu²/r: betainc(k, r, 0, mu/(mu+r)).
const NEG_BINOMIAL: [k: number, mu: number, r: number, tail: number][] = [
  [5, 3, 2, 0.23328],
  [30, 10, 5, 0.003919433658214017],
  [100, 10, 1, 7.2565715901482e-5],
  [200, 100, 20, 0.000472447886658764],
  [1000, 50, 0.5, 8.178444136147705e-6],
];

describe('regularizedGammaP', () => {
  it('matches reference values on both sides of x = a + 1, and for non-integer a', () => {
    const reference: [a: number, x: number, p: number][] = [
      [2.5, 1.7, 0.36143007689620493],
      [5, 20, 0.9999830552560699],
      [0.5, 0.01, 0.11246291601828488],
      [1e4, 1e4, 0.5013298083399552],
      [30, 45, 0.9926628007022035],
    ];
    for (const [a, x, p] of reference) close(regularizedGammaP(a, x), p, 1e-12, `P(${a}, ${x})`);
  });
});

describe('poissonUpperTail', () => {
  it('matches reference values, large mu included', () => {
    for (const [k, mu, tail] of POISSON) close(poissonUpperTail(k, mu), tail, 1e-9, `P(X>=${k}|${mu})`);
  });

  it('is 1 at k <= 0, 0 above zero for mu = 0, and NaN for a negative mean', () => {
    assert.equal(poissonUpperTail(0, 5), 1);
    assert.equal(poissonUpperTail(-3, 5), 1);
    assert.equal(poissonUpperTail(1, 0), 0);
    assert.ok(Number.isNaN(poissonUpperTail(1, -1)));
  });

  it('does not underflow to 0 where the tail is representable (mu = 1e6, 20 sd out)', () => {
    const tail = poissonUpperTail(1_020_000, 1e6);
    assert.ok(tail > 0 && tail < 1e-80, String(tail));
    assert.ok(Number.isFinite(Math.log(tail)));
  });

  it('stays in [0, 1] and falls as k rises, rises as mu rises', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2_000_000 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.double({ min: 0.01, max: 1e6, noNaN: true }),
        (k, step, mu) => {
          const here = poissonUpperTail(k, mu);
          assert.ok(here >= 0 && here <= 1);
          assert.ok(poissonUpperTail(k + step, mu) <= here);
          assert.ok(poissonUpperTail(k, mu * 1.5) >= here);
        },
      ),
    );
  });
});

describe('negBinomialUpperTail', () => {
  it('matches reference values', () => {
    for (const [k, mu, r, tail] of NEG_BINOMIAL)
      close(negBinomialUpperTail(k, mu, r), tail, 1e-9, `NB P(X>=${k}|${mu},${r})`);
  });

  it('tends to the Poisson tail as r grows, and is Poisson at r = Infinity', () => {
    close(negBinomialUpperTail(150, 100, 1e9), poissonUpperTail(150, 100), 1e-4, 'r = 1e9');
    assert.equal(negBinomialUpperTail(150, 100, Infinity), poissonUpperTail(150, 100));
  });

  it('is finite and positive for mu = 1e6', () => {
    const tail = negBinomialUpperTail(1_500_000, 1e6, 50);
    assert.ok(tail > 0 && tail < 1e-3, String(tail));
  });

  it('stays in [0, 1], falls with k, and has a heavier tail than Poisson above the mean', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.double({ min: 0.01, max: 1e5, noNaN: true }),
        fc.double({ min: 0.1, max: 1e4, noNaN: true }),
        (k, step, mu, r) => {
          const here = negBinomialUpperTail(k, mu, r);
          assert.ok(here >= 0 && here <= 1);
          assert.ok(negBinomialUpperTail(k + step, mu, r) <= here + 1e-12);
          if (k > 2 * mu + 10) assert.ok(here >= poissonUpperTail(k, mu) - 1e-12);
        },
      ),
    );
  });
});

describe('robustCountStats', () => {
  it('finds no overdispersion in Poisson-like counts and ignores a huge outlier', () => {
    const counts = [98, 103, 95, 101, 110, 92, 99, 104, 97, 100, 106, 94, 102, 96, 105, 100];
    const clean = robustCountStats(counts);
    const spiked = robustCountStats([...counts, 5000]);
    assert.ok(Math.abs(clean.mean - 100) < 2);
    assert.ok(Math.abs(spiked.mean - clean.mean) < 1e-9);
    assert.equal(spiked.used, counts.length);
    assert.equal(robustOverdispersion([...counts, 5000]), clean.r);
  });

  it('sees overdispersion where the variance is well above the mean', () => {
    const counts = [20, 180, 60, 140, 90, 30, 160, 110, 50, 120, 70, 150, 40, 100, 130, 80];
    const { mean, r } = robustCountStats(counts);
    const variance = mean + (mean * mean) / r;
    assert.ok(r > 1 && r < 10, String(r));
    assert.ok(variance > 1500 && variance < 3000, String(variance));
  });

  it('keeps the occasional 1 of a sparse series (a MAD of 0 rejects nothing ordinary)', () => {
    const sparse = [...Array(95).fill(0), 1, 1, 1, 1, 1];
    assert.equal(robustCountStats(sparse).mean, 0.05);
  });

  it('lets outliers move the mean less than the plain mean moves', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 40, max: 60 }), { minLength: 10, maxLength: 50 }),
        fc.integer({ min: 10_000, max: 1_000_000 }),
        (counts, outlier) => {
          const robust = robustCountStats([...counts, outlier]).mean;
          assert.ok(robust >= 40 && robust <= 60);
        },
      ),
    );
  });
});

describe('seasonalBaseline', () => {
  const hour = 3_600_000;
  // Two weeks of hourly counts: 10 at night (00-07 UTC), 200 during the day.
  const history = Array.from({ length: 14 * 24 }, (_, i) => ({
    atMs: i * hour,
    value: (i % 24 < 8 ? 10 : 200) + (i % 3),
  }));

  it('expects the slot level by hour of day, not the daily average', () => {
    const night = seasonalBaseline(history, 14 * 24 * hour + 3 * hour, 'day');
    const day = seasonalBaseline(history, 14 * 24 * hour + 15 * hour, 'day');
    assert.ok(night.seasonal && day.seasonal);
    assert.ok(night.mean > 9 && night.mean < 13, String(night.mean));
    assert.ok(day.mean > 199 && day.mean < 203, String(day.mean));
  });

  it('falls back to the whole history while the slot is thin', () => {
    const short = history.slice(0, 48);
    const b = seasonalBaseline(short, 48 * hour + 3 * hour, 'week');
    assert.equal(b.seasonal, false);
    assert.equal(b.used, 48);
  });

  it('numbers slots by UTC hour of day and hour of week', () => {
    const at = Date.UTC(2026, 10, 23, 17, 30); // a Monday
    assert.equal(seasonSlot(at, 'day'), 17);
    assert.equal(seasonSlot(at, 'week'), 24 + 17);
    assert.equal(seasonSlot(at, 'none'), 0);
  });
});
