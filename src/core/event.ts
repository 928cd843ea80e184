// The normalised event: one observed connection attempt (or one aggregated log line with a count).
//
// Two shapes of the same thing: `PortentEvent` is the object form people and JSON tools see;
// `EventColumns` is the columnar form the collector, the store and the wire codec work on, because
// at a million events a second per-object allocation is the bottleneck.

import type { Clock } from './clock.ts';

/** What the sensor did with the connection attempt. */
export const Action = { unknown: 0, blocked: 1, accepted: 2, honeypot: 3 } as const;
export type ActionName = keyof typeof Action;
export const ACTION_NAMES = Object.keys(Action) as ActionName[];

/** What kind of sensor observed it. */
export const Origin = { firewall: 0, honeypot: 1, ids: 2, capture: 3 } as const;
export type OriginName = keyof typeof Origin;
export const ORIGIN_NAMES = Object.keys(Origin) as OriginName[];

/** IANA protocol numbers Portent names; any other number 0..255 is accepted as-is. */
export const Proto = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58, sctp: 132 } as const;
export type ProtoName = keyof typeof Proto;

/** TCP flag bits as in the TCP header. */
export const TcpFlag = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16, URG: 32, ECE: 64, CWR: 128 } as const;

/** One event in object form; addresses are text (IPv4 dotted quad or IPv6). */
export interface PortentEvent {
  /** Milliseconds since the Unix epoch, UTC. */
  time: number;
  src: string;
  srcPort: number;
  /** Destination after the sensor's privacy rule; null when the rule withheld it. */
  dst: string | null;
  dstPort: number;
  /** IANA protocol number. */
  proto: number;
  /** TCP flag bits (0 for other protocols). */
  tcpFlags: number;
  action: ActionName;
  origin: OriginName;
  /** Tool fingerprints, null when the source did not record them. */
  ipId: number | null;
  ttl: number | null;
  window: number | null;
  seq: number | null;
  /** Lower-case hex SHA-256 of a captured payload. */
  payloadSha256: string | null;
  /** How many identical attempts this record stands for (aggregated log lines). */
  count: number;
  /** Sampling: this record stands for one in `sampling` records seen (1 = unsampled). */
  sampling: number;
}

/**
 * A batch of events in columnar form. Addresses are 128-bit values held as four little-endian
 * 32-bit limbs per row (IPv4 as the mapped address ::ffff:a.b.c.d), which is byte for byte
 * DuckDB's UHUGEINT layout on little-endian machines. An all-zero destination means "withheld".
 * Absent fingerprints are -1 (NaN for `seq`, which is a full uint32).
 */
export interface EventColumns {
  length: number;
  time: Float64Array;
  src: Uint32Array;
  srcPort: Uint16Array;
  dst: Uint32Array;
  dstPort: Uint16Array;
  proto: Uint8Array;
  tcpFlags: Uint8Array;
  action: Uint8Array;
  origin: Uint8Array;
  ipId: Int32Array;
  ttl: Int16Array;
  window: Int32Array;
  seq: Float64Array;
  /** Sparse: most events carry no payload. */
  payloadSha256: (string | null)[];
  count: Uint32Array;
  sampling: Uint32Array;
}

/** Allocates zeroed columns for `n` events, fingerprints marked absent. */
export function allocColumns(n: number): EventColumns {
  const c: EventColumns = {
    length: n,
    time: new Float64Array(n),
    src: new Uint32Array(n * 4),
    srcPort: new Uint16Array(n),
    dst: new Uint32Array(n * 4),
    dstPort: new Uint16Array(n),
    proto: new Uint8Array(n),
    tcpFlags: new Uint8Array(n),
    action: new Uint8Array(n),
    origin: new Uint8Array(n),
    ipId: new Int32Array(n).fill(-1),
    ttl: new Int16Array(n).fill(-1),
    window: new Int32Array(n).fill(-1),
    seq: new Float64Array(n).fill(NaN),
    payloadSha256: new Array<string | null>(n).fill(null),
    count: new Uint32Array(n).fill(1),
    sampling: new Uint32Array(n).fill(1),
  };
  return c;
}

/** The batch envelope every sensor submission carries. */
export interface BatchEnvelope {
  /** UUID chosen by the sensor; a re-sent batch keeps it, which makes submission idempotent. */
  batchId: string;
  /** The sensor's own running sequence number, for gap detection. */
  seq: number;
  /** When the sensor closed the batch, ms since the epoch. */
  created: number;
  /** The sensor software's name and version, e.g. "portent-sensor/0.1.0". */
  software: string;
}

export interface EventBatch extends BatchEnvelope {
  events: EventColumns;
}

