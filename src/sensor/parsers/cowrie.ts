// Cowrie honeypot parser: JSON lines of every schema generation since 2018, and the text log's "New connection" lines.
//
// Only cowrie.session.connect carries the ports and the honeypot's own address; login, command and
// download records carry just src_ip and the session id. The parser remembers each session's
// connect record (per stream, bounded) so those records become events with the connection's ports.

import { Proto, TcpFlag } from '../../core/event.ts';
import {
  canonicalAddress,
  detectJsonLines,
  error,
  eventResult,
  field,
  isoTimeMs,
  parseJsonRecord,
  portValue,
  sha256Hex,
  skip,
  stringField,
  type JsonRecord,
} from './record-fields.ts';
import { TimedLineParser } from './syslog-time.ts';
import type { LineFormat, ParseResult } from './types.ts';

/** Records that are events when their session (or the record itself) gives the ports. */
const SESSION_EVENTS = new Set([
  'cowrie.login.success',
  'cowrie.login.failed',
  'cowrie.command.input',
  'cowrie.session.file_download',
  'cowrie.session.file_upload',
]);

/** Sessions remembered per stream; past this the oldest are forgotten (their closed records may be lost). */
export const MAX_COWRIE_SESSIONS = 50_000;

interface Session {
  srcPort: number;
  dst: string | null;
  dstPort: number;
}

/** "New connection: 1.2.3.4:5678 (172.17.0.3:2222) [session: abc]" in a record's message or a text log line. */
const NEW_CONNECTION = /New connection: (\S+):(\d{1,5}) \((\S+):(\d{1,5})\)(?: \[session: ([^\]]*)\])?/;

