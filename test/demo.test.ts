// `portent demo --quick --exit` headless: both seed incidents go through a real server, and what it prints about
// their ports is read back from that server's API.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';

const root = new URL('..', import.meta.url).pathname;

/** Runs `portent demo ARGS` to its end; its output and how long it took. It must exit 0. */
async function demo(...args: string[]): Promise<{ out: string; seconds: number }> {
  const began = Date.now();
  const child = spawn(process.execPath, [join(root, 'src/bin/portent.ts'), 'demo', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0, `exit ${code}\n${out}\n${err}`);
  return { out, seconds: (Date.now() - began) / 1000 };
}

it('replays both seed incidents through the server and exits 0', { timeout: 90_000 }, async () => {
  const { out, seconds } = await demo('--quick', '--exit');
  assert.ok(seconds < 60, `took ${seconds} s`);
  for (const [scenario, port] of [
    ['serverprotect-5168', 5168],
    ['sagevo-2967', 2967],
  ] as const) {
    assert.match(out, new RegExp(`== ${scenario}:`));
    // Lines that report what the server counted on the incident's port, with non-zero counts.
    const counted = [
      ...out.matchAll(
        new RegExp(`server: tcp/${port} .*?: (\\d+) events, (\\d+) sources, (\\d+) of 32 sensors`, 'g'),
      ),
    ];
    assert.ok(counted.length > 0, `no server report for tcp/${port}:\n${out}`);
    assert.ok(
      counted.some((m) => Number(m[1]) > 0 && Number(m[2]) > 0 && Number(m[3]) > 0),
      `only zero counts for tcp/${port}:\n${out}`,
    );
    assert.match(out, new RegExp(`tcp/${port} busiest hour on the server: [1-9]\\d* sources`));
  }
  // Detection runs on the replay's clock: the ServerProtect probing raises an incident on TCP 5168 that alerts.
  assert.match(
    out,
    /incident: TCP 5168 (active|peaking|tapering), /,
    `no alerting incident on TCP 5168:\n${out}`,
  );
  // The --quick window (70 h to 76 h) holds the scanning phase (3d); the probing phase starts at 4d.
  assert.match(out, /truth: onset: serverprotect-scanning/);
  assert.match(out, /truth: C2 server down/);
  assert.match(out, /truth: onset: sagevo/);
  // The temporary store is gone once the demo exits.
  const store = /store +(\S+)/.exec(out)?.[1];
  assert.ok(store !== undefined && !existsSync(store), `store left behind: ${store}`);
});

it(
  '--live sends probes through real sensor processes whose events the server stores',
  { timeout: 90_000 },
  async () => {
    const { out, seconds } = await demo('--quick', '--live', '--exit');
    // A bound that catches a hang, not a speed figure: the machine may be busy (speed is for benchmarks).
    assert.ok(seconds < 75, `took ${seconds} s`);
    assert.match(out, /live +3 real sensor processes/);
    const m =
      /Live sensors: (\d+) real TCP connections .*?their heartbeats count (\d+) honeypot connections; the server stored (\d+) honeypot events/.exec(
        out,
      );
    assert.ok(m, `no live summary:\n${out}`);
    const [made, heartbeats, stored] = [Number(m[1]), Number(m[2]), Number(m[3])];
    assert.ok(made > 0, `no connections made:\n${out}`);
    // Every connection made reached the server through a sensor's honeypot, spool and shipper.
    assert.equal(stored, made, out);
    assert.equal(heartbeats, made, out);
  },
);
