// Named test captures built from packet descriptions: every link type, both byte orders, pcap and pcapng, probes and non-probes.

import {
  ETHERTYPE,
  ethernet,
  icmp,
  ipv4,
  ipv6,
  loopback,
  pcapFile,
  pcapngFile,
  sll,
  sll2,
  tcp,
  udp,
  type CapturePacket,
} from './capture-builder.ts';

const SYN = 2;
const FIN = 1;
const RST = 4;
const PSH = 8;
const ACK = 16;
const URG = 32;
const ECE = 64;
const CWR = 128;

/** 2024-05-01T12:00:00Z. */
export const BASE_SECONDS = 1714564800;

const SCANNER = '198.51.100.7';
const TARGET = '192.0.2.10';
const SCANNER6 = '2001:db8::7';
const TARGET6 = '2001:db8:0:1::10';

/** MSS 1460, SACK permitted, timestamps, NOP, window scale: a Linux SYN's options. */
const LINUX_SYN_OPTIONS = Buffer.from([2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7]);

function v4tcp(spec: Parameters<typeof tcp>[0], ip: Partial<Parameters<typeof ipv4>[0]> = {}): Buffer {
  return ipv4({ src: SCANNER, dst: TARGET, proto: 6, id: 54321, ttl: 49, payload: tcp(spec), ...ip });
}

