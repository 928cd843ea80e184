// Cisco ASA / FTD / PIX / FWSM syslog messages ("%ASA-4-106023: Deny tcp src …") for denied, permitted and built connections.
//
// Message texts follow Cisco's "ASA Series Syslog Messages" reference. Only the messages that name
// one connection attempt become events; everything else an ASA logs (failover, AAA, VPN, NAT
// translations, teardowns) is a skip that names the message id.

import type { ActionName } from '../../core/event.ts';
import {
  address,
  eventResult,
  firewallEvent,
  protoNumber,
  scoreSample,
  tcpFlagFromWord,
  uint,
} from './fields.ts';
import { ClockedLineParser, monthAt } from './syslog-time.ts';
import type { LineFormat, ParseResult } from './types.ts';

const TAG = /%(?:ASA|FTD|PIX|FWSM)-(?:[a-z]+-)?([0-7])-(\d{6}):? ?/;

const SKIP_EMPTY: ParseResult = { kind: 'skip', reason: 'empty line' };
const SKIP_OTHER: ParseResult = { kind: 'skip', reason: 'not a Cisco ASA message' };

/** One side of a connection: "iface:addr/port", "addr/port", "iface:addr", with IPv6 allowed. */
interface Endpoint {
  addr: string;
  port: number;
}

/** Reads "[iface:]address[/port]" (the interface name cannot contain ':' but IPv6 can). */
function endpoint(text: string, portSeparator = '/'): Endpoint | null {
  let host = text;
  let port = 0;
  const slash = text.lastIndexOf(portSeparator);
  if (slash >= 0) {
    port = uint(text.slice(slash + 1), 65535);
    if (port < 0) return null;
    host = text.slice(0, slash);
  }
  let addr = address(host);
  if (addr === null) {
    const colon = host.indexOf(':');
    if (colon < 0) return null;
    addr = address(host.slice(colon + 1));
  }
  return addr === null ? null : { addr, port };
}

/** "iface/addr(port)" as access-list 106100 writes endpoints. */
function aclEndpoint(text: string): Endpoint | null {
  const m = /^(?:[^/]*\/)?([0-9A-Fa-f:.]+)\((\d+)\)$/.exec(text);
  if (m === null) return null;
  const addr = address(m[1]);
  const port = uint(m[2], 65535);
  return addr === null || port < 0 ? null : { addr, port };
}

function flagsFromWords(text: string): number {
  let f = 0;
  for (const w of text.split(/\s+/)) f |= tcpFlagFromWord(w);
  return f;
}

/** What one message says, before it becomes an event. */
interface Connection {
  action: ActionName;
  proto: number;
  src: Endpoint;
  dst: Endpoint;
  flags: number;
  count: number;
}

type Reader = (msg: string) => Connection | null;

function conn(
  action: ActionName,
  proto: number,
  src: Endpoint | null,
  dst: Endpoint | null,
  flags = 0,
  count = 1,
): Connection | null {
  return src === null || dst === null || proto < 0 ? null : { action, proto, src, dst, flags, count };
}

/** ICMP type and code in the port fields, as for every other format. */
function icmp(e: Endpoint | null, port: number): Endpoint | null {
  return e === null || port < 0 ? null : { addr: e.addr, port };
}

