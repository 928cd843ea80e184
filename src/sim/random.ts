// Seeded random numbers for the simulator, with exact samplers for the counts it draws instead of enumerating probes.
//
// The generator is sfc32 (128-bit state, passes PractRand to 2^40+), seeded through splitmix32 so that
// nearby seeds give unrelated streams. The binomial and Poisson samplers are exact in distribution
// (no normal approximation): Knuth's recursive splitting through beta order statistics, finished by
// inversion once the expected count is small (TAOCP vol. 2, 3.4.1 F and G), so a draw costs
// O(log n) whatever the number of trials.

/** Below this expected count, binomial and Poisson draws use plain inversion (O(mean) uniforms). */
const INVERSION_MEAN = 24;

export class Rng {
  a: number;
  b: number;
  c: number;
  d: number;
  #spare = NaN;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next() | 1;
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A uniform unsigned 32-bit integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform in (0, 1]: safe under a logarithm. */
  open(): number {
    return (this.u32() + 1) / 4294967296;
  }

  /** Uniform integer in [0, n) for n up to 2^32 (fractional bias below 2^-32 per unit of n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A new generator whose stream is independent of this one's; for per-component streams. */
  fork(salt: number): Rng {
    return new Rng((this.u32() ^ Math.imul(salt + 1, 0x9e3779b1)) >>> 0);
  }

  exponential(rate: number): number {
    return -Math.log(this.open()) / rate;
  }

