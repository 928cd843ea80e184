// End to end through a veth pair: masscan in a network namespace scans a honeypot sensor, and its SYNs reach the server with masscan's fingerprint.
//
// masscan has its own TCP/IP stack on a raw Ethernet socket, so it cannot scan over `lo`: the test
// makes a namespace and a veth pair, runs masscan inside, and the sensor (honeypot listeners and
// live capture through tcpdump) sits on the host end. Needs root for namespaces and raw sockets.

import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { RunningServer } from '../../src/bin/embedded.ts';
import { bigIntToLimbs, formatAddress } from '../../src/core/address.ts';
import { Origin } from '../../src/core/event.ts';
import type { SensorRuntime } from '../../src/sensor/runtime.ts';
import { canUseRawNetwork, hasCommand, requireCommands } from '../support/requires.ts';
import { freePort } from '../support/server-process.ts';
import { startSensorHarness, type SensorHarness } from '../support/sensor-harness.ts';

/** Namespaces and veth ends are named after the creating process, so a later run can tell its own from a killed run's. */
const PREFIX = 'ptnt';

function ip(...args: string[]): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Deletes namespaces and host-side veth ends left by runs whose process is gone (killed before `after`). */
function removeStale(): void {
  const stale = (name: string) => {
    const pid = new RegExp(`^${PREFIX}-?(\\d+)h?$`).exec(name)?.[1];
    return pid !== undefined && !processAlive(Number(pid));
  };
  for (const line of ip('-o', 'link', 'show').split('\n')) {
    const name = /^\d+: ([^:@]+)/.exec(line)?.[1];
    if (name !== undefined && stale(name)) spawnSync('ip', ['link', 'del', name]);
  }
  for (const line of ip('netns', 'list').split('\n')) {
    const name = line.split(' ')[0];
    if (stale(name)) spawnSync('ip', ['netns', 'del', name]);
  }
}

/** A /24 in 10.213.0.0/16 that no interface on this host uses yet. */
function unusedSubnet(): string {
  const used = ip('-o', '-4', 'addr', 'show');
  for (;;) {
    const subnet = `10.213.${1 + Math.floor(Math.random() * 254)}`;
    if (!used.includes(` ${subnet}.`)) return subnet;
  }
}

function addressText(value: bigint): string {
  const limbs = new Uint32Array(4);
  bigIntToLimbs(value, limbs, 0);
  return formatAddress(limbs, 0);
}

