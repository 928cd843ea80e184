// The bounds that keep the honeypot from being a tool for denial of service: token buckets and a bounded table of sources.

/** A token bucket timed by the caller's clock: `rate` tokens a second, at most `burst` saved. */
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #at: number;

  /** Starts full at time `now`. */
  constructor(rate: number, burst: number, now: number) {
    this.#rate = rate;
    this.#burst = burst;
    this.#tokens = burst;
    this.#at = now;
  }

  /** Takes one token if there is one. */
  take(now: number): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** True when the bucket has refilled completely, i.e. it is as good as a new one. */
  isFull(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= this.#burst;
  }

  #refill(now: number): void {
    // A clock that steps back (a fake one, or NTP) must not drain the bucket.
    if (now > this.#at)
      this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#at) / 1000) * this.#rate);
    this.#at = Math.max(this.#at, now);
  }
}

/** What the honeypot remembers about one source (an IPv4 address or an IPv6 /64). */
export interface SourceState {
  /** New connections or datagrams. */
  attempts: TokenBucket;
  /** UDP banner replies. */
  replies: TokenBucket;
  /** TCP connections open now. */
  open: number;
}

export interface SourceLimits {
  maxSources: number;
  attemptsPerS: number;
  attemptBurst: number;
  repliesPerS: number;
  replyBurst: number;
}

/**
 * Sources by key, at most `maxSources` of them, so that a flood of spoofed UDP sources cannot grow memory
 * without bound. An entry that has refilled and has nothing open is the same as no entry, so `sweep`
 * removes those; while the table is full of live entries, new sources are refused (and counted).
 */
export class SourceTable {
  readonly #limits: SourceLimits;
  readonly #sources = new Map<string, SourceState>();

  constructor(limits: SourceLimits) {
    this.#limits = limits;
  }

  /** The state of `key`, made on first sight; null when the table is full. */
  get(key: string, now: number): SourceState | null {
    let state = this.#sources.get(key);
    if (state !== undefined) return state;
    if (this.#sources.size >= this.#limits.maxSources) return null;
    const l = this.#limits;
    state = {
      attempts: new TokenBucket(l.attemptsPerS, l.attemptBurst, now),
      replies: new TokenBucket(l.repliesPerS, l.replyBurst, now),
      open: 0,
    };
    this.#sources.set(key, state);
    return state;
  }

  /** Forgets sources with nothing open whose buckets are full again. */
  sweep(now: number): void {
    for (const [key, s] of this.#sources) {
      if (s.open === 0 && s.attempts.isFull(now) && s.replies.isFull(now)) this.#sources.delete(key);
    }
  }

  get size(): number {
    return this.#sources.size;
  }
}
