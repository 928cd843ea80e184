// The normalised event: one observed connection attempt (or one aggregated log line with a count).
//
// Two shapes of the same thing: `PortentEvent` is the object form people and JSON tools see;
// `EventColumns` is the columnar form the collector, the store and the wire codec work on, because
// at a million events a second per-object allocation is the bottleneck.

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
