// The NDJSON batch format (application/x-ndjson) for people and tools: parsing, validation and encoding.
//
// Line 1 is the batch envelope, every further line one event with snake_case fields. Parsing writes straight
// into EventColumns (no intermediate PortentEvent per line) because this runs on the collector's ingest
// path; the object-form helpers at the end are for tools and tests. Unknown fields are rejected so that a
// typo ("src_prot") is an error instead of a silently missing value. docs/formats.md describes it.

import { parseAddress, formatAddress } from '../address.ts';
import { systemClock } from '../clock.ts';
import { MAX_REPORTED_PROBLEMS, PortentError, type FieldProblem } from '../errors.ts';
import {
  Action,
  ACTION_NAMES,
  EVENT_LIMITS,
  Origin,
  ORIGIN_NAMES,
  Proto,
  allocColumns,
  batchIdProblem,
  softwareProblem,
  timeProblem,
  type ActionName,
  type BatchEnvelope,
  type DecodeLimits,
  type EventBatch,
  type EventColumns,
  type OriginName,
  type PortentEvent,
  type ProtoName,
} from '../event.ts';

export const NDJSON_CONTENT_TYPE = 'application/x-ndjson';

/** Longest accepted line. A full event is under 600 characters; the cap bounds JSON.parse work and nesting depth. */
export const MAX_LINE_LENGTH = 4096;

/** An event as a JSON object (one NDJSON line). */
export interface EventJson {
  time: string | number;
  src: string;
  src_port: number;
  dst: string | null;
  dst_port: number;
  proto: ProtoName | number;
  tcp_flags: string | number;
  action: ActionName;
  origin: OriginName;
  ip_id?: number | null;
  ttl?: number | null;
  window?: number | null;
  seq?: number | null;
  payload_sha256?: string | null;
  count?: number;
  sampling?: number;
}

/** The first line of an NDJSON batch. */
export interface EnvelopeJson {
  batch_id: string;
  seq: number;
  created: string | number;
  software: string;
}

const EVENT_FIELDS = [
  'time',
  'src',
  'src_port',
  'dst',
  'dst_port',
  'proto',
  'tcp_flags',
  'action',
  'origin',
  'ip_id',
  'ttl',
  'window',
  'seq',
  'payload_sha256',
  'count',
  'sampling',
];
const ENVELOPE_FIELDS = ['batch_id', 'seq', 'created', 'software'];

/** TCP flag letters in bit order (FIN = bit 0 ... CWR = bit 7), as tcpdump-style tools print them. */
const FLAG_LETTERS = 'FSRPAUEC';

// ---------------------------------------------------------------------------------------------------------
// Field parsing into columns

/**
 * Where problems go and how their paths and messages are worded. One context is reused for every line
 * of a batch so that the path string is only built when there is a problem to report.
 */
interface Ctx {
  problems: FieldProblem[];
  /** For the future-time check; Infinity disables it. */
  now: number;
  /** Path of the object being parsed: `${base}${index}` when index >= 0, else `base`. */
  base: string;
  index: number;
  /** 1-based line number added to messages, or 0 for none. */
  line: number;
  /** Problems beyond this many are not worth finding: the batch is rejected either way. */
  max: number;
}

function report(ctx: Ctx, field: string, message: string): void {
  const at = ctx.index >= 0 ? `${ctx.base}${ctx.index}` : ctx.base;
  ctx.problems.push({
    path: field === '' ? at : `${at}/${pointerEscape(field)}`,
    message: ctx.line > 0 ? `${message} (line ${ctx.line})` : message,
  });
}

