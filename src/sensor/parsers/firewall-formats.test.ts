// Golden, detection, field and fuzz tests of the text firewall parsers: netfilter, filterlog, pfirewall, Cisco ASA, MikroTik, SonicWall, Check Point.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import type { PortentEvent } from '../../core/event.ts';
import { assertCollectorAccepts } from '../../../test/helpers/collector-accepts.ts';
import { assertGolden } from '../../../test/helpers/golden-json.ts';
import { checkpointFormat } from './checkpoint.ts';
import { ciscoAsaFormat } from './cisco-asa.ts';
import { address } from './fields.ts';
import { filterlogFormat } from './filterlog.ts';
import { detectFormat } from './index.ts';
import { mikrotikFormat } from './mikrotik.ts';
import { netfilterFormat } from './netfilter.ts';
import { pfirewallFormat } from './pfirewall.ts';
import { sonicwallFormat } from './sonicwall.ts';
import type { LineFormat, ParseResult } from './types.ts';

/** Mid-January, so a "Dec 31" stamp is last year's, in a zone with DST so local times are converted. */
const NOW = Date.UTC(2026, 0, 15, 12);
const ctx = { now: NOW, timeZone: 'Europe/Berlin' };
const FIXTURES = new URL('../../../test/fixtures/formats/', import.meta.url).pathname;
const GOLDEN = new URL('../../../test/golden/formats/', import.meta.url).pathname;

const FORMATS: LineFormat[] = [
  netfilterFormat,
  filterlogFormat,
  pfirewallFormat,
  ciscoAsaFormat,
  mikrotikFormat,
  sonicwallFormat,
  checkpointFormat,
];

function fixtureLines(format: string, file: string): string[] {
  const text = readFileSync(`${FIXTURES}${format}/${file}`, 'utf8');
  return text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
}

function parseAll(format: LineFormat, lines: readonly string[], c = ctx): ParseResult[] {
  const parser = format.create(c);
  return lines.map((l) => parser.parse(l));
}

function events(results: readonly ParseResult[]): PortentEvent[] {
  return results.flatMap((r) => (r.kind === 'event' ? [r.event] : []));
}

/** One line through a fresh parser; fails unless it is an event. */
function eventOf(format: LineFormat, line: string, c = ctx): PortentEvent {
  const r = format.create(c).parse(line);
  assert.equal(r.kind, 'event', `expected an event from ${line}: ${JSON.stringify(r)}`);
  return (r as { event: PortentEvent }).event;
}

/** Holds for every result whatever the input: the shape the sensor relies on. */
function assertWellFormed(r: ParseResult): void {
  if (r.kind === 'skip') {
    assert.ok(typeof r.reason === 'string' && r.reason.length > 0 && r.reason.length <= 200, r.reason);
    return;
  }
  if (r.kind === 'error') {
    assert.ok(typeof r.message === 'string' && r.message.length > 0 && r.message.length <= 300, r.message);
    assert.ok(!r.message.startsWith('internal parser error'), r.message);
    return;
  }
  assert.equal(r.kind, 'event');
  const e = r.event;
  assert.ok(Number.isSafeInteger(e.time) && e.time >= 0, `time ${e.time}`);
  for (const port of [e.srcPort, e.dstPort]) assert.ok(Number.isInteger(port) && port >= 0 && port <= 65535);
  assert.ok(Number.isInteger(e.proto) && e.proto >= 0 && e.proto <= 255);
  assert.ok(Number.isInteger(e.tcpFlags) && e.tcpFlags >= 0 && e.tcpFlags <= 255);
  assert.equal(address(e.src), e.src, `src ${e.src} is not a canonical address`);
  assert.notEqual(e.src, '::');
  assert.ok(e.dst !== null && address(e.dst) === e.dst, `dst ${e.dst}`);
  const inRange = (v: number | null, max: number) =>
    v === null || (Number.isInteger(v) && v >= 0 && v <= max);
  assert.ok(
    inRange(e.ttl, 255) && inRange(e.ipId, 65535) && inRange(e.window, 65535) && inRange(e.seq, 0xffffffff),
  );
  assert.ok(Number.isInteger(e.count) && e.count >= 1 && e.count <= 0xffffffff);
  assert.equal(e.origin, 'firewall');
}