const READERS = new Map<string, Reader>([
  [
    '106001',
    (msg) => {
      const m = /Inbound TCP connection denied from (\S+) to (\S+) flags (.*?) +on interface/.exec(msg);
      return m && conn('blocked', 6, endpoint(m[1]), endpoint(m[2]), flagsFromWords(m[3]));
    },
  ],
  [
    '106006',
    (msg) => {
      const m = /Deny inbound UDP from (\S+) to (\S+)/.exec(msg);
      return m && conn('blocked', 17, endpoint(m[1]), endpoint(m[2]));
    },
  ],
  [
    '106007',
    (msg) => {
      const m = /Deny inbound UDP from (\S+) to (\S+)/.exec(msg);
      return m && conn('blocked', 17, endpoint(m[1]), endpoint(m[2]));
    },
  ],
  [
    '106010',
    (msg) => {
      const m = /Deny inbound (?:protocol )?(\S+) src (\S+) dst (\S+)/.exec(msg);
      return m && conn('blocked', protoNumber(m[1]), endpoint(m[2]), endpoint(m[3]));
    },
  ],
  [
    '106014',
    (msg) => {
      const m = /Deny (?:inbound|outbound) icmp src (\S+) dst (\S+) \(type (\d+), code (\d+)\)/.exec(msg);
      return (
        m && conn('blocked', 1, icmp(endpoint(m[1]), uint(m[3], 255)), icmp(endpoint(m[2]), uint(m[4], 255)))
      );
    },
  ],
  [
    '106015',
    (msg) => {
      const m = /Deny TCP \(no connection\) from (\S+) to (\S+) flags (.*?) +on interface/.exec(msg);
      return m && conn('blocked', 6, endpoint(m[1]), endpoint(m[2]), flagsFromWords(m[3]));
    },
  ],
  [
    '106023',
    (msg) => {
      const m = /Deny (\S+) src (\S+) dst (\S+?)(?: \(type (\d+), code (\d+)\))? by access-group/.exec(msg);
      if (m === null) return null;
      const proto = protoNumber(m[1]);
      if (m[4] !== undefined && (proto === 1 || proto === 58)) {
        return conn(
          'blocked',
          proto,
          icmp(endpoint(m[2]), uint(m[4], 255)),
          icmp(endpoint(m[3]), uint(m[5], 255)),
        );
      }
      return conn('blocked', proto, endpoint(m[2]), endpoint(m[3]));
    },
  ],
  [
    '106100',
    (msg) => {
      const m =
        /access-list \S+ (permitted|denied|est-allowed) (\S+) (\S+?\(\d+\))(?:\([^)]*\))? -> (\S+?\(\d+\))(?:\([^)]*\))? hit-cnt (\d+)/.exec(
          msg,
        );
      if (m === null) return null;
      const count = uint(m[5], 0xffffffff);
      return conn(
        m[1] === 'denied' ? 'blocked' : 'accepted',
        protoNumber(m[2]),
        aclEndpoint(m[3]),
        aclEndpoint(m[4]),
        0,
        count < 1 ? 1 : count,
      );
    },
  ],
  ['302013', built],
  ['302015', built],
  [
    '302020',
    (msg) => {
      const m =
        /Built (inbound|outbound) (ICMP|ICMPv6) connection for faddr (\S+) gaddr \S+ laddr (\S+)(?:.*?type (\d+) code (\d+))?/.exec(
          msg,
        );
      if (m === null) return null;
      // The "/n" after each address is the ICMP identifier, not a port.
      const far = endpoint(m[3]);
      const local = endpoint(m[4]);
      const type = m[5] === undefined ? 0 : uint(m[5], 255);
      const code = m[6] === undefined ? 0 : uint(m[6], 255);
      const [s, d] = m[1] === 'inbound' ? [far, local] : [local, far];
      return conn('accepted', m[2] === 'ICMP' ? 1 : 58, icmp(s, type), icmp(d, code));
    },
  ],
  [
    '710003',
    (msg) => {
      const m = /(TCP|UDP) access denied by ACL from (\S+) to (\S+)/.exec(msg);
      return m && conn('blocked', protoNumber(m[1]), endpoint(m[2]), endpoint(m[3]));
    },
  ],
  [
    '710005',
    (msg) => {
      const m = /(TCP|UDP|SCTP) request discarded from (\S+) to (\S+)/.exec(msg);
      return m && conn('blocked', protoNumber(m[1]), endpoint(m[2]), endpoint(m[3]));
    },
  ],
]);

/**
 * 302013 / 302015 "Built {inbound|outbound} {TCP|UDP} connection id for outside:a/p (mapped) to
 * inside:b/q (mapped)": the "for" side is the lower-security interface, so the initiator is that
 * side for inbound connections and the "to" side for outbound ones.
 */
function built(msg: string): Connection | null {
  const m = /Built (inbound|outbound) (TCP|UDP) connection \S+ for (\S+)(?: \([^)]*\))* to (\S+)/.exec(msg);
  if (m === null) return null;
  const a = endpoint(m[3]);
  const b = endpoint(m[4]);
  return m[1] === 'inbound'
    ? conn('accepted', protoNumber(m[2]), a, b)
    : conn('accepted', protoNumber(m[2]), b, a);
}

class CiscoAsaParser extends ClockedLineParser {
  readonly format = 'cisco-asa' as const;
  protected parseLine(line: string): ParseResult {
    if (line.trim() === '') return SKIP_EMPTY;
    const text = line.length > 4096 ? line.slice(0, 4096) : line;
    const tag = TAG.exec(text);
    if (tag === null) return SKIP_OTHER;
    const id = tag[2];
    const read = READERS.get(id);
    if (read === undefined) return { kind: 'skip', reason: `ASA message ${id} is not a connection record` };
    let time = this.clock.header(text);
    if (Number.isNaN(time)) {
      // Lines straight from the device, or tools that strip the stamp, have none: read now.
      const c = text.charCodeAt(this.clock.end);
      if (tag.index > this.clock.end && ((c >= 0x30 && c <= 0x39) || monthAt(text, this.clock.end) >= 0)) {
        return { kind: 'error', message: 'unreadable syslog timestamp' };
      }
      time = this.now;
    }
    const c = read(text.slice(tag.index + tag[0].length));
    if (c === null) return { kind: 'error', message: `ASA message ${id} in an unexpected shape` };
    return eventResult(
      this.now,
      firewallEvent(
        time,
        c.src.addr,
        c.src.port,
        c.dst.addr,
        c.dst.port,
        c.proto,
        c.proto === 6 ? c.flags : 0,
        c.action,
        null,
        null,
        null,
        null,
        c.count,
      ),
    );
  }
}

export const ciscoAsaFormat: LineFormat = {
  name: 'cisco-asa',
  detect(sample) {
    return scoreSample(sample, (line) => TAG.test(line), 'Cisco ASA %ASA-n-nnnnnn');
  },
  create(ctx) {
    return new CiscoAsaParser(ctx);
  },
};
