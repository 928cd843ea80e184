// A streaming seasonal baseline for per-minute counts: exponentially weighted moments per hour of day and hour of
// week, giving the expected count and the negative-binomial overdispersion that counts.ts judges a bucket with.
//
// counts.ts works on a stored history (portent score); a live detector watching 131,072 keys cannot keep
// weeks of minutes per key, so it keeps moments instead: E[x] and E[x²] per slot, which give the mean and the
// variance, hence r = mean² / (variance − mean). Robustness comes from clipping what is learned (an outlier
// enters as at most mean + CLIP_SDS sd) and from learning slowly while the key is anomalous.

/** Learning rates: the level follows about the last 6 hours; a slot about its last 4 days (week slots, 3 weeks). */
const LEVEL_ALPHA = 1 / 360;
const DAY_SLOT_ALPHA = 1 / 240;
const WEEK_SLOT_ALPHA = 1 / 180;
/** A slot speaks for itself once it has this many minutes (one full hour). */
const SLOT_MIN = 60;
/** A value enters the moments clipped to mean + CLIP_SDS standard deviations + 1. */
const CLIP_SDS = 4;
/** Keys whose event level reaches this many per minute get seasonal slots; sparser ones are judged on their level. */
export const SEASONAL_FROM_EVENTS = 0.5;
const DAY_SLOTS = 24;
const WEEK_SLOTS = 168;
/** Beyond this many quiet minutes a key's moments have decayed to nothing: stop stepping and clear them. */
const MAX_ZERO_STEPS = 6 * 360;

export interface Expected {
  mean: number;
  /** Negative-binomial size; Infinity for Poisson. */
  r: number;
}

/** Moments of `m` measures for one key. */
export class SeasonalBaseline {
  readonly measures: number;
  /** Minutes learned (quiet ones included). */
  n = 0;
  /** m1, m2 per measure. */
  readonly #level: Float64Array;
  /** (24 day slots + 168 week slots) × measures × (m1, m2), once dense. */
  #slots: Float32Array | null = null;
  #slotN: Uint32Array | null = null;

  /** `quietMinutes`: how long the key has been watched and seen nothing (it is new to us, not to the network). */
  constructor(measures: number, quietMinutes = 0) {
    this.measures = measures;
    this.#level = new Float64Array(measures * 2);
    this.n = quietMinutes;
  }

  get seasonal(): boolean {
    return this.#slots !== null;
  }

  /** The level mean of measure i, whatever the slot. */
  levelMean(i: number): number {
    return this.#level[2 * i];
  }

  /** What measure i is expected to be in the minute starting at t; `floor` is the least mean allowed. */
  expected(i: number, t: number, floor = 0): Expected {
    let m1 = this.#level[2 * i];
    let m2 = this.#level[2 * i + 1];
    if (this.#slots !== null) {
      const { day, week } = slotsOf(t);
      const s =
        this.#slotN![DAY_SLOTS + week] >= SLOT_MIN
          ? DAY_SLOTS + week
          : this.#slotN![day] >= SLOT_MIN
            ? day
            : -1;
      if (s >= 0) {
        const o = (s * this.measures + i) * 2;
        m1 = this.#slots[o];
        m2 = this.#slots[o + 1];
      }
    }
    // Until a key has a history its mean is uncertain: the 1 / (n + 1) floor keeps the first counts after
    // silence surprising but finite, as in counts.ts.
    const mean = Math.max(m1, floor, 1 / (this.n + 1));
    const variance = Math.max(m2 - m1 * m1, 0);
    const excess = variance - m1;
    return { mean, r: excess > 1e-9 && m1 > 0 ? Math.max((m1 * m1) / excess, 0.05) : Infinity };
  }

