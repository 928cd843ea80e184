// What sensors see when nothing is happening: background radiation with a diurnal cycle per region, research
// scanners sweeping IPv4, misconfigured hosts and backscatter; plus human-operated probing campaigns of one port.

import { Proto } from '../core/event.ts';
import { PORT_MIX } from './background.ts';
import { toolIndex, type ToolName } from './events.ts';
import { IPV4_SPACE, upperBound } from './internet.ts';
import { AliasTable, Rng, hash2 } from './random.ts';
import type { StepContext } from './worm.ts';

/** Where background sources sit, their share of sources, and how strongly their activity follows local time. */
export const REGIONS = [
  { name: 'east-asia', utcOffsetHours: 8, share: 0.34, diurnal: 0.35 },
  { name: 'europe', utcOffsetHours: 1, share: 0.24, diurnal: 0.3 },
  { name: 'north-america', utcOffsetHours: -6, share: 0.22, diurnal: 0.3 },
  { name: 'south-america', utcOffsetHours: -3, share: 0.08, diurnal: 0.4 },
  { name: 'south-asia', utcOffsetHours: 5.5, share: 0.07, diurnal: 0.4 },
  { name: 'africa', utcOffsetHours: 2, share: 0.05, diurnal: 0.45 },
] as const;

/** Local hour at which home and office machines (most bots) are most active. */
const PEAK_LOCAL_HOUR = 20;

/** Activity multiplier of a region at time t: 1 + a cos(2 pi (local hour - peak) / 24), mean 1 over a day. */
export function diurnalFactor(region: number, t: number): number {
  const { utcOffsetHours, diurnal } = REGIONS[region];
  const hour = (t / 3_600_000 + utcOffsetHours) % 24;
  return 1 + diurnal * Math.cos((2 * Math.PI * (hour - PEAK_LOCAL_HOUR)) / 24);
}

/** Share of background probes to a uniformly random TCP port: the long tail past the table. */
const TAIL_SHARE = 0.15;

/** Tools background sources use, with shares: mostly bots (OS stacks), some mass scanners. */
const BACKGROUND_TOOLS: [ToolName, number][] = [
  ['linux', 0.45],
  ['windows-xp', 0.2],
  ['masscan', 0.2],
  ['zmap', 0.1],
  ['nmap', 0.05],
];

export interface BackgroundConfig {
  /** Probes each monitored address receives an hour, all ports together, averaged over the day (default 20). */
  perAddressHour?: number;
  /** Distinct background sources (default 50,000). */
  sources?: number;
  /** Zipf exponent of source activity (default 1.1). */
  skew?: number;
  /**
   * Share of the sources replaced by fresh addresses each day (default 0): bots are cleaned up and new ones
   * infected, so a real network keeps seeing sources it never saw before, on every port, every day.
   */
  churnPerDay?: number;
}

/**
 * Background radiation: per region, the step's count is Poisson with mean rate x monitored
 * addresses x step x diurnal factor (a Poisson process summed over all sensors is Poisson); each
 * event then picks a source of that region, a port from the table and a monitored address.
 */
export class BackgroundRadiation {
  readonly #r: Rng;
  readonly #perMs: number;
  readonly #sources: Uint32Array[] = [];
  readonly #sourcePick: AliasTable[] = [];
  readonly #sourceTool: Uint8Array[] = [];
  readonly #portPick: AliasTable;
  readonly #ports: Uint16Array;
  readonly #protos: Uint8Array;
  readonly #churnPerMs: number;
  readonly #firsts: number[][] = [];
  emitted = 0;