/** IP packets (no link layer) covering every decision of the probe rules. */
export function ipPackets(): { name: string; ip: Buffer; ethertype: number }[] {
  const v4 = ETHERTYPE.ipv4;
  const v6 = ETHERTYPE.ipv6;
  return [
    {
      name: 'SYN probe (nmap -sS: window 1024, no options)',
      ethertype: v4,
      ip: v4tcp({ sport: 40000, dport: 22, seq: 0xdeadbeef, flags: SYN, window: 1024 }),
    },
    {
      name: 'SYN with Linux options and ECN',
      ethertype: v4,
      ip: v4tcp({
        sport: 40001,
        dport: 443,
        seq: 1,
        flags: SYN | ECE | CWR,
        window: 64240,
        options: LINUX_SYN_OPTIONS,
      }),
    },
    {
      name: 'SYN-ACK reply (skip)',
      ethertype: v4,
      ip: v4tcp({ sport: 22, dport: 40000, seq: 7, ack: 0xdeadbef0, flags: SYN | ACK, window: 65535 }),
    },
    {
      name: 'RST after SYN-ACK (skip)',
      ethertype: v4,
      ip: v4tcp({ sport: 40000, dport: 22, seq: 0xdeadbef0, flags: RST, window: 0 }),
    },
    {
      name: 'RST-ACK (skip)',
      ethertype: v4,
      ip: v4tcp({ sport: 23, dport: 40000, seq: 0, ack: 1, flags: RST | ACK, window: 0 }),
    },
    {
      name: 'data segment (skip)',
      ethertype: v4,
      ip: v4tcp({
        sport: 40002,
        dport: 80,
        seq: 9,
        ack: 9,
        flags: PSH | ACK,
        window: 502,
        payload: Buffer.from('GET / HTTP/1.0\r\n\r\n'),
      }),
    },
    {
      name: 'FIN scan',
      ethertype: v4,
      ip: v4tcp({ sport: 40003, dport: 8080, seq: 5, flags: FIN, window: 2048 }),
    },
    {
      name: 'NULL scan',
      ethertype: v4,
      ip: v4tcp({ sport: 40004, dport: 8081, seq: 5, flags: 0, window: 3072 }),
    },
    {
      name: 'Xmas scan',
      ethertype: v4,
      ip: v4tcp({ sport: 40005, dport: 8082, seq: 5, flags: FIN | PSH | URG, window: 4096 }),
    },
    {
      name: 'SYN with a payload (hashed)',
      ethertype: v4,
      ip: v4tcp({ sport: 40006, dport: 25, seq: 77, flags: SYN, window: 512, payload: Buffer.from('hello') }),
    },
    {
      name: 'UDP probe with payload (Ethernet padding not hashed)',
      ethertype: v4,
      ip: ipv4({
        src: SCANNER,
        dst: TARGET,
        proto: 17,
        id: 1,
        ttl: 250,
        payload: udp(53000, 161, Buffer.from('public')),
      }),
    },
    {
      name: 'UDP, empty payload',
      ethertype: v4,
      ip: ipv4({ src: SCANNER, dst: TARGET, proto: 17, id: 2, ttl: 250, payload: udp(53001, 1900) }),
    },
    {
      name: 'ICMP echo request',
      ethertype: v4,
      ip: ipv4({ src: SCANNER, dst: TARGET, proto: 1, id: 3, ttl: 52, payload: icmp(8, 0) }),
    },
    {
      name: 'ICMP echo reply (skip)',
      ethertype: v4,
      ip: ipv4({ src: TARGET, dst: SCANNER, proto: 1, id: 4, ttl: 64, payload: icmp(0, 0) }),
    },
    {
      name: 'ICMP port unreachable (skip)',
      ethertype: v4,
      ip: ipv4({ src: TARGET, dst: SCANNER, proto: 1, id: 5, payload: icmp(3, 3) }),
    },
    {
      name: 'IPv4 with options (record route)',
      ethertype: v4,
      ip: v4tcp(
        { sport: 40007, dport: 3389, seq: 3, flags: SYN, window: 1024 },
        { options: Buffer.from([7, 7, 4, 0, 0, 0, 0, 1]) },
      ),
    },
    {
      name: 'first IPv4 fragment (ports read)',
      ethertype: v4,
      ip: ipv4({
        src: SCANNER,
        dst: TARGET,
        proto: 17,
        id: 9,
        moreFragments: true,
        payload: udp(5000, 5060, Buffer.alloc(16, 0x41)),
      }),
    },
    {
      name: 'later IPv4 fragment (skip)',
      ethertype: v4,
      ip: ipv4({
        src: SCANNER,
        dst: TARGET,
        proto: 17,
        id: 9,
        fragmentOffset: 3,
        payload: Buffer.alloc(16, 0x41),
      }),
    },
    {
      name: 'GRE (skip)',
      ethertype: v4,
      ip: ipv4({ src: SCANNER, dst: TARGET, proto: 47, payload: Buffer.alloc(8) }),
    },
    {
      name: 'truncated TCP header (error)',
      ethertype: v4,
      ip: ipv4({ src: SCANNER, dst: TARGET, proto: 6, payload: Buffer.alloc(12) }),
    },
    {
      name: 'IPv4 total length below header (error)',
      ethertype: v4,
      ip: ipv4({
        src: SCANNER,
        dst: TARGET,
        proto: 6,
        payload: tcp({ sport: 1, dport: 2, seq: 0, flags: SYN, window: 1 }),
        totalLength: 12,
      }),
    },
    {
      name: 'IPv6 SYN with hop-by-hop and destination options',
      ethertype: v6,
      ip: ipv6({
        src: SCANNER6,
        dst: TARGET6,
        next: 6,
        hopLimit: 57,
        extensions: [{ type: 0 }, { type: 60 }],
        payload: tcp({ sport: 41000, dport: 22, seq: 123456, flags: SYN, window: 28800 }),
      }),
    },
    {
      name: 'IPv6 UDP, first fragment',
      ethertype: v6,
      ip: ipv6({
        src: SCANNER6,
        dst: TARGET6,
        next: 17,
        extensions: [{ type: 44 }],
        payload: udp(41001, 500, Buffer.from('ike')),
      }),
    },
    {
      name: 'IPv6 later fragment (skip)',
      ethertype: v6,
      ip: ipv6({
        src: SCANNER6,
        dst: TARGET6,
        next: 17,
        extensions: [{ type: 44, fragmentOffset: 10 }],
        payload: Buffer.alloc(8),
      }),
    },
    {
      name: 'IPv6 SYN behind an authentication header',
      ethertype: v6,
      ip: ipv6({
        src: SCANNER6,
        dst: TARGET6,
        next: 6,
        extensions: [{ type: 51 }],
        payload: tcp({ sport: 41002, dport: 443, seq: 1, flags: SYN, window: 1024 }),
      }),
    },
    {
      name: 'ICMPv6 echo request',
      ethertype: v6,
      ip: ipv6({ src: SCANNER6, dst: TARGET6, next: 58, hopLimit: 255, payload: icmp(128, 0) }),
    },
    {
      name: 'ICMPv6 neighbour solicitation (skip)',
      ethertype: v6,
      ip: ipv6({ src: 'fe80::1', dst: 'ff02::1:ff00:10', next: 58, payload: icmp(135, 0) }),
    },
    {
      name: 'IPv6 no next header (skip)',
      ethertype: v6,
      ip: ipv6({ src: SCANNER6, dst: TARGET6, next: 59, payload: Buffer.alloc(0) }),
    },
    {
      name: 'IPv6 extension header running past the packet (error)',
      ethertype: v6,
      ip: ipv6({ src: SCANNER6, dst: TARGET6, next: 0, payload: Buffer.from([6, 200]) }),
    },
    { name: 'ARP (skip)', ethertype: ETHERTYPE.arp, ip: Buffer.alloc(28) },
  ];
}

/** Microseconds after BASE_SECONDS for packet i: distinct sub-millisecond parts to check the rounding. */
function packetTime(i: number): { seconds: number; micros: number } {
  return { seconds: BASE_SECONDS + i, micros: i * 1001 + 999 };
}

export interface Scenario {
  name: string;
  bytes: Buffer;
}

function pcapScenario(
  name: string,
  frames: Buffer[],
  linkType: number,
  littleEndian: boolean,
  nanoseconds: boolean,
): Scenario {
  const packets: CapturePacket[] = frames.map((data, i) => {
    const t = packetTime(i);
    return { seconds: t.seconds, fraction: nanoseconds ? t.micros * 1000 + 777 : t.micros, data };
  });
  return { name, bytes: pcapFile(packets, { littleEndian, nanoseconds, linkType }) };
}

