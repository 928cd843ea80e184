// Suricata eve.json parser: flow, alert and anomaly records become events; every other event_type is skipped.

import { Proto, TcpFlag, type ActionName } from '../../core/event.ts';
import {
  canonicalAddress,
  detectJsonLines,
  error,
  eventResult,
  field,
  integerField,
  isoTimeMs,
  objectField,
  parseJsonRecord,
  portValue,
  protoNumber,
  skip,
  stringField,
  type JsonRecord,
} from './record-fields.ts';
import { TimedLineParser } from './syslog-time.ts';
import type { LineFormat, ParseResult } from './types.ts';

const EVENT_TYPES = new Set(['flow', 'alert', 'anomaly']);

/**
 * TCP flags of a flow's tcp section: the client-to-server flags (tcp_flags_ts) when present, since
 * the event describes what the source sent, else the flags of both directions (tcp_flags). Suricata
 * writes them as hex text ("1b"); older versions only as booleans ("syn": true).
 */
function flowTcpFlags(tcp: JsonRecord | null): number {
  if (tcp === null) return 0;
  for (const key of ['tcp_flags_ts', 'tcp_flags']) {
    const v = stringField(tcp, key);
    if (v !== null && /^[0-9a-fA-F]{1,2}$/.test(v)) return parseInt(v, 16);
  }
  let flags = 0;
  const bits: [string, number][] = [
    ['fin', TcpFlag.FIN],
    ['syn', TcpFlag.SYN],
    ['rst', TcpFlag.RST],
    ['psh', TcpFlag.PSH],
    ['ack', TcpFlag.ACK],
    ['urg', TcpFlag.URG],
    ['ecn', TcpFlag.ECE],
    ['cwr', TcpFlag.CWR],
  ];
  for (const [name, bit] of bits) if (field(tcp, name) === true) flags |= bit;
  return flags;
}

/** "blocked" when Suricata (inline, IPS mode) dropped the traffic; an IDS that only watched cannot say more. */
function action(o: JsonRecord): ActionName {
  const alert = objectField(o, 'alert');
  const verdict = alert !== null ? stringField(alert, 'action') : null;
  const flow = objectField(o, 'flow');
  const flowAction = flow !== null ? stringField(flow, 'action') : null;
  return verdict === 'blocked' || flowAction === 'drop' ? 'blocked' : 'unknown';
}

class SuricataEveParser extends TimedLineParser {
  readonly format = 'suricata-eve' as const;

  parse(line: string): ParseResult {
    if (line.trim() === '') return skip('empty line');
    const o = parseJsonRecord(line);
    if (typeof o === 'string') return error(o);
    const type = stringField(o, 'event_type');
    if (type === null) return error('event_type is missing or not a string');
    if (!EVENT_TYPES.has(type)) return skip(type === '' ? 'empty event_type' : type.slice(0, 40));
    if (field(o, 'src_ip') === undefined && type === 'anomaly') {
      return skip('anomaly without addresses (decoder event before the IP header)');
    }
    const src = canonicalAddress(field(o, 'src_ip'));
    if (src === null) return error('src_ip is missing or not an IP address');
    const dst = canonicalAddress(field(o, 'dest_ip'));
    if (dst === null) return error('dest_ip is missing or not an IP address');
    const proto = protoNumber(field(o, 'proto'));
    if (proto === null) return error('proto is missing or not a protocol');
    let srcPort: number | null;
    let dstPort: number | null;
    if (proto === Proto.icmp || proto === Proto.icmpv6) {
      // ICMP has no ports; ICMP type and code stand in their place, as in Zeek and flow logs.
      srcPort = integerField(o, 'icmp_type') ?? 0;
      dstPort = integerField(o, 'icmp_code') ?? 0;
      if (srcPort < 0 || srcPort > 255 || dstPort < 0 || dstPort > 255)
        return error('icmp_type or icmp_code out of range');
    } else {
      srcPort = field(o, 'src_port') === undefined ? 0 : portValue(field(o, 'src_port'));
      dstPort = field(o, 'dest_port') === undefined ? 0 : portValue(field(o, 'dest_port'));
      if (srcPort === null || dstPort === null) return error('src_port or dest_port is not a port');
    }
    // A flow record is written when the flow ends; its start is when the attempt was made.
    const flow = objectField(o, 'flow');
    const start = type === 'flow' && flow !== null ? isoTimeMs(field(flow, 'start'), false) : null;
    const time = start ?? isoTimeMs(field(o, 'timestamp'), false);
    if (time === null) return error('timestamp is missing or not an ISO 8601 time with an offset');
    return eventResult(
      {
        time,
        src,
        srcPort,
        dst,
        dstPort,
        proto,
        tcpFlags: proto === Proto.tcp ? flowTcpFlags(objectField(o, 'tcp')) : 0,
        action: action(o),
        origin: 'ids',
      },
      this.now,
    );
  }
}

export const suricataEve: LineFormat = {
  name: 'suricata-eve',
  detect: (sample) =>
    detectJsonLines(
      sample,
      (o) => stringField(o, 'event_type') !== null && stringField(o, 'timestamp') !== null,
      'Suricata EVE records (timestamp and event_type)',
    ),
  create: (ctx) => new SuricataEveParser(ctx),
};
