// Reference scores (ISC trend, GreyNoise-style thresholds) on hand-computed histories, and their scaling and flagging properties.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DAY_MS,
  greyNoiseThresholds,
  iscTrend,
  quantile,
  referenceScores,
  type DailyCounts,
} from './reference-scores.ts';

const TODAY = Date.UTC(2026, 0, 31);

/** Days ending the day before TODAY, oldest first, from [sources, targets] pairs. */
function daysBefore(counts: readonly (readonly [number, number])[]): DailyCounts[] {
  return counts.map(([sources, targets], i) => ({
    day: TODAY - (counts.length - i) * DAY_MS,
    sources,
    targets,
  }));
}

function today(sources: number, targets = 1): DailyCounts {
  return { day: TODAY, sources, targets };
}

function close(actual: number, expected: number, rel = 1e-12): void {
  assert.ok(Math.abs(actual - expected) <= rel * Math.abs(expected), `${actual} is not ${expected}`);
}

describe('iscTrend', () => {
  it('is sqrt((S − s)²/s + (T − t)²/t) over the earlier days', () => {
    // s = 20, t = 5: (40 − 20)²/20 = 20, (10 − 5)²/5 = 5, sqrt(25) = 5.
    const history = daysBefore([
      [10, 5],
      [20, 5],
      [30, 5],
    ]);
    const result = iscTrend(history, today(40, 10));
    assert.deepEqual(result, {
      meanSources: 20,
      meanTargets: 5,
      sourcesRatio: 2,
      targetsRatio: 2,
      trend: 5,
      days: 3,
    });
  });

  it('uses only the 30 days before today, whatever else the history holds', () => {
    const history = [
      { day: TODAY - 31 * DAY_MS, sources: 1e6, targets: 1e6 },
      { day: TODAY - 30 * DAY_MS, sources: 4, targets: 2 },
      { day: TODAY - DAY_MS, sources: 8, targets: 2 },
      { day: TODAY, sources: 1e6, targets: 1e6 },
      { day: TODAY + DAY_MS, sources: 1e6, targets: 1e6 },
    ];
    const result = iscTrend(history, today(6, 2));
    assert.equal(result.days, 2);
    assert.equal(result.meanSources, 6);
    assert.equal(result.trend, 0);
  });

  it('scores a fall like a rise: it measures change', () => {
    const history = daysBefore([[20, 5]]);
    assert.equal(iscTrend(history, today(0, 5)).trend, iscTrend(history, today(40, 5)).trend);
  });

  it('treats a zero mean as no change when today is zero too, and infinite change otherwise', () => {
    const history = daysBefore([
      [4, 0],
      [4, 0],
    ]);
    assert.equal(iscTrend(history, today(4, 0)).trend, 0);
    assert.ok(Number.isNaN(iscTrend(history, today(4, 0)).targetsRatio));
    assert.equal(iscTrend(history, today(4, 1)).trend, Infinity);
    assert.equal(iscTrend(history, today(4, 1)).targetsRatio, Infinity);
  });

  it('is NaN with no earlier day', () => {
    const result = iscTrend([], today(4, 1));
    assert.equal(result.days, 0);
    assert.ok(Number.isNaN(result.trend));
  });
});