/** Every scenario the golden file covers. */
export function scenarios(): Scenario[] {
  const pkts = ipPackets();
  const eth = pkts.map((p) => ethernet(p.ethertype, p.ip));
  const ipOnly = pkts.filter((p) => p.ethertype !== ETHERTYPE.arp);
  const syn = pkts[0].ip;
  const syn6 = pkts.find((p) => p.name.startsWith('IPv6 SYN with hop'))!.ip;
  const vlan = [
    ethernet(ETHERTYPE.ipv4, syn, [{ tpid: ETHERTYPE.vlan, vid: 100 }]),
    ethernet(ETHERTYPE.ipv6, syn6, [
      { tpid: ETHERTYPE.qinq, vid: 10 },
      { tpid: ETHERTYPE.vlan, vid: 20 },
    ]),
    Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x81, 0x00, 0, 100]), // tag cut short (error)
    Buffer.from([0, 1, 2, 3, 4, 5]), // shorter than an Ethernet header (error)
  ];
  const snapped = ethernet(ETHERTYPE.ipv4, pkts[10].ip).subarray(0, 14 + 20 + 8 + 2); // UDP header kept, payload cut
  return [
    pcapScenario('pcap, little-endian, microseconds, Ethernet', eth, 1, true, false),
    pcapScenario('pcap, big-endian, nanoseconds, Ethernet', eth, 1, false, true),
    pcapScenario('pcap, Ethernet with 802.1Q and QinQ tags', vlan, 1, true, false),
    pcapScenario('pcap, snap length shorter than the packet', [snapped], 1, true, false),
    pcapScenario(
      'pcap, raw IP (LINKTYPE_RAW 101)',
      ipOnly.map((p) => p.ip),
      101,
      true,
      false,
    ),
    pcapScenario('pcap, raw IP (DLT_RAW 12), big-endian', [syn, syn6], 12, false, false),
    pcapScenario('pcap, raw IP (DLT_RAW 14)', [syn, syn6], 14, true, false),
    pcapScenario('pcap, LINKTYPE_IPV4 (228)', [syn], 228, true, false),
    pcapScenario('pcap, LINKTYPE_IPV6 (229)', [syn6], 229, true, false),
    pcapScenario(
      'pcap, Linux cooked SLL (113)',
      [sll(ETHERTYPE.ipv4, syn), sll(ETHERTYPE.ipv6, syn6), sll(ETHERTYPE.arp, Buffer.alloc(28))],
      113,
      true,
      false,
    ),
    pcapScenario(
      'pcap, Linux cooked SLL2 (276)',
      [sll2(ETHERTYPE.ipv4, syn), sll2(ETHERTYPE.ipv6, syn6), Buffer.alloc(10)],
      276,
      false,
      false,
    ),
    pcapScenario(
      'pcap, BSD null loopback (0), both family byte orders',
      [
        loopback(2, syn, true),
        loopback(2, syn, false),
        loopback(30, syn6, true),
        loopback(24, syn6, false),
        loopback(7, syn, true),
      ],
      0,
      true,
      false,
    ),
    pcapScenario(
      'pcap, OpenBSD loop (108)',
      [loopback(2, syn, false), loopback(24, syn6, false)],
      108,
      false,
      false,
    ),
    pcapScenario('pcap, unsupported link type (radiotap 127)', [Buffer.alloc(40)], 127, true, false),
    ...[true, false].map((littleEndian) => ({
      name: `pcapng, ${littleEndian ? 'little' : 'big'}-endian: three interfaces, other blocks, simple packet block, second section`,
      bytes: pcapngFile([
        {
          littleEndian,
          interfaces: [
            { linkType: 1 }, // microseconds by default
            { linkType: 101, tsresol: 9 }, // nanoseconds
            { linkType: 113, tsresol: 0x80 | 20, tsoffset: 3600 }, // 2^-20 s, one hour offset
          ],
          otherBlocks: [
            { type: 4, body: Buffer.alloc(8) }, // name resolution block: end of records only
            { type: 0x00000bad, body: Buffer.from('custom block with copying allowed') },
          ],
          packets: [
            { iface: 0, timestamp: BigInt(BASE_SECONDS) * 1_000_000n + 123_456n, data: eth[0] },
            { iface: 1, timestamp: BigInt(BASE_SECONDS) * 1_000_000_000n + 987_654_321n, data: syn6 },
            {
              iface: 2,
              timestamp: BigInt(BASE_SECONDS - 3600) * 1_048_576n + 524_288n,
              data: sll(ETHERTYPE.ipv4, pkts[12].ip),
            },
            { iface: 0, timestamp: BigInt(BASE_SECONDS) * 1_000_000n, data: eth[2] },
            { iface: 5, timestamp: 0n, data: eth[0] }, // no such interface (error)
            { iface: 0, timestamp: 0n, data: eth[0], simple: true }, // no timestamp (error)
          ],
        },
        {
          littleEndian: !littleEndian,
          interfaces: [{ linkType: 228, tsresol: 3 }], // milliseconds
          packets: [{ iface: 0, timestamp: BigInt(BASE_SECONDS) * 1000n + 5n, data: pkts[6].ip }],
        },
      ]),
    })),
  ];
}
