// End to end on loopback: nmap -sS, nmap -sT and hping3 against a honeypot sensor reach the server with ports, flags and fingerprints.
//
// A real `portent server` (in process) and a real sensor runtime with honeypot listeners and live
// capture on `lo` (tcpdump); the scanners are the Debian packages. Needs root for raw sockets.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunningServer } from '../../src/bin/embedded.ts';
import type { SensorRuntime } from '../../src/sensor/runtime.ts';
import { canUseRawNetwork, requireCommands } from '../support/requires.ts';
import { freePort } from '../support/server-process.ts';
import { startSensorHarness, type SensorHarness } from '../support/sensor-harness.ts';

interface Row {
  dst_port: number;
  src_port: number;
  tcp_flags: number;
  action: number;
  origin: number;
  ip_id: number | null;
  ttl: number | null;
  tcp_window: number | null;
  seq: number | null;
}

describe('scanners against a honeypot sensor, end to end', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'portent-e2e-'));
  let h: SensorHarness | undefined;
  let server: RunningServer;
  let sensor: SensorRuntime;
  let ports: number[];
  let ready = false;

  before(async () => {
    if (!canUseRawNetwork()) return;
    ports = [await freePort(), await freePort(), await freePort(), await freePort()];
    h = await startSensorHarness(dir, 'e2e-honeypot', {
      sensor: {
        captures: [
          { interface: 'lo', filter: `tcp dst portrange ${Math.min(...ports)}-${Math.max(...ports)}` },
        ],
      },
      honeypot: {
        bind_address: '127.0.0.1',
        tcp_ports: ports.map((port) => ({ port, banner: 'SSH-2.0-OpenSSH_9.6\r\n' })),
        capture_timeout: '1s',
        source_attempts_per_s: 1000,
        source_attempt_burst: 1000,
      },
      // Scanner and sensor are both 127.0.0.1 here: keep the addresses as they are.
      privacy: { detect_own_addresses: false },
    });
    ({ server, sensor } = h);
    ready = true;
  });

  after(async () => {
    await h?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * The stored events to `port`, once `done` says they are all there (or after 15 s): packets reach
   * the sensor through tcpdump, a connection is reported when it closes, and a captured SYN waits
   * a few seconds for the connection it may belong to.
   */
  async function eventsTo(port: number, done: (rows: Row[]) => boolean): Promise<Row[]> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      await sensor.drain();
      const rows = await storedTo(port);
      if (done(rows) || Date.now() > deadline) return rows;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async function storedTo(port: number): Promise<Row[]> {
    const reader = server.stores.db.reader;
    const r = await reader.runAndReadAll(
      `SELECT dst_port, src_port, tcp_flags, action, origin, ip_id, ttl, tcp_window, seq::DOUBLE FROM events WHERE dst_port = $1`,
      [port],
    );
    return r.getRows().map((x) => ({
      dst_port: Number(x[0]),
      src_port: Number(x[1]),
      tcp_flags: Number(x[2]),
      action: Number(x[3]),
      origin: Number(x[4]),
      ip_id: x[5] === null ? null : Number(x[5]),
      ttl: x[6] === null ? null : Number(x[6]),
      tcp_window: x[7] === null ? null : Number(x[7]),
      seq: x[8] === null ? null : Number(x[8]),
    }));
  }

  const skipUnlessReady = (t: { skip(msg: string): void }) => {
    if (!ready) t.skip('needs root for raw sockets and capture on lo');
    return ready;
  };

  it("nmap -sS: half-open SYN probes with nmap's window, seen by capture", async (t) => {
    if (!requireCommands(t, 'nmap', 'tcpdump') || !skipUnlessReady(t)) return;
    const r = spawnSync('nmap', ['-sS', '-Pn', '-n', '-p', String(ports[0]), '127.0.0.1'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    const rows = await eventsTo(ports[0], (rows) => rows.length > 0);
    const syn = rows.filter((e) => e.tcp_flags === 2 && e.origin === 3);
    assert.ok(syn.length >= 1, JSON.stringify(rows));
    // nmap's raw SYN probes use windows of 1024, 2048, 3072 or 4096 and a TTL between 37 and 64.
    assert.ok(
      syn.every((e) => [1024, 2048, 3072, 4096].includes(e.tcp_window!)),
      JSON.stringify(syn),
    );
    assert.ok(syn.every((e) => e.ip_id !== null && e.ttl !== null && e.seq !== null));
  });

  it("nmap -sT: connect() probes from the kernel's stack, seen by capture", async (t) => {
    if (!requireCommands(t, 'nmap', 'tcpdump') || !skipUnlessReady(t)) return;
    const r = spawnSync('nmap', ['-sT', '-Pn', '-n', '-p', String(ports[1]), '127.0.0.1'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    // nmap resets the connection at once, before the listener can accept it: only capture sees it.
    const rows = await eventsTo(ports[1], (rows) => rows.length > 0);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    // Linux's own SYN: TTL 64 and the loopback window (65495), unlike nmap's crafted -sS probes.
    assert.equal(rows[0].ttl, 64);
    assert.ok(rows[0].tcp_window! > 4096, JSON.stringify(rows));
  });

  it('hping3 -S: crafted SYNs with the window and TTL given on its command line', async (t) => {
    if (!requireCommands(t, 'hping3', 'tcpdump') || !skipUnlessReady(t)) return;
    const r = spawnSync(
      'hping3',
      ['-S', '-p', String(ports[2]), '-w', '777', '-t', '33', '-c', '3', '-i', 'u20000', '127.0.0.1'],
      { encoding: 'utf8' },
    );
    assert.ok(r.status === 0 || r.status === 1, r.stderr);
    const rows = await eventsTo(ports[2], (rows) => rows.filter((e) => e.tcp_window === 777).length >= 3);
    const crafted = rows.filter((e) => e.tcp_window === 777);
    assert.equal(crafted.length, 3, JSON.stringify(rows));
    assert.ok(crafted.every((e) => e.ttl === 33 && (e.tcp_flags & 2) === 2));
  });

  it(
    "a client that talks: one honeypot event with the payload hash and the SYN's fingerprints, and its sample",
    { timeout: 40_000 },
    async (t) => {
      if (!requireCommands(t, 'tcpdump') || !skipUnlessReady(t)) return;
      const payload = Buffer.from('GET /<script>x</script> HTTP/1.0\r\n\r\n');
      await new Promise<void>((resolve, reject) => {
        const c = connect(ports[3], '127.0.0.1', () => c.end(payload));
        c.on('data', () => {}); // the banner
        c.on('close', () => resolve()).on('error', reject);
      });
      const rows = await eventsTo(ports[3], (rows) => rows.some((e) => e.origin === 1 && e.ttl !== null));
      assert.equal(rows.length, 1, `the captured SYN is joined into the connection: ${JSON.stringify(rows)}`);
      assert.equal(rows[0].origin, 1);
      assert.equal(rows[0].action, 3);
      assert.equal(rows[0].ttl, 64, 'fingerprints joined from the captured SYN');
      assert.ok(rows[0].ip_id !== null && rows[0].seq !== null);
      const sha = createHash('sha256').update(payload).digest('hex');
      const deadline = Date.now() + 15_000;
      let res = await fetch(`${server.url}/api/v1/samples/${sha}`);
      while (res.status === 404 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        await sensor.drain();
        res = await fetch(`${server.url}/api/v1/samples/${sha}`);
      }
      assert.equal(res.status, 200);
      const sample = (await res.json()) as { base64: string; port: number };
      assert.deepEqual(Buffer.from(sample.base64, 'base64'), payload);
      assert.equal(sample.port, ports[3]);
    },
  );
});
