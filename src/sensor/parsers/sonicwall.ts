// SonicWall SonicOS syslog lines (key=value: id= sn= time="…" fw= pri= c= m= msg="…" src=ip:port:iface dst=… proto=tcp/443) for dropped and opened connections.
//
// SonicOS writes IPv6 endpoints as srcV6=/dstV6= with the port left in src=":port:iface". Newer
// firmware adds fw_action="drop"/"forward"; older lines say what happened only in msg.

import type { ActionName } from '../../core/event.ts';
import { address, eventResult, firewallEvent, protoNumber, scoreSample, uint } from './fields.ts';
import { ClockedLineParser, digitsAt, SyslogClock } from './syslog-time.ts';
import type { LineFormat, ParseResult } from './types.ts';

const SKIP_EMPTY: ParseResult = { kind: 'skip', reason: 'empty line' };
const SKIP_OTHER: ParseResult = { kind: 'skip', reason: 'not a SonicWall log line' };

/** Messages that report one packet or connection dropped, and the one that reports a connection let through. */
const DROPPED = /\b(?:packet|connection|datagram)s? dropped\b|\bdropped\b.*\bpacket\b/i;
const OPENED = /^connection opened$/i;

/**
 * key=value and key="quoted value" pairs; a Map so that hostile keys stay plain data. A key starts
 * a word: without the lookbehind the regex retried from every letter of a long word without "=",
 * quadratic (8 KiB of letters took 40 ms, found by bench/fuzz).
 */
function pairs(line: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /(?<![A-Za-z0-9_])([A-Za-z_][A-Za-z0-9_]*)=(?:"([^"]*)"|(\S*))/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) {
    if (!out.has(m[1])) out.set(m[1], m[2] ?? m[3]);
  }
  return out;
}

interface Endpoint {
  addr: string;
  port: number;
}

/** "ip:port:iface[:host]", or ":port:iface" with the address in the V6 field. */
function endpoint(value: string | undefined, v6: string | undefined): Endpoint | null {
  if (value === undefined) return null;
  const parts = value.split(':');
  const addr = v6 !== undefined ? address(v6) : address(parts[0]);
  if (addr === null) return null;
  if (parts.length < 2 || parts[1] === '') return { addr, port: 0 };
  const port = uint(parts[1], 65535);
  return port < 0 ? null : { addr, port };
}

class SonicwallParser extends ClockedLineParser {
  readonly format = 'sonicwall' as const;
  protected parseLine(line: string): ParseResult {
    if (line.trim() === '') return SKIP_EMPTY;
    const f = pairs(line.length > 8192 ? line.slice(0, 8192) : line);
    const msg = f.get('msg');
    if (msg === undefined || !f.has('m')) return SKIP_OTHER;
    const fwAction = f.get('fw_action')?.toLowerCase();
    let action: ActionName;
    if (fwAction === 'drop' || DROPPED.test(msg)) action = 'blocked';
    else if (fwAction === 'forward' || fwAction === 'allow' || OPENED.test(msg)) action = 'accepted';
    else
      return {
        kind: 'skip',
        reason: `SonicWall message ${f.get('m')!.slice(0, 12)} is not a connection record`,
      };

    const time = this.timeOf(line, f.get('time'));
    if (Number.isNaN(time)) return { kind: 'error', message: 'unreadable time' };
    const src = endpoint(f.get('src'), f.get('srcV6'));
    const dst = endpoint(f.get('dst'), f.get('dstV6'));
    if (src === null || dst === null) return { kind: 'error', message: 'unreadable src= or dst=' };
    // "tcp/https", "udp/5355", "icmp"; old lines name the protocol only in msg.
    const protoText = f.get('proto')?.split('/')[0] ?? /\b(TCP|UDP|ICMP)\b/i.exec(msg)?.[1] ?? '';
    const proto = protoNumber(protoText);
    if (proto < 0) return { kind: 'error', message: 'unreadable protocol' };
    let srcPort = src.port;
    let dstPort = dst.port;
    if (proto === 1 || proto === 58) {
      srcPort = Math.max(0, uint(f.get('type') ?? '0', 255));
      dstPort = Math.max(0, uint(f.get('code') ?? '0', 255));
    }
    return eventResult(
      this.now,
      firewallEvent(time, src.addr, srcPort, dst.addr, dstPort, proto, 0, action, null, null, null, null, 1),
    );
  }

  /** time="yyyy-mm-dd hh:mm:ss[ UTC]" (local unless marked UTC), else the syslog header, else now. */
  private timeOf(line: string, time: string | undefined): number {
    if (time !== undefined) {
      const y = digitsAt(time, 0, 4);
      const mo = digitsAt(time, 5, 2);
      const d = digitsAt(time, 8, 2);
      const h = digitsAt(time, 11, 2);
      const mi = digitsAt(time, 14, 2);
      const s = digitsAt(time, 17, 2);
      if (time.length < 19 || time.charCodeAt(4) !== 0x2d || time.charCodeAt(13) !== 0x3a) return Number.NaN;
      return /\bUTC$/.test(time)
        ? SyslogClock.wall(y, mo - 1, d, h, mi, s, 0)
        : this.clock.local(y, mo - 1, d, h, mi, s, 0);
    }
    const t = this.clock.header(line);
    return Number.isNaN(t) ? this.now : t;
  }
}

const LINE_PATTERN = /\bid=\S+ +sn=\S+ +time="[^"]*" .*\bm=\d+ /;

export const sonicwallFormat: LineFormat = {
  name: 'sonicwall',
  detect(sample) {
    return scoreSample(sample, (line) => LINE_PATTERN.test(line), 'SonicWall id= sn= time= m=');
  },
  create(ctx) {
    return new SonicwallParser(ctx);
  },
};
