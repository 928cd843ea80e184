// The text firewall parsers over every file of their formats in the real-data corpus, and detection over every text file in it.
//
// Counts are exact: the corpus is fixed (see each folder's SOURCES.md), so a change in any count
// means a parser changed its reading of real records, which a reviewer should see.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PortentEvent } from '../src/core/event.ts';
import { detectFormat, LINE_FORMATS } from '../src/sensor/parsers/index.ts';
import type { FormatName } from '../src/sensor/parsers/types.ts';
import { readLines } from '../src/sensor/sources/read-lines.ts';
import { assertCollectorAccepts } from './helpers/collector-accepts.ts';
import { corpusDir, NO_CORPUS } from './helpers/corpus-dir.ts';

const CORPUS = corpusDir();
/** Late in 2026: year-less stamps become 2026 and the 2026 MikroTik samples are not in the future. */
const NOW = Date.UTC(2026, 11, 31);

interface Run {
  events: PortentEvent[];
  skips: Map<string, number>;
  errors: Map<string, number>;
  detected: FormatName | null;
  reason: string;
}

async function run(format: FormatName, file: string, timeZone = 'UTC'): Promise<Run> {
  const parser = LINE_FORMATS.find((f) => f.name === format)!.create({ now: NOW, timeZone });
  const r: Run = { events: [], skips: new Map(), errors: new Map(), detected: null, reason: '' };
  const sample: string[] = [];
  for await (const line of readLines(`${CORPUS}/${file}`)) {
    if (sample.length < 50) sample.push(line);
    const result = parser.parse(line);
    if (result.kind === 'event') r.events.push(result.event);
    else if (result.kind === 'skip') r.skips.set(result.reason, (r.skips.get(result.reason) ?? 0) + 1);
    else r.errors.set(result.message, (r.errors.get(result.message) ?? 0) + 1);
  }
  const d = detectFormat(sample);
  r.detected = d.format;
  r.reason = d.reason;
  return r;
}

function count(m: Map<string, number>): number {
  let n = 0;
  for (const v of m.values()) n += v;
  return n;
}

/** file, format, events, skips, errors: every file of our formats, with the counts read from it. */
const FILES: [string, FormatName, number, number, number][] = [
  ['rafmio-ufw/ufw.log.4.gz', 'netfilter', 30241, 0, 0],
  ['dunneja-iptables/iptables.log', 'netfilter', 1182, 0, 0],
  ['adrienre-iptables/iptables.log', 'netfilter', 8443, 0, 0],
  ['crowdsec-hub-tests/iptables-logs__iptables-logs.log', 'netfilter', 4, 0, 0],
  ['crowdsec-hub-tests/iptables-scan-multi-port__iptables-scan-multi-port.log', 'netfilter', 49, 0, 0],
  ['crowdsec-hub-tests/proxmox-iptables-logs__proxmox-iptables.log', 'netfilter', 10, 0, 0],
  // The fourth line is an sshd message in the same file.
  ['crowdsec-hub-tests/unifi-logs__unifi-logs.log', 'netfilter', 3, 1, 0],
  ['crowdsec-hub-tests/pf-logs__pf-logs.log', 'filterlog', 9, 0, 0],
  ['crowdsec-hub-tests/pf-scan-multi-port__pf-scan-multi-port.log', 'filterlog', 16, 1, 0],
  ['crowdsec-hub-tests/pfsense-rfc5424-filterlog__pfsense-rfc5424-filterlog.log', 'filterlog', 4, 1, 0],
  // Skips: 4 header lines, 1 blank line, 2 INFO-EVENTS-LOST. Errors: 7 packets from "::" (IPv6
  // duplicate address detection), which no event can carry: the collector refuses that source.
  ['windows-pfirewall/betahydri_pfirewall.log', 'pfirewall', 16800, 7, 7],
  // One "system,error" login failure among the firewall lines.
  ['crowdsec-hub-tests/mikrotik-logs__mikrotik-logs.log', 'mikrotik', 6, 1, 0],
  ['crowdsec-hub-tests/mikrotik-scan-multi_ports__mikrotik-scan-multi_ports.log', 'mikrotik', 19, 0, 0],
  // 8 connection records among 87 lines of failover, AAA, VPN, NAT and teardown messages.
  ['wazuh-ruleset-fixtures/cisco_asa.lines.log', 'cisco-asa', 8, 79, 0],
  // A TCP drop, a link-local IPv6 drop, a connection opened; NAT, VPN, login and web-filter messages.
  ['wazuh-ruleset-fixtures/SonicWall.lines.log', 'sonicwall', 3, 5, 0],
  // One full Drop record; the others are VPN, IKE and management actions, several cut short ("...").
  ['wazuh-ruleset-fixtures/checkpoint_smart1.lines.log', 'checkpoint', 1, 17, 0],
];