  constructor(cfg: BackgroundConfig, seed: number) {
    this.#r = new Rng(seed);
    this.#churnPerMs = (cfg.churnPerDay ?? 0) / 86_400_000;
    this.#perMs = (cfg.perAddressHour ?? 20) / 3_600_000;
    const total = cfg.sources ?? 50_000;
    const skew = cfg.skew ?? 1.1;
    const toolCum = cumulative(BACKGROUND_TOOLS.map((t) => t[1]));
    REGIONS.forEach((region, i) => {
      const n = Math.max(1, Math.round(total * region.share));
      // Each region owns a set of /8s, chosen by hash, so that a source's /8 tells its region.
      const firsts = Array.from({ length: 223 }, (_, k) => k + 1).filter(
        (k) => k !== 10 && k !== 127 && hash2(k, 1) % REGIONS.length === i,
      );
      this.#firsts.push(firsts);
      this.#sources.push(
        Uint32Array.from(
          { length: n },
          () => (firsts[this.#r.int(firsts.length)] * 2 ** 24 + this.#r.int(2 ** 24)) >>> 0,
        ),
      );
      this.#sourcePick.push(new AliasTable(Array.from({ length: n }, (_, k) => 1 / Math.pow(k + 1, skew))));
      this.#sourceTool.push(
        Uint8Array.from({ length: n }, () =>
          toolIndex(BACKGROUND_TOOLS[upperBound(toolCum, this.#r.next())][0]),
        ),
      );
    });
    this.#portPick = new AliasTable(PORT_MIX.map((p) => p[2]));
    this.#ports = Uint16Array.from(PORT_MIX, (p) => p[1]);
    this.#protos = Uint8Array.from(PORT_MIX, (p) => p[0]);
  }

  /** Expected probes per monitored address per hour, now, summed over regions (for tests and docs). */
  ratePerAddressHour(t: number): number {
    return (
      REGIONS.reduce((s, region, i) => s + region.share * diurnalFactor(i, t), 0) * this.#perMs * 3_600_000
    );
  }

  step(t0: number, t1: number, ctx: StepContext): void {
    const r = this.#r;
    const { sensors, buffer, up, loss } = ctx;
    const monitored = sensors.monitored;
    if (this.#churnPerMs > 0)
      for (let g = 0; g < REGIONS.length; g++) {
        // A replaced source keeps its rank (its activity) but moves to a fresh address in its region.
        const pool = this.#sources[g];
        const firsts = this.#firsts[g];
        for (let n = r.poisson(this.#churnPerMs * (t1 - t0) * pool.length); n > 0; n--)
          pool[r.int(pool.length)] = (firsts[r.int(firsts.length)] * 2 ** 24 + r.int(2 ** 24)) >>> 0;
      }
    const mid = (t0 + t1) / 2;
    const portPick = this.#portPick;
    const ports = this.#ports;
    const protos = this.#protos;
    for (let g = 0; g < REGIONS.length; g++) {
      const mean =
        this.#perMs * monitored * (t1 - t0) * REGIONS[g].share * diurnalFactor(g, mid) * (1 - loss);
      const n = r.poisson(mean);
      const sources = this.#sources[g];
      const sourcePick = this.#sourcePick[g];
      const tools = this.#sourceTool[g];
      for (let k = 0; k < n; k++) {
        const rank = r.int(monitored);
        const sensor = sensors.sensorOfRank(rank);
        if (up[sensor] === 0) continue;
        const s = sourcePick.draw(r);
        const p = portPick.draw(r);
        const tail = r.next() < TAIL_SHARE;
        const dst = sensors.addressOfRank(rank, sensor);
        const port = tail ? 1 + r.int(65535) : ports[p];
        const proto = tail ? Proto.tcp : protos[p];
        const time = t0 + r.next() * (t1 - t0);
        buffer.probe(r, time, sensor, sensors.kinds[sensor], sources[s], dst, port, proto, tools[s]);
        this.emitted++;
      }
    }
  }
}

export interface ResearchScannerConfig {
  name: string;
  /** Source addresses, consecutive from `firstSource` (a research project's /24). */
  firstSource: number;
  sources: number;
  ports: number[];
  /** Hours one sweep of all IPv4 takes, per port. */
  sweepHours: number;
  /** Start of the first sweep, ms since the epoch. */
  start: number;
  tool: ToolName;
}

/** Benign scanners known to sweep IPv4 (Censys, Shodan, university projects) at their published rates. */
export const RESEARCH_SCANNERS = (start: number): ResearchScannerConfig[] => [
  {
    name: 'censys',
    firstSource: 0xa2_8e_7d_00,
    sources: 64,
    ports: [22, 80, 443, 3389, 5168, 2967],
    sweepHours: 24,
    start,
    tool: 'zmap',
  },
  {
    name: 'shodan',
    firstSource: 0x42_f0_c0_00,
    sources: 16,
    ports: [23, 80, 1433, 5900, 6379],
    sweepHours: 72,
    start,
    tool: 'masscan',
  },
  {
    name: 'university',
    firstSource: 0x8d_d4_79_00,
    sources: 4,
    ports: [53, 123, 445],
    sweepHours: 168,
    start,
    tool: 'zmap',
  },
];

/**
 * A scanner that visits every address once per sweep, in a pseudo-random order. Over a sweep, each
 * monitored address is probed exactly once: the step's count is Binomial(not yet probed, step /
 * sweep time left), which is the law of a uniformly random order up to the difference between
 * sampling with and without replacement over 2^32 positions; the addresses come in the order of a
 * per-sweep affine permutation of the monitored ranks, so none is probed twice in a sweep.
 */
export class ResearchScanner {
  readonly config: ResearchScannerConfig;
  readonly #r: Rng;
  readonly #tool: number;
  /** Per port: the sweep under way, how many monitored addresses it has probed, its permutation. */
  readonly #sweep: { index: number; done: number; a: number; c: number }[];
  emitted = 0;

  constructor(config: ResearchScannerConfig, seed: number) {
    this.config = config;
    this.#r = new Rng(seed);
    this.#tool = toolIndex(config.tool);
    this.#sweep = config.ports.map(() => ({ index: -1, done: 0, a: 1, c: 0 }));
  }

  step(t0: number, t1: number, ctx: StepContext): void {
    const sweepMs = this.config.sweepHours * 3_600_000;
    const { sensors, buffer, up, loss } = ctx;
    const m = sensors.monitored;
    const r = this.#r;
    for (let p = 0; p < this.config.ports.length; p++) {
      const sw = this.#sweep[p];
      let from = Math.max(t0, this.config.start);
      while (from < t1) {
        const index = Math.floor((from - this.config.start) / sweepMs);
        const sweepEnd = this.config.start + (index + 1) * sweepMs;
        if (index !== sw.index) this.#newSweep(sw, index, m);
        const to = Math.min(t1, sweepEnd);
        const n = r.binomial(m - sw.done, (to - from) / (sweepEnd - from));
        for (let k = 0; k < n; k++) {
          const rank = (sw.a * (sw.done + k) + sw.c) % m;
          const sensor = sensors.sensorOfRank(rank);
          if (up[sensor] === 0 || (loss > 0 && r.next() < loss)) continue;
          const src = (this.config.firstSource + r.int(this.config.sources)) >>> 0;
          const dst = sensors.addressOfRank(rank, sensor);
          buffer.probe(
            r,
            from + r.next() * (to - from),
            sensor,
            sensors.kinds[sensor],
            src,
            dst,
            this.config.ports[p],
            Proto.tcp,
            this.#tool,
          );
          this.emitted++;
        }
        sw.done += n;
        from = to;
      }
    }
  }

  #newSweep(sw: { index: number; done: number; a: number; c: number }, index: number, m: number): void {
    sw.index = index;
    sw.done = 0;
    // a < 2^20 keeps a x rank below 2^52, exact in a double; coprime with m makes x -> a x + c a bijection.
    let a = 1 + this.#r.int(2 ** 20 - 1);
    while (gcd(a, m) !== 1) a++;
    sw.a = a;
    sw.c = this.#r.int(m);
  }
}

export interface MisconfigConfig {
  /** Misconfigured hosts, each sending to one monitored address and port for the whole run (default 20). */
  hosts?: number;
  /** Packets an hour each (default 30). */
  perHostHour?: number;
  /** Backscatter (SYN-ACKs from victims of spoofed floods) per monitored address an hour (default 0.5). */
  backscatterPerAddressHour?: number;
}

/** UDP services a stale configuration keeps talking to (DNS, NTP, SIP, BitTorrent DHT, SSDP). */
const MISCONFIG_PORTS = [53, 123, 5060, 6881, 1900];

/** Misconfiguration noise and backscatter: steady, port-specific, not scanning. */
export class Misconfiguration {
  readonly #r: Rng;
  readonly #cfg: Required<MisconfigConfig>;
  #hosts: { src: number; rank: number; port: number }[] | null = null;
  readonly #linux = toolIndex('linux');
  emitted = 0;

  constructor(cfg: MisconfigConfig, seed: number) {
    this.#r = new Rng(seed);
    this.#cfg = { hosts: 20, perHostHour: 30, backscatterPerAddressHour: 0.5, ...cfg };
  }

  step(t0: number, t1: number, ctx: StepContext): void {
    const r = this.#r;
    const { sensors, buffer, up, loss } = ctx;
    const m = sensors.monitored;
    this.#hosts ??= Array.from({ length: this.#cfg.hosts }, () => ({
      src: r.u32(),
      rank: r.int(m),
      port: MISCONFIG_PORTS[r.int(MISCONFIG_PORTS.length)],
    }));
    const hours = (t1 - t0) / 3_600_000;
    for (const h of this.#hosts) {
      const n = r.poisson(this.#cfg.perHostHour * hours * (1 - loss));
      const sensor = sensors.sensorOfRank(h.rank);
      if (up[sensor] === 0) continue;
      const dst = sensors.addressOfRank(h.rank, sensor);
      for (let k = 0; k < n; k++) {
        buffer.probe(
          r,
          t0 + r.next() * (t1 - t0),
          sensor,
          sensors.kinds[sensor],
          h.src,
          dst,
          h.port,
          Proto.udp,
          this.#linux,
        );
        this.emitted++;
      }
    }
    const n = r.poisson(this.#cfg.backscatterPerAddressHour * hours * m * (1 - loss));
    for (let k = 0; k < n; k++) {
      const rank = r.int(m);
      const sensor = sensors.sensorOfRank(rank);
      if (up[sensor] === 0) continue;
      const dst = sensors.addressOfRank(rank, sensor);
      const row = buffer.probe(
        r,
        t0 + r.next() * (t1 - t0),
        sensor,
        sensors.kinds[sensor],
        r.u32(),
        dst,
        1024 + r.int(64511),
        Proto.tcp,
        this.#linux,
      );
      // A victim answering a spoofed SYN: SYN-ACK from its service port to our address.
      buffer.tcpFlags[row] = 0x12;
      buffer.srcPort[row] = r.next() < 0.7 ? 80 : 443;
      this.emitted++;
    }
  }
}

export interface CampaignConfig {
  name: string;
  port: number;
  proto: 'tcp' | 'udp';
  /** Distinct source addresses the operators probe from. */
  sources: number;
  /** Probes a second per source at the peak. */
  peakRate: number;
  start: number;
  /** From start to peak, linearly. */
  rampMs: number;
  /** After the peak, activity halves every this many ms. */
  halfLifeMs: number;
  /** Probing stops here. */
  end: number;
  tool: ToolName;
  /** SHA-256 of the exploit payload a honeypot captures on the first probe that reaches one. */
  payloadSha256?: string;
}

/**
 * Human-operated probing of one port: a fixed set of sources whose combined rate rises to a peak
 * and tapers; targets uniform over IPv4, so the count in monitored space is Poisson thinned by
 * coverage, exact for a Poisson probe process.
 */
export class ProbeCampaign {
  readonly config: CampaignConfig;
  readonly #r: Rng;
  readonly sources: Uint32Array;
  readonly #tool: number;
  emitted = 0;
  compromised = false;
  /** When a sensor first logged one of its probes (true time), or null. */
  firstSeen: number | null = null;
  /** Per sensor, when it first logged one of the campaign's probes. */
  readonly sensorFirstSeen = new Map<number, number>();

  constructor(config: CampaignConfig, seed: number) {
    this.config = config;
    this.#r = new Rng(seed);
    this.sources = Uint32Array.from(
      { length: config.sources },
      () => (this.#r.int(222) + 1) * 2 ** 24 + this.#r.int(2 ** 24),
    );
    this.#tool = toolIndex(config.tool);
  }

  /** Combined probes per second at time t. */
  rate(t: number): number {
    const c = this.config;
    if (t < c.start || t >= c.end) return 0;
    const peakAt = c.start + c.rampMs;
    const shape = t < peakAt ? (t - c.start) / c.rampMs : Math.pow(0.5, (t - peakAt) / c.halfLifeMs);
    return c.sources * c.peakRate * shape;
  }

  step(t0: number, t1: number, ctx: StepContext): void {
    const c = this.config;
    if (t1 <= c.start || t0 >= c.end) return;
    const r = this.#r;
    const { sensors, buffer, up, loss } = ctx;
    const m = sensors.monitored;
    const mean = (this.rate((t0 + t1) / 2) * (t1 - t0) * m * (1 - loss)) / 1000 / IPV4_SPACE;
    const n = r.poisson(mean);
    const proto = c.proto === 'udp' ? Proto.udp : Proto.tcp;
    for (let k = 0; k < n; k++) {
      const rank = r.int(m);
      const sensor = sensors.sensorOfRank(rank);
      if (up[sensor] === 0) continue;
      const src = this.sources[r.int(this.sources.length)];
      const dst = sensors.addressOfRank(rank, sensor);
      const kind = sensors.kinds[sensor];
      const time = t0 + r.next() * (t1 - t0);
      if (this.firstSeen === null || time < this.firstSeen) this.firstSeen = time;
      const was = this.sensorFirstSeen.get(sensor);
      if (was === undefined || time < was) this.sensorFirstSeen.set(sensor, time);
      const row = buffer.probe(r, time, sensor, kind, src, dst, c.port, proto, this.#tool);
      if (kind === 1 && c.payloadSha256 && !this.compromised) {
        buffer.payload.set(row, c.payloadSha256);
        this.compromised = true;
      }
      this.emitted++;
    }
  }
}

function cumulative(weights: number[]): Float64Array {
  const out = new Float64Array(weights.length);
  let sum = 0;
  for (let i = 0; i < weights.length; i++) out[i] = sum += weights[i];
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
