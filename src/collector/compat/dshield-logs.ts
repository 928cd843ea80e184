// Reads the `logs` of a DShield submission into events: firewall (fwlogparser), cowrie (Cowrie's
// dshield output) and webhoneypot (the DShield web honeypot, both its batch and one-record shapes).
//
// Field names and types are those the real clients send (DShield-ISC/dshield srv/dshield/fwlogparser.py,
// srv/web/isc_agent/agent.py and __main__.py, weblogsubmit.py; cowrie src/cowrie/output/dshield.py).
// Everything is hostile: each field read is type- and range-checked, and one bad record rejects
// the submission. Credentials, commands, URLs and user agents are never stored: a web request
// becomes a SHA-256 of its request line and user agent.

import { createHash } from 'node:crypto';
import { Proto, TcpFlag, timeProblem, type PortentEvent } from '../../core/event.ts';
import type { FieldProblem } from '../../core/errors.ts';
import {
  canonicalAddress,
  epochSecondsMs,
  field,
  isoTimeMs,
  portValue,
  protoNumber,
  type JsonRecord,
} from '../../sensor/parsers/record-fields.ts';

export const DSHIELD_LOG_TYPES = ['firewall', 'cowrie', 'webhoneypot'] as const;
export type DShieldLogType = (typeof DSHIELD_LOG_TYPES)[number];

export function isDShieldLogType(s: string): s is DShieldLogType {
  return (DSHIELD_LOG_TYPES as readonly string[]).includes(s);
}

/**
 * Ports Portent records where the DShield record has none: Cowrie's dshield output logs SSH and
 * telnet logins without the port (and DShield's honeypot runs Cowrie for SSH first); the web
 * honeypot's records do not say which forwarded port the request came in on.
 */
export const COWRIE_DST_PORT = 22;
export const WEBHONEYPOT_DST_PORT = 80;

/** fwlogparser's TCP flag letters (its tcpflagmap), CWR and ECE as the digits 1 and 2. */
const FLAG_LETTERS: Readonly<Record<string, number>> = {
  F: TcpFlag.FIN,
  S: TcpFlag.SYN,
  R: TcpFlag.RST,
  P: TcpFlag.PSH,
  A: TcpFlag.ACK,
  U: TcpFlag.URG,
  '2': TcpFlag.ECE,
  '1': TcpFlag.CWR,
};

export interface DecodedLogs {
  events: PortentEvent[];
  /** Records read (each gives one event before identical ones are folded into counts). */
  records: number;
  problems: FieldProblem[];
}

/** A record's problem: the field at fault (or "" for the record) and why. */
type Bad = { field: string; message: string };
type RecordResult = PortentEvent | Bad;

const isBad = (r: RecordResult): r is Bad => 'message' in r;

/**
 * The records of `logs` as an array, or a problem. The web honeypot agent sends one record as a JSON
 * string in `logs`; everything else sends an array of objects.
 */
export function logRecords(type: DShieldLogType, logs: unknown): unknown[] | string {
  if (Array.isArray(logs)) return logs;
  if (type === 'webhoneypot' && typeof logs === 'string') {
    let inner: unknown;
    try {
      inner = JSON.parse(logs);
    } catch (e) {
      return `is a string that is not JSON (${(e as Error).message.slice(0, 100)})`;
    }
    if (Array.isArray(inner)) return inner;
    if (typeof inner === 'object' && inner !== null) return [inner];
    return 'is a string whose JSON is not a record or a list of records';
  }
  return type === 'webhoneypot'
    ? 'must be a list of records, or one record as a JSON string'
    : 'must be a list of records';
}

/** Reads every record; problems name paths under /logs and stop after `maxProblems`. */
export function decodeDShieldLogs(
  type: DShieldLogType,
  records: readonly unknown[],
  now: number,
  maxProblems: number,
): DecodedLogs {
  const read = READERS[type];
  const events: PortentEvent[] = [];
  const problems: FieldProblem[] = [];
  for (let i = 0; i < records.length && problems.length < maxProblems; i++) {
    const o = records[i];
    if (typeof o !== 'object' || o === null || Array.isArray(o)) {
      problems.push({ path: `/logs/${i}`, message: 'must be a JSON object' });
      continue;
    }
    const r = read(o as JsonRecord, now);
    if (isBad(r)) problems.push({ path: `/logs/${i}${r.field ? `/${r.field}` : ''}`, message: r.message });
    else events.push(r);
  }
  return { events, records: records.length, problems };
}

const READERS: Record<DShieldLogType, (o: JsonRecord, now: number) => RecordResult> = {
  firewall: firewallRecord,
  cowrie: cowrieRecord,
  webhoneypot: webRecord,
};

/** fwlogparser: {time, sip, dip, proto, sport, dport, flags, version}; ports are strings there. */
function firewallRecord(o: JsonRecord, now: number): RecordResult {
  const time = secondsTime(o, 'time', now);
  if (typeof time !== 'number') return time;
  const src = address(o, 'sip', true);
  if (typeof src !== 'string') return src;
  const dst = address(o, 'dip', true);
  if (typeof dst !== 'string') return dst;
  const proto = protoNumber(field(o, 'proto'));
  if (proto === null)
    return { field: 'proto', message: 'must be a protocol number 0..255 or a name such as "tcp"' };
  // fwlogparser writes TYPE and CODE of ICMP into sport and dport, and nothing for protocols without ports.
  const needsPorts = proto === Proto.tcp || proto === Proto.udp;
  const srcPort = port(o, 'sport', needsPorts);
  if (typeof srcPort !== 'number') return srcPort;
  const dstPort = port(o, 'dport', needsPorts);
  if (typeof dstPort !== 'number') return dstPort;
  const flagsValue = field(o, 'flags');
  let tcpFlags = 0;
  if (flagsValue !== undefined && flagsValue !== null) {
    if (typeof flagsValue !== 'string' || flagsValue.length > 8)
      return { field: 'flags', message: 'must be a string of at most 8 TCP flag letters' };
    for (const ch of flagsValue) {
      const bit = Object.hasOwn(FLAG_LETTERS, ch) ? FLAG_LETTERS[ch] : undefined;
      if (bit === undefined)
        return { field: 'flags', message: `has "${printable(ch)}", not one of the letters F S R P A U 1 2` };
      tcpFlags |= bit;
    }
    if (proto !== Proto.tcp) tcpFlags = 0;
  }
  return event({ time, src, srcPort, dst, dstPort, proto, tcpFlags, action: 'blocked', origin: 'firewall' });
}

