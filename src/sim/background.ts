// Background radiation for demos and load tests: a skewed port mix from a Zipf-like source population.
// A deterministic stand-in until the outbreak simulator lands; the same seed gives the same events.

import { allocColumns, Action, Origin, Proto, type EventColumns } from '../core/event.ts';

/** Ports background scanning hits most, with relative weights (from DShield/ISC port reports). */
export const PORT_MIX: [proto: number, port: number, weight: number][] = [
  [Proto.tcp, 23, 20],
  [Proto.tcp, 22, 14],
  [Proto.tcp, 445, 10],
  [Proto.tcp, 80, 9],
  [Proto.tcp, 3389, 7],
  [Proto.tcp, 443, 6],
  [Proto.tcp, 8080, 5],
  [Proto.tcp, 2323, 4],
  [Proto.tcp, 1433, 3],
  [Proto.tcp, 5900, 3],
  [Proto.tcp, 3306, 2],
  [Proto.tcp, 6379, 2],
  [Proto.tcp, 8443, 2],
  [Proto.tcp, 81, 2],
  [Proto.tcp, 5555, 2],
  [Proto.udp, 5060, 3],
  [Proto.udp, 53, 2],
  [Proto.udp, 123, 2],
  [Proto.udp, 1900, 2],
  [Proto.udp, 161, 1],
];
/** Share of events to a uniformly random port (the long tail). */
const TAIL = 0.15;

/** mulberry32: tiny, fast, good enough for traffic shapes. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface BackgroundOptions {
  seed: number;
  /** Distinct scanning sources in the population. */
  sources: number;
  /** Zipf exponent of source activity: a few sources send most events. */
  skew?: number;
}

export class BackgroundTraffic {
  readonly #random: () => number;
  readonly #sources: Uint32Array;
  readonly #cumulative: Float64Array;
  readonly #portCumulative: Float64Array;

  constructor(opts: BackgroundOptions) {
    this.#random = rng(opts.seed);
    const r = this.#random;
    // Sources spread over the whole unicast space, so /24s and /16s vary as they do on the Internet.
    this.#sources = Uint32Array.from(
      { length: opts.sources },
      () => (((1 + Math.floor(r() * 223)) << 24) | Math.floor(r() * 0xffffff)) >>> 0,
    );
    const s = opts.skew ?? 1.1;
    this.#cumulative = cumulative(Array.from({ length: opts.sources }, (_, i) => 1 / Math.pow(i + 1, s)));
    this.#portCumulative = cumulative(PORT_MIX.map((p) => p[2]));
  }

  /**
   * Events from one sensor monitoring the /24 at `sensorNet` (a.b.c.0 as uint32), at times spread
   * evenly over [t0, t1).
   */
  generate(n: number, sensorNet: number, t0: number, t1: number): EventColumns {
    const c = allocColumns(n);
    const r = this.#random;
    for (let i = 0; i < n; i++) {
      c.time[i] = Math.floor(t0 + ((t1 - t0) * i) / n);
      const src = this.#sources[pick(this.#cumulative, r())];
      c.src[4 * i] = src;
      c.src[4 * i + 1] = 0xffff;
      c.dst[4 * i] = (sensorNet | Math.floor(r() * 256)) >>> 0;
      c.dst[4 * i + 1] = 0xffff;
      c.srcPort[i] = 1024 + Math.floor(r() * 64511);
      if (r() < TAIL) {
        c.proto[i] = Proto.tcp;
        c.dstPort[i] = 1 + Math.floor(r() * 65535);
      } else {
        const [proto, port] = PORT_MIX[pick(this.#portCumulative, r())];
        c.proto[i] = proto;
        c.dstPort[i] = port;
      }
      c.tcpFlags[i] = c.proto[i] === Proto.tcp ? 2 : 0;
      c.action[i] = Action.blocked;
      c.origin[i] = Origin.firewall;
      c.ttl[i] = 40 + Math.floor(r() * 200);
    }
    return c;
  }
}

function cumulative(weights: number[]): Float64Array {
  const out = new Float64Array(weights.length);
  let sum = 0;
  for (let i = 0; i < weights.length; i++) out[i] = sum += weights[i];
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

/** Index of the first cumulative weight above u (binary search). */
function pick(cum: Float64Array, u: number): number {
  let lo = 0;
  let hi = cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cum[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
