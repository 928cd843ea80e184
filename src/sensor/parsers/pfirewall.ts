// Windows Firewall pfirewall.log: W3C extended log lines whose "#Fields:" header sets the column order, in local time.
//
// Windows writes "-" for an empty field, "INFO-EVENTS-LOST" rows when it could not keep up, and
// newer versions add a trailing "pid" column; the header is re-read whenever it appears again
// (the log is rewritten on rotation), so one parser follows a whole stream.

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
import { ClockedLineParser, digitsAt, SyslogClock } from './syslog-time.ts';
import type { LineFormat, ParseResult } from './types.ts';

/** The column order Windows has always written, used until a "#Fields:" header says otherwise. */
const DEFAULT_FIELDS =
  'date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn tcpack tcpwin icmptype icmpcode info path';

/** Column positions of the fields we read; -1 when the header lacks one. */
interface Columns {
  date: number;
  time: number;
  action: number;
  protocol: number;
  srcIp: number;
  dstIp: number;
  srcPort: number;
  dstPort: number;
  tcpflags: number;
  tcpsyn: number;
  tcpwin: number;
  icmptype: number;
  icmpcode: number;
}

function columnsOf(fieldList: string): Columns {
  const names = fieldList.trim().split(/\s+/);
  const at = (n: string) => names.indexOf(n);
  return {
    date: at('date'),
    time: at('time'),
    action: at('action'),
    protocol: at('protocol'),
    srcIp: at('src-ip'),
    dstIp: at('dst-ip'),
    srcPort: at('src-port'),
    dstPort: at('dst-port'),
    tcpflags: at('tcpflags'),
    tcpsyn: at('tcpsyn'),
    tcpwin: at('tcpwin'),
    icmptype: at('icmptype'),
    icmpcode: at('icmpcode'),
  };
}

const SKIP_EMPTY: ParseResult = { kind: 'skip', reason: 'empty line' };
const SKIP_LOST: ParseResult = {
  kind: 'skip',
  reason: 'INFO-EVENTS-LOST: Windows dropped records it could not write (the count is in the info column)',
};
const SKIP_HEADER: ParseResult = { kind: 'skip', reason: 'W3C header line' };

class PfirewallParser extends ClockedLineParser {
  readonly format = 'pfirewall' as const;
  private columns = columnsOf(DEFAULT_FIELDS);
  private utc = false;

  protected parseLine(line: string): ParseResult {
    if (line.trim() === '') return SKIP_EMPTY;
    if (line.charCodeAt(0) === 0x23) return this.header(line);
    const f = line.slice(0, 4096).trim().split(/\s+/);
    const c = this.columns;
    const get = (i: number): string => (i >= 0 && i < f.length ? f[i] : '-');
    const actionText = get(c.action);
    let action: ActionName;
    if (actionText.startsWith('DROP')) action = 'blocked';
    else if (actionText.startsWith('ALLOW')) action = 'accepted';
    else if (actionText === 'INFO-EVENTS-LOST') {
      return SKIP_LOST;
    } else return { kind: 'skip', reason: `action "${actionText.slice(0, 32)}" is neither DROP nor ALLOW` };

    const time = this.timeOf(get(c.date), get(c.time));
    if (Number.isNaN(time)) return { kind: 'error', message: 'unreadable date or time' };
    const proto = protoNumber(get(c.protocol));
    if (proto < 0) return { kind: 'error', message: 'unreadable protocol' };
    const src = address(get(c.srcIp));
    const dst = address(get(c.dstIp));
    if (src === null || dst === null)
      return { kind: 'error', message: 'source or destination is not an IP address' };
    let srcPort: number;
    let dstPort: number;
    if (proto === 1 || proto === 58) {
      srcPort = optional(get(c.icmptype), 255) ?? 0;
      dstPort = optional(get(c.icmpcode), 255) ?? 0;
    } else {
      const sp = optional(get(c.srcPort), 65535);
      const dp = optional(get(c.dstPort), 65535);
      if (sp === undefined || dp === undefined) return { kind: 'error', message: 'unreadable port' };
      srcPort = sp ?? 0;
      dstPort = dp ?? 0;
    }
    const flagText = get(c.tcpflags);
    const flags = proto === 6 && flagText !== '-' ? tcpFlagsFromLetters(flagText) : 0;
    const seq = proto === 6 ? (optional(get(c.tcpsyn), 0xffffffff) ?? null) : null;
    const window = proto === 6 ? (optional(get(c.tcpwin), 65535) ?? null) : null;
    return eventResult(
      this.now,
      firewallEvent(time, src, srcPort, dst, dstPort, proto, flags, action, null, null, window, seq, 1),
    );
  }

  private header(line: string): ParseResult {
    if (line.startsWith('#Fields:')) this.columns = columnsOf(line.slice(8, 4096));
    else if (line.startsWith('#Time Format:')) this.utc = /utc/i.test(line);
    return SKIP_HEADER;
  }

  /** "yyyy-mm-dd" and "hh:mm:ss" in the zone the header names (local unless it says UTC). */
  private timeOf(date: string, time: string): number {
    if (date.length !== 10 || time.length < 8 || date.charCodeAt(4) !== 0x2d || date.charCodeAt(7) !== 0x2d) {
      return Number.NaN;
    }
    const y = digitsAt(date, 0, 4);
    const mo = digitsAt(date, 5, 2);
    const d = digitsAt(date, 8, 2);
    const h = digitsAt(time, 0, 2);
    const mi = digitsAt(time, 3, 2);
    const s = digitsAt(time, 6, 2);
    if (time.charCodeAt(2) !== 0x3a || time.charCodeAt(5) !== 0x3a || time.length !== 8) return Number.NaN;
    if (this.utc) return SyslogClock.wall(y, mo - 1, d, h, mi, s, 0);
    return this.clock.local(y, mo - 1, d, h, mi, s, 0);
  }
}

/** A number 0..max, null for "-", undefined when it is neither. */
function optional(text: string, max: number): number | null | undefined {
  if (text === '-') return null;
  const n = uint(text, max);
  return n < 0 ? undefined : n;
}

const HEADER_PATTERN = /^#(?:Software: Microsoft Windows Firewall|Fields: date time action)/;
const ROW_PATTERN = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (?:ALLOW|DROP|INFO-EVENTS-LOST)\b/;

export const pfirewallFormat: LineFormat = {
  name: 'pfirewall',
  detect(sample) {
    const result = scoreSample(
      sample,
      (line) =>
        ROW_PATTERN.test(line) || HEADER_PATTERN.test(line) || /^#(?:Version|Time Format):/.test(line),
      'Windows Firewall pfirewall.log',
    );
    // A file whose only lines are the header (a quiet day) is still unmistakably this format.
    if (result.score < 1 && sample.some((l) => HEADER_PATTERN.test(l))) {
      return {
        score: Math.max(result.score, 0.9),
        reason: `W3C header of Windows Firewall; ${result.reason}`,
      };
    }
    return result;
  },
  create(ctx) {
    return new PfirewallParser(ctx);
  },
};
