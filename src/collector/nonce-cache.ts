// Remembers recent nonces per sensor so a captured request cannot be replayed within the skew window.

export class NonceCache {
  /** nonce key -> expiry (ms); a Map keeps insertion order, which is expiry order for a fixed TTL. */
  readonly #seen = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #max: number;

  /** `ttlMs` must cover twice the allowed clock skew: a request is valid that long around its time. */
  constructor(ttlMs: number, max = 1_000_000) {
    this.#ttlMs = ttlMs;
    this.#max = max;
  }

  /** Records the nonce; false if it was already seen and has not expired. */
  remember(sensor: string, nonce: string, now: number): boolean {
    this.#expire(now);
    const key = `${sensor}\n${nonce}`;
    const until = this.#seen.get(key);
    if (until !== undefined && until > now) return false;
    this.#seen.set(key, now + this.#ttlMs);
    // Full of fresh nonces: the oldest go first. A replay of one of them would still need a valid
    // signature from within the skew window, and batch ids keep it from storing anything twice.
    while (this.#seen.size > this.#max) this.#seen.delete(this.#seen.keys().next().value as string);
    return true;
  }

  #expire(now: number): void {
    for (const [k, until] of this.#seen) {
      if (until > now) break;
      this.#seen.delete(k);
    }
  }

  get size(): number {
    return this.#seen.size;
  }
}