for (const format of FORMATS) {
  test(`golden: ${format.name} fixtures parse to the committed results`, () => {
    const files = readdirSync(`${FIXTURES}${format.name}`).sort();
    assert.ok(files.length > 0);
    const out = files.map((file) => {
      const results = parseAll(format, fixtureLines(format.name, file));
      for (const r of results) {
        assertWellFormed(r);
        if (r.kind === 'event') assertCollectorAccepts(r.event, NOW);
      }
      return { file, results: results.map((r, i) => ({ line: i + 1, ...r })) };
    });
    assertGolden(`${GOLDEN}${format.name}.json`, out);
  });

  test(`detection: every ${format.name} fixture is recognised as ${format.name}`, () => {
    for (const file of readdirSync(`${FIXTURES}${format.name}`)) {
      const d = detectFormat(fixtureLines(format.name, file).slice(0, 50));
      assert.equal(d.format, format.name, `${file}: ${d.reason}`);
    }
  });
}

test('netfilter: a ufw BLOCK line maps every field', () => {
  const e = eventOf(
    netfilterFormat,
    'Jan 14 10:00:01 vps kernel: [23176298.438860] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:7c:d8:0f:fe:54:00:7c:d8:0f:08:00 SRC=198.51.100.7 DST=192.0.2.10 LEN=40 TOS=0x00 PREC=0x00 TTL=246 ID=54321 PROTO=TCP SPT=50156 DPT=23 WINDOW=1024 RES=0x00 SYN URGP=0 ',
  );
  assert.deepEqual(e, {
    time: Date.UTC(2026, 0, 14, 9, 0, 1), // 10:00:01 in Berlin (CET, +01:00)
    src: '198.51.100.7',
    srcPort: 50156,
    dst: '192.0.2.10',
    dstPort: 23,
    proto: 6,
    tcpFlags: 2,
    action: 'blocked',
    origin: 'firewall',
    ipId: 54321,
    ttl: 246,
    window: 1024,
    seq: null,
    payloadSha256: null,
    count: 1,
    sampling: 1,
  });
});

test('netfilter: actions come from the prefix, else INPUT lines are blocked and others unknown', () => {
  const body = 'SRC=198.51.100.7 DST=192.0.2.10 LEN=40 TTL=64 ID=1 PROTO=TCP SPT=1 DPT=2 WINDOW=1 SYN';
  const action = (prefix: string, dirs = 'IN=eth0 OUT=') =>
    eventOf(netfilterFormat, `Jan 14 10:00:01 h kernel: [1.0] ${prefix}${dirs} ${body}`).action;
  assert.equal(action('[UFW BLOCK] '), 'blocked');
  assert.equal(action('[UFW ALLOW] '), 'accepted');
  assert.equal(action('IPTABLES-REJECT: '), 'blocked');
  assert.equal(action('deny-in '), 'blocked');
  assert.equal(action('nft accept '), 'accepted');
  assert.equal(action('[UFW AUDIT] '), 'unknown');
  assert.equal(action('[UFW LOG] ', 'IN= OUT=eth0'), 'unknown');
  assert.equal(action('FWD ', 'IN=eth0 OUT=eth1'), 'unknown');
  assert.equal(action('DROP'), 'blocked'); // a prefix without its trailing space: "DROPIN=eth0"
});

test('netfilter: IPv6 addresses are canonical and HOPLIMIT is the TTL; ICMP type and code fill the ports', () => {
  const v6 = eventOf(
    netfilterFormat,
    'Jan 14 10:00:08 vps kernel: [UFW BLOCK] IN=eth0 OUT= SRC=2001:0db8:0000:0000:0000:0000:0000:0001 DST=2001:0DB8:0000:0000:0000:0000:0000:00aa LEN=104 TC=0 HOPLIMIT=57 FLOWLBL=0 PROTO=ICMPv6 TYPE=128 CODE=0 ID=4660 SEQ=1',
  );
  assert.equal(v6.src, '2001:db8::1');
  assert.equal(v6.dst, '2001:db8::aa');
  assert.equal(v6.ttl, 57);
  assert.equal(v6.proto, 58);
  assert.deepEqual([v6.srcPort, v6.dstPort, v6.ipId, v6.seq], [128, 0, null, null]);
});