/** JSON Pointer escaping (RFC 6901), with hostile keys shortened so they cannot flood a report. */
function pointerEscape(key: string): string {
  const k = key.length > 64 ? `${key.slice(0, 64)}...` : key;
  return k.replaceAll('~', '~0').replaceAll('/', '~1');
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string')
    return v.length > 40 ? `the string "${v.slice(0, 40)}..."` : `the string ${JSON.stringify(v)}`;
  return `${typeof v} ${String(v)}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Integer in [min, max], else reports and returns -1 (every caller's range is non-negative). */
function intField(ctx: Ctx, field: string, v: unknown, min: number, max: number): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v;
  report(ctx, field, `must be an integer from ${min} to ${max}, not ${describe(v)}`);
  return -1;
}

/** Optional integer: absent or null gives `absent`. */
function optIntField(ctx: Ctx, field: string, v: unknown, min: number, max: number, absent: number): number {
  if (v === undefined || v === null) return absent;
  return intField(ctx, field, v, min, max);
}

function daysFromCivil(y: number, m: number, d: number): number {
  // Howard Hinnant's algorithm: proleptic Gregorian date to days since 1970-01-01, exact for all years.
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function digits(s: string, at: number, count: number): number {
  let v = 0;
  for (let i = at; i < at + count; i++) {
    const c = s.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/**
 * Parses an RFC 3339 time (the ISO 8601 profile with a mandatory zone), e.g. 2026-01-01T12:00:00Z or
 * 2026-01-01T13:00:00.123+01:00, to epoch ms; NaN when it is not one. Digits past milliseconds are
 * truncated. Hand-written because Date.parse also accepts many informal formats and local times.
 */
export function parseIsoTime(s: string): number {
  const len = s.length;
  if (len < 20 || len > 35) return NaN;
  if (
    s.charCodeAt(4) !== 0x2d ||
    s.charCodeAt(7) !== 0x2d ||
    s.charCodeAt(13) !== 0x3a ||
    s.charCodeAt(16) !== 0x3a
  )
    return NaN;
  const t = s.charCodeAt(10);
  if (t !== 0x54 && t !== 0x74) return NaN; // T or t
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  const hour = digits(s, 11, 2);
  const minute = digits(s, 14, 2);
  const second = digits(s, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59)
    return NaN;
  if (second < 0 || second > 59) return NaN; // leap seconds (60) cannot be represented in epoch ms
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const monthDays =
    month === 2 ? (leap ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  if (day > monthDays) return NaN;
  let i = 19;
  let ms = 0;
  if (s.charCodeAt(i) === 0x2e) {
    i++;
    const start = i;
    while (i < len && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) {
      if (i - start < 3) ms = ms * 10 + (s.charCodeAt(i) - 0x30);
      i++;
    }
    const n = i - start;
    if (n === 0 || n > 9) return NaN;
    if (n === 1) ms *= 100;
    else if (n === 2) ms *= 10;
  }
  let offset = 0;
  const z = s.charCodeAt(i);
  if (z === 0x5a || z === 0x7a) {
    i++;
  } else if (z === 0x2b || z === 0x2d) {
    if (len - i !== 6 || s.charCodeAt(i + 3) !== 0x3a) return NaN;
    const oh = digits(s, i + 1, 2);
    const om = digits(s, i + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return NaN;
    offset = (z === 0x2b ? 1 : -1) * (oh * 60 + om) * 60_000;
    i += 6;
  } else {
    return NaN;
  }
  if (i !== len) return NaN;
  return (
    daysFromCivil(year, month, day) * 86_400_000 + ((hour * 60 + minute) * 60 + second) * 1000 + ms - offset
  );
}

/** Epoch ms or RFC 3339 text to epoch ms, checked against the event limits; NaN after reporting a problem. */
function timeField(ctx: Ctx, field: string, v: unknown): number {
  let t: number;
  if (typeof v === 'number') {
    t = v;
  } else if (typeof v === 'string') {
    t = parseIsoTime(v);
    if (Number.isNaN(t)) {
      report(
        ctx,
        field,
        `must be an RFC 3339 time with a zone, such as 2026-01-01T12:00:00Z, or epoch milliseconds, not ${describe(v)}`,
      );
      return NaN;
    }
  } else {
    report(ctx, field, `must be an RFC 3339 time string or epoch milliseconds, not ${describe(v)}`);
    return NaN;
  }
  // Fast path for the common case; timeProblem words the rejection.
  if (t >= EVENT_LIMITS.minTime && t <= ctx.now + EVENT_LIMITS.maxFutureMs && Number.isInteger(t)) return t;
  const p = timeProblem(t, ctx.now);
  if (p === null) return t;
  // The commonest mistake in hand-made events: epoch seconds where milliseconds are expected.
  const seconds =
    typeof v === 'number' && t < EVENT_LIMITS.minTime && timeProblem(t * 1000, ctx.now) === null;
  report(ctx, field, seconds ? `${p}; epoch times are in milliseconds, and this looks like seconds` : p);
  return NaN;
}

function addressField(ctx: Ctx, field: string, v: unknown, out: Uint32Array, offset: number): boolean {
  if (typeof v !== 'string') {
    report(ctx, field, `must be an IPv4 or IPv6 address string, not ${describe(v)}`);
    return false;
  }
  if (!parseAddress(v, out, offset)) {
    report(
      ctx,
      field,
      v.includes('%')
        ? `must be an IPv4 or IPv6 address without a zone id, not ${describe(v)}`
        : `must be an IPv4 or IPv6 address, not ${describe(v)}`,
    );
    return false;
  }
  if ((out[offset] | out[offset + 1] | out[offset + 2] | out[offset + 3]) === 0) {
    report(
      ctx,
      field,
      field === 'dst'
        ? 'must not be the unspecified address ::; use null for a withheld destination'
        : 'must not be the unspecified address ::',
    );
    return false;
  }
  return true;
}

function protoField(ctx: Ctx, v: unknown): number {
  if (typeof v === 'string' && Object.hasOwn(Proto, v)) return Proto[v as ProtoName];
  if (typeof v === 'number') return intField(ctx, 'proto', v, 0, 255);
  report(
    ctx,
    'proto',
    `must be one of "tcp", "udp", "icmp", "icmpv6", "sctp" or a number 0..255, not ${describe(v)}`,
  );
  return -1;
}

/** Flags as a number 0..255 or letters from "FSRPAUEC" (each at most once), e.g. "SA" for SYN+ACK. */
function tcpFlagsField(ctx: Ctx, v: unknown): number {
  if (typeof v === 'number') return intField(ctx, 'tcp_flags', v, 0, 255);
  if (typeof v === 'string' && v.length <= 8) {
    let bits = 0;
    for (let i = 0; i < v.length; i++) {
      const b = FLAG_LETTERS.indexOf(v[i]);
      if (b < 0 || bits & (1 << b)) {
        bits = -1;
        break;
      }
      bits |= 1 << b;
    }
    if (bits >= 0) return bits;
  }
  report(
    ctx,
    'tcp_flags',
    `must be a number 0..255 or letters from "FSRPAUEC" each at most once (e.g. "SA"), not ${describe(v)}`,
  );
  return -1;
}

function enumField(
  ctx: Ctx,
  field: string,
  v: unknown,
  codes: Record<string, number>,
  names: readonly string[],
): number {
  if (typeof v === 'string' && Object.hasOwn(codes, v)) return codes[v];
  report(ctx, field, `must be one of ${names.map((n) => `"${n}"`).join(', ')}, not ${describe(v)}`);
  return -1;
}

function isLowerHex64(s: string): boolean {
  if (s.length !== 64) return false;
  for (let i = 0; i < 64; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

/** Edit distance, for "did you mean" on unknown field names; inputs are short. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

function reportUnknownFields(ctx: Ctx, obj: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (known.includes(key)) continue;
    if (ctx.problems.length >= ctx.max) return;
    const close = key.length <= 32 ? known.find((k) => distance(key, k) <= 2) : undefined;
    report(
      ctx,
      key,
      close ? `unknown field; did you mean "${close}"?` : `unknown field; the fields are ${known.join(', ')}`,
    );
  }
}

/** Number of own enumerable keys, without allocating the array Object.keys would. */
function keyCount(obj: Record<string, unknown>): number {
  let n = 0;
  for (const k in obj) if (Object.hasOwn(obj, k)) n++;
  return n;
}

/**
 * Parses one event object into row `row` of `c`, writing every column of the row. Returns false after
 * reporting problems to ctx (the row then holds partial data and must not be used).
 */
function parseEventInto(ctx: Ctx, obj: unknown, c: EventColumns, row: number): boolean {
  if (!isPlainObject(obj)) {
    report(ctx, '', `each event must be a JSON object, not ${describe(obj)}`);
    return false;
  }
  const before = ctx.problems.length;
  const o = obj;
  let present = 0;

  // Required fields. Missing ones are reported by name; `undefined` can only mean missing in JSON.
  const { time, src, src_port, dst, dst_port, proto, tcp_flags, action, origin } = o;
  if (time === undefined) report(ctx, 'time', 'is required');
  else {
    present++;
    c.time[row] = timeField(ctx, 'time', time);
  }
  if (src === undefined) report(ctx, 'src', 'is required');
  else {
    present++;
    addressField(ctx, 'src', src, c.src, 4 * row);
  }
  if (src_port === undefined) report(ctx, 'src_port', 'is required');
  else {
    present++;
    c.srcPort[row] = intField(ctx, 'src_port', src_port, 0, 65535);
  }
  if (dst === undefined) report(ctx, 'dst', 'is required (null when withheld)');
  else {
    present++;
    if (dst === null) c.dst.fill(0, 4 * row, 4 * row + 4);
    else addressField(ctx, 'dst', dst, c.dst, 4 * row);
  }
  if (dst_port === undefined) report(ctx, 'dst_port', 'is required');
  else {
    present++;
    c.dstPort[row] = intField(ctx, 'dst_port', dst_port, 0, 65535);
  }
  if (proto === undefined) report(ctx, 'proto', 'is required');
  else {
    present++;
    c.proto[row] = protoField(ctx, proto);
  }
  if (tcp_flags === undefined) report(ctx, 'tcp_flags', 'is required (0 for protocols other than TCP)');
  else {
    present++;
    c.tcpFlags[row] = tcpFlagsField(ctx, tcp_flags);
  }
  if (action === undefined) report(ctx, 'action', 'is required');
  else {
    present++;
    c.action[row] = enumField(ctx, 'action', action, Action, ACTION_NAMES);
  }
  if (origin === undefined) report(ctx, 'origin', 'is required');
  else {
    present++;
    c.origin[row] = enumField(ctx, 'origin', origin, Origin, ORIGIN_NAMES);
  }

  // Optional fields: absent and null both mean "not recorded".
  const { ip_id, ttl, window, seq, payload_sha256, count, sampling } = o;
  if (ip_id !== undefined) present++;
  c.ipId[row] = optIntField(ctx, 'ip_id', ip_id, 0, 0xffff, -1);
  if (ttl !== undefined) present++;
  c.ttl[row] = optIntField(ctx, 'ttl', ttl, 0, 0xff, -1);
  if (window !== undefined) present++;
  c.window[row] = optIntField(ctx, 'window', window, 0, 0xffff, -1);
  if (seq !== undefined) present++;
  c.seq[row] = seq === undefined || seq === null ? NaN : intField(ctx, 'seq', seq, 0, 0xffffffff);
  if (payload_sha256 !== undefined) present++;
  if (payload_sha256 === undefined || payload_sha256 === null) c.payloadSha256[row] = null;
  else if (typeof payload_sha256 === 'string' && isLowerHex64(payload_sha256))
    c.payloadSha256[row] = payload_sha256;
  else report(ctx, 'payload_sha256', `must be 64 lower-case hex digits, not ${describe(payload_sha256)}`);
  if (count !== undefined) present++;
  c.count[row] = count === undefined ? 1 : intField(ctx, 'count', count, 1, EVENT_LIMITS.maxCount);
  if (sampling !== undefined) present++;
  c.sampling[row] =
    sampling === undefined ? 1 : intField(ctx, 'sampling', sampling, 1, EVENT_LIMITS.maxSampling);

  if (keyCount(o) !== present) reportUnknownFields(ctx, o, EVENT_FIELDS);
  return ctx.problems.length === before;
}

function parseEnvelope(ctx: Ctx, obj: unknown): BatchEnvelope | null {
  if (!isPlainObject(obj)) {
    report(ctx, '', `the batch envelope must be a JSON object, not ${describe(obj)}`);
    return null;
  }
  const before = ctx.problems.length;
  const { batch_id, seq, created, software } = obj;
  let batchId = '';
  if (typeof batch_id !== 'string')
    report(ctx, 'batch_id', `must be a UUID string, not ${describe(batch_id)}`);
  else {
    const p = batchIdProblem(batch_id);
    if (p) report(ctx, 'batch_id', p);
    // Lower case, so a re-sent batch is recognised whatever case the sensor printed its UUID in.
    batchId = batch_id.toLowerCase();
  }
  if (!(typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0))
    report(ctx, 'seq', `must be an integer from 0 to 2^53-1, not ${describe(seq)}`);
  let createdMs = NaN;
  if (created === undefined) report(ctx, 'created', 'is required');
  else createdMs = timeField(ctx, 'created', created);
  if (typeof software !== 'string') report(ctx, 'software', `must be a string, not ${describe(software)}`);
  else {
    const p = softwareProblem(software);
    if (p) report(ctx, 'software', p);
  }
  const known = ENVELOPE_FIELDS.filter((k) => obj[k] !== undefined).length;
  if (keyCount(obj) !== known) reportUnknownFields(ctx, obj, ENVELOPE_FIELDS);
  if (ctx.problems.length !== before) return null;
  return { batchId, seq: seq as number, created: createdMs, software: software as string };
}

// ---------------------------------------------------------------------------------------------------------
// Batches

const utf8 = new TextDecoder('utf-8', { fatal: true });

function toText(input: string | Uint8Array): string {
  if (typeof input === 'string') return input;
  // The commonest mix-ups, named before they surface as baffling UTF-8 or JSON errors.
  if (input[0] === 0x1f && input[1] === 0x8b)
    throw new PortentError('BATCH_MALFORMED', {
      message: 'The NDJSON body looks gzip-compressed; send it with Content-Encoding: gzip.',
    });
  if (input[0] === 0x50 && input[1] === 0x54 && input[2] === 0x42 && input[3] === 0x31)
    throw new PortentError('BATCH_MALFORMED', {
      message:
        'The body is a binary batch (it starts with "PTB1"); send it as application/vnd.portent.batch.',
    });
  try {
    return utf8.decode(input);
  } catch {
    throw new PortentError('BATCH_MALFORMED', { message: 'The NDJSON body is not valid UTF-8.' });
  }
}

/** A line holding only its CRLF remainder or nothing is skipped. */
function isBlank(line: string): boolean {
  return line.length === 0 || (line.length === 1 && line.charCodeAt(0) === 0x0d);
}

/** JSON of one line, or throws/reports why not. `undefined` means a problem was reported. */
function parseLine(ctx: Ctx, line: string, syntaxThrows: boolean): unknown {
  const fail = (message: string): undefined => {
    if (syntaxThrows) throw new PortentError('BATCH_MALFORMED', { message: `line ${ctx.line}: ${message}` });
    report(ctx, '', message);
    return undefined;
  };
  if (line.length > MAX_LINE_LENGTH)
    return fail(`the line is ${line.length} characters long; a line may be at most ${MAX_LINE_LENGTH}`);
  try {
    return JSON.parse(line);
  } catch (err) {
    return fail(`not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
}

