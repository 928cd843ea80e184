// pf filterlog lines (pfSense, OPNsense): the CSV record after "filterlog:" in BSD syslog or RFC 5424 framing, IPv4 and IPv6.
//
// Field layout from the pfSense "raw filter log format" page: nine common fields (rule, sub rule,
// anchor, tracker, interface, reason, action, direction, IP version), then the IPv4 or IPv6 header
// fields, then protocol fields (TCP: ports, data length, flags, sequence, ack, window, urg, options;
// UDP: ports, data length; ICMP: a type word and type-specific data).

import type { ActionName } from '../../core/event.ts';
import {
  address,
  eventResult,
  firewallEvent,
  protoNumber,
  scoreSample,
  tcpFlagsFromLetters,
  uint,
} from './fields.ts';
import { ClockedLineParser } from './syslog-time.ts';
import type { LineFormat, ParseResult } from './types.ts';

const SKIP_EMPTY: ParseResult = { kind: 'skip', reason: 'empty line' };
const SKIP_OTHER: ParseResult = { kind: 'skip', reason: 'not a filterlog line' };

/** ICMP type (and code where the word fixes it) of pf's ICMP type words. */
const ICMP_TYPES = new Map<string, [number, number]>(
  Object.entries({
    reply: [0, 0],
    unreach: [3, 0],
    unreachproto: [3, 2],
    unreachport: [3, 3],
    needfrag: [3, 4],
    redirect: [5, 0],
    request: [8, 0],
    routeradvert: [9, 0],
    routersol: [10, 0],
    timexceed: [11, 0],
    paramprob: [12, 0],
    tstamp: [13, 0],
    tstampreply: [14, 0],
    inforeq: [15, 0],
    inforeply: [16, 0],
    maskreq: [17, 0],
    maskreply: [18, 0],
  }) as [string, [number, number]][],
);

function actionOf(word: string): ActionName | null {
  switch (word) {
    case 'block':
    case 'reject':
    case 'drop':
      return 'blocked';
    case 'pass':
      return 'accepted';
    default:
      return null;
  }
}

/** Index where the CSV starts after "filterlog" at `at`, or -1. */
function csvStart(line: string, at: number): number {
  let i = at + 9;
  if (line.charCodeAt(i) === 0x5b) {
    // BSD "filterlog[1234]:"
    const close = line.indexOf(']', i);
    if (close < 0 || close - i > 12) return -1;
    i = close + 1;
  }
  if (line.charCodeAt(i) === 0x3a) {
    i++;
    while (line.charCodeAt(i) === 0x20) i++;
    return i;
  }
  if (line.charCodeAt(i) !== 0x20) return -1;
  // RFC 5424: "filterlog PROCID MSGID SD MSG", SD being "-" or one or more "[…]" elements.
  for (let words = 0; words < 2; words++) {
    const sp = line.indexOf(' ', i + 1);
    if (sp < 0) return -1;
    i = sp;
  }
  i++;
  if (line.charCodeAt(i) === 0x2d) return line.charCodeAt(i + 1) === 0x20 ? i + 2 : -1;
  while (line.charCodeAt(i) === 0x5b) {
    // Skip one SD element; a ']' inside a quoted value is escaped as "\]".
    let j = i + 1;
    let quoted = false;
    for (; j < line.length; j++) {
      const c = line.charCodeAt(j);
      if (c === 0x5c) j++;
      else if (c === 0x22) quoted = !quoted;
      else if (c === 0x5d && !quoted) break;
    }
    if (j >= line.length) return -1;
    i = j + 1;
  }
  if (line.charCodeAt(i) !== 0x20) return -1;
  return i + 1;
}

