// The structured-log parsers and the capture reader over every file of their formats in the real-data corpus.
//
// Counts are exact: the corpus is fixed (see each folder's SOURCES.md), so a change in any count
// means a parser changed its reading of real records, which a reviewer should see.

import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { test } from 'node:test';
import { countResult, decodeCapture, emptyCounts, type ResultCounts } from '../src/sensor/capture/reader.ts';
import { detectFormat, LINE_FORMATS } from '../src/sensor/parsers/index.ts';
import type { FormatName, ParseResult } from '../src/sensor/parsers/types.ts';
import type { PortentEvent } from '../src/core/event.ts';
import { readLines } from '../src/sensor/sources/read-lines.ts';
import { assertCollectorAccepts } from './helpers/collector-accepts.ts';
import { corpusDir, NO_CORPUS } from './helpers/corpus-dir.ts';

const CORPUS = corpusDir();
const NOW = Date.UTC(2026, 0, 1);

interface FileRun {
  file: string;
  counts: ResultCounts;
  events: PortentEvent[];
  detected: FormatName | null;
}

async function parseFiles(format: FormatName, pattern: string): Promise<FileRun[]> {
  const f = LINE_FORMATS.find((x) => x.name === format)!;
  const files = globSync(`${CORPUS}/${pattern}`).sort();
  assert.ok(files.length > 0, `no files match ${pattern}`);
  const runs: FileRun[] = [];
  for (const file of files) {
    const parser = f.create({ now: NOW, timeZone: 'UTC' });
    const counts = emptyCounts();
    const events: PortentEvent[] = [];
    const sample: string[] = [];
    for await (const line of readLines(file)) {
      if (sample.length < 50) sample.push(line);
      const r = parser.parse(line);
      countResult(counts, r);
      if (r.kind === 'event') events.push(r.event);
    }
    runs.push({ file: basename(file), counts, events, detected: detectFormat(sample).format });
  }
  return runs;
}

function total(runs: FileRun[]): { events: number; skips: number; errors: number } {
  return runs.reduce(
    (t, r) => ({
      events: t.events + r.counts.events,
      skips: t.skips + r.counts.skips,
      errors: t.errors + r.counts.errors,
    }),
    { events: 0, skips: 0, errors: 0 },
  );
}

test('zeek-conn: every hourly conn.log and notice.log of rita-zeek-conn-3days (gzipped, _node_name column)', async (t) => {
  if (CORPUS === null) return t.skip(NO_CORPUS);
  const runs = await parseFiles('zeek-conn', 'rita-zeek-conn-3days/*.log.gz');
  const conn = runs.filter((r) => r.file.includes('_conn.'));
  const notice = runs.filter((r) => r.file.includes('_notice.'));
  assert.equal(conn.length, 24);
  assert.deepEqual(total(conn), { events: 31367, skips: 24 * 9, errors: 0 });
  for (const r of conn) assert.equal(r.detected, 'zeek-conn', r.file);
  for (const r of notice) {
    assert.equal(r.counts.events, 0, r.file);
    assert.ok((r.counts.skipReasons.get('zeek notice log, not conn') ?? 0) >= 1, r.file);
    assert.notEqual(r.detected, 'zeek-conn', r.file);
  }
  const events = conn.flatMap((r) => r.events);
  const by = (pred: (e: PortentEvent) => boolean) => events.filter(pred).length;
  // Rejected and unanswered attempts are most of the day: the droplet is scanned all the time.
  assert.ok(by((e) => e.action === 'blocked') > 17_000);
  assert.ok(by((e) => e.action === 'accepted') > 10_000);
  assert.ok(by((e) => e.proto === 6 && e.tcpFlags === 2) > 18_000);
  // The README's beaconing host.
  assert.ok(by((e) => e.src === '73.54.23.243' && e.dst === '64.225.56.201') > 100);
  for (const e of events.slice(0, 2000)) assertCollectorAccepts(e, NOW);
});

