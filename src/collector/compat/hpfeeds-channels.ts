// The hpfeeds channels the broker reads, and how each channel's payload becomes events.
//
// The payloads are those the honeypots' own hpfeeds outputs publish: Cowrie's output/hpfeeds3.py
// (one JSON summary per session), Dionaea's modules/python/dionaea/hpfeeds.py (connection and
// capture records), Conpot's log_worker (one JSON record per request), and Portent's own event
// lines. The Cowrie and Dionaea line parsers in src/sensor/parsers read those honeypots' log files,
// whose records have other shapes, so only their field readers are shared.

import { Proto, TcpFlag, timeProblem, type PortentEvent } from '../../core/event.ts';
import { columnsToEvents, parseNdjsonEvents } from '../../core/wire/ndjson.ts';
import {
  canonicalAddress,
  field,
  isoTimeMs,
  objectField,
  portValue,
  sha256Hex,
  stringField,
  type JsonRecord,
} from '../../sensor/parsers/record-fields.ts';

export const HPFEEDS_CHANNELS = [
  'cowrie.sessions',
  'dionaea.connections',
  'dionaea.capture',
  'conpot.events',
  'portent.events',
] as const;
export type HpfeedsChannel = (typeof HPFEEDS_CHANNELS)[number];

export function isHpfeedsChannel(s: string): s is HpfeedsChannel {
  return (HPFEEDS_CHANNELS as readonly string[]).includes(s);
}

/** The events of a payload (possibly none, e.g. Dionaea's own "listen" records), or why it cannot be read. */
export type ChannelResult = { events: PortentEvent[] } | { problem: string };

/** Most file hashes read from one Cowrie session summary. */
const MAX_SESSION_HASHES = 1000;

