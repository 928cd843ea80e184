// The simulated IPv4 Internet: vulnerable populations clustered in networks and a sensor deployment, both held as
// sorted arrays of what exists (hosts, monitored blocks), never one slot per address, so 2^32 costs nothing.

import { Rng } from './random.ts';

export const IPV4_SPACE = 4294967296;

/** First index in sorted `a[0, n)` whose value is >= x. */
export function lowerBound(a: ArrayLike<number>, x: number, n = a.length): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index in sorted `a[0, n)` whose value is > x. */
export function upperBound(a: ArrayLike<number>, x: number, n = a.length): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** "a.b.c.d" of a uint32. */
export function ipv4Text(x: number): string {
  return `${x >>> 24}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`;
}

/** A random routable-looking /24 (1.0.0.0 to 223.255.255.0, skipping 10/8, 127/8 and 192.168/16). */
function randomSlash24(r: Rng): number {
  for (;;) {
    const first = 1 + r.int(223);
    if (first === 10 || first === 127) continue;
    const net = (first << 16) | r.int(65536);
    if (net >>> 8 === 0xc0a8) continue;
    return net;
  }
}

export interface PopulationConfig {
  /** Vulnerable hosts running the service. */
  hosts: number;
  /** Distinct /16 networks they cluster in (default: one per 200 hosts, at least 1). */
  networks?: number;
  /** Mean hosts per populated /24: how dense a network is where the service is deployed (default 6). */
  perSubnet?: number;
  /** Zipf exponent of hosts per network: a few networks hold most (default 1). */
  skew?: number;
  seed: number;
}

/**
 * The hosts running one vulnerable service. Clustered as on the Internet: a Zipf share of the hosts
 * in each of a few thousand /16s, and within a /16 packed into a few /24s.
 */
export class Population {
  /** Sorted, distinct host addresses. */
  readonly addrs: Uint32Array;

  constructor(addrs: Uint32Array) {
    this.addrs = addrs;
  }

  static generate(cfg: PopulationConfig): Population {
    const r = new Rng(cfg.seed);
    const hosts = Math.max(0, Math.floor(cfg.hosts));
    if (hosts === 0) return new Population(new Uint32Array(0));
    const perSubnet = Math.min(200, cfg.perSubnet ?? 6);
    const nets = Math.max(1, Math.min(hosts, cfg.networks ?? Math.ceil(hosts / 200)));
    const skew = cfg.skew ?? 1;
    const weights = Array.from({ length: nets }, (_, i) => 1 / Math.pow(i + 1, skew));
    const total = weights.reduce((s, w) => s + w, 0);
    // At most 64k hosts fit one /16 at this density; the rest overflow to the next network.
    const share = weights.map((w) => Math.floor((hosts * w) / total));
    let missing = hosts - share.reduce((s, x) => s + x, 0);
    for (let i = 0; missing > 0; i = (i + 1) % nets, missing--) share[i]++;
    const out = new Uint32Array(hosts);
    let n = 0;
    const usedSlash16 = new Set<number>();
    for (let i = 0; i < nets; i++) {
      let slash16: number;
      do slash16 = randomSlash24(r) >>> 8;
      while (usedSlash16.has(slash16));
      usedSlash16.add(slash16);
      const want = Math.min(share[i], 256 * 254);
      const subnets = Math.min(256, Math.max(1, Math.round(want / perSubnet)));
      // Distinct /24s inside the /16, then distinct host numbers (1..254) spread over them.
      const picks = partialShuffle(r, 256, subnets);
      const cap = subnets * 254;
      const slots = partialShuffle(r, cap, Math.min(want, cap));
      for (const s of slots) {
        const subnet = picks[s % subnets];
        out[n++] = ((slash16 << 16) | (subnet << 8) | (1 + Math.floor(s / subnets))) >>> 0;
      }
    }
    const addrs = out.subarray(0, n).sort();
    return new Population(addrs);
  }

  get size(): number {
    return this.addrs.length;
  }

  /** Index of the host at `addr`, or -1. */
  indexOf(addr: number): number {
    const i = lowerBound(this.addrs, addr);
    return i < this.addrs.length && this.addrs[i] === addr ? i : -1;
  }

  /** Hosts in [lo, hi) (hi up to 2^32). */
  countInRange(lo: number, hi: number): number {
    return lowerBound(this.addrs, hi) - lowerBound(this.addrs, lo);
  }
}

/** `count` distinct integers from [0, n), in random order (sparse Fisher-Yates: memory O(count)). */
function partialShuffle(r: Rng, n: number, count: number): number[] {
  const swapped = new Map<number, number>();
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const j = i + r.int(n - i);
    const vj = swapped.get(j) ?? j;
    swapped.set(j, swapped.get(i) ?? i);
    out.push(vj);
  }
  return out;
}

export const SensorKind = { firewall: 0, honeypot: 1 } as const;

export interface SensorBlock {
  /** First monitored address; aligned to the block size. */
  start: number;
  /** Monitored addresses: a power of two from 1 (one address) to 256 (a /24). */
  size: number;
  kind: (typeof SensorKind)[keyof typeof SensorKind];
}