test('cowrie: the 2018-schema JSON days of kareiva-cowrie-logs, every session record resolved', async (t) => {
  if (CORPUS === null) return t.skip(NO_CORPUS);
  const runs = await parseFiles('cowrie', 'kareiva-cowrie-logs/cowrie.json.*');
  assert.equal(runs.length, 26);
  // 8,068 connects + 5,312 failed and 691 successful logins + 167 commands + 4 downloads.
  assert.deepEqual(total(runs), { events: 14_242, skips: 20_532, errors: 0 });
  for (const r of runs) {
    assert.equal(r.detected, 'cowrie', r.file);
    for (const reason of r.counts.skipReasons.keys())
      assert.doesNotMatch(reason, /without its session/, r.file);
  }
  const events = runs.flatMap((r) => r.events);
  const connects = events.filter((e) => e.tcpFlags === 2);
  assert.equal(connects.length, 8068);
  assert.ok(
    connects.every(
      (e) =>
        e.dst === '172.17.0.3' && e.dstPort === 2222 && e.action === 'honeypot' && e.origin === 'honeypot',
    ),
  );
  assert.equal(events.filter((e) => e.payloadSha256 !== null).length, 4);
  assert.ok(new Set(events.map((e) => e.src)).size > 500, 'thousands of Internet sources');
  for (const e of events.slice(0, 2000)) assertCollectorAccepts(e, NOW);
});

test('cowrie: the text logs of kareiva-cowrie-logs give one event per "New connection" line', async (t) => {
  if (CORPUS === null) return t.skip(NO_CORPUS);
  const runs = await parseFiles('cowrie', 'kareiva-cowrie-logs/cowrie.log.*');
  const expected = globSync(`${CORPUS}/kareiva-cowrie-logs/cowrie.log.*`)
    .sort()
    .map(
      (f) =>
        readFileSync(f, 'utf8')
          .split('\n')
          .filter((l) => l.includes('] New connection: ')).length,
    );
  assert.deepEqual(
    runs.map((r) => r.counts.events),
    expected,
  );
  assert.deepEqual(total(runs).errors, 0);
  for (const r of runs) assert.equal(r.detected, 'cowrie', r.file);
});

test('cowrie: the 2020 and 2021 schemas of misc-cowrie', async (t) => {
  if (CORPUS === null) return t.skip(NO_CORPUS);
  const runs = await parseFiles('cowrie', 'misc-cowrie/*cowrie.json*');
  assert.deepEqual(
    runs.map((r) => [r.file, r.counts.events, r.counts.skips, r.counts.errors]),
    [
      // A hand-picked excerpt: some records' sessions start outside it, so they have no ports.
      ['deroux_cowrie.json.2021-05-03', 3, 14, 0],
      ['jasonmpittman_cowrie.json.2020-03-19', 118, 183, 0],
    ],
  );
  const downloads = runs[1].events.filter((e) => e.payloadSha256 !== null);
  assert.equal(downloads.length, 7); // 5 downloads and 2 uploads, each with its SHA-256
  assert.ok(
    downloads.some(
      (e) => e.payloadSha256 === '26e80ca1414fd6e57398200354a5cd8efb377ed9c5b1baf1037f071872b7dbc1',
    ),
  );
  for (const r of runs) assert.equal(r.detected, 'cowrie', r.file);
});

test('cowrie and suricata-eve: the crowdsec-hub-tests samples', async (t) => {
  if (CORPUS === null) return t.skip(NO_CORPUS);
  const cowrieRuns = await parseFiles('cowrie', 'crowdsec-hub-tests/cowrie*.log');
  assert.deepEqual(total(cowrieRuns), { events: 8, skips: 0, errors: 0 });
  for (const r of cowrieRuns) assert.equal(r.detected, 'cowrie', r.file);
  const eveRuns = await parseFiles('suricata-eve', 'crowdsec-hub-tests/suricata*.log');
  assert.deepEqual(total(eveRuns), { events: 10, skips: 2, errors: 0 });
  assert.deepEqual([...eveRuns[1].counts.skipReasons], [['stats', 2]]);
  for (const r of eveRuns) assert.equal(r.detected, 'suricata-eve', r.file);
  const flow = eveRuns.flatMap((r) => r.events).find((e) => e.dstPort === 2352)!;
  assert.equal(flow.tcpFlags, 0x06, 'the client side of the flow sent SYN and RST (tcp_flags_ts "06")');
});

