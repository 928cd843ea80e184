// Worms and human-operated scanners, stepped in simulated time: infection dynamics are exact per probe where
// they must be (sequential and permutation scans) and sampled in aggregate where that is exact in distribution
// (uniform and local-preference scans): only probes that land on a sensor or a vulnerable host are drawn.

import { Proto } from '../core/event.ts';
import { toolIndex, type EventBuffer, type ToolName } from './events.ts';
import {
  IPV4_SPACE,
  Population,
  lowerBound,
  upperBound,
  type PopulationConfig,
  type SensorDeployment,
} from './internet.ts';
import { Rng, hash2, permute32, unpermute32 } from './random.ts';

/** How an infected host (or an operator) picks targets. */
export type Strategy =
  /** Uniform over IPv4 (Slammer, Code Red). */
  | { kind: 'random' }
  /** Up from a start address, `threads` probes in flight (Sagevo, Blaster). */
  | {
      kind: 'sequential';
      start: 'bottom' | 'own' | 'random';
      threads: number;
      wrap?: boolean;
      /** Each scan window starts a fresh sweep from the start address (a bot re-commanded), instead of resuming. */
      restartEachWindow?: boolean;
    }
  /** Same network first: share `p` of probes inside the host's own /prefix, the rest uniform (Code Red II). */
  | { kind: 'local'; prefer: { prefix: number; p: number }[] }
  /** A shared pseudo-random order of IPv4; on hitting an infected host, jump to a fresh random point. */
  | { kind: 'permutation' };

export type Interval = [from: number, to: number];

export interface WormConfig {
  name: string;
  port: number;
  proto: 'tcp' | 'udp';
  strategy: Strategy;
  /** Probes a second per infected host (per thread for sequential scanners). */
  scanRate: number;
  /** The vulnerable hosts, or how to place them (seeded from the worm's seed unless given). */
  population: (Omit<PopulationConfig, 'seed'> & { seed?: number }) | Population;
  /** Time of the first infection (ms since the epoch): the true onset. */
  onset: number;
  /** Hosts infected at onset (default 1). */
  initial?: number;
  /** Vulnerable hosts the worm knows before it starts: infected first, one probe each (Warhol worm). */
  hitList?: number;
  /** Per-host hazard of being patched, per hour, from `patchFrom` (default onset) on; cleans infected hosts too. */
  patchPerHour?: number;
  patchFrom?: number;
  /** The command-and-control server is down in these intervals: exploits land but no copy is fetched. */
  c2Down?: Interval[];
  /** When set, hosts scan only inside these intervals (scanning waves on a controller's command). */
  scanWindows?: Interval[];
  tool: ToolName;
}

/** What a generator needs from the run: the sensors, the step's buffer, loss and sensor health. */
export interface StepContext {
  sensors: SensorDeployment;
  buffer: EventBuffer;
  /** Per-sensor 1 when up this step. */
  up: Uint8Array;
  /** Probability that a probe to a monitored address is lost before the sensor logs it. */
  loss: number;
}

export interface InfectionSample {
  t: number;
  infected: number;
  removed: number;
  /** Probes sent so far, all of them. */
  probes: number;
  /** Probes sensors logged so far. */
  seen: number;
}

const S = 0;
const I = 1;
const R = 2;

export class Worm {
  readonly config: WormConfig;
  readonly population: Population;
  readonly #rng: Rng;
  readonly #state: Uint8Array;
  /** Pop indexes of currently infected hosts, in infection order (swap-removed when patched). */
  readonly #infected: Int32Array;
  readonly #slot: Int32Array;
  #count = 0;
  #removed = 0;
  #everInfected = 0;
  readonly #infectedAt: Float64Array;
  /** Sequential cursor or permutation position per host. */
  readonly #cursor: Float64Array;
  /** Host seconds of scanning owed by hosts infected part-way through the previous step. */
  #carrySeconds = 0;
  #fraction = 0;
  #probes = 0;
  #seen = 0;
  #hitListNext = 0;
  readonly #hitList: Int32Array;
  readonly #tool: number;
  readonly #proto: number;
  #permKey = 0;
  #vulnByPerm: Float64Array | null = null;
  #monByPerm: Float64Array | null = null;
  readonly #localNets = new Map<
    string,
    { hosts: number[]; monitored: number; vulnerable: number; lo: number }
  >();

