// Reference scores from other scan-watching services (ISC/DShield's port trend, GreyNoise-style thresholds) to compare our detector against.

/** One day of activity on a port: UTC midnight in ms, distinct source IPs, distinct target IPs. */
export interface DailyCounts {
  day: number;
  sources: number;
  targets: number;
}

export const DAY_MS = 86_400_000;
/** ISC compares a day with the daily mean of the 30 days before it. */
export const ISC_WINDOW_DAYS = 30;
/** The window of both GreyNoise-style thresholds. */
export const GREYNOISE_WINDOW_DAYS = 28;
/** No threshold flags a day until the window holds at least this many earlier days. */
export const MIN_HISTORY_DAYS = 7;

/**
 * The days of `history` in the `windowDays` before `today` (day in [today − windowDays, today)).
 * Matching on the day, not on array positions, lets callers pass the whole history, today and later
 * days included, in any order. A day missing from the history is not counted at all: a caller who
 * knows a port was quiet that day should pass it with zero counts, or the mean will run high.
 */
export function trailingWindow(
  history: readonly DailyCounts[],
  today: number,
  windowDays: number,
): DailyCounts[] {
  const start = today - windowDays * DAY_MS;
  return history.filter((d) => d.day >= start && d.day < today);
}

export interface IscTrend {
  /** Trailing daily means of distinct sources and targets (NaN with no earlier days). */
  meanSources: number;
  meanTargets: number;
  /** Today against its mean: today / mean (Infinity for activity after an all-zero window, NaN for 0 / 0). */
  sourcesRatio: number;
  targetsRatio: number;
  /** ISC's trend, sqrt((S − s)²/s + (T − t)²/t); see iscTrend. */
  trend: number;
  /** How many earlier days the means were taken over. */
  days: number;
}

/**
 * ISC/DShield's port "trend" for `today`:
 *
 *   trend = sqrt((S − s)²/s + (T − t)²/t)
 *
 * where S and T are today's distinct source and target IPs on the port and s and t their daily
 * means over the 30 days before. This is the formula ISC published on its trends page
 * (isc.sans.edu/trends.html and dshield.org/trends.html, "comparing the last 24 hours to the last
 * 30 days"). ISC's current page (isc.sans.edu/data/trends.html) describes a newer variant comparing
 * the last 3 days with the last 30 and also counting reports, but publishes no formula, so the
 * published one is what is implemented. Each term is a Pearson chi-square contribution, so the
 * trend grows with the square root of volume (scaling all counts by c scales it by √c) and a fall
 * scores like a rise: it measures change, not only increase. The ratios today / mean are returned
 * beside it because they are scale-free.
 *
 * With fewer than 30 earlier days the means use what there is. A mean of 0 makes its term 0 when
 * today is also 0 and Infinity otherwise; with no earlier day at all everything is NaN.
 */
export function iscTrend(
  history: readonly DailyCounts[],
  today: DailyCounts,
  windowDays = ISC_WINDOW_DAYS,
): IscTrend {
  const window = trailingWindow(history, today.day, windowDays);
  const meanSources = mean(window.map((d) => d.sources));
  const meanTargets = mean(window.map((d) => d.targets));
  const trend = Math.sqrt(
    chiSquareTerm(today.sources, meanSources) + chiSquareTerm(today.targets, meanTargets),
  );
  return {
    meanSources,
    meanTargets,
    sourcesRatio: today.sources / meanSources,
    targetsRatio: today.targets / meanTargets,
    trend,
    days: window.length,
  };
}

function chiSquareTerm(observed: number, expected: number): number {
  if (expected === 0) return observed === 0 ? 0 : Infinity;
  return (observed - expected) ** 2 / expected;
}

export interface GreyNoiseThresholds {
  /** Today's distinct sources: the value judged. */
  value: number;
  /** Median + 2·IQR of the trailing window's daily distinct sources. */
  iqrThreshold: number;
  /** Mean + 2·σ (sample standard deviation) of the same window. */
  sigmaThreshold: number;
  /** value > iqrThreshold, once the window holds MIN_HISTORY_DAYS days. */
  iqrFlag: boolean;
  /** value > sigmaThreshold, once the window holds MIN_HISTORY_DAYS days. */
  sigmaFlag: boolean;
  /** How many earlier days the thresholds were taken over. */
  days: number;
}

/**
 * GreyNoise-style spike thresholds on daily distinct sources, as issue 5 states them: today is
 * flagged when it exceeds the median + 2·IQR of the trailing window, and separately when it exceeds
 * the window's mean + 2σ. GreyNoise's public documentation describes its tag trends and anomalies
 * as percent change against a long-term average and does not publish these thresholds, so they are
 * implemented as the issue gives them, not as confirmed GreyNoise behaviour. Choices made here:
 * both use the same 28-day window; quartiles interpolate linearly between order statistics (R's
 * type 7, numpy's default); σ is the sample standard deviation (n − 1), 0 for a single day.
 *
 * With fewer days than the window the thresholds use what there is, but nothing is flagged before
 * MIN_HISTORY_DAYS earlier days. Flags need value strictly above the threshold, so a flat history
 * (IQR = σ = 0) never flags itself, while any rise above it does: with zero spread the thresholds
 * have no margin, which is the formula's own behaviour and is kept for a faithful comparison.
 */
export function greyNoiseThresholds(
  history: readonly DailyCounts[],
  today: DailyCounts,
  windowDays = GREYNOISE_WINDOW_DAYS,
): GreyNoiseThresholds {
  const values = trailingWindow(history, today.day, windowDays)
    .map((d) => d.sources)
    .sort((a, b) => a - b);
  const iqr = quantile(values, 0.75) - quantile(values, 0.25);
  const iqrThreshold = quantile(values, 0.5) + 2 * iqr;
  const sigmaThreshold = mean(values) + 2 * sampleStandardDeviation(values);
  const enough = values.length >= MIN_HISTORY_DAYS;
  return {
    value: today.sources,
    iqrThreshold,
    sigmaThreshold,
    iqrFlag: enough && today.sources > iqrThreshold,
    sigmaFlag: enough && today.sources > sigmaThreshold,
    days: values.length,
  };
}

export interface ReferenceScores {
  day: number;
  isc: IscTrend;
  greyNoise: GreyNoiseThresholds;
}

/** Both reference scores for every day of a history, each judged only on the days before it. */
export function referenceScores(history: readonly DailyCounts[]): ReferenceScores[] {
  return [...history]
    .sort((a, b) => a.day - b.day)
    .map((today) => ({
      day: today.day,
      isc: iscTrend(history, today),
      greyNoise: greyNoiseThresholds(history, today),
    }));
}

function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  return values.reduce((s, v) => s + v, 0) / values.length;
}

function sampleStandardDeviation(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  if (values.length === 1) return 0;
  const centre = mean(values);
  return Math.sqrt(values.reduce((s, v) => s + (v - centre) ** 2, 0) / (values.length - 1));
}

/** The q-quantile of sorted values, interpolating linearly between order statistics (R type 7). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below] + (position - below) * (sorted[above] - sorted[below]);
}