// ---- captures ----

const PCAP_GLOBS = [
  'chrissanders-packets/*.pcap*',
  'esnet-curated-pcaps/*.pcap*',
  'zeek-traces/*.pcap*',
  'markofu-pcaps/*.pcap*',
  'markofu-pcaps/*/*.pcap*',
];

interface CaptureRun {
  counts: ResultCounts;
  events: PortentEvent[];
  results: number;
}

function readCaptureFile(path: string): CaptureRun {
  const counts = emptyCounts();
  const events: PortentEvent[] = [];
  let results = 0;
  for (const r of decodeCapture(readFileSync(path), { now: NOW }) as Iterable<ParseResult>) {
    results++;
    countResult(counts, r);
    if (r.kind === 'event') events.push(r.event);
  }
  return { counts, events, results };
}

function capture(rel: string): CaptureRun {
  return readCaptureFile(`${CORPUS}/${rel}`);
}

/** Packet counts from the folders' SOURCES.md. */
const PACKETS: Record<string, number> = {
  'chrissanders-packets/synscan.pcapng': 2011,
  'esnet-curated-pcaps/masscan_tcp_0_1000_20190821.pcap': 1005,
  'esnet-curated-pcaps/masscan_udp_0_1000_20190821.pcap': 1001,
  'esnet-curated-pcaps/nmap_nmap_80_all.pcap': 431,
  'esnet-curated-pcaps/nmap_nmap_80_vanilla.pcap': 11,
  'esnet-curated-pcaps/nmap_nmap_80_w_service_detection.pcap': 154,
  'markofu-pcaps/blaster.pcap': 18,
  'markofu-pcaps/portscan.pcap': 29,
  'markofu-pcaps/osfingerprinting.pcap': 36,
  'markofu-pcaps/evilfingers_nmap/ACK_SCAN.pcap': 2000,
  'markofu-pcaps/evilfingers_nmap/FIN_SCAN.pcap': 2000,
  'markofu-pcaps/evilfingers_nmap/FTP_BOUNCE_SCAN.pcap': 11115,
  'markofu-pcaps/evilfingers_nmap/IP_PROTOCOL_SCAN.pcap': 513,
  'markofu-pcaps/evilfingers_nmap/NULL_SCAN.pcap': 2000,
  'markofu-pcaps/evilfingers_nmap/RPC_SCAN.pcap': 2060,
  'markofu-pcaps/evilfingers_nmap/TCP_CONNECT_SCAN.pcap': 9924,
  'markofu-pcaps/evilfingers_nmap/WINDOW_SCAN.pcap': 2000,
  'markofu-pcaps/evilfingers_nmap/XMAS_TREE_SCAN.pcap': 2000,
  'markofu-pcaps/evilfingers_nmap/version_scan.pcap': 2075,
};

test('captures: every pcap and pcapng in the corpus reads without an error, one result per packet', (t) => {
  if (CORPUS === null) return t.skip(NO_CORPUS);
  const files = PCAP_GLOBS.flatMap((g) => globSync(`${CORPUS}/${g}`)).sort();
  assert.equal(files.length, 23, 'captures in the four folders');
  for (const file of files) {
    const run = readCaptureFile(file);
    const rel = file.slice(CORPUS.length + 1);
    assert.equal(run.counts.errors, 0, `${rel}: ${[...run.counts.errorMessages.keys()].join('; ')}`);
    if (rel in PACKETS) assert.equal(run.results, PACKETS[rel], `${rel}: packets`);
    for (const e of run.events.slice(0, 500)) assertCollectorAccepts(e, NOW);
  }
});