describe('greyNoiseThresholds', () => {
  // Sources 1..8: quartiles 2.75 and 6.25 (type 7), median 4.5, so median + 2·IQR = 11.5;
  // mean 4.5, sample variance 42/7 = 6, so mean + 2σ = 4.5 + 2√6 ≈ 9.40.
  const eight = daysBefore([3, 8, 1, 6, 2, 7, 5, 4].map((s) => [s, 1] as const));

  it('computes median + 2·IQR and mean + 2σ of the window', () => {
    const result = greyNoiseThresholds(eight, today(10));
    assert.equal(result.iqrThreshold, 11.5);
    close(result.sigmaThreshold, 4.5 + 2 * Math.sqrt(6));
    assert.equal(result.days, 8);
    assert.equal(result.value, 10);
  });

  it('flags each threshold separately, only when strictly exceeded', () => {
    assert.deepEqual(pickFlags(greyNoiseThresholds(eight, today(9))), [false, false]);
    assert.deepEqual(pickFlags(greyNoiseThresholds(eight, today(10))), [false, true]);
    assert.deepEqual(pickFlags(greyNoiseThresholds(eight, today(11.5))), [false, true]);
    assert.deepEqual(pickFlags(greyNoiseThresholds(eight, today(12))), [true, true]);
  });

  it('computes on a short window but flags nothing before 7 days', () => {
    const six = daysBefore([1, 2, 3, 4, 5, 6].map((s) => [s, 1] as const));
    const result = greyNoiseThresholds(six, today(1000));
    assert.equal(result.days, 6);
    assert.equal(result.iqrThreshold, 3.5 + 2 * 2.5);
    assert.deepEqual(pickFlags(result), [false, false]);
    const seven = daysBefore([1, 2, 3, 4, 5, 6, 7].map((s) => [s, 1] as const));
    assert.deepEqual(pickFlags(greyNoiseThresholds(seven, today(1000))), [true, true]);
  });

  it('uses only the 28 days before today', () => {
    const history = [
      { day: TODAY - 29 * DAY_MS, sources: 1e6, targets: 1 },
      ...daysBefore(Array.from({ length: 28 }, () => [5, 1] as const)),
    ];
    const result = greyNoiseThresholds(history, today(6));
    assert.equal(result.days, 28);
    assert.equal(result.sigmaThreshold, 5);
    assert.equal(result.iqrThreshold, 5);
    assert.deepEqual(pickFlags(result), [true, true]);
  });

  it('has NaN thresholds and no flags with no earlier day', () => {
    const result = greyNoiseThresholds([], today(5));
    assert.ok(Number.isNaN(result.iqrThreshold) && Number.isNaN(result.sigmaThreshold));
    assert.deepEqual(pickFlags(result), [false, false]);
  });
});

function pickFlags(result: { iqrFlag: boolean; sigmaFlag: boolean }): [boolean, boolean] {
  return [result.iqrFlag, result.sigmaFlag];
}

describe('quantile', () => {
  it('interpolates linearly between order statistics', () => {
    assert.equal(quantile([1, 2, 3, 4], 0.25), 1.75);
    assert.equal(quantile([7], 0.75), 7);
    assert.ok(Number.isNaN(quantile([], 0.5)));
  });
});

describe('referenceScores', () => {
  it('judges each day only on the days before it, in day order', () => {
    const history = daysBefore([
      [10, 2],
      [30, 4],
    ]).reverse();
    const scores = referenceScores(history);
    assert.deepEqual(
      scores.map((s) => s.day),
      [TODAY - 2 * DAY_MS, TODAY - DAY_MS],
    );
    assert.equal(scores[0].isc.days, 0);
    assert.equal(scores[1].isc.sourcesRatio, 3);
    assert.equal(scores[1].greyNoise.days, 1);
  });
});

const count = fc.integer({ min: 0, max: 1_000_000 });
const positiveCount = fc.integer({ min: 1, max: 1_000_000 });
const history = (minLength: number, value: fc.Arbitrary<number>) =>
  fc.array(fc.tuple(value, value), { minLength, maxLength: 40 }).map((pairs) => daysBefore(pairs));

describe('reference score properties', () => {
  it('ISC ratios do not change when every count is scaled; the trend scales by √c', () => {
    fc.assert(
      fc.property(
        history(1, positiveCount),
        positiveCount,
        positiveCount,
        fc.double({ min: 1e-3, max: 1e3, noNaN: true }),
        (days, sources, targets, c) => {
          const scale = (d: DailyCounts): DailyCounts => ({
            day: d.day,
            sources: d.sources * c,
            targets: d.targets * c,
          });
          const plain = iscTrend(days, today(sources, targets));
          const scaled = iscTrend(days.map(scale), scale(today(sources, targets)));
          close(scaled.sourcesRatio, plain.sourcesRatio, 1e-9);
          close(scaled.targetsRatio, plain.targetsRatio, 1e-9);
          assert.ok(Math.abs(scaled.trend - Math.sqrt(c) * plain.trend) <= 1e-9 * (1 + scaled.trend));
        },
      ),
    );
  });

  it('a flat history never flags its own level, and its ISC trend is 0', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), count, (length, level) => {
        const days = daysBefore(Array.from({ length }, () => [level, level] as const));
        const result = greyNoiseThresholds(days, today(level));
        assert.deepEqual(pickFlags(result), [false, false]);
        if (length > 0) assert.equal(iscTrend(days, today(level, level)).trend, 0);
      }),
    );
  });

  it('one huge day after at least 7 days is flagged by both thresholds', () => {
    fc.assert(
      fc.property(history(7, count), (days) => {
        const result = greyNoiseThresholds(days, today(1e9));
        assert.deepEqual(pickFlags(result), [true, true]);
      }),
    );
  });
});