function dottedToNumber(address: string): number {
  return address.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

interface Row {
  src: string;
  dst: string;
  dst_port: number;
  src_port: number;
  tcp_flags: number;
  origin: number;
  ip_id: number | null;
  ttl: number | null;
  tcp_window: number | null;
  seq: number | null;
}

describe(
  'masscan from a network namespace against a honeypot sensor, end to end',
  { timeout: 60_000 },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'portent-e2e-masscan-'));
    const ns = `${PREFIX}-${process.pid}`;
    const hostVeth = `${PREFIX}${process.pid}h`;
    const nsVeth = `${PREFIX}${process.pid}n`;
    let hostAddr: string;
    let scannerAddr: string;
    let h: SensorHarness | undefined;
    let server: RunningServer;
    let sensor: SensorRuntime;
    /** Two ports with a honeypot listener, then one closed port. */
    let ports: number[];
    let ready = false;

    before(async () => {
      if (!canUseRawNetwork() || !hasCommand('ip') || !hasCommand('tcpdump')) return;
      removeStale();
      const subnet = unusedSubnet();
      hostAddr = `${subnet}.1`;
      scannerAddr = `${subnet}.2`;
      ip('netns', 'add', ns);
      ip('link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', nsVeth);
      ip('link', 'set', nsVeth, 'netns', ns);
      ip('addr', 'add', `${hostAddr}/24`, 'dev', hostVeth);
      ip('link', 'set', hostVeth, 'up');
      ip('-n', ns, 'addr', 'add', `${scannerAddr}/24`, 'dev', nsVeth);
      ip('-n', ns, 'link', 'set', nsVeth, 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');

      ports = [await freePort(hostAddr), await freePort(hostAddr), await freePort(hostAddr)];
      h = await startSensorHarness(dir, 'e2e-masscan', {
        sensor: {
          captures: [
            { interface: hostVeth, filter: `tcp and (${ports.map((p) => `dst port ${p}`).join(' or ')})` },
          ],
        },
        honeypot: {
          bind_address: hostAddr,
          tcp_ports: ports.slice(0, 2).map((port) => ({ port, banner: 'SSH-2.0-OpenSSH_9.6\r\n' })),
          capture_timeout: '1s',
          source_attempts_per_s: 1000,
          source_attempt_burst: 1000,
        },
        // The sensor's own address is the scanned one: keep the test addresses as they are.
        privacy: { detect_own_addresses: false },
      });
      ({ server, sensor } = h);
      ready = true;
    });

    after(async () => {
      await h?.stop();
      // Deleting one end of a veth pair deletes both; the namespace goes after it.
      spawnSync('ip', ['link', 'del', hostVeth], { stdio: 'ignore' });
      spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    });

    async function storedFromScanner(): Promise<Row[]> {
      const r = await server.stores.db.reader.runAndReadAll(
        `SELECT src, dst, dst_port, src_port, tcp_flags, origin, ip_id, ttl, tcp_window, seq::DOUBLE
       FROM events WHERE dst_port IN (${ports.join(', ')})`,
      );
      return r
        .getRows()
        .map((x) => ({
          src: addressText(x[0] as bigint),
          dst: addressText(x[1] as bigint),
          dst_port: Number(x[2]),
          src_port: Number(x[3]),
          tcp_flags: Number(x[4]),
          origin: Number(x[5]),
          ip_id: x[6] === null ? null : Number(x[6]),
          ttl: x[7] === null ? null : Number(x[7]),
          tcp_window: x[8] === null ? null : Number(x[8]),
          seq: x[9] === null ? null : Number(x[9]),
        }))
        .filter((e) => e.src === scannerAddr);
    }

    it(
      "masscan's SYNs reach the server, one per scanned port, with its window, TTL and IP ID",
      { timeout: 30_000 },
      async (t) => {
        if (!requireCommands(t, 'masscan', 'tcpdump', 'ip')) return;
        if (!ready) return t.skip('needs root for network namespaces, raw sockets and capture');
        const started = Date.now();
        const hostMac = readFileSync(`/sys/class/net/${hostVeth}/address`, 'utf8').trim();
        // Without --router-mac masscan ARPs for a gateway the namespace does not have, and waits for ever.
        const scan = await promisify(execFile)(
          'ip',
          [
            'netns',
            'exec',
            ns,
            'masscan',
            hostAddr,
            `-p${ports.join(',')}`,
            '--rate',
            '1000',
            '--wait',
            '1',
            '--router-mac',
            hostMac,
            '-e',
            nsVeth,
          ],
          { cwd: dir, timeout: 20_000 },
        );
        // The honeypot's listeners answer with a SYN-ACK; the closed port with a RST.
        for (const port of ports.slice(0, 2)) assert.match(scan.stdout, new RegExp(`open port ${port}/tcp`));
        assert.doesNotMatch(scan.stdout, new RegExp(`open port ${ports[2]}/tcp`));

        // A SYN to a listened port waits capture_timeout + 2 s for a connection that never comes:
        // masscan never completes the handshake.
        const deadline = Date.now() + 15_000;
        let rows = await storedFromScanner();
        while (!ports.every((p) => rows.some((e) => e.dst_port === p)) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 250));
          await sensor.drain();
          rows = await storedFromScanner();
        }
        t.diagnostic(`masscan run and events stored in ${Date.now() - started} ms`);

        const all = JSON.stringify(rows);
        assert.deepEqual(
          rows.map((e) => e.dst_port).sort((a, b) => a - b),
          [...ports].sort((a, b) => a - b),
          `one event per port: ${all}`,
        );
        for (const e of rows) {
          assert.equal(e.tcp_flags, 2, all);
          assert.ok(e.origin === Origin.capture || e.origin === Origin.honeypot, all);
          assert.equal(e.dst, hostAddr, all);
          assert.equal(e.tcp_window, 1024, all);
          assert.equal(e.ttl, 255, `masscan's default TTL: ${all}`);
          assert.ok(e.seq !== null, all);
          assert.equal(
            e.ip_id,
            (dottedToNumber(hostAddr) ^ e.dst_port ^ e.seq) & 0xffff,
            `masscan derives the IP ID from its SYN cookie: ${all}`,
          );
        }
        assert.equal(
          new Set(rows.map((e) => e.src_port)).size,
          1,
          `one source port for the whole scan: ${all}`,
        );
      },
    );
  },
);
