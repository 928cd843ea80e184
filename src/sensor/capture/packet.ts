// Decodes one captured packet (link layer, IPv4/IPv6, TCP/UDP/ICMP) and decides whether it is a probe.
//
// Probe rules (docs/formats.md, "pcap and pcapng"): a TCP segment with SYN and without ACK; a TCP
// segment with none of SYN, ACK and RST (nmap's FIN, NULL and Xmas scans); every UDP datagram; an
// ICMP or ICMPv6 echo request. Everything else is a skip with its reason; a packet too short for
// the headers it announces is an error. Nothing here throws on any input.

import { createHash } from 'node:crypto';
import { formatAddress, v4ToText } from '../../core/address.ts';
import { Proto, TcpFlag } from '../../core/event.ts';
import { error, eventResult, skip } from '../parsers/record-fields.ts';
import type { ParseResult } from '../parsers/types.ts';

/** Link types (LINKTYPE_* numbers as stored in files, plus the DLT_RAW values some systems write). */
export const LinkType = {
  null: 0, // BSD loopback: 4-byte address family in the capturing host's byte order
  ethernet: 1,
  raw12: 12, // DLT_RAW on most BSDs
  raw14: 14, // DLT_RAW on OpenBSD
  raw: 101, // LINKTYPE_RAW
  loop: 108, // OpenBSD loopback: address family in network byte order
  linuxSll: 113,
  ipv4: 228,
  ipv6: 229,
  linuxSll2: 276,
} as const;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
/** 802.1Q, 802.1ad (QinQ) and the old pre-standard QinQ tag. */
const VLAN_TAGS = new Set([0x8100, 0x88a8, 0x9100]);
const MAX_VLAN_TAGS = 4;
const MAX_IPV6_EXTENSIONS = 10;

/** BSD AF_INET6 values: Linux, NetBSD/OpenBSD, FreeBSD, macOS. */
const AF_INET6 = new Set([10, 24, 28, 30]);

const limbs = new Uint32Array(4);

function u16(b: Buffer, at: number): number {
  return (b[at] << 8) | b[at + 1];
}

