// Builds packets and pcap/pcapng files byte by byte for tests, from pcap-savefile(5), the pcapng draft and the IP RFCs.
//
// Checksums are left zero: the reader under test does not check them, and neither do captures
// taken with checksum offload.

export interface TcpSpec {
  sport: number;
  dport: number;
  seq: number;
  ack?: number;
  flags: number;
  window: number;
  /** TCP options, padded by the caller to a multiple of 4 bytes. */
  options?: Buffer;
  payload?: Buffer;
}

export function tcp(s: TcpSpec): Buffer {
  const options = s.options ?? Buffer.alloc(0);
  const h = Buffer.alloc(20 + options.length);
  h.writeUInt16BE(s.sport, 0);
  h.writeUInt16BE(s.dport, 2);
  h.writeUInt32BE(s.seq >>> 0, 4);
  h.writeUInt32BE((s.ack ?? 0) >>> 0, 8);
  h[12] = ((20 + options.length) / 4) << 4;
  h[13] = s.flags;
  h.writeUInt16BE(s.window, 14);
  options.copy(h, 20);
  return Buffer.concat([h, s.payload ?? Buffer.alloc(0)]);
}

export function udp(sport: number, dport: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([h, payload]);
}

/** An ICMP or ICMPv6 message: type, code, checksum, then identifier and sequence number. */
export function icmp(type: number, code: number, id = 0x1234, seq = 1): Buffer {
  const h = Buffer.alloc(8);
  h[0] = type;
  h[1] = code;
  h.writeUInt16BE(id, 4);
  h.writeUInt16BE(seq, 6);
  return h;
}

function v4Bytes(text: string): number[] {
  return text.split('.').map(Number);
}

function v6Bytes(text: string): Buffer {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [
    ...headGroups,
    ...Array(8 - headGroups.length - tailGroups.length).fill('0'),
    ...tailGroups,
  ];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), 2 * i));
  return b;
}

export interface Ipv4Spec {
  src: string;
  dst: string;
  proto: number;
  payload: Buffer;
  id?: number;
  ttl?: number;
  /** Fragment offset in 8-byte units. */
  fragmentOffset?: number;
  moreFragments?: boolean;
  /** IP options, padded by the caller to a multiple of 4 bytes. */
  options?: Buffer;
  /** Overrides the total length field (for malformed packets). */
  totalLength?: number;
}

export function ipv4(s: Ipv4Spec): Buffer {
  const options = s.options ?? Buffer.alloc(0);
  const headerLen = 20 + options.length;
  const h = Buffer.alloc(headerLen);
  h[0] = 0x40 | (headerLen / 4);
  h.writeUInt16BE(s.totalLength ?? headerLen + s.payload.length, 2);
  h.writeUInt16BE(s.id ?? 0, 4);
  h.writeUInt16BE(((s.moreFragments ? 1 : 0) << 13) | (s.fragmentOffset ?? 0), 6);
  h[8] = s.ttl ?? 64;
  h[9] = s.proto;
  Buffer.from(v4Bytes(s.src)).copy(h, 12);
  Buffer.from(v4Bytes(s.dst)).copy(h, 16);
  options.copy(h, 20);
  return Buffer.concat([h, s.payload]);
}

export interface Ipv6Extension {
  /** Header type number: 0 hop-by-hop, 43 routing, 44 fragment, 60 destination options, 51 AH. */
  type: number;
  /** For the fragment header: offset in 8-byte units. */
  fragmentOffset?: number;
}

export interface Ipv6Spec {
  src: string;
  dst: string;
  next: number;
  payload: Buffer;
  hopLimit?: number;
  extensions?: Ipv6Extension[];
}

