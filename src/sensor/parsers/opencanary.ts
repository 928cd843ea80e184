// OpenCanary honeypot parser: JSON records with a numeric logtype; service and port-scan logtypes become events.

import { Proto, TcpFlag } from '../../core/event.ts';
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
  type JsonRecord,
} from './record-fields.ts';
import { TimedLineParser } from './syslog-time.ts';
import type { LineFormat, ParseResult } from './types.ts';

/** OpenCanary's own messages (LOG_BASE_*: boot, msg, debug, error, ping, config save, example). */
const BASE_LOGTYPES = new Set([1000, 1001, 1002, 1003, 1004, 1005, 1006]);

/**
 * Port-scan logtypes (LOG_PORT_*): OpenCanary's iptables LOG rules, with the packet's kernel log
 * fields in logdata. The flags are what each rule matched, used when logdata does not list them.
 */
const PORTSCAN_FLAGS: ReadonlyMap<number, number> = new Map([
  [5001, TcpFlag.SYN], // LOG_PORT_SYN
  [5002, TcpFlag.SYN | TcpFlag.FIN | TcpFlag.PSH | TcpFlag.URG], // LOG_PORT_NMAPOS (nmap's T3 probe)
  [5003, 0], // LOG_PORT_NMAPNULL
  [5004, TcpFlag.FIN | TcpFlag.PSH | TcpFlag.URG], // LOG_PORT_NMAPXMAS
  [5005, TcpFlag.FIN], // LOG_PORT_NMAPFIN
]);

/** Service logtypes whose listener is UDP; every other known service is TCP. */
const UDP_LOGTYPES = new Set([
  10001, // LOG_TFTP
  11001, // LOG_NTP_MONLIST
  13001, // LOG_SNMP_CMD
  15001, // LOG_SIP_REQUEST
  19001, // LOG_LLMNR_QUERY_RESPONSE
]);

/** Service logtypes: someone connected to or sent to an OpenCanary service. */
const SERVICE_LOGTYPES = new Set([
  2000, 3000, 3001, 4000, 4001, 4002, 5000, 6001, 6002, 7001, 8001, 9001, 9002, 9003, 10001, 11001, 12001,
  13001, 14001, 15001, 16001, 17001, 18001, 18002, 18003, 18004, 18005, 19001,
]);

const KERNEL_FLAG_NAMES: [string, number][] = [
  ['FIN', TcpFlag.FIN],
  ['SYN', TcpFlag.SYN],
  ['RST', TcpFlag.RST],
  ['PSH', TcpFlag.PSH],
  ['ACK', TcpFlag.ACK],
  ['URG', TcpFlag.URG],
  ['ECE', TcpFlag.ECE],
  ['CWR', TcpFlag.CWR],
];

/** An integer from a kernel LOG field written as text ("ID=54321" becomes {"ID": "54321"}), or null. */
function kernelNumber(logdata: JsonRecord | null, key: string, max: number): number | null {
  if (logdata === null) return null;
  const v = field(logdata, key);
  const text = typeof v === 'number' ? String(v) : v;
  if (typeof text !== 'string' || !/^\d{1,10}$/.test(text)) return null;
  const n = Number(text);
  return n <= max ? n : null;
}

class OpenCanaryParser extends TimedLineParser {
  readonly format = 'opencanary' as const;

  parse(line: string): ParseResult {
    if (line.trim() === '') return skip('empty line');
    // Logging configs with a "%(asctime)s %(message)s" formatter put text before the JSON.
    const brace = line.indexOf('{');
    if (brace < 0) return error('no JSON object on the line');
    const o = parseJsonRecord(brace === 0 ? line : line.slice(brace));
    if (typeof o === 'string') return error(o);
    const logtype = field(o, 'logtype');
    if (typeof logtype !== 'number' || !Number.isInteger(logtype))
      return error('logtype is missing or not an integer');
    if (BASE_LOGTYPES.has(logtype)) return skip(`logtype ${logtype} (OpenCanary's own message)`);
    const scanFlags = PORTSCAN_FLAGS.get(logtype);
    if (scanFlags === undefined && !SERVICE_LOGTYPES.has(logtype))
      return skip(`logtype ${logtype} (not a known service)`);
    // OpenCanary fills missing addresses with "" and missing ports with -1.
    const srcHost = field(o, 'src_host');
    if (srcHost === '' || srcHost === undefined) return skip(`logtype ${logtype} without a source address`);
    const src = canonicalAddress(srcHost);
    if (src === null) return error('src_host is not an IP address');
    const dstHost = field(o, 'dst_host');
    const dst = dstHost === '' || dstHost === undefined ? null : canonicalAddress(dstHost);
    if (dst === null && dstHost !== '' && dstHost !== undefined)
      return error('dst_host is not an IP address');
    const srcPort = portValue(field(o, 'src_port'));
    const dstPort = portValue(field(o, 'dst_port'));
    if (dstPort === null) return skip(`logtype ${logtype} without a destination port`);
    const time = isoTimeMs(field(o, 'utc_time'), true) ?? isoTimeMs(field(o, 'local_time'), true);
    if (time === null) return error('utc_time is missing or not a time');
    const logdata = objectField(o, 'logdata');
    let tcpFlags = 0;
    if (scanFlags !== undefined) {
      const listed =
        logdata === null
          ? 0
          : KERNEL_FLAG_NAMES.reduce((f, [k, bit]) => (field(logdata, k) !== undefined ? f | bit : f), 0);
      tcpFlags = listed !== 0 ? listed : scanFlags;
    } else if (!UDP_LOGTYPES.has(logtype)) {
      tcpFlags = TcpFlag.SYN;
    }
    return eventResult(
      {
        time,
        src,
        srcPort: srcPort ?? 0,
        dst,
        dstPort,
        proto: UDP_LOGTYPES.has(logtype) ? Proto.udp : Proto.tcp,
        tcpFlags,
        action: 'honeypot',
        origin: 'honeypot',
        // Port-scan records carry the kernel LOG fields of the packet itself.
        ipId: scanFlags !== undefined ? kernelNumber(logdata, 'ID', 0xffff) : null,
        ttl: scanFlags !== undefined ? kernelNumber(logdata, 'TTL', 255) : null,
        window: scanFlags !== undefined ? kernelNumber(logdata, 'WINDOW', 0xffff) : null,
      },
      this.now,
    );
  }
}

export const opencanary: LineFormat = {
  name: 'opencanary',
  detect: (sample) =>
    detectJsonLines(
      // As in parse: a "%(asctime)s" prefix before the JSON is allowed.
      sample.map((l) => l.slice(Math.max(0, l.indexOf('{')))),
      (o) =>
        typeof field(o, 'logtype') === 'number' &&
        (field(o, 'src_host') !== undefined || field(o, 'node_id') !== undefined),
      'OpenCanary records (logtype with src_host / node_id)',
    ),
  create: (ctx) => new OpenCanaryParser(ctx),
};