test('netfilter: the packet quoted inside an ICMP error does not overwrite the outer one', () => {
  const e = eventOf(
    netfilterFormat,
    'Jan 14 10:00:07 vps kernel: [UFW BLOCK] IN=eth0 OUT= SRC=203.0.113.9 DST=192.0.2.10 LEN=56 TOS=0x00 PREC=0x00 TTL=50 ID=7 PROTO=ICMP TYPE=3 CODE=3 [SRC=192.0.2.10 DST=203.0.113.9 LEN=28 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=UDP SPT=53 DPT=4000 LEN=8 ] ',
  );
  assert.deepEqual(
    [e.src, e.dst, e.proto, e.srcPort, e.dstPort, e.ttl, e.ipId],
    ['203.0.113.9', '192.0.2.10', 1, 3, 3, 50, 7],
  );
});

test('netfilter: SEQ from --log-tcp-sequence; the ACK= number is not the ACK flag', () => {
  const e = eventOf(
    netfilterFormat,
    'Jan 14 10:00:11 vps kernel: LOG: IN=eth0 OUT= SRC=198.51.100.11 DST=192.0.2.10 LEN=60 TTL=61 ID=1 DF PROTO=TCP SPT=5 DPT=3389 SEQ=4294967295 ACK=7 WINDOW=29200 RES=0x00 SYN URGP=0',
  );
  assert.equal(e.seq, 4294967295);
  assert.equal(e.tcpFlags, 2);
});

test('netfilter: framings give the same packet at the right instant', () => {
  const body =
    'IN=eth0 OUT= SRC=198.51.100.7 DST=192.0.2.10 LEN=40 TTL=246 ID=1 PROTO=TCP SPT=1 DPT=22 WINDOW=1024 SYN URGP=0';
  const at = Date.UTC(2026, 0, 14, 9, 0, 1);
  const lines: [string, number][] = [
    [`Jan 14 10:00:01 h kernel: [1.0] [UFW BLOCK] ${body}`, at],
    [`Jan 14 10:00:01.250 h kernel: [UFW BLOCK] ${body}`, at + 250],
    [`2026-01-14T10:00:01+01:00 h kernel: [UFW BLOCK] ${body}`, at],
    [`2026-01-14T09:00:01.5Z h kernel: [UFW BLOCK] ${body}`, at + 500],
    [`2026-01-14T10:00:01 h kernel: [UFW BLOCK] ${body}`, at], // no offset: local time
    [`<4>1 2026-01-14T09:00:01Z h kernel - - - [UFW BLOCK] ${body}`, at],
    [`${at / 1000} h kernel:[ 1234.5] DSHIELDINPUT ${body}`, at],
    [`[Wed Jan 14 10:00:01 2026] [UFW BLOCK] ${body}`, at],
    [`0 3 PVEFW-HOST-IN 14/Jan/2026:10:00:01 +0100 policy DROP: ${body}`, at],
    [`{"__REALTIME_TIMESTAMP":"${at * 1000}","MESSAGE":"[UFW BLOCK] ${body}"}`, at],
    [`[1.0] [UFW BLOCK] ${body}`, NOW], // no wall-clock stamp at all: read now
  ];
  for (const [line, time] of lines) {
    const e = eventOf(netfilterFormat, line);
    assert.equal(e.time, time, line);
    assert.deepEqual([e.src, e.dstPort, e.action], ['198.51.100.7', 22, 'blocked'], line);
  }
});

test('netfilter: journalctl -o export records take the time of their __REALTIME_TIMESTAMP', () => {
  const results = parseAll(netfilterFormat, [
    '__CURSOR=s=1',
    '__REALTIME_TIMESTAMP=1768381208000000',
    '_TRANSPORT=kernel',
    'MESSAGE=[UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.40 DST=192.0.2.10 LEN=40 TTL=246 ID=40 PROTO=UDP SPT=1 DPT=2',
    '',
    'MESSAGE=[UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.41 DST=192.0.2.10 LEN=40 TTL=246 ID=40 PROTO=UDP SPT=1 DPT=2',
  ]);
  assert.deepEqual(
    events(results).map((e) => e.time),
    [1768381208000, NOW],
  );
});