export function decodeChannel(channel: HpfeedsChannel, payload: Buffer, now: number): ChannelResult {
  if (channel === 'portent.events') return portentEvents(payload, now);
  const o = jsonObject(payload);
  if (typeof o === 'string') return { problem: o };
  switch (channel) {
    case 'cowrie.sessions':
      return cowrieSession(o, now);
    case 'dionaea.connections':
      return dionaeaConnection(o, now);
    case 'dionaea.capture':
      return dionaeaCapture(o, now);
    case 'conpot.events':
      return conpotEvent(o, now);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function jsonObject(payload: Buffer): JsonRecord | string {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(payload));
  } catch (e) {
    return `not UTF-8 JSON (${(e as Error).message.slice(0, 120)})`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  return value as JsonRecord;
}

type Draft = Omit<
  PortentEvent,
  'ipId' | 'ttl' | 'window' | 'seq' | 'payloadSha256' | 'count' | 'sampling'
> & {
  payloadSha256?: string | null;
};

/** The event, or the problem with its time or addresses (the rest was checked by the caller). */
function event(d: Draft, now: number): PortentEvent | string {
  const tp = timeProblem(d.time, now);
  if (tp !== null) return `time ${tp}`;
  if (d.src === '::') return 'the source is the unspecified address ::';
  return { ipId: null, ttl: null, window: null, seq: null, count: 1, sampling: 1, payloadSha256: null, ...d };
}

function collect(drafts: Draft[], now: number): ChannelResult {
  const events: PortentEvent[] = [];
  for (const d of drafts) {
    const e = event(d, now);
    if (typeof e === 'string') return { problem: e };
    events.push(e);
  }
  return { events };
}

/** A destination: null when absent or the unspecified address (a socket bound to every interface). */
function destination(v: unknown): string | null | undefined {
  if (v === undefined || v === null || v === '') return null;
  const a = canonicalAddress(v);
  if (a === null) return undefined;
  return a === '0.0.0.0' || a === '::' ? null : a;
}

/**
 * cowrie.sessions: one summary per closed session, {session, startTime, peerIP, peerPort, hostIP,
 * hostPort, protocol, hashes, credentials, commands, urls, ttylog, ...}. The connection becomes a SYN
 * event at startTime, and each downloaded or uploaded file's SHA-256 an event of its own with that
 * payload hash, as the Cowrie log parser does for file records. Credentials, commands, URLs and the
 * tty log are not read.
 */
function cowrieSession(o: JsonRecord, now: number): ChannelResult {
  const time = isoTimeMs(field(o, 'startTime'), false);
  if (time === null) return { problem: 'startTime is missing or not an ISO 8601 time with a zone' };
  const src = canonicalAddress(field(o, 'peerIP'));
  if (src === null) return { problem: 'peerIP is missing or not an IP address' };
  const srcPort = portValue(field(o, 'peerPort'));
  const dstPort = portValue(field(o, 'hostPort'));
  if (srcPort === null || dstPort === null)
    return { problem: 'peerPort or hostPort is missing or not a port' };
  const dst = destination(field(o, 'hostIP'));
  if (dst === undefined) return { problem: 'hostIP is not an IP address' };
  const base = {
    time,
    src,
    srcPort,
    dst,
    dstPort,
    proto: Proto.tcp,
    action: 'honeypot',
    origin: 'honeypot',
  } as const;
  const drafts: Draft[] = [{ ...base, tcpFlags: TcpFlag.SYN }];
  const hashes = field(o, 'hashes');
  if (hashes !== undefined && hashes !== null) {
    if (!Array.isArray(hashes) || hashes.length > MAX_SESSION_HASHES)
      return { problem: `hashes must be a list of at most ${MAX_SESSION_HASHES} SHA-256 values` };
    for (const [i, h] of hashes.entries()) {
      const sha = sha256Hex(h);
      if (sha === null) return { problem: `hashes[${i}] is not a SHA-256` };
      drafts.push({ ...base, tcpFlags: 0, payloadSha256: sha });
    }
  }
  return collect(drafts, now);
}

/** Dionaea's connection types that are an attempt on the honeypot, as in the Dionaea log parser. */
const DIONAEA_INBOUND: Readonly<Record<string, 'honeypot' | 'blocked'>> = {
  accept: 'honeypot',
  reject: 'blocked',
};

/**
 * dionaea.connections: {connection_type, connection_transport, connection_protocol, remote_host,
 * remote_port, remote_hostname, local_host, local_port}. The record has no time: Dionaea publishes it
 * as the connection happens, so the broker's clock stands in. "listen" and "connect" (Dionaea's own
 * sockets) and "pending" are read and give no event.
 */
function dionaeaConnection(o: JsonRecord, now: number): ChannelResult {
  const type = stringField(o, 'connection_type');
  if (type === null) return { problem: 'connection_type is missing or not a string' };
  const action = Object.hasOwn(DIONAEA_INBOUND, type) ? DIONAEA_INBOUND[type] : undefined;
  if (action === undefined) return { events: [] };
  const transport = stringField(o, 'connection_transport');
  const proto =
    transport === 'udp' ? Proto.udp : transport === 'tcp' || transport === 'tls' ? Proto.tcp : null;
  if (proto === null) return { problem: 'connection_transport is not tcp, tls or udp' };
  const src = canonicalAddress(field(o, 'remote_host'));
  if (src === null) return { problem: 'remote_host is missing or not an IP address' };
  const srcPort = portValue(field(o, 'remote_port'));
  const dstPort = portValue(field(o, 'local_port'));
  if (srcPort === null || dstPort === null)
    return { problem: 'remote_port or local_port is missing or not a port' };
  const dst = destination(field(o, 'local_host'));
  if (dst === undefined) return { problem: 'local_host is not an IP address' };
  return collect(
    [
      {
        time: now,
        src,
        srcPort,
        dst,
        dstPort,
        proto,
        tcpFlags: proto === Proto.tcp ? TcpFlag.SYN : 0,
        action,
        origin: 'honeypot',
      },
    ],
    now,
  );
}

/** Dionaea's timestr(): "2026-01-01 12:00:00.123456 UTC +0000" (the zone part may be absent). */
const DIONAEA_TIME = /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d{1,9})?)(?: [A-Za-z]{0,8} ?([+-]\d{4}))?$/;

