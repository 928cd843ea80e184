// Zeek conn.log parsers: the TSV form with its #separator/#fields header lines, and the JSON-lines form.
//
// Mapping (docs/formats.md, "Zeek conn.log"): the originator is the source, the responder the
// destination; conn_state decides the action and the first letter of history the TCP flags.

import { Proto, TcpFlag, type ActionName } from '../../core/event.ts';
import {
  canonicalAddress,
  detectJsonLines,
  epochSecondsMs,
  error,
  eventResult,
  field,
  isoTimeMs,
  parseJsonRecord,
  portValue,
  protoNumber,
  skip,
  stringField,
  type JsonRecord,
} from './record-fields.ts';
import { TimedLineParser } from './syslog-time.ts';
import type { LineFormat, ParseContext, ParseResult } from './types.ts';

/** The columns Zeek writes in a default conn.log, used when a file has lost its #fields header. */
const DEFAULT_FIELDS = [
  'ts',
  'uid',
  'id.orig_h',
  'id.orig_p',
  'id.resp_h',
  'id.resp_p',
  'proto',
  'service',
  'duration',
  'orig_bytes',
  'resp_bytes',
  'conn_state',
  'local_orig',
  'local_resp',
  'missed_bytes',
  'history',
  'orig_pkts',
  'orig_ip_bytes',
  'resp_pkts',
  'resp_ip_bytes',
  'tunnel_parents',
];

/** TCP states in which the connection was established: the responder accepted it. */
const ESTABLISHED = new Set(['S1', 'SF', 'S2', 'S3', 'RSTO', 'RSTR']);
/**
 * TCP states of an attempt that was never answered with a SYN-ACK: no reply (S0), a RST reply (REJ),
 * or the originator gave up with a RST or FIN (RSTOS0, SH). What a scanner sees as closed or filtered.
 */
const UNANSWERED = new Set(['S0', 'REJ', 'RSTOS0', 'SH']);

/**
 * The action for a conn_state. TCP: established states are accepted, unanswered ones blocked, the
 * rest (OTH midstream, SHR/RSTRH where only the responder was seen) unknown. Other protocols have no
 * handshake: SF (both sides sent) is accepted, anything else unknown, since silence is how many
 * open UDP services answer a probe they do not understand.
 */
export function zeekAction(proto: number, connState: string | null): ActionName {
  if (connState === null) return 'unknown';
  if (proto === Proto.tcp) {
    if (ESTABLISHED.has(connState)) return 'accepted';
    if (UNANSWERED.has(connState)) return 'blocked';
    return 'unknown';
  }
  return connState === 'SF' ? 'accepted' : 'unknown';
}

const FIRST_PACKET_FLAGS: Readonly<Record<string, number>> = {
  S: TcpFlag.SYN,
  H: TcpFlag.SYN | TcpFlag.ACK,
  A: TcpFlag.ACK,
  F: TcpFlag.FIN,
  R: TcpFlag.RST,
};

/**
 * TCP flags of the originator's first packet, read from the first history letter (upper case is
 * the originator; a leading "^" only says Zeek flipped the direction). "S..." gives SYN; a
 * responder-first or data-first history gives 0 because the flags are not known.
 */
export function zeekHistoryFlags(proto: number, history: string | null): number {
  if (proto !== Proto.tcp || history === null || history.length === 0) return 0;
  const first = history[0] === '^' ? history[1] : history[0];
  return (first !== undefined && Object.hasOwn(FIRST_PACKET_FLAGS, first) && FIRST_PACKET_FLAGS[first]) || 0;
}

interface ConnFields {
  time: number | null;
  origH: unknown;
  origP: unknown;
  respH: unknown;
  respP: unknown;
  proto: unknown;
  connState: string | null;
  history: string | null;
}

function connEvent(f: ConnFields, now: number): ParseResult {
  if (f.time === null) return error('ts is missing or not a time');
  const src = canonicalAddress(f.origH);
  if (src === null) return error(`id.orig_h is not an IP address`);
  const dst = canonicalAddress(f.respH);
  if (dst === null) return error(`id.resp_h is not an IP address`);
  if (f.proto === 'unknown_transport') return skip('proto unknown_transport (no ports to report)');
  let proto = protoNumber(f.proto);
  if (proto === null) return error('proto is not a protocol name');
  // Zeek names ICMPv6 "icmp" too; the addresses tell which it is.
  if (proto === Proto.icmp && dst.includes(':')) proto = Proto.icmpv6;
  const srcPort = portValue(f.origP);
  const dstPort = portValue(f.respP);
  if (srcPort === null || dstPort === null) return error('id.orig_p or id.resp_p is not a port');
  return eventResult(
    {
      time: f.time,
      src,
      srcPort,
      dst,
      dstPort,
      proto,
      tcpFlags: zeekHistoryFlags(proto, f.history),
      action: zeekAction(proto, f.connState),
      origin: 'ids',
    },
    now,
  );
}

/**
 * Longest header line read. Zeek's own are a few hundred characters; a megabyte of tabs after
 * "#fields" would otherwise build a million-column map (150 ms, found by bench/fuzz).
 */
const MAX_HEADER_CHARS = 16 * 1024;

