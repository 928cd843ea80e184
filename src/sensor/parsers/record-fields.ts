// Checked readers for the fields of untrusted records (JSON objects, TSV columns) and the event check
// shared by the structured-log parsers: Zeek, Suricata, Cowrie, Dionaea and OpenCanary.
//
// Every reader returns null for a value of the wrong type or out of range instead of throwing, so a
// hostile record becomes an `error` result with a message, never an exception.

import { formatAddress, parseAddress } from '../../core/address.ts';
import { EVENT_LIMITS, Proto, type PortentEvent } from '../../core/event.ts';
import type { ParseResult } from './types.ts';

export type JsonRecord = Record<string, unknown>;

/**
 * Longest line the JSON parsers try to read. Suricata alerts with packet and payload dumps reach
 * tens of kilobytes; anything past this is not a log record and would only cost a long parse.
 */
export const MAX_JSON_LINE_CHARS = 4 * 1024 * 1024;

/**
 * Deepest nesting a record may have. Real records nest a few levels; V8's JSON.parse spends about
 * 40 ns a level (1 MiB of "[" took 40-50 ms, 4 MiB 180 ms), so long lines are checked before parsing.
 */
const MAX_JSON_DEPTH = 512;
/** Lines up to this long are parsed without the depth check: at worst about a millisecond. */
const DEPTH_CHECK_FROM_CHARS = 64 * 1024;

/** True when brackets outside strings nest deeper than `limit`. */
function nestsDeeperThan(s: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // the escaped character cannot end the string
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** The line as a JSON object, or the reason it is not one. */
export function parseJsonRecord(line: string): JsonRecord | string {
  if (line.length > MAX_JSON_LINE_CHARS) {
    return `line is ${line.length} characters long, more than the ${MAX_JSON_LINE_CHARS} a record may have`;
  }
  if (line.length > DEPTH_CHECK_FROM_CHARS && nestsDeeperThan(line, MAX_JSON_DEPTH)) {
    return `not a log record: nested more than ${MAX_JSON_DEPTH} levels deep`;
  }
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    return `not valid JSON (${(e as Error).message.slice(0, 120)})`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  return value as JsonRecord;
}

/**
 * An own property of the record. JSON.parse makes "__proto__" an ordinary own key, so nothing here
 * can reach the prototype chain; the own-property check keeps inherited names such as "constructor"
 * from reading as fields.
 */
export function field(o: JsonRecord, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

export function stringField(o: JsonRecord, key: string): string | null {
  const v = field(o, key);
  return typeof v === 'string' ? v : null;
}

export function objectField(o: JsonRecord, key: string): JsonRecord | null {
  const v = field(o, key);
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as JsonRecord) : null;
}

/** A JSON number that is an integer, or null. JSON's -0 becomes 0, as it would after the wire's round trip. */
export function integerField(o: JsonRecord, key: string): number | null {
  const v = field(o, key);
  return typeof v === 'number' && Number.isSafeInteger(v) ? v + 0 : null;
}

const scratchLimbs = new Uint32Array(4);

/** The address in canonical text (IPv4 dotted quad, IPv6 RFC 5952), or null if it is not exactly one address. */
export function canonicalAddress(v: unknown): string | null {
  if (typeof v !== 'string' || v.length === 0 || v.length > 45) return null;
  if (!parseAddress(v, scratchLimbs, 0)) return null;
  return formatAddress(scratchLimbs, 0);
}

/** A port 0..65535 given as a JSON integer or as decimal digits (some tools write ports as strings). */
export function portValue(v: unknown): number | null {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= 65535 ? v + 0 : null; // -0 → 0
  if (typeof v === 'string' && v.length > 0 && v.length <= 5) {
    let n = 0;
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i) - 0x30;
      if (c < 0 || c > 9) return null;
      n = n * 10 + c;
    }
    return n <= 65535 ? n : null;
  }
  return null;
}

const PROTO_NAMES: ReadonlyMap<string, number> = new Map([
  ['tcp', Proto.tcp],
  ['udp', Proto.udp],
  ['icmp', Proto.icmp],
  ['icmpv6', Proto.icmpv6],
  ['ipv6-icmp', Proto.icmpv6],
  ['icmp6', Proto.icmpv6],
  ['sctp', Proto.sctp],
]);

/** IANA protocol number of a name ("TCP", "ipv6-icmp") or decimal text ("47"), or null. */
export function protoNumber(v: unknown): number | null {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= 255 ? v + 0 : null; // -0 → 0
  if (typeof v !== 'string' || v.length === 0 || v.length > 16) return null;
  const named = PROTO_NAMES.get(v.toLowerCase());
  if (named !== undefined) return named;
  const n = portValue(v);
  return n !== null && n <= 255 ? n : null;
}

const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(?:(Z|z)|([+-])(\d{2}):?(\d{2}))?$/;

/**
 * Milliseconds since the epoch of an ISO 8601 / RFC 3339 stamp: "2022-07-12T06:22:33.415742+0000",
 * "...Z", "...+02:00", or with a space for the T. A stamp without a zone is taken as UTC only when
 * `zonelessIsUtc` (the writer is known to use UTC, e.g. Python's utcnow()); otherwise it is null,
 * as is any impossible date (February 30th, second 60). Digits past milliseconds are truncated.
 */