function distinct<T>(events: PortentEvent[], key: (e: PortentEvent) => T): Set<T> {
  return new Set(events.map(key));
}

test('fingerprint: masscan SYNs have window 1024 and IP ID = destination ^ port ^ sequence', (t) => {
  if (CORPUS === null) return t.skip(NO_CORPUS);
  const run = capture('esnet-curated-pcaps/masscan_tcp_0_1000_20190821.pcap');
  assert.equal(run.events.length, 1001); // ports 0-1000
  assert.equal(distinct(run.events, (e) => e.dstPort).size, 1001);
  for (const e of run.events) {
    assert.equal(e.tcpFlags, 2);
    assert.equal(e.window, 1024);
    const dst = e.dst!.split('.').reduce((a, o) => a * 256 + Number(o), 0);
    assert.equal(
      e.ipId,
      (dst ^ e.dstPort ^ e.seq!) & 0xffff,
      'masscan derives the IP ID from its SYN cookie',
    );
  }
  const udp = capture('esnet-curated-pcaps/masscan_udp_0_1000_20190821.pcap');
  assert.equal(udp.events.length, 1001);
  assert.ok(udp.events.every((e) => e.proto === 17));
  assert.equal(distinct(udp.events, (e) => e.dstPort).size, 1001);
});

test('fingerprint: nmap -sS sends SYNs with windows of 1024-4096 to a thousand ports', (t) => {
  if (CORPUS === null) return t.skip(NO_CORPUS);
  const run = capture('chrissanders-packets/synscan.pcapng');
  const syns = run.events.filter(
    (e) => e.src === '172.16.0.8' && e.dst === '64.13.134.52' && e.tcpFlags === 2,
  );
  assert.ok(syns.length >= 1990);
  assert.equal(distinct(syns, (e) => e.dstPort).size, 1000);
  assert.deepEqual([...distinct(syns, (e) => e.window)].sort(), [1024, 2048, 3072, 4096]);
  const portscan = capture('markofu-pcaps/portscan.pcap');
  assert.equal(portscan.events.length, 29);
  assert.equal(distinct(portscan.events, (e) => e.dstPort).size, 29);
});

test('fingerprint: nmap FIN, NULL and Xmas scans are probes with their flags; ACK and window scans are not', (t) => {
  if (CORPUS === null) return t.skip(NO_CORPUS);
  const dir = 'markofu-pcaps/evilfingers_nmap';
  for (const [file, flags] of [
    ['FIN_SCAN.pcap', 0x01],
    ['NULL_SCAN.pcap', 0x00],
    ['XMAS_TREE_SCAN.pcap', 0x29],
  ] as const) {
    const run = capture(`${dir}/${file}`);
    assert.equal(run.events.length, 1000, file);
    assert.ok(
      run.events.every((e) => e.tcpFlags === flags && e.src === '192.168.1.10'),
      file,
    );
    assert.equal(distinct(run.events, (e) => e.dstPort).size, 1000, file);
  }
  // ACK probes look like any packet of a connection; a capture alone cannot tell them from one.
  assert.equal(capture(`${dir}/ACK_SCAN.pcap`).events.length, 0);
  assert.equal(capture(`${dir}/WINDOW_SCAN.pcap`).events.length, 0);
});

test('fingerprint: the OS-fingerprinting captures hold ICMP echo requests with their TTLs', (t) => {
  if (CORPUS === null) return t.skip(NO_CORPUS);
  const run = capture('markofu-pcaps/osfingerprinting.pcap');
  const echo = run.events.filter((e) => e.proto === 1);
  assert.ok(echo.length >= 5);
  assert.ok(echo.every((e) => e.srcPort === 8 && e.ttl !== null && e.window === null));
});