function invalid(problems: FieldProblem[]): PortentError {
  return new PortentError('BATCH_INVALID', { details: problems.slice(0, MAX_REPORTED_PROBLEMS) });
}

/**
 * Decodes and validates an NDJSON batch (envelope line, then one event per line; empty lines and CRLF
 * line ends are tolerated). Throws PortentError BATCH_MALFORMED (not UTF-8, a line that is not JSON or too
 * long, no envelope; the message names the line), BATCH_TOO_LARGE (more than limits.maxEvents events) or
 * BATCH_INVALID (details: paths such as /events/3/src_port, events numbered from 0 after the envelope,
 * and messages ending in "(line N)").
 */
export function decodeNdjsonBatch(input: string | Uint8Array, limits: DecodeLimits): EventBatch {
  const lines = toText(input).split('\n');
  if (lines.length === 0 || isBlank(lines[0]))
    throw new PortentError('BATCH_MALFORMED', {
      message:
        'line 1 is empty; an NDJSON batch starts with the envelope {"batch_id", "seq", "created", "software"}',
    });
  let n = 0;
  for (let i = 1; i < lines.length; i++) if (!isBlank(lines[i])) n++;
  if (n > limits.maxEvents)
    throw new PortentError('BATCH_TOO_LARGE', {
      message: `The batch has ${n} events; this collector accepts at most ${limits.maxEvents} per batch.`,
    });

  const problems: FieldProblem[] = [];
  const ctx: Ctx = {
    problems,
    now: (limits.clock ?? systemClock).now(),
    base: '',
    index: -1,
    line: 1,
    max: MAX_REPORTED_PROBLEMS,
  };
  const head = parseLine(ctx, lines[0], true);
  if (
    isPlainObject(head) &&
    head.batch_id === undefined &&
    (head.src !== undefined || head.time !== undefined)
  )
    throw new PortentError('BATCH_MALFORMED', {
      message:
        'line 1 looks like an event; an NDJSON batch starts with the envelope {"batch_id", "seq", "created", "software"}',
    });
  const envelope = parseEnvelope(ctx, head);

  const c = allocColumns(n);
  ctx.base = '/events/';
  let row = 0;
  for (let i = 1; i < lines.length && problems.length < MAX_REPORTED_PROBLEMS; i++) {
    const line = lines[i];
    if (isBlank(line)) continue;
    ctx.index = row;
    ctx.line = i + 1;
    parseEventInto(ctx, parseLine(ctx, line, true), c, row);
    row++;
  }
  if (problems.length > 0 || envelope === null) throw invalid(problems);
  return { ...envelope, events: c };
}