/** Limits a valid event must respect. */
export const EVENT_LIMITS = {
  /** Earliest acceptable event time: 1990-01-01, before which no Internet scan data exists. */
  minTime: Date.UTC(1990, 0, 1),
  /** Events may be at most this far in the sensor's future (clock skew). */
  maxFutureMs: 24 * 3600_000,
  maxCount: 0xffffffff,
  maxSampling: 0xffffffff,
} as const;

/** What a decoder needs to judge a batch; the clock defaults to the system clock. */
export interface DecodeLimits {
  /** More events than this is BATCH_TOO_LARGE, checked before any per-event work. */
  maxEvents: number;
  /** "Now" for the future-time check; injectable so replays and tests are exact. */
  clock?: Clock;
}

/** Longest accepted software string (printable ASCII, so characters and bytes agree). */
export const MAX_SOFTWARE_LENGTH = 64;

/** Problem with a batch id, or null. The nil UUID is refused: every buggy sensor would share it, and batch ids are the idempotency key. */
export function batchIdProblem(s: string): string | null {
  if (s.length !== 36) return 'must be a UUID such as 3f2b8c1e-0d4a-4e6b-9a7c-5e1f2d3c4b5a';
  let nonZero = false;
  for (let i = 0; i < 36; i++) {
    const c = s.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 0x2d) return 'must be a UUID such as 3f2b8c1e-0d4a-4e6b-9a7c-5e1f2d3c4b5a';
    } else if ((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46)) {
      if (c !== 0x30) nonZero = true;
    } else {
      return 'must be a UUID such as 3f2b8c1e-0d4a-4e6b-9a7c-5e1f2d3c4b5a';
    }
  }
  return nonZero ? null : 'must not be the nil UUID';
}

/** Problem with a software string, or null. ASCII only: it is shown in admin views, where control or bidi characters could mislead. */
export function softwareProblem(s: string): string | null {
  if (s.length === 0) return 'must not be empty';
  if (s.length > MAX_SOFTWARE_LENGTH) return `must be at most ${MAX_SOFTWARE_LENGTH} characters`;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return 'must be printable ASCII (characters 0x20..0x7e)';
  }
  return null;
}

/** Problem with an event (or batch creation) time against `now`, or null. */
export function timeProblem(t: number, now: number): string | null {
  if (!Number.isSafeInteger(t)) return 'must be a whole number of milliseconds since the epoch';
  if (t < EVENT_LIMITS.minTime) return `${msToIso(t)} is before 1990-01-01T00:00:00.000Z`;
  if (t > now + EVENT_LIMITS.maxFutureMs)
    return `${msToIso(t)} is more than 24 h ahead of the collector's clock (${msToIso(now)})`;
  return null;
}

function msToIso(t: number): string {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString();
}

const PROTO_BY_NUMBER = new Map<number, ProtoName>(
  Object.entries(Proto).map(([k, v]) => [v, k as ProtoName]),
);

/** "tcp", "udp", … for protocols Portent names, else the number as text. */
export function protoName(n: number): string {
  return PROTO_BY_NUMBER.get(n) ?? String(n);
}

/** The rows of `c` whose indexes are listed, in that order. */
export function selectRows(c: EventColumns, rows: readonly number[]): EventColumns {
  const out = allocColumns(rows.length);
  rows.forEach((i, j) => {
    out.time[j] = c.time[i];
    out.src.set(c.src.subarray(4 * i, 4 * i + 4), 4 * j);
    out.srcPort[j] = c.srcPort[i];
    out.dst.set(c.dst.subarray(4 * i, 4 * i + 4), 4 * j);
    out.dstPort[j] = c.dstPort[i];
    out.proto[j] = c.proto[i];
    out.tcpFlags[j] = c.tcpFlags[i];
    out.action[j] = c.action[i];
    out.origin[j] = c.origin[i];
    out.ipId[j] = c.ipId[i];
    out.ttl[j] = c.ttl[i];
    out.window[j] = c.window[i];
    out.seq[j] = c.seq[i];
    out.payloadSha256[j] = c.payloadSha256[i];
    out.count[j] = c.count[i];
    out.sampling[j] = c.sampling[i];
  });
  return out;
}

type TypedColumn = Float64Array | Uint32Array | Uint16Array | Uint8Array | Int32Array | Int16Array;

/** One batch's columns followed by another's. */
export function concatColumns(a: EventColumns, b: EventColumns): EventColumns {
  const c = allocColumns(a.length + b.length);
  for (const key of Object.keys(c) as (keyof EventColumns)[]) {
    if (key === 'length' || key === 'payloadSha256') continue;
    const target = c[key] as TypedColumn;
    const first = a[key] as TypedColumn;
    target.set(first as never, 0);
    target.set(b[key] as never, first.length);
  }
  c.payloadSha256 = [...a.payloadSha256, ...b.payloadSha256];
  return c;
}
