// Statistics made for counts: Poisson and negative-binomial upper tails, a robust overdispersion estimate, and a seasonal baseline.

import betainc from '@stdlib/math-base-special-betainc';

/**
 * P(X >= k) for X ~ Poisson(mu). Uses the identity P(X >= k) = P(k, mu), the regularised lower
 * incomplete gamma function, which stays accurate for large mu and k and for tails far below 1e-300
 * of summing terms. A non-integer k is rounded up (a count of 4.2 needs at least 5 to be exceeded).
 */
export function poissonUpperTail(k: number, mu: number): number {
  if (Number.isNaN(k) || Number.isNaN(mu) || mu < 0) return Number.NaN;
  const atLeast = Math.ceil(k);
  if (atLeast <= 0) return 1;
  if (mu === 0) return 0;
  return clamp01(regularizedGammaP(atLeast, mu));
}

/**
 * P(a, x), the regularised lower incomplete gamma function, after Numerical Recipes (gser, gcf):
 * the power series below x = a + 1, Lentz's continued fraction for Q = 1 − P above it. Small tails
 * come from the series directly, never as 1 − (something near 1). Written here because
 * @stdlib/math-base-special-gammainc 0.3.1 is wrong near x = a for large a (0.4973 for P(1e4, 1e4),
 * true value 0.5013).
 */
export function regularizedGammaP(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0)) return Number.NaN;
  if (x === 0) return 0;
  if (x === Infinity) return 1;
  const lnFactor = lnPrefactor(a, x);
  const maxTerms = 1000 + 50 * Math.ceil(Math.sqrt(a + x));
  if (x < a + 1) {
    let denominator = a;
    let term = 1 / a;
    let sum = term;
    for (let n = 0; n < maxTerms && Math.abs(term) > Math.abs(sum) * EPSILON; n++) {
      denominator += 1;
      term *= x / denominator;
      sum += term;
    }
    return Math.exp(lnFactor + Math.log(sum));
  }
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < maxTerms; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const step = d * c;
    h *= step;
    if (Math.abs(step - 1) < EPSILON) break;
  }
  return 1 - Math.exp(lnFactor + Math.log(h));
}

const EPSILON = 1e-16;
const TINY = 1e-300;

/** ln Γ(a) for a > 0: Stirling's series from 10 up, reached by the recurrence Γ(z + 1) = z·Γ(z). */
function lnGamma(a: number): number {
  let shift = 0;
  let z = a;
  while (z < 10) {
    shift += Math.log(z);
    z += 1;
  }
  return (z - 0.5) * Math.log(z) - z + 0.5 * Math.log(2 * Math.PI) + stirlingRemainder(z) - shift;
}

/** ln Γ(z) − ((z − ½)·ln z − z + ½·ln 2π), for z >= 10, to about 1e-16. */
function stirlingRemainder(z: number): number {
  const z2 = z * z;
  return (1 / 12 - (1 / 360 - (1 / 1260 - 1 / (1680 * z2)) / z2) / z2) / z;
}

/**
 * ln(e^(−x)·x^a / Γ(a)), the factor both expansions share. Computed as a·ln x − x − ln Γ(a) it would
 * cancel terms of size 1e7 at a = 1e6 and keep only 7 digits; as a·(log1p(t) − t) with
 * t = (x − a)/a, plus ½·ln(a / 2π) less Stirling's remainder, its error stays near 1e-16·|x − a|.
 */
function lnPrefactor(a: number, x: number): number {
  if (a < 10) return a * Math.log(x) - x - lnGamma(a);
  const t = (x - a) / a;
  return a * (Math.log1p(t) - t) + 0.5 * Math.log(a / (2 * Math.PI)) - stirlingRemainder(a);
}

/**
 * P(X >= k) for a negative binomial with mean mu and size r, so that Var(X) = mu + mu²/r
 * (r = Infinity is the Poisson limit). With success probability p = r / (r + mu),
 * P(X >= k) = I_{1-p}(k, r), the regularised incomplete beta function.
 */