  constructor(config: WormConfig, seed: number) {
    this.config = config;
    this.#rng = new Rng(seed);
    this.population =
      config.population instanceof Population
        ? config.population
        : Population.generate({ ...config.population, seed: config.population.seed ?? seed });
    const n = this.population.size;
    this.#state = new Uint8Array(n);
    this.#infected = new Int32Array(n);
    this.#slot = new Int32Array(n).fill(-1);
    this.#infectedAt = new Float64Array(n);
    this.#cursor = new Float64Array(n);
    this.#tool = toolIndex(config.tool);
    this.#proto = config.proto === 'udp' ? Proto.udp : Proto.tcp;
    const hit = Math.min(n, config.hitList ?? 0);
    this.#hitList = new Int32Array(hit);
    for (let i = 0; i < hit; i++) this.#hitList[i] = this.#rng.int(n);
    this.#permKey = this.#rng.u32();
    const first = Math.min(n, config.initial ?? 1);
    for (let k = 0; k < first; k++) {
      let idx = this.#rng.int(n);
      while (this.#state[idx] !== S) idx = (idx + 1) % n;
      this.#infect(idx, config.onset, true);
    }
  }

  /** When a sensor first logged one of its probes (true time), or null. */
  firstSeen: number | null = null;

  /** Per sensor, when it first logged one of the worm's probes. */
  readonly sensorFirstSeen = new Map<number, number>();

  #saw(time: number, sensor: number): void {
    this.#seen++;
    if (this.firstSeen === null || time < this.firstSeen) this.firstSeen = time;
    const was = this.sensorFirstSeen.get(sensor);
    if (was === undefined || time < was) this.sensorFirstSeen.set(sensor, time);
  }

  get infected(): number {
    return this.#count;
  }

  get everInfected(): number {
    return this.#everInfected;
  }

  /** True when the host at pop index `idx` is currently infected. */
  isInfected(idx: number): boolean {
    return this.#state[idx] === I;
  }

  /** The infected population now, for ground truth. */
  sample(t: number): InfectionSample {
    return { t, infected: this.#count, removed: this.#removed, probes: this.#probes, seen: this.#seen };
  }

  #patchedBy(idx: number, t: number): boolean {
    const perHour = this.config.patchPerHour ?? 0;
    if (perHour <= 0) return false;
    // Each host's patch time is a fixed Exp(rate) draw hashed from its index: no per-host state.
    const u = (hash2(idx, this.#permKey) + 1) / 4294967297;
    return t >= (this.config.patchFrom ?? this.config.onset) + (-Math.log(u) / perHour) * 3_600_000;
  }

  #c2Up(t: number): boolean {
    for (const [from, to] of this.config.c2Down ?? []) if (t >= from && t < to) return false;
    return true;
  }

  /** The parts of [t0, t1) in which hosts scan. */
  #scanSpans(t0: number, t1: number): Interval[] {
    const windows = this.config.scanWindows;
    if (!windows) return [[t0, t1]];
    const spans: Interval[] = [];
    for (const [from, to] of windows)
      if (Math.min(t1, to) > Math.max(t0, from)) spans.push([Math.max(t0, from), Math.min(t1, to)]);
    return spans;
  }

  /** A probe at `time` hit pop index `idx`: infects it when it is still vulnerable and the worm can copy itself. */
  #hit(idx: number, time: number): boolean {
    if (this.#state[idx] !== S) return false;
    if (this.#patchedBy(idx, time)) {
      this.#state[idx] = R;
      return false;
    }
    if (!this.#c2Up(time)) return false;
    this.#infect(idx, time, false);
    return true;
  }

  #infect(idx: number, time: number, initial: boolean): void {
    this.#state[idx] = I;
    this.#slot[idx] = this.#count;
    this.#infected[this.#count++] = idx;
    this.#everInfected++;
    this.#infectedAt[idx] = time;
    const addr = this.population.addrs[idx];
    const s = this.config.strategy;
    if (s.kind === 'sequential') this.#cursor[idx] = this.#sweepStart(s.start, addr);
    if (s.kind === 'permutation') this.#cursor[idx] = this.#rng.int(IPV4_SPACE);
    if (s.kind === 'local') for (const { prefix } of s.prefer) this.#localNet(prefix, addr).hosts.push(idx);
    if (!initial) this.#carryPending.push(idx);
  }

  readonly #carryPending: number[] = [];

