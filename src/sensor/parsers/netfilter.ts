// Linux netfilter LOG lines (iptables, nftables, ufw, firewalld, UniFi, Proxmox) in every framing: BSD or RFC 3339 syslog, RFC 5424, bare kernel lines, dmesg -T, DShield's epoch prefix, journalctl JSON and export.
//
// This is the sensor's busiest parser (a firewall under a scan logs thousands of lines a second),
// so the key=value body is read in one pass over the line's code units: no regular expressions, no
// split, and no string is cut except the addresses that go into the event.

import type { ActionName } from '../../core/event.ts';
import { actionFromWords, addressAt, eventResult, firewallEvent, scoreSample, uintAt } from './fields.ts';
import { digitsAt, monthAt, SyslogClock } from './syslog-time.ts';
import type { LineFormat, LineParser, ParseContext, ParseResult } from './types.ts';

/** Three ASCII letters as one number, to compare a key in one step. */
function key3(k: string): number {
  return (k.charCodeAt(0) << 16) | (k.charCodeAt(1) << 8) | k.charCodeAt(2);
}

const K_SRC = key3('SRC');
const K_DST = key3('DST');
const K_SPT = key3('SPT');
const K_DPT = key3('DPT');
const K_TTL = key3('TTL');
const K_SEQ = key3('SEQ');
const K_OUT = key3('OUT');
const K_SYN = key3('SYN');
const K_ACK = key3('ACK');
const K_FIN = key3('FIN');
const K_RST = key3('RST');
const K_PSH = key3('PSH');
const K_URG = key3('URG');
const K_ECE = key3('ECE');
const K_CWR = key3('CWR');
const K_ARP = key3('ARP');
const K_TCP = key3('TCP');
const K_UDP = key3('UDP');
const K_ESP = key3('ESP');
const K_GRE = key3('GRE');

const KMSG_HEADER = /^\d{1,3},\d{1,20},\d{1,20},[^;]{0,8};/;

/** UTF-16LE bytes read as a Uint16Array are the code units only on a little-endian machine. */
const LITTLE_ENDIAN = new Uint16Array(new Uint8Array([1, 0]).buffer)[0] === 1;

/** Code units kept for copies of lines; a longer line (up to MAX_LINE) grows the array. */
const UNITS = 8192;
/** A netfilter line is under 1 KB even with a long prefix and options; past this it is not one. */
const MAX_LINE = 65_536;

const SKIP_EMPTY: ParseResult = { kind: 'skip', reason: 'empty line' };
const SKIP_LONG: ParseResult = { kind: 'skip', reason: `line longer than ${MAX_LINE} characters` };
const SKIP_OTHER: ParseResult = { kind: 'skip', reason: 'not a netfilter log line' };
const SKIP_ARP: ParseResult = { kind: 'skip', reason: 'ARP packet: no IP addresses' };
const SKIP_EXPORT: ParseResult = { kind: 'skip', reason: 'journal export field' };

/** True when u[start, end) spells `word`. */
function equalsAt16(u: Uint16Array, start: number, end: number, word: string): boolean {
  if (end - start !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (u[start + i] !== word.charCodeAt(i)) return false;
  return true;
}

/** Protocol number of a PROTO= value (the names nf_log prints, or a number), or -1. */
function protoAt(u: Uint16Array, start: number, end: number): number {
  const len = end - start;
  const c = u[start];
  if (c >= 0x30 && c <= 0x39) {
    let n = 0;
    for (let i = start; i < end; i++) {
      const d = u[i] - 0x30;
      if (d < 0 || d > 9 || i - start > 2) return -1;
      n = n * 10 + d;
    }
    return n <= 255 ? n : -1;
  }
  if (len === 3) {
    const k = (c << 16) | (u[start + 1] << 8) | u[start + 2];
    if (k === K_TCP) return 6;
    if (k === K_UDP) return 17;
    if (k === K_ESP) return 50;
    if (k === K_GRE) return 47;
    return -1;
  }
  if (equalsAt16(u, start, end, 'ICMP')) return 1;
  if (equalsAt16(u, start, end, 'ICMPv6')) return 58;
  if (equalsAt16(u, start, end, 'SCTP')) return 132;
  if (equalsAt16(u, start, end, 'UDPLITE')) return 136;
  if (equalsAt16(u, start, end, 'AH')) return 51;
  if (equalsAt16(u, start, end, 'IGMP')) return 2;
  return -1;
}

/** True when u[start, end) is a strict dotted quad (no leading zeros, octets 0..255). */
function isV4At16(u: Uint16Array, start: number, end: number): boolean {
  const len = end - start;
  if (len < 7 || len > 15) return false;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = u[i];
    if (c >= 0x30 && c <= 0x39) {
      if (digits === 1 && octet === 0) return false;
      octet = octet * 10 + (c - 0x30);
      if (octet > 255) return false;
      digits++;
    } else if (c === 0x2e) {
      if (digits === 0 || dots === 3) return false;
      octet = 0;
      digits = 0;
      dots++;
    } else {
      return false;
    }
  }
  return digits > 0 && dots === 3;
}