  normal(): number {
    if (!Number.isNaN(this.#spare)) {
      const s = this.#spare;
      this.#spare = NaN;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(this.open()));
    const theta = 2 * Math.PI * this.next();
    this.#spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** Gamma(shape, 1) by Marsaglia and Tsang (2000); exact. */
  gamma(shape: number): number {
    if (shape < 1) return this.gamma(shape + 1) * Math.pow(this.open(), 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.open();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  beta(a: number, b: number): number {
    const x = this.gamma(a);
    return x / (x + this.gamma(b));
  }

  /**
   * Binomial(n, p), exact. While the expected count is large, the a-th smallest of n uniforms
   * (a Beta(a, n+1-a) draw) splits the trials into those below it and those above, each again
   * uniform on its side: recursing on the side that contains p keeps the result exact.
   */
  binomial(n: number, p: number): number {
    if (n <= 0 || p <= 0) return 0;
    if (p >= 1) return n;
    if (p > 0.5) return n - this.binomial(n, 1 - p);
    let k = 0;
    while (n * p > INVERSION_MEAN) {
      const a = 1 + Math.floor(n / 2);
      const b = n + 1 - a;
      const x = this.beta(a, b);
      if (x >= p) {
        n = a - 1;
        p = p / x;
      } else {
        k += a;
        n = b - 1;
        p = (p - x) / (1 - x);
      }
    }
    return k + this.#binomialInversion(n, p);
  }

  /** Sequential search of the binomial CDF; expected n*p steps. */
  #binomialInversion(n: number, p: number): number {
    if (n <= 0 || p <= 0) return 0;
    const q = 1 - p;
    const ratio = p / q;
    let prob = Math.exp(n * Math.log1p(-p));
    let u = this.next();
    let k = 0;
    while (u >= prob && k < n) {
      u -= prob;
      prob *= (ratio * (n - k)) / (k + 1);
      k++;
      // Rounding can leave u a hair above the tail; prob underflows to 0 then, and we stop.
      if (prob === 0) break;
    }
    return k;
  }

  /** Poisson(mean), exact: a Gamma(m) arrival time splits the count as in `binomial`. */
  poisson(mean: number): number {
    if (mean <= 0) return 0;
    let k = 0;
    while (mean > INVERSION_MEAN) {
      const m = Math.floor(mean * 0.875);
      const x = this.gamma(m);
      if (x < mean) {
        k += m;
        mean -= x;
      } else {
        return k + this.binomial(m - 1, mean / x);
      }
    }
    let prob = Math.exp(-mean);
    let u = this.next();
    let n = 0;
    while (u >= prob) {
      u -= prob;
      n++;
      prob *= mean / n;
      if (prob === 0) break;
    }
    return k + n;
  }
}

/** A keyed bijection on 32-bit integers (four Feistel-like mixing rounds); the order of a permutation scan. */
export function permute32(x: number, key: number): number {
  let v = (x ^ key) >>> 0;
  v = Math.imul(v ^ (v >>> 16), 0x7feb352d);
  v = Math.imul(v ^ (v >>> 15), 0x846ca68b);
  v ^= v >>> 16;
  v = (v + key) | 0;
  v = Math.imul(v ^ (v >>> 16), 0x21f0aaad);
  v = Math.imul(v ^ (v >>> 15), 0x735a2d97);
  return (v ^ (v >>> 15)) >>> 0;
}

/** A 32-bit hash of (a, b); for per-host constants (hop counts, patch times) that need no stored state. */
export function hash2(a: number, b: number): number {
  return permute32((a ^ Math.imul(b, 0x9e3779b1)) >>> 0, 0x5bd1e995);
}

/** Inverse of `permute32` for the same key: the address at a position of a permutation scan. */
export function unpermute32(y: number, key: number): number {
  let v = unxorshift(y >>> 0, 15);
  v = unxorshift(Math.imul(v, INV_735A2D97) >>> 0, 15);
  v = unxorshift(Math.imul(v, INV_21F0AAAD) >>> 0, 16);
  v = (v - key) | 0;
  v = unxorshift(v >>> 0, 16);
  v = unxorshift(Math.imul(v, INV_846CA68B) >>> 0, 15);
  v = unxorshift(Math.imul(v, INV_7FEB352D) >>> 0, 16);
  return (v ^ key) >>> 0;
}

/** Undoes v ^= v >>> k. */
function unxorshift(y: number, k: number): number {
  let x = y;
  for (let s = k; s < 32; s += k) x = (y ^ (x >>> k)) >>> 0;
  return x;
}

/** Multiplicative inverse of an odd number modulo 2^32 (Newton's iteration doubles the correct bits). */
function inverseOdd(a: number): number {
  let x = a;
  for (let i = 0; i < 5; i++) x = Math.imul(x, 2 - Math.imul(a, x));
  return x;
}

const INV_7FEB352D = inverseOdd(0x7feb352d);
const INV_846CA68B = inverseOdd(0x846ca68b | 0);
const INV_21F0AAAD = inverseOdd(0x21f0aaad);
const INV_735A2D97 = inverseOdd(0x735a2d97);

/** Walker's alias table (Vose's construction): O(1) draws from a fixed discrete distribution. */
export class AliasTable {
  readonly #prob: Float64Array;
  readonly #alias: Uint32Array;

  constructor(weights: ArrayLike<number>) {
    const n = weights.length;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += weights[i];
    this.#prob = new Float64Array(n);
    this.#alias = new Uint32Array(n);
    const scaled = Float64Array.from({ length: n }, (_, i) => (weights[i] * n) / sum);
    const small: number[] = [];
    const large: number[] = [];
    for (let i = 0; i < n; i++) (scaled[i] < 1 ? small : large).push(i);
    while (small.length > 0 && large.length > 0) {
      const s = small.pop()!;
      const l = large.pop()!;
      this.#prob[s] = scaled[s];
      this.#alias[s] = l;
      scaled[l] = scaled[l] + scaled[s] - 1;
      (scaled[l] < 1 ? small : large).push(l);
    }
    // What is left has probability one up to rounding.
    for (const i of [...small, ...large]) this.#prob[i] = 1;
  }

  draw(r: Rng): number {
    const i = r.int(this.#prob.length);
    return r.next() < this.#prob[i] ? i : this.#alias[i];
  }
}