for (const [file, format, events, skips, errors] of FILES) {
  test(`corpus: ${format} reads ${file}`, async (t) => {
    if (CORPUS === null) return t.skip(NO_CORPUS);
    const r = await run(format, file);
    assert.deepEqual(
      { events: r.events.length, skips: count(r.skips), errors: count(r.errors) },
      { events, skips, errors },
      `skips ${JSON.stringify([...r.skips])}, errors ${JSON.stringify([...r.errors])}`,
    );
    assert.equal(r.detected, format, r.reason);
    for (const e of r.events) assertCollectorAccepts(e, NOW);
  });
}

test('corpus: the ufw week is Internet background radiation, blocked, with scanner fingerprints', async (t) => {
  if (CORPUS === null) return t.skip(NO_CORPUS);
  const { events } = await run('netfilter', 'rafmio-ufw/ufw.log.4.gz', 'Europe/Moscow');
  assert.ok(events.every((e) => e.action === 'blocked' && e.dst === '194.58.102.129'));
  // April 7 to 14 (SOURCES.md), in the year of NOW.
  assert.ok(events.every((e) => e.time >= Date.UTC(2026, 3, 6, 20) && e.time <= Date.UTC(2026, 3, 14)));
  assert.ok(events.filter((e) => e.ipId === 54321).length > 100, 'ZMap sets IP ID 54321');
  assert.ok(events.filter((e) => e.window === 1024 && e.tcpFlags === 2).length > 5000, 'masscan/nmap SYNs');
  assert.ok(new Set(events.map((e) => e.src)).size > 1000);
});

test('corpus: the dunneja log is SYN-ACK backscatter, not SYN scans', async (t) => {
  if (CORPUS === null) return t.skip(NO_CORPUS);
  const { events } = await run('netfilter', 'dunneja-iptables/iptables.log');
  assert.ok(events.filter((e) => e.tcpFlags === (2 | 16)).length > 1000);
});

test('corpus: adrienre logs both directions; OUTPUT lines are not called blocked', async (t) => {
  if (CORPUS === null) return t.skip(NO_CORPUS);
  const { events } = await run('netfilter', 'adrienre-iptables/iptables.log');
  const unknown = events.filter((e) => e.action === 'unknown');
  // Every [netfilter-OUTPUT] line: 3,583 from the VM's address and 4 on loopback.
  assert.equal(unknown.length, 3587);
  assert.ok(unknown.every((e) => e.src === '192.168.122.235' || e.src === '127.0.0.1'));
});

test('corpus: detection never takes a file of another format for a firewall format', async (t) => {
  if (CORPUS === null) return t.skip(NO_CORPUS);
  const ours = new Set<FormatName>([
    'netfilter',
    'filterlog',
    'pfirewall',
    'cisco-asa',
    'mikrotik',
    'sonicwall',
    'checkpoint',
  ]);
  const others = [
    'crowdsec-hub-tests/tcpdump-logs__tcpdump-logs.log',
    'crowdsec-hub-tests/windows-logs__windows-logs.log',
    'crowdsec-hub-tests/cowrie-logs__cowrie-logs.log',
    'crowdsec-hub-tests/suricata-eve-detect__suricata-eve-detect.log',
    'crowdsec-hub-tests/suricata-logs-evelog__suricata-logs-evelog.log',
    'wazuh-ruleset-fixtures/netscreen.lines.log',
    'wazuh-ruleset-fixtures/firewalld.lines.log',
    'kareiva-cowrie-logs/cowrie.json.2018-05-06',
    'rita-zeek-conn-3days/2024-04-19_conn.00-00-00-01-00-00.log.gz',
  ];
  for (const file of others) {
    const sample: string[] = [];
    for await (const line of readLines(`${CORPUS}/${file}`)) {
      sample.push(line);
      if (sample.length === 50) break;
    }
    const d = detectFormat(sample);
    assert.ok(d.format === null || !ours.has(d.format), `${file} detected as ${d.format}: ${d.reason}`);
  }
});

test('corpus: firewalld daemon errors are not packets', async (t) => {
  if (CORPUS === null) return t.skip(NO_CORPUS);
  const r = await run('netfilter', 'wazuh-ruleset-fixtures/firewalld.lines.log');
  assert.deepEqual([r.events.length, count(r.skips), count(r.errors)], [0, 3, 0]);
});