export interface NdjsonEventsOptions {
  /** For the future-time check; default the system clock's now. */
  now?: number;
  /** Line number of lines[0] in its file, for messages; default 1. */
  firstLine?: number;
  /** Event index of the first event, for paths; default 0. */
  firstIndex?: number;
  /** Stop after this many problems; default MAX_REPORTED_PROBLEMS. */
  maxProblems?: number;
}

export interface NdjsonEventsResult {
  /** The parsed events; only meaningful when problems is empty. */
  columns: EventColumns;
  /** Paths /events/<index>/<field>, messages ending in "(line N)". JSON syntax errors are problems here too. */
  problems: FieldProblem[];
}

/**
 * Parses event lines without an envelope, for bulk importers that bring their own batching. Never
 * throws for bad input: every problem, including a line that is not JSON, is returned for the caller
 * to report (e.g. as IMPORT_INVALID with file:line).
 */
export function parseNdjsonEvents(
  lines: readonly string[],
  opts: NdjsonEventsOptions = {},
): NdjsonEventsResult {
  const firstLine = opts.firstLine ?? 1;
  const firstIndex = opts.firstIndex ?? 0;
  const maxProblems = opts.maxProblems ?? MAX_REPORTED_PROBLEMS;
  let n = 0;
  for (const line of lines) if (!isBlank(line)) n++;
  const problems: FieldProblem[] = [];
  const ctx: Ctx = {
    problems,
    now: opts.now ?? systemClock.now(),
    base: '/events/',
    index: 0,
    line: 0,
    max: maxProblems,
  };
  const c = allocColumns(n);
  let row = 0;
  for (let i = 0; i < lines.length && problems.length < maxProblems; i++) {
    if (isBlank(lines[i])) continue;
    ctx.index = firstIndex + row;
    ctx.line = firstLine + i;
    const obj = parseLine(ctx, lines[i], false);
    if (obj !== undefined) parseEventInto(ctx, obj, c, row);
    row++;
  }
  return { columns: c, problems: problems.slice(0, maxProblems) };
}