/** An IPv6 packet, with extension headers of minimal size chained in front of the payload. */
export function ipv6(s: Ipv6Spec): Buffer {
  const exts = s.extensions ?? [];
  const parts: Buffer[] = [];
  exts.forEach((ext, i) => {
    const next = i + 1 < exts.length ? exts[i + 1].type : s.next;
    let b: Buffer;
    if (ext.type === 44) {
      b = Buffer.alloc(8);
      b.writeUInt16BE(((ext.fragmentOffset ?? 0) << 3) | 1, 2);
    } else if (ext.type === 51) {
      b = Buffer.alloc(12); // payload length 1: (1 + 2) * 4 bytes
      b[1] = 1;
    } else {
      b = Buffer.alloc(8); // length 0: 8 bytes, a PadN option filling it
      b[2] = 1;
      b[3] = 4;
    }
    b[0] = next;
    parts.push(b);
  });
  const body = Buffer.concat([...parts, s.payload]);
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(body.length, 4);
  h[6] = exts.length > 0 ? exts[0].type : s.next;
  h[7] = s.hopLimit ?? 64;
  v6Bytes(s.src).copy(h, 8);
  v6Bytes(s.dst).copy(h, 24);
  return Buffer.concat([h, body]);
}

export const ETHERTYPE = { ipv4: 0x0800, ipv6: 0x86dd, arp: 0x0806, vlan: 0x8100, qinq: 0x88a8 } as const;

/** An Ethernet II frame, with 802.1Q tags (outermost first) and zero padding to the 60-byte minimum. */
export function ethernet(
  ethertype: number,
  payload: Buffer,
  vlanTags: { tpid: number; vid: number }[] = [],
): Buffer {
  const head = Buffer.from([0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb]);
  const tags = vlanTags.map((t) => {
    const b = Buffer.alloc(4);
    b.writeUInt16BE(t.tpid, 0);
    b.writeUInt16BE(t.vid, 2);
    return b;
  });
  const type = Buffer.alloc(2);
  type.writeUInt16BE(ethertype, 0);
  const frame = Buffer.concat([head, ...tags, type, payload]);
  return frame.length < 60 ? Buffer.concat([frame, Buffer.alloc(60 - frame.length)]) : frame;
}

/** Linux cooked capture v1 (LINKTYPE_LINUX_SLL): 16 bytes, protocol last. */
export function sll(ethertype: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(0, 0); // packet type: to us
  h.writeUInt16BE(1, 2); // ARPHRD_ETHER
  h.writeUInt16BE(6, 4);
  h.writeUInt16BE(ethertype, 14);
  return Buffer.concat([h, payload]);
}

/** Linux cooked capture v2 (LINKTYPE_LINUX_SLL2): 20 bytes, protocol first. */
export function sll2(ethertype: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(ethertype, 0);
  h.writeUInt32BE(2, 4); // interface index
  h.writeUInt16BE(1, 8); // ARPHRD_ETHER
  h[11] = 6;
  return Buffer.concat([h, payload]);
}

/** BSD loopback: the address family as 4 bytes, in host order (DLT_NULL) or network order (DLT_LOOP). */
export function loopback(family: number, payload: Buffer, littleEndian: boolean): Buffer {
  const h = Buffer.alloc(4);
  if (littleEndian) h.writeUInt32LE(family, 0);
  else h.writeUInt32BE(family, 0);
  return Buffer.concat([h, payload]);
}

export interface CapturePacket {
  /** Seconds and sub-second units of the timestamp (µs or ns for pcap; interface units for pcapng). */
  seconds: number;
  fraction: number;
  data: Buffer;
  /** Original length when the capture cut the packet short; defaults to the data length. */
  origLen?: number;
}

export interface PcapOptions {
  littleEndian: boolean;
  nanoseconds: boolean;
  linkType: number;
  snapLen?: number;
}

function u32(v: number, le: boolean): Buffer {
  const b = Buffer.alloc(4);
  if (le) b.writeUInt32LE(v >>> 0, 0);
  else b.writeUInt32BE(v >>> 0, 0);
  return b;
}

function u16(v: number, le: boolean): Buffer {
  const b = Buffer.alloc(2);
  if (le) b.writeUInt16LE(v, 0);
  else b.writeUInt16BE(v, 0);
  return b;
}

/** A classic pcap file. */
export function pcapFile(packets: readonly CapturePacket[], o: PcapOptions): Buffer {
  const le = o.littleEndian;
  const header = Buffer.concat([
    u32(o.nanoseconds ? 0xa1b23c4d : 0xa1b2c3d4, le),
    u16(2, le),
    u16(4, le),
    u32(0, le), // thiszone
    u32(0, le), // sigfigs
    u32(o.snapLen ?? 262144, le),
    u32(o.linkType, le),
  ]);
  const records = packets.map((p) =>
    Buffer.concat([
      u32(p.seconds, le),
      u32(p.fraction, le),
      u32(p.data.length, le),
      u32(p.origLen ?? p.data.length, le),
      p.data,
    ]),
  );
  return Buffer.concat([header, ...records]);
}