/** Undoes Zeek's \xHH escaping of header values ("#separator \x09"). */
function unescapeZeek(s: string): string {
  return s.replace(/\\x([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

class ZeekTsvParser extends TimedLineParser {
  readonly format = 'zeek-conn' as const;
  #separator = '\t';
  #unset = '-';
  #path: string | null = null;
  #columns = new Map<string, number>();

  constructor(ctx: ParseContext) {
    super(ctx);
    this.#setFields(DEFAULT_FIELDS);
  }

  #setFields(names: readonly string[]): void {
    this.#columns = new Map(names.map((n, i) => [n, i]));
  }

  parse(line: string): ParseResult {
    if (line.length === 0) return skip('empty line');
    if (line.charCodeAt(0) === 0x23) return this.#header(line);
    if (this.#path !== null && this.#path !== 'conn')
      return skip(`zeek ${this.#path.slice(0, 40)} log, not conn`);
    const cols = line.split(this.#separator);
    const get = (name: string): string | null => {
      const i = this.#columns.get(name);
      const v = i === undefined ? undefined : cols[i];
      return v === undefined || v === this.#unset ? null : v;
    };
    if (cols.length < this.#columns.size) {
      return error(`${cols.length} columns where the #fields header names ${this.#columns.size}`);
    }
    return connEvent(
      {
        time: epochSecondsMs(get('ts')),
        origH: get('id.orig_h'),
        origP: get('id.orig_p'),
        respH: get('id.resp_h'),
        respP: get('id.resp_p'),
        proto: get('proto'),
        connState: get('conn_state'),
        history: get('history'),
      },
      this.now,
    );
  }

  #header(line: string): ParseResult {
    if (line.length > MAX_HEADER_CHARS) {
      return error(`header line of ${line.length} characters, more than the ${MAX_HEADER_CHARS} read`);
    }
    if (line.startsWith('#separator ')) {
      const sep = unescapeZeek(line.slice('#separator '.length));
      if (sep.length === 0) return error('#separator is empty');
      this.#separator = sep;
      return skip('zeek header #separator');
    }
    const parts = line.split(this.#separator);
    const key = parts[0];
    const values = parts.slice(1);
    switch (key) {
      case '#fields':
        if (values.length === 0) return error('#fields names no columns');
        this.#setFields(values);
        return skip('zeek header #fields');
      case '#unset_field':
        this.#unset = values[0] ?? '-';
        return skip('zeek header #unset_field');
      case '#path':
        this.#path = values[0] ?? null;
        return skip('zeek header #path');
      case '#set_separator':
      case '#empty_field':
      case '#types':
      case '#open':
      case '#close':
        return skip(`zeek header ${key}`);
      default:
        return skip('comment line');
    }
  }
}

class ZeekJsonParser extends TimedLineParser {
  readonly format = 'zeek-conn-json' as const;

  parse(line: string): ParseResult {
    if (line.trim() === '') return skip('empty line');
    const o = parseJsonRecord(line);
    if (typeof o === 'string') return error(o);
    const path = stringField(o, '_path');
    if (path !== null && path !== 'conn') return skip(`zeek ${path.slice(0, 40)} log, not conn`);
    // Zeek writes flat "id.orig_h" keys; some shippers nest them as {"id": {"orig_h": ...}}.
    const id = field(o, 'id');
    const nested = typeof id === 'object' && id !== null && !Array.isArray(id) ? (id as JsonRecord) : null;
    const idField = (k: string): unknown => (nested !== null ? field(nested, k) : field(o, `id.${k}`));
    const ts = field(o, 'ts');
    const history = stringField(o, 'history');
    return connEvent(
      {
        time: typeof ts === 'string' && ts.includes('-') ? isoTimeMs(ts, false) : epochSecondsMs(ts),
        origH: idField('orig_h'),
        origP: idField('orig_p'),
        respH: idField('resp_h'),
        respP: idField('resp_p'),
        proto: field(o, 'proto'),
        connState: stringField(o, 'conn_state'),
        history,
      },
      this.now,
    );
  }
}

function isConnFieldsLine(line: string): boolean {
  return line.startsWith('#fields') && line.includes('id.orig_h') && line.includes('conn_state');
}

export const zeekConn: LineFormat = {
  name: 'zeek-conn',
  detect(sample) {
    if (
      sample.some((l) => l.startsWith('#path') && /^#path\s+conn\s*$/.test(l)) ||
      sample.some(isConnFieldsLine)
    ) {
      return { score: 1, reason: 'Zeek conn.log header (#path conn / #fields with conn_state)' };
    }
    if (sample.some((l) => l.startsWith('#fields') && l.includes('id.orig_h'))) {
      return { score: 0.3, reason: 'a Zeek log header, but not of a conn log' };
    }
    // Headerless: columns in the default conn.log order.
    let lines = 0;
    let matched = 0;
    for (const l of sample) {
      if (l.length === 0 || l.startsWith('#')) continue;
      lines++;
      const c = l.split('\t');
      if (
        c.length >= 12 &&
        epochSecondsMs(c[0]) !== null &&
        canonicalAddress(c[2]) !== null &&
        canonicalAddress(c[4]) !== null
      ) {
        matched++;
      }
    }
    if (lines === 0) return { score: 0, reason: 'no data lines' };
    return {
      score: 0.8 * (matched / lines),
      reason: `${matched} of ${lines} lines have conn.log columns (no #fields header)`,
    };
  },
  create: (ctx) => new ZeekTsvParser(ctx),
};

export const zeekConnJson: LineFormat = {
  name: 'zeek-conn-json',
  detect: (sample) =>
    detectJsonLines(
      sample,
      (o) =>
        field(o, 'ts') !== undefined &&
        (field(o, 'id.orig_h') !== undefined || typeof field(o, 'id') === 'object') &&
        (field(o, 'conn_state') !== undefined ||
          field(o, 'history') !== undefined ||
          stringField(o, '_path') === 'conn'),
      'Zeek conn JSON records',
    ),
  create: (ctx) => new ZeekJsonParser(ctx),
};