  /**
   * Learns the minute starting at t with values x (one per measure). `slow` learns at a tenth of the rate: the key
   * is anomalous, and a surge must not become its own baseline (a lasting change still does, within days).
   */
  learn(t: number, x: ArrayLike<number>, slow = false): void {
    const k = slow ? 0.1 : 1;
    const a = Math.max(LEVEL_ALPHA, 1 / (this.n + 1)) * k;
    const { day, week } = this.#slots !== null ? slotsOf(t) : { day: 0, week: 0 };
    for (let i = 0; i < this.measures; i++) {
      const v = this.#clip(i, x[i]);
      this.#level[2 * i] += a * (v - this.#level[2 * i]);
      this.#level[2 * i + 1] += a * (v * v - this.#level[2 * i + 1]);
    }
    if (this.#slots !== null) {
      this.#learnSlot(day, x, DAY_SLOT_ALPHA, k);
      this.#learnSlot(DAY_SLOTS + week, x, WEEK_SLOT_ALPHA, k);
    } else if (this.#level[0] >= SEASONAL_FROM_EVENTS && this.n >= SLOT_MIN) {
      // Every slot starts from the level, so its first values are clipped against something sensible.
      this.#slots = new Float32Array((DAY_SLOTS + WEEK_SLOTS) * this.measures * 2);
      for (let o = 0; o < this.#slots.length; o += this.measures * 2) this.#slots.set(this.#level, o);
      this.#slotN = new Uint32Array(DAY_SLOTS + WEEK_SLOTS);
    }
    this.n++;
  }

  /** Learns `minutes` quiet minutes ending before `until` (the key saw nothing in them). */
  learnQuiet(until: number, minutes: number, zeros: ArrayLike<number>): void {
    if (this.#slots === null) {
      // Zeros only shrink both moments: by n / (n + k) over k steps while the rate is 1 / (n + 1) (a running
      // average), then by (1 − α) a step. One multiplication for the lot.
      const averaging = Math.min(minutes, Math.max(0, 1 / LEVEL_ALPHA - this.n));
      const decay =
        (averaging > 0 ? this.n / (this.n + averaging) : 1) * Math.pow(1 - LEVEL_ALPHA, minutes - averaging);
      for (let j = 0; j < this.#level.length; j++) this.#level[j] *= decay;
      this.n += minutes;
      return;
    }
    const steps = Math.min(minutes, MAX_ZERO_STEPS);
    for (let j = steps; j >= 1; j--) this.learn(until - j * 60_000, zeros);
    this.n += minutes - steps;
  }

  #clip(i: number, v: number): number {
    const m1 = this.#level[2 * i];
    const sd = Math.sqrt(Math.max(this.#level[2 * i + 1] - m1 * m1, m1, 0));
    return Math.min(v, m1 + CLIP_SDS * sd + 1);
  }

  /** `k` slows the whole rate, the running average of a young slot included: that is where a surge would sink in. */
  #learnSlot(s: number, x: ArrayLike<number>, alpha: number, k: number): void {
    const slots = this.#slots!;
    // Minutes learned slowly do not count towards the slot's history: a slot that has seen nothing but a surge
    // must not start speaking for its hour.
    const n = this.#slotN![s];
    if (k === 1) this.#slotN![s]++;
    const a = Math.max(alpha, 1 / (n + 1)) * k;
    for (let i = 0; i < this.measures; i++) {
      const o = (s * this.measures + i) * 2;
      const sd = Math.sqrt(Math.max(slots[o + 1] - slots[o] * slots[o], slots[o], 0));
      const v = Math.min(x[i], slots[o] + CLIP_SDS * sd + 1);
      slots[o] += a * (v - slots[o]);
      slots[o + 1] += a * (v * v - slots[o + 1]);
    }
  }
}

function slotsOf(t: number): { day: number; week: number } {
  const hour = Math.floor(t / 3_600_000);
  // 1970-01-01 was a Thursday; (hour / 24 + 4) % 7 is the UTC day of week with Sunday = 0.
  const day = hour % 24;
  return { day, week: ((Math.floor(hour / 24) + 4) % 7) * 24 + day };
}
