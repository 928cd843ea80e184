// Collects one simulated step's sensor events from every generator, then hands them out as EventColumns in time order.
//
// Also the tool fingerprints (TTL, window, IP ID, sequence) a real scanner leaves, so that tool and
// scanner characterisation downstream have something true to find.

import { allocColumns, Action, Origin, Proto, type EventColumns } from '../core/event.ts';
import { SensorKind } from './internet.ts';
import { hash2, type Rng } from './random.ts';

/** How a scanning tool or operating system shapes its probes. */
export const TOOLS = {
  /** Windows XP connect(): the Blaster/Sagevo era worm host. IP ID a per-host counter. */
  'windows-xp': { ttl: 128, window: 65535, ipId: 'counter', srcPort: 'ephemeral' },
  /** Windows 2000 IIS (Code Red). */
  'windows-2000': { ttl: 128, window: 16384, ipId: 'counter', srcPort: 'ephemeral' },
  /** A Linux connect() scanner (a human with a script). */
  linux: { ttl: 64, window: 29200, ipId: 'random', srcPort: 'random' },
  /** masscan: window 1024, TTL 255, IP ID derived from the SYN cookie. */
  masscan: { ttl: 255, window: 1024, ipId: 'cookie', srcPort: 'random' },
  /** ZMap: IP ID 54321, window 65535, TTL 255. */
  zmap: { ttl: 255, window: 65535, ipId: 'fixed', srcPort: 'random' },
  /** nmap -sS: window 1024, TTL 37..59 chosen per probe. */
  nmap: { ttl: 59, window: 1024, ipId: 'random', srcPort: 'random' },
  /** SQL Slammer: one UDP datagram from a Windows SQL server, random source port. */
  slammer: { ttl: 128, window: -1, ipId: 'counter', srcPort: 'random' },
} as const;
export type ToolName = keyof typeof TOOLS;
export const TOOL_NAMES = Object.keys(TOOLS) as ToolName[];

const IP_ID = { counter: 0, random: 1, cookie: 2, fixed: 3 } as const;
const TOOL_TTL = new Int16Array(TOOL_NAMES.map((t) => TOOLS[t].ttl));
const TOOL_WINDOW = new Int32Array(TOOL_NAMES.map((t) => TOOLS[t].window));
const TOOL_IPID = new Uint8Array(TOOL_NAMES.map((t) => IP_ID[TOOLS[t].ipId]));
const TOOL_EPHEMERAL = new Uint8Array(TOOL_NAMES.map((t) => (TOOLS[t].srcPort === 'ephemeral' ? 1 : 0)));
const NMAP = TOOL_NAMES.indexOf('nmap');

export function toolIndex(name: ToolName): number {
  const i = TOOL_NAMES.indexOf(name);
  if (i < 0) throw new Error(`unknown tool ${name}`);
  return i;
}

/** A step's events before sorting; columns grow by doubling and are reused across steps. */
export class EventBuffer {
  length = 0;
  time = new Float64Array(1024);
  sensor = new Uint32Array(1024);
  src = new Uint32Array(1024);
  dst = new Uint32Array(1024);
  srcPort = new Uint16Array(1024);
  dstPort = new Uint16Array(1024);
  proto = new Uint8Array(1024);
  tcpFlags = new Uint8Array(1024);
  action = new Uint8Array(1024);
  origin = new Uint8Array(1024);
  ipId = new Int32Array(1024);
  ttl = new Int16Array(1024);
  window = new Int32Array(1024);
  seq = new Float64Array(1024);
  /** Payload hashes by row: sparse, only honeypot captures carry one. */
  readonly payload = new Map<number, string>();