test('BSD stamps: a December line read in January is from last year; Feb 29 goes to the last leap year', () => {
  const line = (stamp: string) =>
    `${stamp} h kernel: [UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.7 DST=192.0.2.10 LEN=40 TTL=1 ID=1 PROTO=UDP SPT=1 DPT=2`;
  const utc = { now: Date.UTC(2026, 0, 1, 0, 5), timeZone: 'UTC' };
  assert.equal(
    eventOf(netfilterFormat, line('Dec 31 23:59:59'), utc).time,
    Date.UTC(2025, 11, 31, 23, 59, 59),
  );
  assert.equal(eventOf(netfilterFormat, line('Jan  1 00:04:00'), utc).time, Date.UTC(2026, 0, 1, 0, 4));
  // Clock skew: a stamp a day ahead is still this year.
  assert.equal(eventOf(netfilterFormat, line('Jan  2 00:04:00'), utc).time, Date.UTC(2026, 0, 2, 0, 4));
  assert.equal(eventOf(netfilterFormat, line('Feb 29 12:00:00'), utc).time, Date.UTC(2024, 1, 29, 12));
  // New Year in the stream's zone, not in UTC: at 23:30 UTC on Dec 31 it is already Jan 1 in Tokyo.
  const tokyo = { now: Date.UTC(2025, 11, 31, 23, 30), timeZone: 'Asia/Tokyo' };
  assert.equal(eventOf(netfilterFormat, line('Dec 31 23:00:00'), tokyo).time, Date.UTC(2025, 11, 31, 14));
  assert.equal(eventOf(netfilterFormat, line('Jan  1 08:00:00'), tokyo).time, Date.UTC(2025, 11, 31, 23));
});

test('netfilter: BSD stamp shapes, and broken ones as errors', () => {
  const body =
    'h kernel: IN=eth0 OUT= SRC=198.51.100.7 DST=192.0.2.10 LEN=40 TTL=1 ID=1 PROTO=UDP SPT=1 DPT=2';
  const utc = { now: NOW, timeZone: 'UTC' };
  const cases: [string, number | null][] = [
    ['Jan  2 03:04:05', Date.UTC(2026, 0, 2, 3, 4, 5)],
    ['Jan 02 03:04:05', Date.UTC(2026, 0, 2, 3, 4, 5)],
    ['jan 14 03:04:05.5', Date.UTC(2026, 0, 14, 3, 4, 5, 500)],
    ['Jan 14 03:04:05.123456789', Date.UTC(2026, 0, 14, 3, 4, 5, 123)],
    ['Jan 14 2026 03:04:05', Date.UTC(2026, 0, 14, 3, 4, 5)],
    ['Jan 14 1::04:05', null],
    ['Jan 14 24:00:00', null],
    ['Jan 1x 03:04:05', null],
    ['Feb 30 03:04:05', null],
    ['Jan 14 03:04', null],
  ];
  for (const [stamp, expected] of cases) {
    const r = netfilterFormat.create(utc).parse(`${stamp} ${body}`);
    if (expected === null) assert.equal(r.kind, 'error', stamp);
    else assert.equal(r.kind === 'event' && r.event.time, expected, stamp);
  }
});

test('events the collector would refuse are errors: before 1990, a day ahead, the address ::', () => {
  const body = 'IN=eth0 OUT= SRC=198.51.100.7 DST=192.0.2.10 LEN=40 TTL=1 ID=1 PROTO=UDP SPT=1 DPT=2';
  const parser = netfilterFormat.create(ctx);
  for (const line of [
    `1985-01-01T00:00:00Z h kernel: ${body}`,
    `2026-01-17T00:00:00Z h kernel: ${body}`,
    `Jan 14 10:00:00 h kernel: ${body.replace('198.51.100.7', '0:0:0:0:0:0:0:0')}`,
  ]) {
    const r = parser.parse(line);
    assert.equal(r.kind, 'error', line);
  }
  assert.equal(parser.parse(`2026-01-16T11:00:00Z h kernel: ${body}`).kind, 'event'); // within a day
});