/** Encodes a batch as NDJSON: the envelope line, then one line per event, each ending in "\n". */
export function encodeNdjsonBatch(batch: EventBatch): string {
  const envelope: EnvelopeJson = {
    batch_id: batch.batchId,
    seq: batch.seq,
    created: timeToJson(batch.created),
    software: batch.software,
  };
  const parts = [JSON.stringify(envelope)];
  const c = batch.events;
  for (let i = 0; i < c.length; i++) parts.push(JSON.stringify(eventToJson(rowToEvent(c, i))));
  parts.push('');
  return parts.join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// Object form

/** RFC 3339 text when the time is a whole millisecond in years 0000..9999, else the number as is. */
function timeToJson(t: number): string | number {
  return Number.isInteger(t) && t >= -62167219200000 && t <= 253402300799999 ? new Date(t).toISOString() : t;
}

const PROTO_NAMES: Record<number, ProtoName> = Object.fromEntries(
  Object.entries(Proto).map(([name, num]) => [num, name as ProtoName]),
);

/** The JSON object of an event (one NDJSON line): defaults and absent fingerprints are left out. */
export function eventToJson(e: PortentEvent): EventJson {
  let flags: string | number = e.tcpFlags;
  if (e.proto === Proto.tcp && Number.isInteger(flags) && flags > 0 && flags <= 255) {
    flags = '';
    for (let b = 0; b < 8; b++) if (e.tcpFlags & (1 << b)) flags += FLAG_LETTERS[b];
  }
  const j: EventJson = {
    time: timeToJson(e.time),
    src: e.src,
    src_port: e.srcPort,
    dst: e.dst,
    dst_port: e.dstPort,
    proto: PROTO_NAMES[e.proto] ?? e.proto,
    tcp_flags: flags,
    action: e.action,
    origin: e.origin,
  };
  if (e.ipId !== null) j.ip_id = e.ipId;
  if (e.ttl !== null) j.ttl = e.ttl;
  if (e.window !== null) j.window = e.window;
  if (e.seq !== null) j.seq = e.seq;
  if (e.payloadSha256 !== null) j.payload_sha256 = e.payloadSha256;
  if (e.count !== 1) j.count = e.count;
  if (e.sampling !== 1) j.sampling = e.sampling;
  return j;
}

/** Scratch row for the object-form parsers; every field is written on each parse. */
const scratch = allocColumns(1);

/**
 * Parses and validates one event object (e.g. a parsed NDJSON line). Problems are appended to
 * `problems` with paths under `path` (e.g. "/events/3"); returns null when there were any. Addresses
 * come back in canonical text. Without opts.now the future-time check is skipped.
 */
export function parseEventObject(
  obj: unknown,
  path: string,
  problems: FieldProblem[],
  opts: { now?: number; line?: number } = {},
): PortentEvent | null {
  const ctx: Ctx = {
    problems,
    now: opts.now ?? Infinity,
    base: path,
    index: -1,
    line: opts.line ?? 0,
    max: MAX_REPORTED_PROBLEMS,
  };
  return parseEventInto(ctx, obj, scratch, 0) ? rowToEvent(scratch, 0) : null;
}

/** The inverse of eventToJson: validates and throws PortentError BATCH_INVALID (paths under /event). */
export function eventFromJson(obj: unknown, opts: { now?: number } = {}): PortentEvent {
  const problems: FieldProblem[] = [];
  const e = parseEventObject(obj, '/event', problems, opts);
  if (e === null) throw invalid(problems);
  return e;
}

/** Parses and validates an envelope object; null after appending problems (paths /batch_id etc.). */
export function parseEnvelopeObject(
  obj: unknown,
  problems: FieldProblem[],
  opts: { now?: number } = {},
): BatchEnvelope | null {
  return parseEnvelope(
    { problems, now: opts.now ?? Infinity, base: '', index: -1, line: 0, max: MAX_REPORTED_PROBLEMS },
    obj,
  );
}

/** Row `i` of columns in object form. */
export function rowToEvent(c: EventColumns, i: number): PortentEvent {
  const d = 4 * i;
  const withheld = (c.dst[d] | c.dst[d + 1] | c.dst[d + 2] | c.dst[d + 3]) === 0;
  return {
    time: c.time[i],
    src: formatAddress(c.src, d),
    srcPort: c.srcPort[i],
    dst: withheld ? null : formatAddress(c.dst, d),
    dstPort: c.dstPort[i],
    proto: c.proto[i],
    tcpFlags: c.tcpFlags[i],
    action: ACTION_NAMES[c.action[i]],
    origin: ORIGIN_NAMES[c.origin[i]],
    ipId: c.ipId[i] < 0 ? null : c.ipId[i],
    ttl: c.ttl[i] < 0 ? null : c.ttl[i],
    window: c.window[i] < 0 ? null : c.window[i],
    seq: Number.isNaN(c.seq[i]) ? null : c.seq[i],
    payloadSha256: c.payloadSha256[i] ?? null,
    count: c.count[i],
    sampling: c.sampling[i],
  };
}

/** Columns to objects (addresses in canonical text, withheld dst as null, absent fingerprints as null). */
export function columnsToEvents(c: EventColumns): PortentEvent[] {
  const out: PortentEvent[] = new Array(c.length);
  for (let i = 0; i < c.length; i++) out[i] = rowToEvent(c, i);
  return out;
}

/**
 * Objects to columns. The events are trusted to be valid (e.g. from parseEventObject); an address
 * that does not parse is a programming error and throws RangeError.
 */
export function eventsToColumns(events: readonly PortentEvent[]): EventColumns {
  const c = allocColumns(events.length);
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    c.time[i] = e.time;
    if (!parseAddress(e.src, c.src, 4 * i))
      throw new RangeError(`events[${i}].src ${JSON.stringify(e.src)} is not an address`);
    if (e.dst !== null && !parseAddress(e.dst, c.dst, 4 * i))
      throw new RangeError(`events[${i}].dst ${JSON.stringify(e.dst)} is not an address`);
    c.srcPort[i] = e.srcPort;
    c.dstPort[i] = e.dstPort;
    c.proto[i] = e.proto;
    c.tcpFlags[i] = e.tcpFlags;
    c.action[i] = Action[e.action];
    c.origin[i] = Origin[e.origin];
    c.ipId[i] = e.ipId ?? -1;
    c.ttl[i] = e.ttl ?? -1;
    c.window[i] = e.window ?? -1;
    c.seq[i] = e.seq ?? NaN;
    c.payloadSha256[i] = e.payloadSha256;
    c.count[i] = e.count;
    c.sampling[i] = e.sampling;
  }
  return c;
}