  #grow(): void {
    const n = this.time.length * 2;
    const grow = <T extends Float64Array | Uint32Array | Uint16Array | Uint8Array | Int32Array | Int16Array>(
      a: T,
    ): T => {
      const b = new (a.constructor as new (n: number) => T)(n);
      b.set(a as never);
      return b;
    };
    this.time = grow(this.time);
    this.sensor = grow(this.sensor);
    this.src = grow(this.src);
    this.dst = grow(this.dst);
    this.srcPort = grow(this.srcPort);
    this.dstPort = grow(this.dstPort);
    this.proto = grow(this.proto);
    this.tcpFlags = grow(this.tcpFlags);
    this.action = grow(this.action);
    this.origin = grow(this.origin);
    this.ipId = grow(this.ipId);
    this.ttl = grow(this.ttl);
    this.window = grow(this.window);
    this.seq = grow(this.seq);
  }

  /**
   * One probe seen by `sensor` (kind from the deployment), with the fingerprints of `tool`.
   * Returns its row so callers can override a field (flags of backscatter, say).
   */
  probe(
    r: Rng,
    time: number,
    sensor: number,
    sensorKind: number,
    src: number,
    dst: number,
    dstPort: number,
    proto: number,
    tool: number,
  ): number {
    if (this.length === this.time.length) this.#grow();
    const i = this.length++;
    const host = hash2(src, 7);
    const seq = r.u32();
    this.time[i] = time;
    this.sensor[i] = sensor;
    this.src[i] = src;
    this.dst[i] = dst;
    this.dstPort[i] = dstPort;
    this.proto[i] = proto;
    const tcp = proto === Proto.tcp;
    this.tcpFlags[i] = tcp ? 2 : 0;
    const honeypot = sensorKind === SensorKind.honeypot;
    this.action[i] = honeypot ? Action.honeypot : Action.blocked;
    this.origin[i] = honeypot ? Origin.honeypot : Origin.firewall;
    // Hops from the source: a per-host constant, so TTLs cluster per source as they do in real logs.
    const hops = 6 + (host % 18);
    this.ttl[i] = tool === NMAP ? 37 + (seq % 23) - hops : TOOL_TTL[tool] - hops;
    this.window[i] = tcp ? TOOL_WINDOW[tool] : -1;
    this.seq[i] = tcp ? seq : NaN;
    switch (TOOL_IPID[tool]) {
      case 0: // a host-wide counter moving with time
        this.ipId[i] = (host + Math.floor(time / 8)) & 0xffff;
        break;
      case 1:
        this.ipId[i] = seq >>> 16;
        break;
      case 2:
        this.ipId[i] = (dst ^ dstPort ^ seq) & 0xffff;
        break;
      default:
        this.ipId[i] = 54321;
    }
    this.srcPort[i] = TOOL_EPHEMERAL[tool]
      ? 1025 + ((host + Math.floor(time / 64)) % 3975)
      : 1024 + (seq % 64511);
    return i;
  }

  /**
   * The buffered events in time order, as columns plus the sensor of each row; `skew` (ms per
   * sensor) is added to the recorded times, as a sensor with a wrong clock would stamp them.
   */
  drain(skew?: Float64Array): { events: EventColumns; sensor: Uint32Array } {
    const n = this.length;
    const order = sortedOrder(this.time, n);
    const c = allocColumns(n);
    const sensor = new Uint32Array(n);
    const rowOf = this.payload.size > 0 ? new Map<number, number>() : null;
    if (rowOf) for (let j = 0; j < n; j++) if (this.payload.has(order[j])) rowOf.set(order[j], j);
    if (rowOf) for (const [i, sha] of this.payload) c.payloadSha256[rowOf.get(i) ?? 0] = sha;
    this.payload.clear();
    for (let j = 0; j < n; j++) {
      const i = order[j];
      const s = this.sensor[i];
      sensor[j] = s;
      c.time[j] = Math.floor(this.time[i] + (skew ? skew[s] : 0));
      c.src[4 * j] = this.src[i];
      c.src[4 * j + 1] = 0xffff;
      c.dst[4 * j] = this.dst[i];
      c.dst[4 * j + 1] = 0xffff;
      c.srcPort[j] = this.srcPort[i];
      c.dstPort[j] = this.dstPort[i];
      c.proto[j] = this.proto[i];
      c.tcpFlags[j] = this.tcpFlags[i];
      c.action[j] = this.action[i];
      c.origin[j] = this.origin[i];
      c.ipId[j] = this.ipId[i];
      c.ttl[j] = this.ttl[i];
      c.window[j] = this.window[i];
      c.seq[j] = this.seq[i];
    }
    this.length = 0;
    return { events: c, sensor };
  }
}

/**
 * Row order by time, stable, in O(n) expected: a counting sort into n buckets spread over the
 * step's time span, then insertion sort, which only has to move rows within a bucket. A bucket
 * that holds many rows (a burst within a millisecond) is sorted natively instead.
 */
function sortedOrder(time: Float64Array, n: number): Uint32Array {
  const order = new Uint32Array(n);
  if (n === 0) return order;
  let t0 = Infinity;
  let t1 = -Infinity;
  for (let i = 0; i < n; i++) {
    if (time[i] < t0) t0 = time[i];
    if (time[i] > t1) t1 = time[i];
  }
  const scale = t1 > t0 ? (n - 1) / (t1 - t0) : 0;
  const bucket = new Uint32Array(n);
  const starts = new Uint32Array(n + 1);
  for (let i = 0; i < n; i++) {
    const b = Math.floor((time[i] - t0) * scale);
    bucket[i] = b;
    starts[b + 1]++;
  }
  for (let b = 0; b < n; b++) starts[b + 1] += starts[b];
  const fill = starts.slice(0, n);
  for (let i = 0; i < n; i++) order[fill[bucket[i]]++] = i;
  for (let b = 0; b < n; b++) {
    const lo = starts[b];
    const hi = starts[b + 1];
    if (hi - lo < 2) continue;
    if (hi - lo > 32) {
      const part = order.subarray(lo, hi).sort((x, y) => time[x] - time[y] || x - y);
      order.set(part, lo);
      continue;
    }
    for (let j = lo + 1; j < hi; j++) {
      const row = order[j];
      const t = time[row];
      let k = j - 1;
      while (k >= lo && time[order[k]] > t) {
        order[k + 1] = order[k];
        k--;
      }
      order[k + 1] = row;
    }
  }
  return order;
}
