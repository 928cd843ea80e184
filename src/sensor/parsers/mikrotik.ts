// MikroTik RouterOS firewall log lines ("firewall,info drop-in input: in:ether1 out:(unknown 0), src-mac …, proto TCP (SYN), 1.2.3.4:5678->5.6.7.8:22, len 60") as remote syslog or as printed.
//
// RouterOS writes the rule's log-prefix, then the chain, then comma-separated facts; IPv6
// endpoints are bracketed when a port follows ("[2001:db8::1]:443"), and ICMP carries
// "(type t, code c)" where TCP carries its flags.

import type { ActionName } from '../../core/event.ts';
import {
  actionFromWords,
  address,
  eventResult,
  firewallEvent,
  protoNumber,
  scoreSample,
  tcpFlagFromWord,
  uint,
} from './fields.ts';
import { ClockedLineParser, digitsAt, monthAt } from './syslog-time.ts';
import type { LineFormat, ParseResult } from './types.ts';

const SKIP_EMPTY: ParseResult = { kind: 'skip', reason: 'empty line' };
const SKIP_OTHER: ParseResult = { kind: 'skip', reason: 'not a RouterOS firewall log line' };

/** chain, in-interface, the rest; the chain may follow a log prefix and the topics. */
const RECORD = /(?:^|\s)([^\s:]+): in:(\S*) out:(?:\(unknown \d+\)|\S*), (.*)$/;
const PROTO = /(?:^|[\s,])proto ([^\s,(]+)(?: \(([^)]*)\))?, ([^\s,]+)->([^\s,]+)/;

interface Endpoint {
  addr: string;
  port: number;
}

/** "1.2.3.4:80", "1.2.3.4", "[2001:db8::1]:80" or "2001:db8::1". */
function endpoint(text: string): Endpoint | null {
  if (text.charCodeAt(0) === 0x5b) {
    const close = text.indexOf(']');
    if (close < 0) return null;
    const addr = address(text.slice(1, close));
    if (addr === null) return null;
    if (close === text.length - 1) return { addr, port: 0 };
    if (text.charCodeAt(close + 1) !== 0x3a) return null;
    const port = uint(text.slice(close + 2), 65535);
    return port < 0 ? null : { addr, port };
  }
  const colon = text.indexOf(':');
  if (colon >= 0 && colon === text.lastIndexOf(':')) {
    const addr = address(text.slice(0, colon));
    const port = uint(text.slice(colon + 1), 65535);
    return addr === null || port < 0 ? null : { addr, port };
  }
  const addr = address(text);
  return addr === null ? null : { addr, port: 0 };
}

class MikrotikParser extends ClockedLineParser {
  readonly format = 'mikrotik' as const;
  protected parseLine(line: string): ParseResult {
    if (line.trim() === '') return SKIP_EMPTY;
    const text = line.length > 4096 ? line.slice(0, 4096) : line;
    const rec = RECORD.exec(text);
    if (rec === null) return SKIP_OTHER;
    const time = this.timeOf(text);
    if (Number.isNaN(time)) return { kind: 'error', message: 'unreadable timestamp' };
    const p = PROTO.exec(rec[3]);
    if (p === null) return { kind: 'error', message: 'no "proto …, source->destination" part' };
    const proto = protoNumber(p[1]);
    if (proto < 0) return { kind: 'error', message: 'unreadable protocol' };
    const src = endpoint(p[3]);
    const dst = endpoint(p[4]);
    if (src === null || dst === null)
      return { kind: 'error', message: 'source or destination is not an address' };
    let flags = 0;
    let srcPort = src.port;
    let dstPort = dst.port;
    const detail = p[2] ?? '';
    if (proto === 6) {
      for (const w of detail.split(',')) flags |= tcpFlagFromWord(w.trim());
    } else if (proto === 1 || proto === 58) {
      const m = /type (\d+), code (\d+)/.exec(detail);
      srcPort = m === null ? 0 : Math.max(0, uint(m[1], 255));
      dstPort = m === null ? 0 : Math.max(0, uint(m[2], 255));
    }
    const chain = rec[1];
    const chainStart = rec.index + (rec[0].length - rec[0].trimStart().length);
    const action: ActionName =
      actionFromWords(this.prefixOf(text, chainStart)) ?? (chain === 'input' ? 'blocked' : 'unknown');
    return eventResult(
      this.now,
      firewallEvent(
        time,
        src.addr,
        srcPort,
        dst.addr,
        dstPort,
        proto,
        flags,
        action,
        null,
        null,
        null,
        null,
        1,
      ),
    );
  }

  /** The log prefix: the words between the topics ("firewall,info") and the chain. */
  private prefixOf(text: string, chainStart: number): string {
    const before = text.slice(0, chainStart).trimEnd();
    const topics = before.search(/(?:^|\s)[a-z]+(?:,[a-z]+)+(?:\s|$)/);
    if (topics < 0) return '';
    const after = before.slice(topics).trimStart();
    const sp = after.indexOf(' ');
    return sp < 0 ? '' : after.slice(sp + 1);
  }

  /** Syslog header (RFC 3339, RFC 5424, BSD), RouterOS's own "mmm/dd/yyyy hh:mm:ss", or now. */
  private timeOf(text: string): number {
    const t = this.clock.header(text);
    if (!Number.isNaN(t)) return t;
    const i = this.clock.end;
    const month0 = monthAt(text, i);
    if (month0 < 0 || text.charCodeAt(i + 3) !== 0x2f) {
      const c = text.charCodeAt(i);
      return (c >= 0x30 && c <= 0x39 && text.charCodeAt(i + 4) === 0x2d) || monthAt(text, i) >= 0
        ? Number.NaN
        : this.now;
    }
    const d = digitsAt(text, i + 4, 2);
    let j = i + 6;
    let y = -1;
    if (text.charCodeAt(j) === 0x2f) {
      y = digitsAt(text, j + 1, 4);
      j += 5;
    }
    const h = digitsAt(text, j + 1, 2);
    const mi = digitsAt(text, j + 4, 2);
    const s = digitsAt(text, j + 7, 2);
    if (d < 0 || h < 0 || mi < 0 || s < 0 || text.charCodeAt(j) !== 0x20) return Number.NaN;
    return y >= 0 ? this.clock.local(y, month0, d, h, mi, s, 0) : this.clock.yearless(month0, d, h, mi, s, 0);
  }
}

export const mikrotikFormat: LineFormat = {
  name: 'mikrotik',
  detect(sample) {
    return scoreSample(
      sample,
      (line) => RECORD.test(line) && / proto \S+.*->/.test(line),
      'MikroTik RouterOS firewall',
    );
  },
  create(ctx) {
    return new MikrotikParser(ctx);
  },
};