test('local times: DST gaps move forward, overlaps take the first occurrence, in several zones', () => {
  const cases: [string, string, number][] = [
    // zone, local wall time, expected UTC
    ['Europe/Berlin', '2025-03-30 02:30:00', Date.UTC(2025, 2, 30, 1, 30)], // gap: read as 03:30 CEST
    ['Europe/Berlin', '2025-10-26 02:30:00', Date.UTC(2025, 9, 26, 0, 30)], // overlap: CEST first
    ['Europe/Berlin', '2025-10-26 03:00:00', Date.UTC(2025, 9, 26, 2, 0)], // just after the overlap
    ['America/New_York', '2025-03-09 02:15:00', Date.UTC(2025, 2, 9, 7, 15)], // gap
    ['America/New_York', '2025-11-02 01:30:00', Date.UTC(2025, 10, 2, 5, 30)], // overlap: EDT first
    ['Australia/Lord_Howe', '2025-10-05 02:15:00', Date.UTC(2025, 9, 4, 15, 45)], // 30-minute gap
    ['Asia/Kolkata', '2025-06-01 12:00:00', Date.UTC(2025, 5, 1, 6, 30)],
    ['UTC', '2025-06-01 12:00:00', Date.UTC(2025, 5, 1, 12)],
  ];
  for (const [timeZone, wall, expected] of cases) {
    const parser = pfirewallFormat.create({ now: NOW, timeZone });
    const r = parser.parse(`${wall} DROP UDP 198.51.100.7 192.0.2.10 1 2 40 - - - - - - - RECEIVE`);
    assert.equal(r.kind, 'event');
    assert.equal((r as { event: PortentEvent }).event.time, expected, `${timeZone} ${wall}`);
  }
});

test('local times: every instant round-trips through its wall-clock time (property)', () => {
  const zones = [
    'Europe/Berlin',
    'America/New_York',
    'Australia/Lord_Howe',
    'America/Santiago',
    'Asia/Tehran',
  ];
  fc.assert(
    fc.property(
      fc.constantFrom(...zones),
      fc.integer({ min: Date.UTC(1995, 0, 1) / 1000, max: Date.UTC(2035, 0, 1) / 1000 }),
      (timeZone, seconds) => {
        const t = seconds * 1000;
        const parts = new Intl.DateTimeFormat('en-CA', {
          timeZone,
          hourCycle: 'h23',
          year: 'numeric',
          month: '2-digit',
          day: '2-digit',
          hour: '2-digit',
          minute: '2-digit',
          second: '2-digit',
        }).formatToParts(t);
        const p = (type: string) => parts.find((x) => x.type === type)!.value;
        const wall = `${p('year')}-${p('month')}-${p('day')} ${p('hour')}:${p('minute')}:${p('second')}`;
        const parser = pfirewallFormat.create({ now: Date.UTC(2036, 0, 1), timeZone });
        const r = parser.parse(`${wall} DROP UDP 198.51.100.7 192.0.2.10 1 2 40 - - - - - - - RECEIVE`);
        assert.equal(r.kind, 'event', wall);
        const got = (r as { event: PortentEvent }).event.time;
        // Equal, or the earlier instant showing the same wall time (the first pass of an overlap).
        assert.ok(got === t || (got < t && t - got <= 3 * 3_600_000), `${timeZone} ${wall}: ${got} vs ${t}`);
      },
    ),
    { numRuns: 300 },
  );
});

test('filterlog: IPv4 TCP, IPv6, ICMP words, and actions', () => {
  const e = eventOf(
    filterlogFormat,
    'Jan 14 10:00:01 pfSense filterlog: 53,,,1000000301,em0,match,block,in,4,0x0,,64,420,0,none,6,tcp,460,198.51.100.8,192.0.2.15,53742,22,420,PA,29633380:29633800,3617062173,65535,,',
  );
  assert.deepEqual(
    [e.src, e.srcPort, e.dst, e.dstPort, e.proto, e.tcpFlags, e.ttl, e.ipId, e.seq, e.window, e.action],
    ['198.51.100.8', 53742, '192.0.2.15', 22, 6, 8 | 16, 64, 420, 29633380, 65535, 'blocked'],
  );
  const v6 = eventOf(
    filterlogFormat,
    '<134>1 2026-01-14T10:00:03Z fw filterlog 9 - - 621,,,1644355515,vtnet0,match,pass,in,6,0x00,0x07c63,64,TCP,6,44,fdfd:ace:ace:10::69,fdfd:ace:ace:5::6,65382,443,0,S,1927530165,,0,,mss',
  );
  assert.deepEqual(
    [v6.src, v6.ttl, v6.ipId, v6.tcpFlags, v6.action, v6.time],
    ['fdfd:ace:ace:10::69', 64, null, 2, 'accepted', Date.UTC(2026, 0, 14, 10, 0, 3)],
  );
  const icmp = eventOf(
    filterlogFormat,
    'Jan 14 10:00:05 pfSense filterlog: 5,,,1,igb0,match,block,in,4,0x0,,52,0,0,none,1,icmp,56,198.51.100.11,192.0.2.10,unreachport,192.0.2.10,udp,4000',
  );
  assert.deepEqual([icmp.proto, icmp.srcPort, icmp.dstPort], [1, 3, 3]);
});