export interface DeploymentConfig {
  sensors: number;
  /** Share of IPv4 monitored in all, between sensors x 1 and sensors x 256 addresses (default: a /26 each on average). */
  coverage?: number;
  /** Share of sensors that are honeypots (one address each, answering connections). */
  honeypotShare?: number;
  seed: number;
}

/**
 * N sensors, each watching an aligned block of 1 to 256 addresses in its own /24, spread over the
 * unicast space. "Which sensor sees address X" is a binary search over the sorted block starts.
 */
export class SensorDeployment {
  readonly starts: Uint32Array;
  readonly sizes: Uint32Array;
  readonly kinds: Uint8Array;
  /** cumulative[i] = monitored addresses in blocks before i; cumulative[n] = all of them. */
  readonly cumulative: Float64Array;
  /** guide[j] = the sensor holding rank j x monitored / guide.length: a rank lookup starts there, O(1) expected. */
  readonly #guide: Uint32Array;

  constructor(blocks: SensorBlock[]) {
    const sorted = [...blocks].sort((a, b) => a.start - b.start);
    for (let i = 1; i < sorted.length; i++)
      if (sorted[i].start < sorted[i - 1].start + sorted[i - 1].size)
        throw new Error('sensor blocks overlap');
    this.starts = Uint32Array.from(sorted, (b) => b.start);
    this.sizes = Uint32Array.from(sorted, (b) => b.size);
    this.kinds = Uint8Array.from(sorted, (b) => b.kind);
    this.cumulative = new Float64Array(sorted.length + 1);
    for (let i = 0; i < sorted.length; i++) this.cumulative[i + 1] = this.cumulative[i] + sorted[i].size;
    const monitored = this.cumulative[sorted.length];
    this.#guide = new Uint32Array(Math.min(monitored, 4 * sorted.length) || 1);
    for (let j = 0, s = 0; j < this.#guide.length; j++) {
      const rank = Math.floor((j * monitored) / this.#guide.length);
      while (s + 1 < sorted.length && this.cumulative[s + 1] <= rank) s++;
      this.#guide[j] = s;
    }
  }

  static generate(cfg: DeploymentConfig): SensorDeployment {
    const r = new Rng(cfg.seed);
    const n = Math.max(1, Math.floor(cfg.sensors));
    const target = Math.min(
      256 * n,
      Math.max(n, Math.round((cfg.coverage ?? (64 * n) / IPV4_SPACE) * IPV4_SPACE)),
    );
    const honeypots = Math.round(n * (cfg.honeypotShare ?? 0));
    const sizes = new Array<number>(n).fill(1);
    // Doubling random blocks until the total is reached gives a spread of sizes from /32 to /24.
    let remaining = target - n;
    let misses = 0;
    while (remaining > 0 && honeypots < n) {
      let i = honeypots + r.int(n - honeypots);
      if (sizes[i] >= 256 || sizes[i] > remaining) {
        // Random picks stop finding room near the end: look for any block that can still grow.
        if (++misses < 64) continue;
        i = sizes.findIndex((s, j) => j >= honeypots && s < 256 && s <= remaining);
        if (i < 0) break;
      }
      misses = 0;
      remaining -= sizes[i];
      sizes[i] *= 2;
    }
    const nets = new Set<number>();
    while (nets.size < n) nets.add(randomSlash24(r));
    const blocks: SensorBlock[] = [...nets].map((net, i) => ({
      start: ((net << 8) | (r.int(256 / sizes[i]) * sizes[i])) >>> 0,
      size: sizes[i],
      kind: i < honeypots ? SensorKind.honeypot : SensorKind.firewall,
    }));
    return new SensorDeployment(blocks);
  }

  get count(): number {
    return this.starts.length;
  }

  /** All monitored addresses. */
  get monitored(): number {
    return this.cumulative[this.starts.length];
  }

  /** Monitored share of IPv4. */
  get coverage(): number {
    return this.monitored / IPV4_SPACE;
  }

  /** The sensor that monitors `addr`, or -1. */
  sensorAt(addr: number): number {
    const i = upperBound(this.starts, addr) - 1;
    return i >= 0 && addr - this.starts[i] < this.sizes[i] ? i : -1;
  }

  /** Monitored addresses below `x` (x up to 2^32). */
  monitoredBelow(x: number): number {
    const i = upperBound(this.starts, x - 1) - 1;
    if (i < 0 || x === 0) return 0;
    return this.cumulative[i] + Math.min(this.sizes[i], x - this.starts[i]);
  }

  /** Monitored addresses in [lo, hi). */
  monitoredInRange(lo: number, hi: number): number {
    return this.monitoredBelow(hi) - this.monitoredBelow(lo);
  }

  /** The sensor holding the `rank`-th monitored address (0 <= rank < monitored). */
  sensorOfRank(rank: number): number {
    const guide = this.#guide;
    const cumulative = this.cumulative;
    let s = guide[Math.floor((rank * guide.length) / cumulative[this.starts.length])];
    while (cumulative[s + 1] <= rank) s++;
    return s;
  }

  /** The `rank`-th monitored address, in address order; with `sensorOfRank` it maps a uniform draw to a target. */
  addressOfRank(rank: number, sensor: number): number {
    return this.starts[sensor] + (rank - this.cumulative[sensor]);
  }
}