/** Action implied by a log prefix (null: none); UniFi names its rules "[WAN_LOCAL-D-2000]" (D drop, R reject, A accept). */
function prefixAction(prefix: string): ActionName | null {
  // ufw's "[UFW AUDIT]" logs new connections whatever becomes of them.
  if (prefix.includes('AUDIT')) return 'unknown';
  if (prefix.includes('-D-') || prefix.includes('-R-')) return 'blocked';
  if (prefix.includes('-A-')) return 'accepted';
  return actionFromWords(prefix);
}

/** Index of the space that ends the value starting at `v`, or `len`. */
function endOfValue(u: Uint16Array, len: number, v: number): number {
  let i = v;
  while (i < len && u[i] !== 0x20) i++;
  return i;
}

/** End of the value last read by readUint. */
let numberEnd = 0;

/**
 * Decimal value starting at `v` and ending at a space or the end of the line, 0..max, or -1;
 * `numberEnd` is set to where the value ends either way.
 */
function readUint(u: Uint16Array, len: number, v: number, max: number): number {
  let n = 0;
  let i = v;
  for (; i < len; i++) {
    const d = u[i] - 0x30;
    if (d < 0 || d > 9) break;
    n = n * 10 + d;
  }
  if (i < len && u[i] !== 0x20) {
    numberEnd = endOfValue(u, len, i);
    return -1;
  }
  numberEnd = i;
  return i === v || i - v > 10 || n > max ? -1 : n;
}

/** True when the units at "hh:mm:ss" starting at `at` are digits where the digits go. */
function clockDigits(u: Uint16Array, at: number): boolean {
  return (
    isDigit(u[at]) &&
    isDigit(u[at + 1]) &&
    isDigit(u[at + 3]) &&
    isDigit(u[at + 4]) &&
    isDigit(u[at + 6]) &&
    isDigit(u[at + 7])
  );
}

/** Month 0..11 of the three letters u[0..2] (their case ignored); the caller knows they are one. */
function monthAt16(u: Uint16Array): number {
  return MONTH_KEYS.indexOf(((u[0] | 0x20) << 16) | ((u[1] | 0x20) << 8) | (u[2] | 0x20));
}

const MONTH_KEYS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'].map(
  key3,
);