test('pfirewall: a #Fields header reorders columns; INFO-EVENTS-LOST is a skip', () => {
  const results = parseAll(pfirewallFormat, [
    '#Fields: date time action src-ip dst-ip protocol dst-port src-port',
    '2026-01-14 10:00:13 DROP 198.51.100.16 192.0.2.10 UDP 161 40001',
    '2026-01-14 10:00:07 INFO-EVENTS-LOST - - - - 7',
  ]);
  assert.equal(results[0].kind, 'skip');
  const e = events(results)[0];
  assert.deepEqual(
    [e.src, e.dst, e.proto, e.srcPort, e.dstPort, e.action],
    ['198.51.100.16', '192.0.2.10', 17, 40001, 161, 'blocked'],
  );
  assert.equal(results[2].kind, 'skip');
  assert.match((results[2] as { reason: string }).reason, /INFO-EVENTS-LOST/);
});

test('cisco-asa: built connections take the initiator as the source; 106100 carries a count', () => {
  const inbound = eventOf(
    ciscoAsaFormat,
    '%ASA-6-302013: Built inbound TCP connection 1 for outside:198.51.100.17/40000 (198.51.100.17/40000) to inside:192.0.2.11/443 (203.0.113.11/443)',
  );
  assert.deepEqual(
    [inbound.src, inbound.srcPort, inbound.dst, inbound.dstPort, inbound.action],
    ['198.51.100.17', 40000, '192.0.2.11', 443, 'accepted'],
  );
  const outbound = eventOf(
    ciscoAsaFormat,
    '%ASA-6-302013: Built outbound TCP connection 2 for outside:198.51.100.18/443 (198.51.100.18/443) to inside:192.0.2.11/52000 (203.0.113.11/52000)',
  );
  assert.deepEqual(
    [outbound.src, outbound.srcPort, outbound.dst, outbound.dstPort],
    ['192.0.2.11', 52000, '198.51.100.18', 443],
  );
  const acl = eventOf(
    ciscoAsaFormat,
    '%ASA-6-106100: access-list outside_in denied tcp outside/198.51.100.16(41000) -> inside/192.0.2.11(22) hit-cnt 17 300-second interval [0xe5f2e4d2, 0x0]',
  );
  assert.deepEqual([acl.src, acl.dstPort, acl.count, acl.action], ['198.51.100.16', 22, 17, 'blocked']);
  const v6 = eventOf(
    ciscoAsaFormat,
    '%ASA-4-106023: Deny udp src outside:2001:db8::14/5060 dst inside:2001:db8::aa/5060 by access-group "x"',
  );
  assert.deepEqual([v6.src, v6.dst, v6.proto], ['2001:db8::14', '2001:db8::aa', 17]);
});

test('mikrotik: prefix, chain, flags, bracketed IPv6 and ICMP type/code', () => {
  const e = eventOf(
    mikrotikFormat,
    '2026-01-14T10:00:01+01:00 192.0.2.1 firewall,info drop-tcp input: in:ether1 out:(unknown 0), src-mac 00:17:10:88:bc:02, proto TCP (SYN,ACK), 198.51.100.8:59388->192.0.2.145:23, len 40',
  );
  assert.deepEqual(
    [e.src, e.srcPort, e.dst, e.dstPort, e.tcpFlags, e.action, e.time],
    ['198.51.100.8', 59388, '192.0.2.145', 23, 18, 'blocked', Date.UTC(2026, 0, 14, 9, 0, 1)],
  );
  const v6 = eventOf(
    mikrotikFormat,
    'Jan 14 10:00:03 gw firewall,info forward: in:WAN out:LAN, proto UDP, [2001:db8:1234::1]:17850->[2001:db8:1234::2]:51413, len 112',
  );
  assert.deepEqual(
    [v6.src, v6.srcPort, v6.dst, v6.dstPort, v6.action],
    ['2001:db8:1234::1', 17850, '2001:db8:1234::2', 51413, 'unknown'],
  );
  const icmp = eventOf(
    mikrotikFormat,
    'Jan 14 10:00:05 gw firewall,info input: in:WAN out:(unknown 0), proto ICMP (type 3, code 1), 198.51.100.10->192.0.2.145, len 84',
  );
  assert.deepEqual([icmp.proto, icmp.srcPort, icmp.dstPort, icmp.action], [1, 3, 1, 'blocked']);
});

