// The sensor runtime against a real server: a followed log file, heartbeats, re-tasking, `sensor doctor` and `sensor import`.

import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { doctor, importFiles } from '../../src/bin/sensor.ts';
import { VERSION, type RunningServer } from '../../src/bin/embedded.ts';
import type { PortentConfig } from '../../src/config/schema.ts';
import type { SensorRuntime } from '../../src/sensor/runtime.ts';
import { startSensorHarness, type SensorHarness } from '../support/sensor-harness.ts';

/** ufw lines as the kernel writes them (BSD syslog framing), from RFC 5737 documentation addresses. */
function ufwLine(i: number): string {
  return `Nov 23 10:00:${String(i % 60).padStart(2, '0')} edge kernel: [12345.678] [UFW BLOCK] IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 SRC=203.0.113.${1 + (i % 200)} DST=192.0.2.10 LEN=44 TOS=0x00 PREC=0x00 TTL=241 ID=54321 PROTO=TCP SPT=40000 DPT=5168 WINDOW=1024 RES=0x00 SYN URGP=0`;
}

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('sensor runtime with a real server', { timeout: 90_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'portent-sensor-runtime-'));
  let h: SensorHarness;
  let server: RunningServer;
  let config: PortentConfig;
  let sensor: SensorRuntime;
  let admin: SensorHarness['admin'];
  const log = join(dir, 'ufw.log');

  const storedTo5168 = async () =>
    Number((await h.query('SELECT count(*) FROM events WHERE dst_port = 5168'))[0][0]);

  before(async () => {
    writeFileSync(log, Array.from({ length: 30 }, (_, i) => ufwLine(i)).join('\n') + '\n');
    h = await startSensorHarness(dir, 'rt-1', {
      sensor: {
        sources: [{ path: log, start_at: 'beginning', poll_interval: '100ms' }],
        retaskable: true,
        time_zone: 'UTC',
      },
      honeypot: { bind_address: '127.0.0.1' },
      privacy: { detect_own_addresses: false },
    });
    ({ server, sensor, config, admin } = h);
  });

  after(async () => {
    await h?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('detects the format of a followed file, ships its lines, and keeps following it', async () => {
    await until('the first 30 lines at the server', async () => (await storedTo5168()) === 30);
    appendFileSync(log, Array.from({ length: 20 }, (_, i) => ufwLine(100 + i)).join('\n') + '\n');
    await until('20 more', async () => (await storedTo5168()) === 50);
    const source = sensor.health().sources[0];
    assert.equal(source.format, 'netfilter');
    assert.equal(source.events, 50);
    assert.equal(source.errors, 0);
  });

  it('reports its health by heartbeat: the server lists it active with its sources', async () => {
    await until('a heartbeat', async () => {
      const list = (await (await admin('/api/v1/sensors')).json()) as {
        sensors: { status: string; health: unknown }[];
      };
      return list.sensors[0].status === 'active' && list.sensors[0].health !== null;
    });
    const list = (await (await admin('/api/v1/sensors')).json()) as {
      sensors: {
        health: { software: string; sources: { name: string; events: number }[] };
        clock_offset_ms: number;
      }[];
    };
    assert.equal(list.sensors[0].health.software, `portent-sensor/${VERSION}`);
    assert.equal(list.sensors[0].health.sources[0].name, log);
    assert.ok(Math.abs(list.sensors[0].clock_offset_ms) < 5000);
  });

  it('opens a honeypot port when the server re-tasks it (expiry: src/sensor/honeypot tests)', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const res = await admin('/api/v1/sensors/rt-1/retask', {
      method: 'POST',
      body: JSON.stringify({ ports: [{ proto: 'tcp', port }], duration_s: 60, reason: 'test surge' }),
    });
    assert.equal(res.status, 200, await res.text());
    await until('the port to open', () => sensor.health().honeypot!.listening.some((l) => l.port === port));
    await new Promise<void>((resolve, reject) => {
      const c = connect(port, '127.0.0.1', () => c.end('probe'));
      c.on('data', () => {});
      c.on('close', () => resolve()).on('error', reject);
    });
    await until('the honeypot event at the server', async () => {
      await sensor.drain();
      const r = await server.stores.db.reader.runAndReadAll(
        `SELECT count(*) FROM events WHERE dst_port = ${port} AND action = 3`,
      );
      return Number(r.getRows()[0][0]) === 1;
    });
  });

  it('sensor doctor says what it found, and that the server and clock are fine', async () => {
    const checks = await doctor(
      { ...config, spool: { ...config.spool, path: join(dir, 'doctor-spool') } },
      'portent-sensor/test',
    );
    const text = checks.map((c) => `${c.ok ? 'ok' : 'FAIL'} ${c.what}`).join('\n');
    assert.match(
      text,
      new RegExp(
        `ok ${log}: netfilter \\(detected: .*\\); of the first 50 lines 50 are events, 0 not events, 0 errors`,
      ),
    );
    assert.match(text, /ok server .*: reached, credentials accepted/);
    assert.match(text, /ok clock: in step with the server/);
    const broken = await doctor(
      {
        ...config,
        shipper: { ...config.shipper, sensor_secret: 'wrong-secret-wrong-secret-wrong-secret' },
        spool: { ...config.spool, path: join(dir, 'doctor-spool') },
      },
      'portent-sensor/test',
    );
    assert.ok(
      broken.some((c) => !c.ok && /AUTH_BAD_SIGNATURE/.test(c.what)),
      JSON.stringify(broken),
    );
  });

  it('sensor import reads a file once, says what it found, and ships it', async () => {
    const file = join(dir, 'old.log');
    writeFileSync(
      file,
      [
        'not a log line at all',
        ...Array.from({ length: 60 }, (_, i) => ufwLine(i).replace('DPT=5168', 'DPT=7777')),
      ].join('\n'),
    );
    const out: string[] = [];
    const summaries = await importFiles(
      { ...config, spool: { ...config.spool, path: join(dir, 'import-spool') } },
      [file],
      'auto',
      'portent-sensor/test',
      (l) => out.push(l),
    );
    assert.equal(summaries[0].events, 60);
    assert.equal(summaries[0].errors + summaries[0].skipped, 1);
    assert.match(out.join('\n'), /old\.log: netfilter .*: 60 events/);
    const r = await server.stores.db.reader.runAndReadAll(
      'SELECT count(*) FROM events WHERE dst_port = 7777',
    );
    assert.equal(Number(r.getRows()[0][0]), 60);
  });
});