export function isoTimeMs(v: unknown, zonelessIsUtc: boolean): number | null {
  if (typeof v !== 'string' || v.length > 40) return null;
  const m = ISO_TIME.exec(v);
  if (m === null) return null;
  const [, y, mo, d, h, mi, s, frac, z, sign, oh, om] = m;
  if (z === undefined && sign === undefined && !zonelessIsUtc) return null;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  // setUTCFullYear, unlike Date.UTC, does not read years 0-99 as 1900-1999.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCDate() !== day) return null; // e.g. February 30th rolled into March
  let ms = date.getTime() + ((hour * 60 + minute) * 60 + second) * 1000;
  if (frac !== undefined) ms += Number(frac.slice(0, 3).padEnd(3, '0'));
  if (sign !== undefined) {
    const offsetMin = Number(oh) * 60 + Number(om);
    if (Number(oh) > 23 || Number(om) > 59) return null;
    ms -= (sign === '+' ? 1 : -1) * offsetMin * 60_000;
  }
  return ms;
}

/**
 * Milliseconds of an epoch-seconds value with a fraction: a JSON number or decimal text such as Zeek's
 * "1713484795.943239". Text is read digit by digit so no float rounding moves a stamp across a
 * millisecond; numbers are rounded to microseconds first for the same reason.
 */
export function epochSecondsMs(v: unknown): number | null {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0 || v > 1e11) return null;
    return Math.floor(Math.round(v * 1e6) / 1000);
  }
  if (typeof v !== 'string' || v.length === 0 || v.length > 24) return null;
  let seconds = 0;
  let i = 0;
  for (; i < v.length; i++) {
    const c = v.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) break;
    seconds = seconds * 10 + c;
  }
  if (i === 0 || i > 11) return null;
  let ms = seconds * 1000;
  if (i < v.length) {
    if (v.charCodeAt(i) !== 0x2e) return null;
    let scale = 100;
    for (let k = i + 1; k < v.length; k++) {
      const c = v.charCodeAt(k) - 0x30;
      if (c < 0 || c > 9) return null;
      if (scale >= 1) ms += c * scale;
      scale /= 10;
    }
  }
  return ms;
}

/** A 64-digit hex SHA-256 in lower case, or null. */
export function sha256Hex(v: unknown): string | null {
  if (typeof v !== 'string' || v.length !== 64) return null;
  const lower = v.toLowerCase();
  return /^[0-9a-f]{64}$/.test(lower) ? lower : null;
}

/** The event fields a parser must supply; the fingerprints default to "not recorded". */
export type EventDraft = Omit<
  PortentEvent,
  'ipId' | 'ttl' | 'window' | 'seq' | 'payloadSha256' | 'count' | 'sampling'
> &
  Partial<Pick<PortentEvent, 'ipId' | 'ttl' | 'window' | 'seq' | 'payloadSha256'>>;

/**
 * The draft as an event result, or an error when the collector would refuse it: the collector
 * rejects a whole batch for one bad event, so the sensor must never ship one. `now` bounds times in
 * the future as the collector does (24 h of clock skew allowed).
 */
export function eventResult(d: EventDraft, now: number): ParseResult {
  if (!Number.isSafeInteger(d.time))
    return { kind: 'error', message: 'time is not a whole number of milliseconds' };
  if (d.time < EVENT_LIMITS.minTime) {
    return { kind: 'error', message: `time ${timeText(d.time)} is before 1990` };
  }
  if (d.time > now + EVENT_LIMITS.maxFutureMs) {
    return { kind: 'error', message: `time ${timeText(d.time)} is more than 24 h in the future` };
  }
  if (d.src === '::') return { kind: 'error', message: 'source address is the unspecified address ::' };
  if (d.dst === '::') return { kind: 'error', message: 'destination address is the unspecified address ::' };
  return {
    kind: 'event',
    event: {
      time: d.time,
      src: d.src,
      srcPort: d.srcPort,
      dst: d.dst,
      dstPort: d.dstPort,
      proto: d.proto,
      tcpFlags: d.tcpFlags,
      action: d.action,
      origin: d.origin,
      ipId: d.ipId ?? null,
      ttl: d.ttl ?? null,
      window: d.window ?? null,
      seq: d.seq ?? null,
      payloadSha256: d.payloadSha256 ?? null,
      count: 1,
      sampling: 1,
    },
  };
}

/** ISO text of a time for messages; numbers beyond what Date can hold are printed as they are. */
function timeText(t: number): string {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? `${t} ms` : d.toISOString();
}

export function skip(reason: string): ParseResult {
  return { kind: 'skip', reason };
}

export function error(message: string): ParseResult {
  return { kind: 'error', message };
}

/**
 * Detection for JSON-lines formats: the share of the sample's non-empty lines that parse as JSON
 * objects and satisfy `looksLike`, with a reason naming the count.
 */
export function detectJsonLines(
  sample: readonly string[],
  looksLike: (o: JsonRecord) => boolean,
  what: string,
): { score: number; reason: string } {
  let lines = 0;
  let matched = 0;
  for (const line of sample) {
    if (line.trim() === '') continue;
    lines++;
    if (line.charCodeAt(0) !== 0x7b) continue; // '{': skip the parse for lines that cannot be objects
    const o = parseJsonRecord(line);
    if (typeof o !== 'string' && looksLike(o)) matched++;
  }
  if (lines === 0) return { score: 0, reason: 'no non-empty lines' };
  return { score: matched / lines, reason: `${matched} of ${lines} lines are ${what}` };
}