test('sonicwall: a long word without "=" costs linear time (found by bench/fuzz)', () => {
  const parser = sonicwallFormat.create(ctx);
  const line = `id=firewall sn=0017C5000001 time="2026-01-14 10:00:02 UTC" m=98 msg="x" ${'A'.repeat(8192)}`;
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    assertWellFormed(parser.parse(line));
    best = Math.min(best, performance.now() - started);
  }
  assert.ok(best < 10, `${best.toFixed(1)} ms (the quadratic key search took about 40)`);
});

// Fuzzing: hostile input of every kind must come back as a well-formed result, never an exception.

const SEEDS: Record<string, string[]> = Object.fromEntries(
  FORMATS.map((f) => [
    f.name,
    readdirSync(`${FIXTURES}${f.name}`).flatMap((file) => fixtureLines(f.name, file)),
  ]),
);

/** A valid line with a few characters replaced, inserted, deleted, or the line cut short. */
function mutatedLine(seeds: string[]): fc.Arbitrary<string> {
  const edit = fc.tuple(
    fc.nat(),
    fc.constantFrom('replace', 'insert', 'delete', 'truncate'),
    fc.oneof(
      fc.string({ maxLength: 3 }),
      fc.constantFrom(' ', '=', ',', ':', '[', ']', '/', '->', '\uFFFD', '\0', '9999999999'),
    ),
  );
  return fc
    .tuple(fc.constantFrom(...seeds), fc.array(edit, { minLength: 1, maxLength: 4 }))
    .map(([line, edits]) => {
      let s = line;
      for (const [pos, kind, text] of edits) {
        const i = s.length === 0 ? 0 : pos % s.length;
        if (kind === 'replace') s = s.slice(0, i) + text + s.slice(i + text.length);
        else if (kind === 'insert') s = s.slice(0, i) + text + s.slice(i);
        else if (kind === 'delete') s = s.slice(0, i) + s.slice(i + 1 + (pos % 7));
        else s = s.slice(0, i);
      }
      return s;
    });
}

for (const format of FORMATS) {
  test(`fuzz: ${format.name} returns well-formed results for hostile lines`, () => {
    const seeds = SEEDS[format.name].filter((l) => l.length > 0);
    const line = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.string({
        unit: fc.constantFrom(...'SRCDT=0123456789.: ,-[]()>/%ASINOUT'.split('')),
        maxLength: 300,
      }),
      mutatedLine(seeds),
      mutatedLine(seeds),
    );
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 8 }), (lines) => {
        // One parser over several lines: stateful parsers (pfirewall, journal export) see hostile sequences.
        const parser = format.create(ctx);
        for (const l of lines) assertWellFormed(parser.parse(l));
      }),
      { numRuns: 2000 },
    );
  });

  test(`fuzz: ${format.name} survives huge lines`, () => {
    const parser = format.create(ctx);
    const seed = SEEDS[format.name].find((l) => l.length > 40)!;
    const huge = [
      'A'.repeat(1 << 20),
      seed + ' X'.repeat(1 << 19),
      seed.replace(' ', ` ${'SRC='.repeat(1 << 18)} `),
      `${seed.slice(0, 30)}${'1.2.3.4,'.repeat(1 << 17)}`,
      '\uFFFD'.repeat(1 << 20),
      '['.repeat(1 << 20),
    ];
    for (const l of huge) {
      const started = performance.now();
      assertWellFormed(parser.parse(l));
      assert.ok(performance.now() - started < 2000, `a ${l.length}-character line took too long`);
    }
  });
}