/** Cowrie's dshield output: {timestamp, source_ip, user, password, ...}: a login attempt, port not given. */
function cowrieRecord(o: JsonRecord, now: number): RecordResult {
  const time = secondsTime(o, 'timestamp', now);
  if (typeof time !== 'number') return time;
  const src = address(o, 'source_ip', true);
  if (typeof src !== 'string') return src;
  return event({
    time,
    src,
    srcPort: 0,
    dst: null,
    dstPort: COWRIE_DST_PORT,
    proto: Proto.tcp,
    tcpFlags: 0, // a login is mid-session, as in the Cowrie log parser
    action: 'honeypot',
    origin: 'honeypot',
  });
}

/** The web honeypot: {time, sip, dip, method, url, useragent, headers, ...}. */
function webRecord(o: JsonRecord, now: number): RecordResult {
  const t = field(o, 'time');
  // weblogsubmit.py sends float seconds, the isc-agent plugin whole seconds, isc_agent an ISO time
  // without a zone from datetime.now() (the sensor's local time, UTC on DShield's images).
  const time = typeof t === 'string' && t.includes('-') ? isoTimeMs(t, true) : epochSecondsMs(t);
  if (time === null)
    return {
      field: 'time',
      message: 'must be Unix seconds or an ISO 8601 time such as 2026-01-01T12:00:00.5',
    };
  const tp = timeProblem(time, now);
  if (tp !== null) return { field: 'time', message: tp };
  const src = address(o, 'sip', true);
  if (typeof src !== 'string') return src;
  const dst = address(o, 'dip', false);
  if (typeof dst !== 'string' && dst !== null) return dst;
  const method = text(o, 'method', false);
  if (typeof method !== 'string') return method;
  const url = text(o, 'url', true);
  if (typeof url !== 'string') return url;
  const userAgent = text(o, 'useragent', false);
  if (typeof userAgent !== 'string') return userAgent;
  return event({
    time,
    src,
    srcPort: 0,
    dst,
    dstPort: WEBHONEYPOT_DST_PORT,
    proto: Proto.tcp,
    tcpFlags: 0,
    action: 'honeypot',
    origin: 'honeypot',
    payloadSha256: webPayloadSha256(method, url, userAgent),
  });
}

/**
 * The payload hash of a web honeypot request: SHA-256 of the UTF-8 text "METHOD URL\nUSER-AGENT".
 * Anyone holding a URL and user agent can compute it and look the request up; the text itself is
 * never stored or shown.
 */
export function webPayloadSha256(method: string, url: string, userAgent: string): string {
  return createHash('sha256').update(`${method} ${url}\n${userAgent}`, 'utf8').digest('hex');
}

type Draft = Omit<
  PortentEvent,
  'ipId' | 'ttl' | 'window' | 'seq' | 'payloadSha256' | 'count' | 'sampling'
> & {
  payloadSha256?: string;
};

function event(d: Draft): PortentEvent {
  return { ipId: null, ttl: null, window: null, seq: null, count: 1, sampling: 1, payloadSha256: null, ...d };
}

function secondsTime(o: JsonRecord, key: string, now: number): number | Bad {
  const ms = epochSecondsMs(field(o, key));
  if (ms === null) return { field: key, message: 'must be Unix seconds, such as 1767268800' };
  const tp = timeProblem(ms, now);
  return tp === null ? ms : { field: key, message: tp };
}

function address(o: JsonRecord, key: string, required: true): string | Bad;
function address(o: JsonRecord, key: string, required: false): string | null | Bad;
function address(o: JsonRecord, key: string, required: boolean): string | null | Bad {
  const v = field(o, key);
  if (!required && (v === undefined || v === null || v === '')) return null;
  const a = canonicalAddress(v);
  if (a === null) return { field: key, message: 'must be an IPv4 or IPv6 address' };
  if (a === '::') return { field: key, message: 'must not be the unspecified address ::' };
  return a;
}

function port(o: JsonRecord, key: string, required: boolean): number | Bad {
  const v = field(o, key);
  if (!required && (v === undefined || v === null || v === '')) return 0;
  const p = portValue(v);
  return p === null ? { field: key, message: 'must be a port 0..65535 (a number or decimal digits)' } : p;
}

function text(o: JsonRecord, key: string, required: boolean): string | Bad {
  const v = field(o, key);
  if (!required && (v === undefined || v === null)) return '';
  return typeof v === 'string' ? v : { field: key, message: 'must be a string' };
}

/** A character for a message: printable ASCII as is, anything else as its code point. */
function printable(ch: string): string {
  const c = ch.codePointAt(0) ?? 0;
  return c >= 0x20 && c < 0x7f && ch !== '"' && ch !== '\\' ? ch : `U+${c.toString(16).padStart(4, '0')}`;
}