function pad4(b: Buffer): Buffer {
  return b.length % 4 === 0 ? b : Buffer.concat([b, Buffer.alloc(4 - (b.length % 4))]);
}

/** One pcapng block: type, total length, body (padded), total length again. */
export function pcapngBlock(type: number, body: Buffer, le: boolean): Buffer {
  const padded = pad4(body);
  const len = 12 + padded.length;
  return Buffer.concat([u32(type, le), u32(len, le), padded, u32(len, le)]);
}

function option(code: number, value: Buffer, le: boolean): Buffer {
  return Buffer.concat([u16(code, le), u16(value.length, le), pad4(value)]);
}

export interface PcapngInterface {
  linkType: number;
  snapLen?: number;
  /** if_tsresol byte: 6 = µs (the default), 9 = ns, 0x80 | n = 2^-n seconds. */
  tsresol?: number;
  /** if_tsoffset in seconds. */
  tsoffset?: number;
}

export interface PcapngPacket {
  iface: number;
  /** Timestamp in the interface's units since the epoch (before if_tsoffset). */
  timestamp: bigint;
  data: Buffer;
  origLen?: number;
  /** Write as a Simple Packet Block (no interface id, no timestamp). */
  simple?: boolean;
}

export interface PcapngSection {
  littleEndian: boolean;
  interfaces: PcapngInterface[];
  packets: PcapngPacket[];
  /** Blocks the reader must pass over (statistics, name resolution, custom), written after the interfaces. */
  otherBlocks?: { type: number; body: Buffer }[];
}

/** A pcapng file of one or more sections, each with its own byte order and interfaces. */
export function pcapngFile(sections: readonly PcapngSection[]): Buffer {
  const blocks: Buffer[] = [];
  for (const s of sections) {
    const le = s.littleEndian;
    const shbBody = Buffer.concat([
      u32(0x1a2b3c4d, le),
      u16(1, le),
      u16(0, le),
      Buffer.alloc(8, 0xff), // section length unknown
      option(4, Buffer.from('portent test builder'), le), // shb_userappl
      option(0, Buffer.alloc(0), le),
    ]);
    blocks.push(pcapngBlock(0x0a0d0d0a, shbBody, le));
    for (const i of s.interfaces) {
      const opts: Buffer[] = [option(2, Buffer.from('eth0'), le)]; // if_name
      if (i.tsresol !== undefined) opts.push(option(9, Buffer.from([i.tsresol]), le));
      if (i.tsoffset !== undefined) {
        const b = Buffer.alloc(8);
        if (le) b.writeBigInt64LE(BigInt(i.tsoffset));
        else b.writeBigInt64BE(BigInt(i.tsoffset));
        opts.push(option(14, b, le));
      }
      opts.push(option(0, Buffer.alloc(0), le));
      blocks.push(
        pcapngBlock(
          1,
          Buffer.concat([u16(i.linkType, le), u16(0, le), u32(i.snapLen ?? 0, le), ...opts]),
          le,
        ),
      );
    }
    for (const b of s.otherBlocks ?? []) blocks.push(pcapngBlock(b.type, b.body, le));
    for (const p of s.packets) {
      if (p.simple) {
        blocks.push(pcapngBlock(3, Buffer.concat([u32(p.origLen ?? p.data.length, le), p.data]), le));
        continue;
      }
      const high = Number(p.timestamp >> 32n);
      const low = Number(p.timestamp & 0xffffffffn);
      blocks.push(
        pcapngBlock(
          6,
          Buffer.concat([
            u32(p.iface, le),
            u32(high, le),
            u32(low, le),
            u32(p.data.length, le),
            u32(p.origLen ?? p.data.length, le),
            pad4(p.data),
            option(1, Buffer.from('a comment'), le), // opt_comment, to be skipped
            option(0, Buffer.alloc(0), le),
          ]),
          le,
        ),
      );
    }
  }
  return Buffer.concat(blocks);
}