export function negBinomialUpperTail(k: number, mu: number, r: number): number {
  if (Number.isNaN(k) || Number.isNaN(mu) || Number.isNaN(r) || mu < 0 || r <= 0) return Number.NaN;
  if (r === Infinity) return poissonUpperTail(k, mu);
  const atLeast = Math.ceil(k);
  if (atLeast <= 0) return 1;
  if (mu === 0) return 0;
  return clamp01(betainc(mu / (mu + r), atLeast, r, true, false));
}

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

function median(sorted: readonly number[]): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const mid = n >> 1;
  return n % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** 1.4826 · MAD estimates the standard deviation of a normal distribution. */
const MAD_TO_SD = 1.4826;
/** Points further than this many robust standard deviations above the median are left out. */
const OUTLIER_SDS = 5;

export interface CountStats {
  /** Mean of the counts that are not outliers. */
  mean: number;
  /** Negative-binomial size: Var = mean + mean²/r; Infinity when the counts are not overdispersed. */
  r: number;
  /** How many counts were used (the rest were rejected as outliers). */
  used: number;
}

/**
 * Mean and overdispersion of a sample of counts, resisting outliers: points more than
 * OUTLIER_SDS robust standard deviations above the median are dropped, where the robust standard
 * deviation is max(1.4826 · MAD, √median, 1): the MAD has a 50 % breakdown point, and the √median
 * and 1 floors keep sparse or nearly constant counts (MAD = 0) from rejecting ordinary values.
 * Then method of moments on what is left: r = mean² / (variance − mean), or Infinity (Poisson)
 * when the variance does not exceed the mean. A spike cannot inflate the variance it is judged
 * against, so the detector does not learn to accept the surges it should report; the price is a
 * slightly narrowed tail (values past 5 sd are rare under the model itself).
 */
export function robustCountStats(values: readonly number[]): CountStats {
  if (values.length === 0) return { mean: Number.NaN, r: Infinity, used: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const centre = median(sorted);
  const mad = median(sorted.map((v) => Math.abs(v - centre)).sort((a, b) => a - b));
  const spread = Math.max(MAD_TO_SD * mad, Math.sqrt(Math.max(centre, 0)), 1);
  const limit = centre + OUTLIER_SDS * spread;
  const kept = sorted.filter((v) => v <= limit);
  const mean = kept.reduce((s, v) => s + v, 0) / kept.length;
  const variance = kept.length > 1 ? kept.reduce((s, v) => s + (v - mean) ** 2, 0) / (kept.length - 1) : mean;
  const excess = variance - mean;
  return { mean, r: excess > 0 && mean > 0 ? (mean * mean) / excess : Infinity, used: kept.length };
}

/** The overdispersion r of robustCountStats: Var = mean + mean²/r, Infinity for Poisson-like counts. */
export function robustOverdispersion(values: readonly number[]): number {
  return robustCountStats(values).r;
}

/** Seasonal slot: none, hour of day (UTC), or hour of week (UTC day of week × hour). */
export type Season = 'none' | 'day' | 'week';

/** The slot a timestamp (ms since the epoch) falls into for a season. */
export function seasonSlot(atMs: number, season: Season): number {
  if (season === 'none') return 0;
  const d = new Date(atMs);
  return season === 'day' ? d.getUTCHours() : d.getUTCDay() * 24 + d.getUTCHours();
}

export interface Baseline extends CountStats {
  /** True when the estimate came from the timestamp's own slot; false when it fell back to all history. */
  seasonal: boolean;
}

/** Slots with fewer past values than this fall back to the whole history. */
export const MIN_SLOT_SAMPLES = 8;

/**
 * The expected count at `atMs` from a history of (timestamp ms, count): robust statistics over the
 * history's values in the same slot (hour of day, or hour of week), or over the whole history while
 * that slot has fewer than minSlotSamples values.
 */
export function seasonalBaseline(
  history: readonly { atMs: number; value: number }[],
  atMs: number,
  season: Season,
  minSlotSamples = MIN_SLOT_SAMPLES,
): Baseline {
  const slot = seasonSlot(atMs, season);
  const same = history.filter((h) => seasonSlot(h.atMs, season) === slot).map((h) => h.value);
  if (season !== 'none' && same.length >= minSlotSamples)
    return { ...robustCountStats(same), seasonal: true };
  return { ...robustCountStats(history.map((h) => h.value)), seasonal: false };
}