  #sweepStart(start: 'bottom' | 'own' | 'random', addr: number): number {
    return start === 'bottom' ? 0 : start === 'own' ? addr : this.#rng.int(IPV4_SPACE);
  }

  #remove(idx: number): void {
    const slot = this.#slot[idx];
    const last = this.#infected[--this.#count];
    this.#infected[slot] = last;
    this.#slot[last] = slot;
    this.#slot[idx] = -1;
    this.#state[idx] = R;
    this.#removed++;
    const s = this.config.strategy;
    if (s.kind === 'local')
      for (const { prefix } of s.prefer) {
        const hosts = this.#localNet(prefix, this.population.addrs[idx]).hosts;
        hosts.splice(hosts.indexOf(idx), 1);
      }
  }

  #localNet(prefix: number, addr: number) {
    const size = 2 ** (32 - prefix);
    const lo = Math.floor(addr / size) * size;
    const key = `${prefix}/${lo}`;
    let net = this.#localNets.get(key);
    if (!net) {
      net = { hosts: [], monitored: -1, vulnerable: this.population.countInRange(lo, lo + size), lo };
      this.#localNets.set(key, net);
    }
    return net;
  }

  /** Advances the worm over [t0, t1), writing what sensors see into `ctx.buffer`. */
  step(t0: number, t1: number, ctx: StepContext): void {
    if (t1 <= this.config.onset) return;
    const start = Math.max(t0, this.config.onset);
    // Hosts infected during the previous step owe the scanning time they had left in it.
    for (const idx of this.#carryPending)
      this.#carrySeconds += Math.max(0, t0 - this.#infectedAt[idx]) / 1000;
    this.#carryPending.length = 0;
    const patch = this.config.patchPerHour ?? 0;
    if (patch > 0 && this.#count > 0 && t1 > (this.config.patchFrom ?? this.config.onset)) {
      const cleaned = this.#rng.binomial(this.#count, 1 - Math.exp((-patch * (t1 - start)) / 3_600_000));
      for (let k = 0; k < cleaned; k++) this.#remove(this.#infected[this.#rng.int(this.#count)]);
    }
    const spans = this.#scanSpans(start, t1);
    const scanMs = spans.reduce((sum, [a, b]) => sum + b - a, 0);
    const hostSeconds = (this.#count * scanMs) / 1000 + this.#carrySeconds;
    this.#carrySeconds = 0;
    if (scanMs > 0 && this.#count > 0) {
      const s = this.config.strategy;
      const left = hostSeconds - this.#hitListStep(hostSeconds, start, t1);
      const hitListDone = this.#hitListNext >= this.#hitList.length;
      if (left > 0 && hitListDone) {
        if (s.kind === 'random') this.#uniformStep(left, start, t1, ctx);
        else if (s.kind === 'local') this.#localStep(s.prefer, left, scanMs, start, t1, ctx);
        else if (s.kind === 'sequential')
          for (const [a, b] of spans) {
            const windowOpens = (this.config.scanWindows ?? []).some(([from]) => from === a);
            if (s.restartEachWindow && windowOpens)
              for (let i = 0; i < this.#count; i++)
                this.#cursor[this.#infected[i]] = this.#sweepStart(
                  s.start,
                  this.population.addrs[this.#infected[i]],
                );
            this.#sequentialStep(s, a, b, ctx);
          }
        else for (const [a, b] of spans) this.#permutationStep(a, b, ctx);
      }
    }
  }

  /** Hit-list probes come first; returns the host seconds they took. */
  #hitListStep(hostSeconds: number, t0: number, t1: number): number {
    const left = this.#hitList.length - this.#hitListNext;
    if (left <= 0) return 0;
    const n = Math.min(left, Math.floor(hostSeconds * this.config.scanRate));
    for (let k = 0; k < n; k++)
      this.#hit(this.#hitList[this.#hitListNext++], t0 + ((k + 0.5) / n) * (t1 - t0));
    this.#probes += n;
    return n / this.config.scanRate;
  }

  /**
   * Uniform scanning, aggregated: n probes each land on a monitored address with probability
   * M/2^32 and otherwise on a vulnerable host with probability N/(2^32 - M) (the two sets are
   * disjoint), so the split is multinomial, drawn as two binomials; each landing probe's target is
   * then uniform over its set. This is the exact distribution of n independent uniform probes.
   */
  #uniformStep(hostSeconds: number, t0: number, t1: number, ctx: StepContext): void {
    const r = this.#rng;
    const want = hostSeconds * this.config.scanRate + this.#fraction;
    const n = Math.floor(want);
    this.#fraction = want - n;
    this.#probes += n;
    const monitored = ctx.sensors.monitored;
    const vulnerable = this.population.size;
    const seen = r.binomial(n, monitored / IPV4_SPACE);
    const hits = r.binomial(n - seen, vulnerable / (IPV4_SPACE - monitored));
    const active = this.#count;
    this.#emitUniform(seen, 0, monitored, active, t0, t1, ctx);
    for (let k = 0; k < hits; k++) this.#hit(r.int(vulnerable), t0 + r.next() * (t1 - t0));
  }

  /** `seen` probes to monitored ranks uniform in [rankLo, rankLo + span), from hosts drawn among the first `active`. */
  #emitUniform(
    seen: number,
    rankLo: number,
    span: number,
    active: number,
    t0: number,
    t1: number,
    ctx: StepContext,
    hosts?: number[],
  ): void {
    const r = this.#rng;
    const { sensors, buffer, up, loss } = ctx;
    const addrs = this.population.addrs;
    const port = this.config.port;
    for (let k = 0; k < seen; k++) {
      const rank = rankLo + r.int(span);
      const sensor = sensors.sensorOfRank(rank);
      const time = t0 + r.next() * (t1 - t0);
      const src = addrs[hosts ? hosts[r.int(hosts.length)] : this.#infected[r.int(active)]];
      if (up[sensor] === 0 || (loss > 0 && r.next() < loss)) continue;
      const dst = sensors.addressOfRank(rank, sensor);
      buffer.probe(r, time, sensor, sensors.kinds[sensor], src, dst, port, this.#proto, this.#tool);
      this.#saw(time, sensor);
    }
  }

  /** Local preference: the uniform share as above, and per network holding infected hosts, its own share over that network. */
  #localStep(
    prefer: { prefix: number; p: number }[],
    hostSeconds: number,
    scanMs: number,
    t0: number,
    t1: number,
    ctx: StepContext,
  ): void {
    const r = this.#rng;
    const localShare = prefer.reduce((s, x) => s + x.p, 0);
    this.#uniformStep(hostSeconds * (1 - localShare), t0, t1, ctx);
    const seconds = scanMs / 1000;
    for (const [key, net] of this.#localNets) {
      if (net.hosts.length === 0) continue;
      const prefix = Number(key.slice(0, key.indexOf('/')));
      const p = prefer.find((x) => x.prefix === prefix)?.p ?? 0;
      const size = 2 ** (32 - prefix);
      if (net.monitored < 0) net.monitored = ctx.sensors.monitoredInRange(net.lo, net.lo + size);
      const n = r.poisson(net.hosts.length * seconds * this.config.scanRate * p);
      this.#probes += n;
      const seen = r.binomial(n, net.monitored / size);
      const hits = r.binomial(n - seen, net.vulnerable / (size - net.monitored));
      if (seen > 0)
        this.#emitUniform(seen, ctx.sensors.monitoredBelow(net.lo), net.monitored, 0, t0, t1, ctx, net.hosts);
      const first = lowerBound(this.population.addrs, net.lo);
      for (let k = 0; k < hits; k++) this.#hit(first + r.int(net.vulnerable), t0 + r.next() * (t1 - t0));
    }
  }

  /**
   * Sequential scanning is simulated exactly: each host sweeps [cursor, cursor + rate x dt), and
   * the monitored blocks and vulnerable hosts in that range are found by binary search, so the
   * cost is per host and per target found, not per probe.
   */
  #sequentialStep(s: { threads: number; wrap?: boolean }, t0: number, t1: number, ctx: StepContext): void {
    const rate = (this.config.scanRate * s.threads) / 1000; // probes per ms
    // Hosts infected in this step are appended to the list and scan from their infection time.
    for (let i = 0; i < this.#count; i++) {
      const idx = this.#infected[i];
      let from = Math.max(t0, this.#infectedAt[idx]);
      while (from < t1) {
        const lo = this.#cursor[idx];
        if (lo >= IPV4_SPACE) {
          if (!s.wrap) break;
          this.#cursor[idx] = 0;
          continue;
        }
        const hi = Math.min(IPV4_SPACE, lo + (t1 - from) * rate);
        this.#sweep(idx, lo, hi, from, t1, rate, ctx);
        this.#probes += Math.ceil(hi) - Math.ceil(lo);
        this.#cursor[idx] = hi;
        from += (hi - lo) / rate;
        if (hi < IPV4_SPACE) break;
      }
    }
  }

  /** Every monitored address and vulnerable host in [ceil(lo), ceil(hi)), at the time the cursor passes it. */
  #sweep(
    idx: number,
    lo: number,
    hi: number,
    from: number,
    end: number,
    rate: number,
    ctx: StepContext,
  ): void {
    const a = Math.ceil(lo);
    const b = Math.ceil(hi);
    if (b <= a) return;
    const { sensors, buffer, up, loss } = ctx;
    const r = this.#rng;
    const src = this.population.addrs[idx];
    // Rounding must not push the last probe of a step into the next one.
    const timeOf = (addr: number): number => Math.min(end - 0.001, from + (addr - lo) / rate);
    for (
      let k = Math.max(0, upperBound(sensors.starts, a) - 1);
      k < sensors.count && sensors.starts[k] < b;
      k++
    ) {
      const end = Math.min(b, sensors.starts[k] + sensors.sizes[k]);
      if (up[k] === 0) continue;
      for (let dst = Math.max(a, sensors.starts[k]); dst < end; dst++) {
        if (loss > 0 && r.next() < loss) continue;
        const time = timeOf(dst);
        buffer.probe(r, time, k, sensors.kinds[k], src, dst, this.config.port, this.#proto, this.#tool);
        this.#saw(time, k);
      }
    }
    const addrs = this.population.addrs;
    for (let v = lowerBound(addrs, a); v < addrs.length && addrs[v] < b; v++) this.#hit(v, timeOf(addrs[v]));
  }

  /**
   * Permutation scanning, exact: every infected host walks the same keyed bijection of IPv4 from
   * its own point; the permuted positions of monitored addresses and vulnerable hosts are sorted
   * once, so a step's walk is a range search. Hitting an infected host sends the walker to a
   * fresh random point, as in Staniford, Paxson and Weaver (2002).
   */
  #permutationStep(t0: number, t1: number, ctx: StepContext): void {
    const { vuln, mon } = this.#permIndexes(ctx.sensors);
    const rate = this.config.scanRate / 1000;
    const r = this.#rng;
    const { sensors, buffer, up, loss } = ctx;
    for (let i = 0; i < this.#count; i++) {
      const idx = this.#infected[i];
      let from = Math.max(t0, this.#infectedAt[idx]);
      const src = this.population.addrs[idx];
      walk: while (from < t1) {
        const lo = this.#cursor[idx];
        const hi = Math.min(IPV4_SPACE, lo + (t1 - from) * rate);
        const a = Math.ceil(lo);
        const b = Math.ceil(hi);
        const timeOf = (pos: number): number => Math.min(t1 - 0.001, from + (pos - lo) / rate);
        for (let m = lowerBound(mon, a * 2 ** 20); m < mon.length && mon[m] < b * 2 ** 20; m++) {
          const pos = Math.floor(mon[m] / 2 ** 20);
          const sensor = mon[m] - pos * 2 ** 20;
          if (up[sensor] === 0 || (loss > 0 && r.next() < loss)) continue;
          const dst = unpermute32(pos, this.#permKey);
          const time = timeOf(pos);
          buffer.probe(
            r,
            time,
            sensor,
            sensors.kinds[sensor],
            src,
            dst,
            this.config.port,
            this.#proto,
            this.#tool,
          );
          this.#saw(time, sensor);
        }
        for (let v = lowerBound(vuln, a); v < vuln.length && vuln[v] < b; v++) {
          const pos = vuln[v];
          const target = this.#vulnIndex[v];
          if (this.#state[target] === I && target !== idx) {
            this.#probes += pos + 1 - a;
            from = timeOf(pos + 1);
            this.#cursor[idx] = r.int(IPV4_SPACE);
            continue walk;
          }
          this.#hit(target, timeOf(pos));
        }
        this.#probes += b - a;
        this.#cursor[idx] = hi >= IPV4_SPACE ? 0 : hi;
        from += (hi - lo) / rate;
      }
    }
  }

  #vulnIndex = new Int32Array(0);

  #permIndexes(sensors: SensorDeployment): { vuln: Float64Array; mon: Float64Array } {
    if (this.#vulnByPerm && this.#monByPerm) return { vuln: this.#vulnByPerm, mon: this.#monByPerm };
    const key = this.#permKey;
    const addrs = this.population.addrs;
    // Monitored keys are position x 2^20 + sensor, so one native sort orders them (sensors < 2^20).
    const vuln = new Float64Array(addrs.length);
    for (let i = 0; i < addrs.length; i++) vuln[i] = permute32(addrs[i], key);
    const order = Array.from(vuln.keys()).sort((x, y) => vuln[x] - vuln[y]);
    this.#vulnIndex = Int32Array.from(order);
    this.#vulnByPerm = Float64Array.from(order, (i) => vuln[i]);
    const mon = new Float64Array(sensors.monitored);
    let j = 0;
    for (let s = 0; s < sensors.count; s++)
      for (let a = sensors.starts[s]; a < sensors.starts[s] + sensors.sizes[s]; a++) {
        mon[j++] = permute32(a, key) * 2 ** 20 + s;
      }
    this.#monByPerm = mon.sort();
    return { vuln: this.#vulnByPerm, mon: this.#monByPerm };
  }
}
