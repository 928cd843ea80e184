// Field readers shared by the text firewall parsers: addresses, bounded numbers, protocol names, actions, and the event literal.
//
// Readers work on a range of the line (start, end) so that parsers need not cut the line into
// pieces; they return null or -1 instead of throwing, because every input is hostile.

import { formatAddress, parseAddress } from '../../core/address.ts';
import { EVENT_LIMITS, type ActionName, type PortentEvent } from '../../core/event.ts';
import type { ParseResult } from './types.ts';

const scratch = new Uint32Array(4);

/** True when s[start, end) is a strict dotted quad (no leading zeros, octets 0..255). */
function isV4At(s: string, start: number, end: number): boolean {
  const len = end - start;
  if (len < 7 || len > 15) return false;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
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

/**
 * The address in s[start, end) in canonical text (dotted quad, or RFC 5952 IPv6), or null when it
 * is not exactly one address. The unspecified IPv6 address comes back as "::" for callers to refuse.
 */
export function addressAt(s: string, start: number, end: number): string | null {
  if (isV4At(s, start, end)) return s.slice(start, end);
  const len = end - start;
  if (len < 2 || len > 45) return null;
  const text = s.slice(start, end);
  if (!parseAddress(text, scratch, 0)) return null;
  return formatAddress(scratch, 0);
}

/** Canonical text of a whole-string address, or null. */
export function address(text: string): string | null {
  return addressAt(text, 0, text.length);
}

/** Decimal integer in s[start, end), 0..max, or -1 (empty, not digits, too large). */
export function uintAt(s: string, start: number, end: number, max: number): number {
  if (end <= start || end - start > 10) return -1;
  let v = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i) - 0x30;
    if (!(c >= 0 && c <= 9)) return -1;
    v = v * 10 + c;
  }
  return v <= max ? v : -1;
}

/** Decimal integer of a whole string, 0..max, or -1. */
export function uint(text: string, max: number): number {
  return uintAt(text, 0, text.length, max);
}

/** IANA protocol number of a name as firewalls print it, in any case ("TCP", "icmp", "ICMPv6", "47"), or -1. */
export function protoNumber(text: string): number {
  const n = uint(text, 255);
  if (n >= 0) return n;
  switch (text.toLowerCase()) {
    case 'tcp':
      return 6;
    case 'udp':
      return 17;
    case 'icmp':
      return 1;
    case 'icmpv6':
    case 'ipv6-icmp':
    case 'icmp6':
      return 58;
    case 'sctp':
      return 132;
    case 'udplite':
      return 136;
    case 'gre':
      return 47;
    case 'esp':
      return 50;
    case 'ah':
      return 51;
    case 'igmp':
      return 2;
    case 'ipv6':
    case 'ipv6-encap':
      return 41;
    case 'ipip':
    case 'ipencap':
      return 4;
    case 'ospf':
    case 'ospfigp':
      return 89;
    case 'pim':
      return 103;
    case 'vrrp':
    case 'carp':
      return 112;
    default:
      return -1;
  }
}

/**
 * The action a free-text rule name or log prefix implies ("[UFW BLOCK]", "IPTABLES-DROP:",
 * "drop-in"), or null when it names none. Words that block win over words that allow, so a prefix
 * such as "DENY-unless-ALLOWED" does not count as allowed.
 */
export function actionFromWords(text: string): ActionName | null {
  const t = text.toUpperCase();
  if (
    t.includes('BLOCK') ||
    t.includes('DROP') ||
    t.includes('REJECT') ||
    t.includes('DENY') ||
    t.includes('DENIED')
  ) {
    return 'blocked';
  }
  if (t.includes('ALLOW') || t.includes('ACCEPT') || t.includes('PASS') || t.includes('PERMIT'))
    return 'accepted';
  return null;
}

/** A firewall event with every field in one fixed order, so all events share one hidden class. */
export function firewallEvent(
  time: number,
  src: string,
  srcPort: number,
  dst: string,
  dstPort: number,
  proto: number,
  tcpFlags: number,
  action: ActionName,
  ipId: number | null,
  ttl: number | null,
  window: number | null,
  seq: number | null,
  count: number,
): PortentEvent {
  return {
    time,
    src,
    srcPort,
    dst,
    dstPort,
    proto,
    tcpFlags,
    action,
    origin: 'firewall',
    ipId,
    ttl,
    window,
    seq,
    payloadSha256: null,
    count,
    sampling: 1,
  };
}

/**
 * The event as a result, or an error when the collector would refuse it (it refuses a whole batch
 * for one bad event): a time before 1990 or more than 24 h after `now`, or the unspecified address.
 */
export function eventResult(now: number, e: PortentEvent): ParseResult {
  if (e.time < EVENT_LIMITS.minTime)
    return { kind: 'error', message: `time ${isoText(e.time)} is before 1990` };
  if (e.time > now + EVENT_LIMITS.maxFutureMs) {
    return { kind: 'error', message: `time ${isoText(e.time)} is more than 24 h in the future` };
  }
  if (e.src === '::') return { kind: 'error', message: 'source address is the unspecified address ::' };
  if (e.dst === '::') return { kind: 'error', message: 'destination address is the unspecified address ::' };
  return { kind: 'event', event: e };
}

function isoText(t: number): string {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString();
}

/** TCP flag bits from letters as pf, Windows and tcpdump print them (S A F R P U E W/C; "." is ACK). */
export function tcpFlagsFromLetters(text: string): number {
  let f = 0;
  for (let i = 0; i < text.length; i++) {
    switch (text.charCodeAt(i) | 0x20) {
      case 0x66: // f
        f |= 1;
        break;
      case 0x73: // s
        f |= 2;
        break;
      case 0x72: // r
        f |= 4;
        break;
      case 0x70: // p
        f |= 8;
        break;
      case 0x61: // a
      case 0x2e: // . (tcpdump)
        f |= 16;
        break;
      case 0x75: // u
        f |= 32;
        break;
      case 0x65: // e
        f |= 64;
        break;
      case 0x77: // w (pf)
      case 0x63: // c
        f |= 128;
        break;
    }
  }
  return f;
}

/** TCP flag bit of a flag word ("SYN", "ACK", …) in any case, or 0. */
export function tcpFlagFromWord(word: string): number {
  switch (word.toUpperCase()) {
    case 'FIN':
      return 1;
    case 'SYN':
      return 2;
    case 'RST':
      return 4;
    case 'PSH':
      return 8;
    case 'ACK':
      return 16;
    case 'URG':
      return 32;
    case 'ECE':
      return 64;
    case 'CWR':
      return 128;
    default:
      return 0;
  }
}

/** Share of non-empty sample lines that `matches` accepts, with a reason naming `what`. */
export function scoreSample(
  sample: readonly string[],
  matches: (line: string) => boolean,
  what: string,
): { score: number; reason: string } {
  let lines = 0;
  let hits = 0;
  for (const line of sample) {
    if (line.trim() === '') continue;
    lines++;
    // Patterns see at most the first 4 KiB: real lines are shorter, and hostile ones must not make
    // a pattern's backtracking quadratic in a megabyte.
    if (matches(line.length > 4096 ? line.slice(0, 4096) : line)) hits++;
  }
  if (lines === 0) return { score: 0, reason: 'no non-empty lines' };
  return { score: hits / lines, reason: `${hits} of ${lines} lines match the ${what} pattern` };
}
