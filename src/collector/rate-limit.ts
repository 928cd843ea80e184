// Per-sensor token buckets over events, so one runaway sensor cannot starve the others.

export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #rate: number;
  readonly #burst: number;

  /** `ratePerS` events refill each second, up to `burst` saved. */
  constructor(ratePerS: number, burst: number) {
    this.#rate = ratePerS;
    this.#burst = Math.max(burst, ratePerS);
  }

  /** Takes `n` tokens, or says after how many seconds enough will have refilled. */
  take(key: string, n: number, now: number): { ok: true } | { ok: false; retryAfterS: number } {
    let b = this.#buckets.get(key);
    if (b === undefined) this.#buckets.set(key, (b = { tokens: this.#burst, at: now }));
    b.tokens = Math.min(this.#burst, b.tokens + ((now - b.at) / 1000) * this.#rate);
    b.at = now;
    if (b.tokens >= n) {
      b.tokens -= n;
      return { ok: true };
    }
    // The collector sizes the burst to hold the largest valid batch, so every batch can pass once
    // the bucket has refilled.
    const deficit = Math.min(n, this.#burst) - b.tokens;
    return { ok: false, retryAfterS: Math.max(1, Math.ceil(deficit / this.#rate)) };
  }
}