/**
 * dionaea.capture: {time, saddr, sport, daddr, dport, md5, sha512, url}, a completed download. It
 * becomes a mid-connection event of the attacker's connection; Dionaea sends no SHA-256 of the file,
 * so the event has no payload hash, and the URL is not read.
 */
function dionaeaCapture(o: JsonRecord, now: number): ChannelResult {
  const m = DIONAEA_TIME.exec(stringField(o, 'time') ?? '');
  const time = m === null ? null : isoTimeMs(`${m[1]}${m[2] ?? 'Z'}`, true);
  if (time === null) return { problem: 'time is missing or not "YYYY-MM-DD HH:MM:SS.ffffff [ZONE +HHMM]"' };
  const src = canonicalAddress(field(o, 'saddr'));
  if (src === null) return { problem: 'saddr is missing or not an IP address' };
  const srcPort = portValue(field(o, 'sport'));
  const dstPort = portValue(field(o, 'dport'));
  if (srcPort === null || dstPort === null) return { problem: 'sport or dport is missing or not a port' };
  const dst = destination(field(o, 'daddr'));
  if (dst === undefined) return { problem: 'daddr is not an IP address' };
  return collect(
    [
      {
        time,
        src,
        srcPort,
        dst,
        dstPort,
        proto: Proto.tcp,
        tcpFlags: 0,
        action: 'honeypot',
        origin: 'honeypot',
      },
    ],
    now,
  );
}

/** Conpot protocols served over UDP; every other data_type is TCP. */
const CONPOT_UDP = new Set(['snmp', 'bacnet', 'ipmi', 'tftp']);

/**
 * conpot.events: {id, remote: [ip, port], src_ip, src_port, local: [ip, port], dst_ip, dst_port,
 * data_type, timestamp, public_ip, data}, one per request of a session. The time is the session's
 * start (Conpot's utcnow().isoformat(), UTC without a zone). A NEW_CONNECTION record is the SYN.
 */
function conpotEvent(o: JsonRecord, now: number): ChannelResult {
  const time = isoTimeMs(field(o, 'timestamp'), true);
  if (time === null) return { problem: 'timestamp is missing or not an ISO 8601 time' };
  const remote = pair(field(o, 'remote'));
  const local = pair(field(o, 'local'));
  const src = canonicalAddress(field(o, 'src_ip') ?? remote?.[0]);
  if (src === null) return { problem: 'src_ip (or remote) is missing or not an IP address' };
  const srcPort = portValue(field(o, 'src_port') ?? remote?.[1]);
  const dstPort = portValue(field(o, 'dst_port') ?? local?.[1]);
  if (srcPort === null || dstPort === null)
    return { problem: 'src_port or dst_port (or remote and local) is missing or not a port' };
  const dst = destination(field(o, 'dst_ip') ?? local?.[0]);
  if (dst === undefined) return { problem: 'dst_ip is not an IP address' };
  const dataType = stringField(o, 'data_type');
  if (dataType === null) return { problem: 'data_type is missing or not a string' };
  const data = objectField(o, 'data');
  const isNew = data !== null && stringField(data, 'type') === 'NEW_CONNECTION';
  const proto = CONPOT_UDP.has(dataType.toLowerCase()) ? Proto.udp : Proto.tcp;
  return collect(
    [
      {
        time,
        src,
        srcPort,
        dst,
        dstPort,
        proto,
        tcpFlags: proto === Proto.tcp && isNew ? TcpFlag.SYN : 0,
        action: 'honeypot',
        origin: 'honeypot',
      },
    ],
    now,
  );
}

function pair(v: unknown): [unknown, unknown] | null {
  return Array.isArray(v) && v.length === 2 ? [v[0], v[1]] : null;
}

/** portent.events: Portent event lines (docs/formats.md, NDJSON without the envelope line). */
function portentEvents(payload: Buffer, now: number): ChannelResult {
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    return { problem: 'not UTF-8' };
  }
  const parsed = parseNdjsonEvents(text.split('\n'), { now, maxProblems: 1 });
  if (parsed.problems.length > 0) {
    const p = parsed.problems[0];
    return { problem: `${p.path}: ${p.message}` };
  }
  return { events: columnsToEvents(parsed.columns) };
}