/** Journald's microseconds since the epoch ("1768381208000000") as whole ms, or NaN. */
function microsToMs(text: string): number {
  return /^\d{1,17}$/.test(text) ? Math.floor(Number(text) / 1000) : Number.NaN;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

class NetfilterParser implements LineParser {
  readonly format = 'netfilter' as const;
  private readonly clock: SyslogClock;
  private now: number;
  /** The line's UTF-16 code units, copied once per line (see codeUnits). */
  private units = new Uint16Array(UNITS);
  private unitBytes = Buffer.from(this.units.buffer);
  /** The last log prefix seen and its action: prefixes repeat, so most lines skip the word search. */
  private lastPrefix = '';
  private lastPrefixAction: ActionName | null = null;
  /** Where the stamp bsdStamp read ends. */
  private stampEnd = 0;
  /** Time of the journal export record being read (its __REALTIME_TIMESTAMP), NaN outside one. */
  private exportTime = Number.NaN;

  constructor(ctx: ParseContext) {
    this.clock = new SyslogClock(ctx);
    this.now = ctx.now;
  }

  setNow(now: number): void {
    this.now = now;
    this.clock.setNow(now);
  }

  parse(line: string): ParseResult {
    if (line.length > MAX_LINE) return SKIP_LONG;
    try {
      return this.parseLine(line);
    } catch (e) {
      return { kind: 'error', message: `internal parser error: ${String(e)}` };
    }
  }

  /**
   * The line as UTF-16 code units in a reused array, with a 0 after the last. Line readers hand
   * out slices of a larger chunk, and charCodeAt on a slice pays an indirection per call
   * (measured: a charCodeAt sweep of the ufw lines runs at 505 ns a line on slices, 205 ns with the
   * copy); one copy of a few hundred bytes costs about 70 ns.
   */
  private codeUnits(line: string): Uint16Array {
    const len = line.length;
    if (len >= this.units.length) {
      this.units = new Uint16Array(len + 1);
      this.unitBytes = Buffer.from(this.units.buffer);
    }
    if (LITTLE_ENDIAN) this.unitBytes.write(line, 0, 'utf16le');
    else for (let i = 0; i < len; i++) this.units[i] = line.charCodeAt(i);
    this.units[len] = 0;
    return this.units;
  }

  private parseLine(line: string): ParseResult {
    if (line.length === 0) {
      this.exportTime = Number.NaN; // a blank line ends a journal export record
      return SKIP_EMPTY;
    }
    const u = this.codeUnits(line);
    const c0 = u[0];
    let time = Number.NaN;
    let afterStamp = 0;
    let hasHost = false;
    if (c0 === 0x7b) return this.journalJson(line);
    if (c0 === 0x5f && line.startsWith('__REALTIME_TIMESTAMP=')) {
      this.exportTime = microsToMs(line.slice(21));
      return SKIP_EXPORT;
    }
    if (c0 === 0x4d && line.startsWith('MESSAGE=')) {
      return this.body(line, u, 8, Number.isNaN(this.exportTime) ? this.now : this.exportTime, 8);
    }
    if (isDigit(c0)) {
      if (line.charCodeAt(4) === 0x2d) {
        time = this.clock.iso(line, 0);
        if (Number.isNaN(time)) return { kind: 'error', message: 'unreadable RFC 3339 timestamp' };
        afterStamp = this.clock.end;
        hasHost = true;
      } else {
        time = this.clock.epoch(line, 0);
        if (!Number.isNaN(time) && line.charCodeAt(this.clock.end) === 0x20) {
          afterStamp = this.clock.end;
          hasHost = true;
        } else {
          time = this.proxmoxStamp(line);
          if (!Number.isNaN(time)) afterStamp = this.clock.end;
          else {
            // /dev/kmsg: "level,sequence,microseconds since boot,flags;message": no wall clock.
            afterStamp = KMSG_HEADER.test(line) ? line.indexOf(';') + 1 : -1;
            if (afterStamp < 0) return SKIP_OTHER;
          }
        }
      }
    } else if (c0 === 0x3c) {
      time = this.clock.header(line);
      if (Number.isNaN(time)) return { kind: 'error', message: 'unreadable syslog timestamp' };
      afterStamp = this.clock.end;
      hasHost = true;
    } else if (c0 === 0x5b) {
      time = this.dmesgStamp(line);
      if (!Number.isNaN(time)) afterStamp = this.clock.end;
    } else if (u[3] === 0x20 && monthAt(line, 0) >= 0) {
      time = this.bsdStamp(u);
      if (!Number.isNaN(time)) afterStamp = this.stampEnd;
      else {
        time = this.clock.bsd(line, 0); // the rarer shapes: a year after the day, a long fraction
        afterStamp = this.clock.end;
      }
      if (Number.isNaN(time)) return { kind: 'error', message: 'unreadable BSD syslog timestamp' };
      hasHost = true;
    }
    let prefixStart = afterStamp;
    if (hasHost) {
      // " host " after the stamp.
      let i = afterStamp;
      while (u[i] === 0x20) i++;
      while (i < line.length && u[i] !== 0x20) i++;
      prefixStart = i + 1;
    }
    return this.body(line, u, prefixStart, Number.isNaN(time) ? this.now : time, afterStamp);
  }

  /**
   * Reads the netfilter part of a line. `from` is where the log prefix may start (after the syslog
   * stamp and host); `stampEnd` bounds the backward search for "kernel:".
   */
  private body(line: string, u: Uint16Array, from: number, time: number, stampEnd: number): ParseResult {
    const len = line.length;
    let bodyStart = line.indexOf('IN=', from);
    if (bodyStart > from && line.charCodeAt(bodyStart - 1) !== 0x20) {
      // "PHYSIN=" of a line without IN=, or a prefix written without a trailing space ("DROPIN=eth0").
      const out = line.lastIndexOf('OUT=', bodyStart);
      if (out >= from && line.charCodeAt(out - 1) === 0x20) bodyStart = out;
    }
    if (bodyStart < 0) {
      bodyStart = line.indexOf('OUT=', from);
      if (bodyStart < 0) {
        bodyStart = line.indexOf('SRC=', from);
        if (bodyStart < 0) return SKIP_OTHER;
      }
    }

    // The log prefix: after "kernel:" and the uptime "[ 123.456]" when present.
    let prefixStart = from;
    const k = line.lastIndexOf('kernel:', bodyStart);
    if (k >= stampEnd) prefixStart = k + 7;
    while (line.charCodeAt(prefixStart) === 0x20) prefixStart++;
    if (line.charCodeAt(prefixStart) === 0x5b) {
      const c = line.charCodeAt(prefixStart + 1);
      if (isDigit(c) || c === 0x20) {
        const close = line.indexOf(']', prefixStart);
        if (close > 0 && close < bodyStart) prefixStart = close + 1;
      }
    }

    let srcStart = -1;
    let srcEnd = -1;
    let dstStart = -1;
    let dstEnd = -1;
    let srcPort = 0;
    let dstPort = 0;
    let proto = -1;
    let flags = 0;
    let ttl: number | null = null;
    let ipId: number | null = null;
    let window: number | null = null;
    let seq: number | null = null;
    let inSet = false;
    let outSet = false;
    let bad: string | null = null;
    let arp = false;
    let hasDstPort = false;

    let i = bodyStart;
    while (i < len) {
      const c = u[i];
      if (c === 0x20) {
        i++;
        continue;
      }
      if (c === 0x5b) break; // "[SRC=… ]": the packet inside an ICMP error, not this one
      // The key runs to '=' (key=value) or to a space (a bare word such as SYN or DF).
      let e = i + 1;
      let ch = u[e];
      while (e < len && ch !== 0x3d && ch !== 0x20) ch = u[++e];
      const klen = e - i;
      if (ch !== 0x3d) {
        if (klen === 3) {
          const key = (c << 16) | (u[i + 1] << 8) | u[i + 2];
          if (proto === 6) {
            if (key === K_SYN) flags |= 2;
            else if (key === K_ACK) flags |= 16;
            else if (key === K_FIN) flags |= 1;
            else if (key === K_RST) flags |= 4;
            else if (key === K_PSH) flags |= 8;
            else if (key === K_URG) flags |= 32;
            else if (key === K_ECE) flags |= 64;
            else if (key === K_CWR) flags |= 128;
          } else if (key === K_ARP) {
            arp = true;
          }
        }
        i = e + 1;
        continue;
      }
      const v = e + 1; // the value starts here and runs to the next space
      let j = -1; // end of the value when a number reader found it
      if (klen === 3) {
        const key = (c << 16) | (u[i + 1] << 8) | u[i + 2];
        if (key === K_SRC) {
          if (srcStart < 0) {
            srcStart = v;
            j = srcEnd = endOfValue(u, len, v);
          }
        } else if (key === K_DST) {
          if (dstStart < 0) {
            dstStart = v;
            j = dstEnd = endOfValue(u, len, v);
          }
        } else if (key === K_SPT) {
          srcPort = readUint(u, len, v, 65535);
          j = numberEnd;
          if (srcPort < 0) bad ??= 'SPT';
        } else if (key === K_DPT) {
          hasDstPort = true;
          dstPort = readUint(u, len, v, 65535);
          j = numberEnd;
          if (dstPort < 0) bad ??= 'DPT';
        } else if (key === K_TTL) {
          const n = readUint(u, len, v, 255);
          j = numberEnd;
          if (n < 0) bad ??= 'TTL';
          else ttl = n;
        } else if (key === K_SEQ) {
          if (proto === 6) {
            const n = readUint(u, len, v, 0xffffffff);
            j = numberEnd;
            if (n < 0) bad ??= 'SEQ';
            else seq = n;
          }
        } else if (key === K_OUT) {
          outSet = u[v] !== 0x20 && v < len;
        }
      } else if (klen === 2) {
        const c1 = u[i + 1];
        if (c === 0x49 && c1 === 0x44) {
          // ID= before PROTO= is the IP ID; after it, an ICMP echo identifier.
          if (proto < 0) {
            const n = readUint(u, len, v, 65535);
            j = numberEnd;
            if (n < 0) bad ??= 'ID';
            else ipId = n;
          }
        } else if (c === 0x49 && c1 === 0x4e) {
          inSet = u[v] !== 0x20 && v < len;
        }
      } else if (klen === 5) {
        if (equalsAt16(u, i, e, 'PROTO')) {
          j = endOfValue(u, len, v);
          proto = protoAt(u, v, j);
          if (proto < 0) bad ??= 'PROTO';
        }
      } else if (klen === 6) {
        if (equalsAt16(u, i, e, 'WINDOW')) {
          const n = readUint(u, len, v, 65535);
          j = numberEnd;
          if (n < 0) bad ??= 'WINDOW';
          else window = n;
        }
      } else if (klen === 4) {
        if (proto === 1 || proto === 58) {
          // ICMP type and code go where ports go, as Zeek and DShield put them.
          if (equalsAt16(u, i, e, 'TYPE')) {
            srcPort = readUint(u, len, v, 255);
            j = numberEnd;
            if (srcPort < 0) bad ??= 'TYPE';
          } else if (equalsAt16(u, i, e, 'CODE')) {
            dstPort = readUint(u, len, v, 255);
            j = numberEnd;
            if (dstPort < 0) bad ??= 'CODE';
          }
        }
      } else if (klen === 8) {
        if (equalsAt16(u, i, e, 'HOPLIMIT')) {
          const n = readUint(u, len, v, 255);
          j = numberEnd;
          if (n < 0) bad ??= 'HOPLIMIT';
          else ttl = n;
        }
      }
      i = (j < 0 ? endOfValue(u, len, v) : j) + 1;
    }
    if (srcStart < 0 || dstStart < 0) {
      if (arp) return SKIP_ARP;
      return { kind: 'error', message: srcStart < 0 ? 'no SRC= field' : 'no DST= field' };
    }
    if (bad !== null) return { kind: 'error', message: `unreadable ${bad}= value` };
    if (proto < 0) return { kind: 'error', message: 'no PROTO= field' };
    if (!hasDstPort && (proto === 6 || proto === 17 || proto === 132 || proto === 136)) {
      // Only a later fragment ("FRAG:n") or a cut packet ("INCOMPLETE [n bytes]") is logged without ports.
      if (!line.includes('FRAG:') && !line.includes('INCOMPLETE')) {
        return { kind: 'error', message: 'no DPT= field (truncated line?)' };
      }
    }
    const src = isV4At16(u, srcStart, srcEnd)
      ? line.slice(srcStart, srcEnd)
      : addressAt(line, srcStart, srcEnd);
    if (src === null) return { kind: 'error', message: 'SRC= is not an IP address' };
    const dst = isV4At16(u, dstStart, dstEnd)
      ? line.slice(dstStart, dstEnd)
      : addressAt(line, dstStart, dstEnd);
    if (dst === null) return { kind: 'error', message: 'DST= is not an IP address' };
    const action = this.prefixActionAt(line, u, prefixStart, bodyStart);
    // Without a word in the prefix, a LOG rule on INPUT (in, not out) logs what is about to be dropped.
    const act: ActionName = action ?? (inSet && !outSet ? 'blocked' : 'unknown');
    return eventResult(
      this.now,
      firewallEvent(time, src, srcPort, dst, dstPort, proto, flags, act, ipId, ttl, window, seq, 1),
    );
  }

  private prefixActionAt(line: string, u: Uint16Array, start: number, end: number): ActionName | null {
    const n = end - start;
    if (n <= 0) return null;
    const last = this.lastPrefix;
    if (n === last.length) {
      let same = true;
      for (let i = 0; i < n; i++) {
        if (u[start + i] !== last.charCodeAt(i)) {
          same = false;
          break;
        }
      }
      if (same) return this.lastPrefixAction;
    }
    if (n > 512) return prefixAction(line.slice(end - 512, end)); // hostile; not worth caching
    this.lastPrefix = line.slice(start, end);
    this.lastPrefixAction = prefixAction(this.lastPrefix);
    return this.lastPrefixAction;
  }

  /**
   * The common BSD stamp "Mmm dd hh:mm:ss[.ffffff] " read from the code units (the month name was
   * checked by the caller); NaN for any other shape, which the string reader then tries.
   */
  private bsdStamp(u: Uint16Array): number {
    let d = u[5] - 0x30;
    if (u[4] !== 0x20) d += (u[4] - 0x30) * 10;
    const h = (u[7] - 0x30) * 10 + u[8] - 0x30;
    const mi = (u[10] - 0x30) * 10 + u[11] - 0x30;
    const sec = (u[13] - 0x30) * 10 + u[14] - 0x30;
    if (u[6] !== 0x20 || u[9] !== 0x3a || u[12] !== 0x3a || !clockDigits(u, 7) || !isDigit(u[5])) {
      return Number.NaN;
    }
    if (u[4] !== 0x20 && !isDigit(u[4])) return Number.NaN;
    let i = 15;
    let ms = 0;
    if (u[i] === 0x2e) {
      let scale = 100;
      for (i++; isDigit(u[i]); i++) {
        ms += (u[i] - 0x30) * scale;
        scale /= 10;
      }
      ms = Math.floor(ms);
    }
    if (u[i] !== 0x20) return Number.NaN;
    this.stampEnd = i;
    return this.clock.yearless(monthAt16(u), d, h, mi, sec, ms);
  }

  /** Proxmox: "vmid rule chain dd/Mon/yyyy:hh:mm:ss +zzzz " after three words; NaN if absent. */
  private proxmoxStamp(line: string): number {
    let i = 0;
    for (let words = 0; words < 3; words++) {
      const sp = line.indexOf(' ', i);
      if (sp < 0 || sp - i > 64) return Number.NaN;
      i = sp + 1;
    }
    const d = digitsAt(line, i, 2);
    const month0 = monthAt(line, i + 3);
    const y = digitsAt(line, i + 7, 4);
    const h = digitsAt(line, i + 12, 2);
    const mi = digitsAt(line, i + 15, 2);
    const s = digitsAt(line, i + 18, 2);
    if (
      d < 0 ||
      month0 < 0 ||
      y < 0 ||
      h < 0 ||
      mi < 0 ||
      s < 0 ||
      line.charCodeAt(i + 2) !== 0x2f ||
      line.charCodeAt(i + 6) !== 0x2f ||
      line.charCodeAt(i + 11) !== 0x3a ||
      line.charCodeAt(i + 20) !== 0x20
    ) {
      return Number.NaN;
    }
    const wall = SyslogClock.wall(y, month0, d, h, mi, s, 0);
    const sign = line.charCodeAt(i + 21);
    const oh = digitsAt(line, i + 22, 2);
    const om = digitsAt(line, i + 24, 2);
    if (Number.isNaN(wall) || (sign !== 0x2b && sign !== 0x2d) || oh < 0 || om < 0) return Number.NaN;
    this.clock.end = i + 26;
    const offset = (oh * 60 + om) * 60_000;
    return sign === 0x2b ? wall - offset : wall + offset;
  }

  /** `dmesg -T`: "[Fri Apr  7 00:00:54 2023] …", local time; NaN for other bracketed starts. */
  private dmesgStamp(line: string): number {
    const close = line.indexOf(']');
    if (close < 20 || close > 30) return Number.NaN;
    // "Www Mmm dd hh:mm:ss yyyy": the BSD reader with the year moved in front of the clock.
    const month0 = monthAt(line, 5);
    let i = 9;
    if (line.charCodeAt(i) === 0x20) i++;
    const sp = line.indexOf(' ', i);
    const d = uintAt(line, i, sp, 31);
    const h = digitsAt(line, sp + 1, 2);
    const mi = digitsAt(line, sp + 4, 2);
    const s = digitsAt(line, sp + 7, 2);
    const y = digitsAt(line, sp + 10, 4);
    if (month0 < 0 || d < 0 || h < 0 || mi < 0 || s < 0 || y < 0 || sp + 14 !== close) return Number.NaN;
    const t = this.clock.local(y, month0, d, h, mi, s, 0);
    this.clock.end = close + 1;
    return t;
  }

  /** `journalctl -o json`: one JSON object per line with MESSAGE and __REALTIME_TIMESTAMP (µs). */
  private journalJson(line: string): ParseResult {
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      return SKIP_OTHER;
    }
    if (typeof record !== 'object' || record === null) return SKIP_OTHER;
    const { MESSAGE: message, __REALTIME_TIMESTAMP: realtime } = record as Record<string, unknown>;
    if (typeof message !== 'string') return SKIP_OTHER;
    const ms = typeof realtime === 'string' ? microsToMs(realtime) : Number.NaN;
    return this.body(message, this.codeUnits(message), 0, Number.isNaN(ms) ? this.now : ms, 0);
  }
}

const LINE_PATTERN = /\bSRC=[0-9a-fA-F:.]+ DST=[0-9a-fA-F:.]+ /;

export const netfilterFormat: LineFormat = {
  name: 'netfilter',
  detect(sample) {
    return scoreSample(
      sample,
      (line) => LINE_PATTERN.test(line) && line.includes(' PROTO='),
      'netfilter LOG (iptables/nftables/ufw)',
    );
  },
  create(ctx) {
    return new NetfilterParser(ctx);
  },
};