function u32(b: Buffer, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

function hex4(n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`;
}

/** Where the network layer starts and which it is, or a result that ends the decoding. */
type LinkResult = { version: 4 | 6 | 0; offset: number } | ParseResult;

function fromEthertype(type: number, offset: number): LinkResult {
  if (type === ETHERTYPE_IPV4) return { version: 4, offset };
  if (type === ETHERTYPE_IPV6) return { version: 6, offset };
  if (type < 0x0600) return skip('IEEE 802.3 length frame (not IP)');
  return skip(`ethertype ${hex4(type)} (not IP)`);
}

function linkLayer(linkType: number, d: Buffer): LinkResult {
  switch (linkType) {
    case LinkType.ethernet: {
      if (d.length < 14) return error('truncated Ethernet header');
      let type = u16(d, 12);
      let offset = 14;
      for (let tags = 0; VLAN_TAGS.has(type); tags++) {
        if (tags === MAX_VLAN_TAGS) return error('more than four VLAN tags');
        if (d.length < offset + 4) return error('truncated VLAN tag');
        type = u16(d, offset + 2);
        offset += 4;
      }
      return fromEthertype(type, offset);
    }
    case LinkType.raw12:
    case LinkType.raw14:
    case LinkType.raw:
    case LinkType.ipv4:
    case LinkType.ipv6:
      return { version: 0, offset: 0 };
    case LinkType.linuxSll:
      if (d.length < 16) return error('truncated Linux cooked (SLL) header');
      return fromEthertype(u16(d, 14), 16);
    case LinkType.linuxSll2:
      if (d.length < 20) return error('truncated Linux cooked (SLL2) header');
      return fromEthertype(u16(d, 0), 20);
    case LinkType.null:
    case LinkType.loop: {
      if (d.length < 4) return error('truncated loopback header');
      // The family is in the capturing host's byte order (DLT_NULL) or network order (DLT_LOOP);
      // families are small numbers, so whichever reading is small is the right one.
      let family = d.readUInt32LE(0);
      if (family > 0xffff) family = d.readUInt32BE(0);
      if (family === 2) return { version: 4, offset: 4 };
      if (AF_INET6.has(family)) return { version: 6, offset: 4 };
      return skip(`loopback address family ${family} (not IP)`);
    }
    default:
      return skip(`link type ${linkType} (not supported)`);
  }
}

/** What the network layer found: addresses, fingerprints and where the transport header is. */
interface Network {
  v6: boolean;
  src: string;
  dst: string;
  proto: number;
  ipId: number | null;
  ttl: number;
  /** Transport header start and end of the IP payload within the captured bytes. */
  start: number;
  end: number;
  /** False when the capture cut the IP payload short, so a payload hash would be of a fragment. */
  complete: boolean;
}

function ipv4(d: Buffer, o: number): Network | ParseResult {
  if (d.length < o + 20) return error('truncated IPv4 header');
  if (d[o] >> 4 !== 4) return error(`IP version ${d[o] >> 4} where IPv4 was announced`);
  const headerLen = (d[o] & 0x0f) * 4;
  if (headerLen < 20) return error(`IPv4 header length ${headerLen} is below 20`);
  if (d.length < o + headerLen) return error('truncated IPv4 options');
  const totalLen = u16(d, o + 2);
  // A zero total length is what TCP segmentation offload leaves in captures: trust the capture.
  if (totalLen !== 0 && totalLen < headerLen)
    return error(`IPv4 total length ${totalLen} is below its header length`);
  const declaredEnd = totalLen === 0 ? d.length : o + totalLen;
  if ((u16(d, o + 6) & 0x1fff) !== 0) return skip('non-first IPv4 fragment (no transport header)');
  return {
    v6: false,
    src: v4ToText(u32(d, o + 12)),
    dst: v4ToText(u32(d, o + 16)),
    proto: d[o + 9],
    ipId: u16(d, o + 4),
    ttl: d[o + 8],
    start: o + headerLen,
    end: Math.min(d.length, declaredEnd), // Ethernet pads short frames: stop at the IP length
    complete: declaredEnd <= d.length,
  };
}

function v6Address(d: Buffer, at: number): string {
  for (let k = 0; k < 4; k++) limbs[3 - k] = u32(d, at + 4 * k);
  return formatAddress(limbs, 0);
}

function ipv6(d: Buffer, o: number): Network | ParseResult {
  if (d.length < o + 40) return error('truncated IPv6 header');
  if (d[o] >> 4 !== 6) return error(`IP version ${d[o] >> 4} where IPv6 was announced`);
  const payloadLen = u16(d, o + 4);
  // Zero payload length means a jumbogram (hop-by-hop option) or offload: trust the capture.
  const declaredEnd = payloadLen === 0 ? d.length : o + 40 + payloadLen;
  const end = Math.min(d.length, declaredEnd);
  let next = d[o + 6];
  let p = o + 40;
  for (let n = 0; ; n++) {
    if (n > MAX_IPV6_EXTENSIONS) return error('more than ten IPv6 extension headers');
    if (next === 0 || next === 43 || next === 60 || next === 135 || next === 139 || next === 140) {
      // Hop-by-hop, routing, destination options, mobility, HIP, shim6: length in 8-byte units.
      if (end < p + 2) return error('truncated IPv6 extension header');
      const len = (d[p + 1] + 1) * 8;
      next = d[p];
      p += len;
      if (p > end) return error('truncated IPv6 extension header');
    } else if (next === 44) {
      if (end < p + 8) return error('truncated IPv6 fragment header');
      if (u16(d, p + 2) >> 3 !== 0) return skip('non-first IPv6 fragment (no transport header)');
      next = d[p];
      p += 8;
    } else if (next === 51) {
      // Authentication header: length in 4-byte units, minus 2.
      if (end < p + 2) return error('truncated IPv6 authentication header');
      const len = (d[p + 1] + 2) * 4;
      next = d[p];
      p += len;
      if (p > end) return error('truncated IPv6 authentication header');
    } else if (next === 50) {
      return skip('IPv6 ESP (encrypted, no transport header)');
    } else if (next === 59) {
      return skip('IPv6 with no next header');
    } else {
      break;
    }
  }
  return {
    v6: true,
    src: v6Address(d, o + 8),
    dst: v6Address(d, o + 24),
    proto: next,
    ipId: null,
    ttl: d[o + 7],
    start: p,
    end,
    complete: declaredEnd <= d.length,
  };
}

function payloadHash(d: Buffer, from: number, net: Network): string | null {
  if (!net.complete || from >= net.end) return null;
  return createHash('sha256').update(d.subarray(from, net.end)).digest('hex');
}

/**
 * The result for one packet: an event for a probe, a skip with its reason, or an error for a packet
 * too short for its headers. `timeMs` is NaN when the container gave no timestamp.
 */
export function decodePacket(linkType: number, d: Buffer, timeMs: number, now: number): ParseResult {
  const link = linkLayer(linkType, d);
  if ('kind' in link) return link;
  let version = link.version;
  if (version === 0) {
    if (d.length < link.offset + 1) return error('empty raw IP packet');
    const v = d[link.offset] >> 4;
    if (v !== 4 && v !== 6) return error(`raw IP packet of version ${v}`);
    version = v;
  }
  const net = version === 4 ? ipv4(d, link.offset) : ipv6(d, link.offset);
  if ('kind' in net) return net;
  if (Number.isNaN(timeMs)) return error('packet has no timestamp (pcapng simple packet block)');
  const p = net.start;
  const available = net.end - p;
  const base = {
    time: timeMs,
    src: net.src,
    dst: net.dst,
    ipId: net.ipId,
    ttl: net.ttl,
    action: 'unknown',
    origin: 'capture',
  } as const;
  switch (net.proto) {
    case Proto.tcp: {
      if (available < 20) return error('truncated TCP header');
      const flags = d[p + 13];
      const syn = (flags & TcpFlag.SYN) !== 0;
      const ack = (flags & TcpFlag.ACK) !== 0;
      const rst = (flags & TcpFlag.RST) !== 0;
      if (ack) return skip('TCP segment with ACK (part of a connection, not a probe)');
      // A RST without ACK answers a SYN-ACK (a SYN scanner closing a half-open connection).
      if (rst && !syn) return skip('TCP RST without ACK (a reply, not a probe)');
      const dataOffset = (d[p + 12] >> 4) * 4;
      if (dataOffset < 20) return error(`TCP data offset ${dataOffset} is below 20`);
      return eventResult(
        {
          ...base,
          srcPort: u16(d, p),
          dstPort: u16(d, p + 2),
          proto: Proto.tcp,
          tcpFlags: flags,
          window: u16(d, p + 14),
          seq: u32(d, p + 4),
          payloadSha256: available > dataOffset ? payloadHash(d, p + dataOffset, net) : null,
        },
        now,
      );
    }
    case Proto.udp:
      if (available < 8) return error('truncated UDP header');
      return eventResult(
        {
          ...base,
          srcPort: u16(d, p),
          dstPort: u16(d, p + 2),
          proto: Proto.udp,
          tcpFlags: 0,
          payloadSha256: payloadHash(d, p + 8, net),
        },
        now,
      );
    case Proto.icmp:
    case Proto.icmpv6: {
      const v6 = net.proto === Proto.icmpv6;
      if (v6 !== net.v6) return skip(`${v6 ? 'ICMPv6 in IPv4' : 'ICMP in IPv6'} (not a probe)`);
      if (available < 4) return error(`truncated ${v6 ? 'ICMPv6' : 'ICMP'} header`);
      const type = d[p];
      if (type !== (v6 ? 128 : 8))
        return skip(`${v6 ? 'ICMPv6' : 'ICMP'} type ${type} (not an echo request)`);
      // ICMP type and code stand in the port fields, as in Zeek and flow logs.
      return eventResult({ ...base, srcPort: type, dstPort: d[p + 1], proto: net.proto, tcpFlags: 0 }, now);
    }
    default:
      return skip(`IP protocol ${net.proto} (not TCP, UDP or ICMP)`);
  }
}