class FilterlogParser extends ClockedLineParser {
  readonly format = 'filterlog' as const;
  protected parseLine(line: string): ParseResult {
    if (line.trim() === '') return SKIP_EMPTY;
    const at = line.indexOf('filterlog');
    if (at < 0) return SKIP_OTHER;
    const start = csvStart(line, at);
    if (start < 0) return SKIP_OTHER;
    let time = this.clock.header(line);
    if (Number.isNaN(time)) {
      if (at > this.clock.end + 1) return { kind: 'error', message: 'unreadable syslog timestamp' };
      time = this.now; // a bare "filterlog: …" message, as pfSense's own log viewer shows it
    }
    const f = line.slice(start, start + 4096).split(',');
    if (f.length < 9) return { kind: 'error', message: `only ${f.length} CSV fields` };
    const action = actionOf(f[6]);
    if (action === null)
      return { kind: 'skip', reason: `action "${f[6].slice(0, 32)}" is neither block nor pass` };
    let ttl: number;
    let ipId: number | null = null;
    let proto: number;
    let p: number; // index of the source address
    if (f[8] === '4') {
      if (f.length < 20) return { kind: 'error', message: 'truncated IPv4 record' };
      ttl = uint(f[11], 255);
      const id = uint(f[12], 65535);
      if (id >= 0) ipId = id;
      proto = uint(f[15], 255);
      if (proto < 0) proto = protoNumber(f[16]);
      p = 18;
    } else if (f[8] === '6') {
      if (f.length < 17) return { kind: 'error', message: 'truncated IPv6 record' };
      ttl = uint(f[11], 255);
      proto = uint(f[13], 255);
      if (proto < 0) proto = protoNumber(f[12]);
      p = 15;
    } else {
      return { kind: 'error', message: `IP version "${f[8].slice(0, 16)}" is neither 4 nor 6` };
    }
    if (proto < 0) return { kind: 'error', message: 'unreadable protocol' };
    const src = address(f[p]);
    const dst = address(f[p + 1]);
    if (src === null || dst === null)
      return { kind: 'error', message: 'source or destination is not an IP address' };

    let srcPort = 0;
    let dstPort = 0;
    let flags = 0;
    let seq: number | null = null;
    let window: number | null = null;
    const q = p + 2; // first protocol field
    if (proto === 6 || proto === 17 || proto === 132) {
      if (f.length < q + 2) return { kind: 'error', message: 'truncated record: no ports' };
      srcPort = uint(f[q], 65535);
      dstPort = uint(f[q + 1], 65535);
      if (srcPort < 0 || dstPort < 0) return { kind: 'error', message: 'unreadable port' };
      if (proto === 6 && f.length > q + 3) {
        flags = tcpFlagsFromLetters(f[q + 3]);
        // A data segment's sequence is logged as "first:last".
        const s = f[q + 4] ?? '';
        const colon = s.indexOf(':');
        const n = uint(colon < 0 ? s : s.slice(0, colon), 0xffffffff);
        if (n >= 0) seq = n;
        const w = uint(f[q + 6] ?? '', 65535);
        if (w >= 0) window = w;
      }
    } else if (proto === 1 && f.length > q) {
      const type = ICMP_TYPES.get(f[q]);
      if (type !== undefined) {
        srcPort = type[0];
        dstPort = type[1];
      }
    }
    return eventResult(
      this.now,
      firewallEvent(
        time,
        src,
        srcPort,
        dst,
        dstPort,
        proto,
        flags,
        action,
        ipId,
        ttl < 0 ? null : ttl,
        window,
        seq,
        1,
      ),
    );
  }
}

/** "filterlog", its tag ending, then rule, sub rule, anchor, tracker, interface, reason, action, direction, IP version. */
const LINE_PATTERN =
  /filterlog(?:\[\d+\])?(?::| \S+ \S+ (?:-|(?:\[[^\]]*\])+)) ?\d*,[^,]*,[^,]*,[^,]*,[^,]*,[^,]*,[a-z-]+,(?:in|out),[46],/;

export const filterlogFormat: LineFormat = {
  name: 'filterlog',
  detect(sample) {
    return scoreSample(sample, (line) => LINE_PATTERN.test(line), 'pf filterlog CSV');
  },
  create(ctx) {
    return new FilterlogParser(ctx);
  },
};
