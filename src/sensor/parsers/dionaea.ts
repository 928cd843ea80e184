// Dionaea honeypot parser: the log_json ihandler's connection records, in both shapes it has written.
//
// Current dionaea writes {"connection": {"protocol", "transport", "type"}, "src_ip", "src_port",
// "dst_ip", "dst_port", "timestamp"} when a connection is freed; its documentation shows an older
// nested shape {"connection": {"local": {...}, "remote": {...}, ...}}. Both are read.

import { Proto, TcpFlag, type ActionName } from '../../core/event.ts';
import {
  canonicalAddress,
  detectJsonLines,
  error,
  eventResult,
  field,
  isoTimeMs,
  objectField,
  parseJsonRecord,
  portValue,
  skip,
  stringField,
} from './record-fields.ts';
import { TimedLineParser } from './syslog-time.ts';
import type { LineFormat, ParseResult } from './types.ts';

/**
 * Connection types that are an attacker's attempt on the honeypot. "listen" is dionaea's own
 * listening socket and "connect" a connection dionaea made (to download a sample): neither is a probe.
 */
const INBOUND: Readonly<Record<string, ActionName>> = {
  accept: 'honeypot',
  accepted: 'honeypot',
  reject: 'blocked',
};

class DionaeaParser extends TimedLineParser {
  readonly format = 'dionaea' as const;

  parse(line: string): ParseResult {
    if (line.trim() === '') return skip('empty line');
    const o = parseJsonRecord(line);
    if (typeof o === 'string') return error(o);
    const conn = objectField(o, 'connection');
    if (conn === null) return skip('record without a connection');
    const type = stringField(conn, 'type');
    if (type === null) return error('connection.type is missing or not a string');
    const act = Object.hasOwn(INBOUND, type) ? INBOUND[type] : undefined;
    if (act === undefined) return skip(`connection type ${type.slice(0, 30)} (not an inbound attempt)`);
    const transport = stringField(conn, 'transport');
    const proto =
      transport === 'udp' ? Proto.udp : transport === 'tcp' || transport === 'tls' ? Proto.tcp : null;
    if (proto === null) return error('connection.transport is not tcp, tls or udp');
    const remote = objectField(conn, 'remote');
    const local = objectField(conn, 'local');
    const srcValue = remote !== null ? field(remote, 'address') : field(o, 'src_ip');
    const src = canonicalAddress(srcValue);
    if (src === null) return error('source address (src_ip) is missing or not an IP address');
    const dstValue = local !== null ? field(local, 'address') : field(o, 'dst_ip');
    const dst = dstValue === undefined || dstValue === '' ? null : canonicalAddress(dstValue);
    if (dst === null && dstValue !== undefined && dstValue !== '')
      return error('dst_ip is not an IP address');
    const srcPort = portValue(remote !== null ? field(remote, 'port') : field(o, 'src_port'));
    const dstPort = portValue(local !== null ? field(local, 'port') : field(o, 'dst_port'));
    if (srcPort === null || dstPort === null) return error('src_port or dst_port is missing or not a port');
    // Dionaea stamps with Python's datetime.utcnow().isoformat(): UTC without a zone.
    const time = isoTimeMs(field(o, 'timestamp'), true);
    if (time === null) return error('timestamp is missing or not an ISO 8601 time');
    return eventResult(
      {
        time,
        src,
        srcPort,
        dst,
        dstPort,
        proto,
        tcpFlags: proto === Proto.tcp ? TcpFlag.SYN : 0,
        action: act,
        origin: 'honeypot',
      },
      this.now,
    );
  }
}

export const dionaea: LineFormat = {
  name: 'dionaea',
  detect: (sample) =>
    detectJsonLines(
      sample,
      (o) => {
        const conn = objectField(o, 'connection');
        return conn !== null && stringField(conn, 'transport') !== null && stringField(conn, 'type') !== null;
      },
      'Dionaea connection records',
    ),
  create: (ctx) => new DionaeaParser(ctx),
};