/** The timestamp Twisted writes before each text log line, possibly after a syslog prefix. */
const TEXT_STAMP = /(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})) \[/;

class CowrieParser extends TimedLineParser {
  readonly format = 'cowrie' as const;
  readonly #sessions = new Map<string, Session>();

  parse(line: string): ParseResult {
    if (line.trim() === '') return skip('empty line');
    if (line.charCodeAt(0) !== 0x7b) return this.#textLine(line);
    const o = parseJsonRecord(line);
    if (typeof o === 'string') return error(o);
    const eventid = stringField(o, 'eventid');
    if (eventid === null) return error('eventid is missing or not a string');
    if (eventid === 'cowrie.session.connect') return this.#connect(o);
    const session = stringField(o, 'session');
    if (eventid === 'cowrie.session.closed') {
      if (session !== null) this.#sessions.delete(session);
      return skip(eventid);
    }
    if (!SESSION_EVENTS.has(eventid)) return skip(eventid === '' ? 'empty eventid' : eventid.slice(0, 60));
    return this.#sessionEvent(o, eventid, session);
  }

  #connect(o: JsonRecord): ParseResult {
    const src = canonicalAddress(field(o, 'src_ip'));
    if (src === null) return error('src_ip is missing or not an IP address');
    const time = isoTimeMs(field(o, 'timestamp'), false);
    if (time === null) return error('timestamp is missing or not an ISO 8601 time with a zone');
    // Some generations lack dst_ip / dst_port; the message still says "(dst:port)".
    const fromMessage = NEW_CONNECTION.exec(stringField(o, 'message') ?? '');
    const srcPort = portValue(field(o, 'src_port') ?? fromMessage?.[2]);
    const dstPort = portValue(field(o, 'dst_port') ?? fromMessage?.[4]);
    if (srcPort === null || dstPort === null) return error('src_port or dst_port is missing or not a port');
    const dst = canonicalAddress(field(o, 'dst_ip') ?? fromMessage?.[3]);
    const session = stringField(o, 'session');
    if (session !== null) this.#remember(session, { srcPort, dst, dstPort });
    return eventResult(
      {
        time,
        src,
        srcPort,
        dst,
        dstPort,
        proto: Proto.tcp,
        tcpFlags: TcpFlag.SYN,
        action: 'honeypot',
        origin: 'honeypot',
      },
      this.now,
    );
  }

  #sessionEvent(o: JsonRecord, eventid: string, session: string | null): ParseResult {
    const src = canonicalAddress(field(o, 'src_ip'));
    if (src === null) return error('src_ip is missing or not an IP address');
    const time = isoTimeMs(field(o, 'timestamp'), false);
    if (time === null) return error('timestamp is missing or not an ISO 8601 time with a zone');
    const known = session === null ? undefined : this.#sessions.get(session);
    const srcPort = portValue(field(o, 'src_port')) ?? known?.srcPort;
    const dstPort = portValue(field(o, 'dst_port')) ?? known?.dstPort;
    if (srcPort === undefined || dstPort === undefined) {
      return skip(`${eventid} without its session's connect record (no ports)`);
    }
    let payloadSha256: string | null = null;
    if (eventid === 'cowrie.session.file_download' || eventid === 'cowrie.session.file_upload') {
      payloadSha256 = sha256Hex(field(o, 'shasum'));
      if (field(o, 'shasum') !== undefined && payloadSha256 === null) return error('shasum is not a SHA-256');
    }
    return eventResult(
      {
        time,
        src,
        srcPort,
        dst: canonicalAddress(field(o, 'dst_ip')) ?? known?.dst ?? null,
        dstPort,
        proto: Proto.tcp,
        tcpFlags: 0, // mid-session: the connect record already stands for the SYN
        action: 'honeypot',
        origin: 'honeypot',
        payloadSha256,
      },
      this.now,
    );
  }

  #remember(session: string, s: Session): void {
    if (this.#sessions.size >= MAX_COWRIE_SESSIONS) {
      const oldest = this.#sessions.keys().next();
      if (oldest.done !== true) this.#sessions.delete(oldest.value);
    }
    this.#sessions.set(session, s);
  }

  /** The text log (cowrie.log, or the same lines through syslog): only "New connection" lines are events. */
  #textLine(line: string): ParseResult {
    const m = NEW_CONNECTION.exec(line);
    if (m === null) return skip('cowrie text log line that is not a new connection');
    const stamp = TEXT_STAMP.exec(line);
    const time = stamp === null ? null : isoTimeMs(stamp[1], false);
    if (time === null) return error('new connection line without a timestamp');
    const src = canonicalAddress(m[1]);
    const dst = canonicalAddress(m[3]);
    const srcPort = portValue(m[2]);
    const dstPort = portValue(m[4]);
    if (src === null || srcPort === null || dstPort === null)
      return error('new connection line with a bad address or port');
    if (m[5] !== undefined) this.#remember(m[5], { srcPort, dst, dstPort });
    return eventResult(
      {
        time,
        src,
        srcPort,
        dst,
        dstPort,
        proto: Proto.tcp,
        tcpFlags: TcpFlag.SYN,
        action: 'honeypot',
        origin: 'honeypot',
      },
      this.now,
    );
  }
}

const TWISTED_LINE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?[+-]\d{4} \[/;

export const cowrie: LineFormat = {
  name: 'cowrie',
  detect(sample) {
    const json = detectJsonLines(
      sample,
      (o) => (stringField(o, 'eventid') ?? '').startsWith('cowrie.'),
      'Cowrie JSON records',
    );
    if (json.score > 0) return json;
    // The text log: Twisted's "stamp [system] message" lines, alone or behind a syslog "cowrie[pid]:" tag.
    const lines = sample.filter((l) => l.trim() !== '');
    if (lines.length === 0) return json;
    const tagged = lines.filter((l) => TWISTED_LINE.test(l) || /\bcowrie\[\d+\]: /.test(l)).length;
    const cowrieWords = lines.some((l) => /cowrie|HoneyPot|New connection: /.test(l));
    const score = cowrieWords ? (0.9 * tagged) / lines.length : 0;
    return { score, reason: `${tagged} of ${lines.length} lines are Cowrie text log lines` };
  },
  create: (ctx) => new CowrieParser(ctx),
};
