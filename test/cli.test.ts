// The `portent` command line as a user runs it: exit codes, messages, sensors, config check, import.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const root = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'portent-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function portent(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [join(root, 'src/bin/portent.ts'), ...args], {
    env: { ...process.env, PORTENT_STORAGE_PATH: join(dir, 'cli.duckdb'), ...env },
    encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('portent CLI', () => {
  it('prints help, and exits 2 on an unknown command or option', () => {
    const help = portent(['--help']);
    assert.equal(help.code, 0);
    for (const command of [
      'server',
      'demo',
      'sensors',
      'sensor',
      'simulate',
      'score',
      'config',
      'import',
      'version',
    ])
      assert.match(help.out, new RegExp(`\\n  ${command} `));
    assert.equal(portent(['frobnicate']).code, 2);
    const bad = portent(['import', '--colour', 'x']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /Run: portent import --help/);
    assert.match(portent(['sensors', '--help']).out, /portent sensors add NAME/);
    const noScenario = portent(['simulate', '--scenario', 'no-such-worm']);
    assert.equal(noScenario.code, 2);
    assert.match(noScenario.err, /the scenarios are .*sagevo-2967.*serverprotect-5168/);
  });

  it('prints the version', () => {
    const r = portent(['version']);
    assert.equal(r.code, 0);
    assert.match(r.out, /^portent \d+\.\d+\.\d+ \(node 24\./);
  });

  it('config check: 0 for a valid file, 3 with every problem and its key path', () => {
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'server:\n  listen_port: 9000\nstorage:\n  raw_retention: 7d\n');
    const ok = portent(['config', 'check', good]);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /valid/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'server:\n  listen_prot: 9000\ncollector:\n  max_clock_skew: 5 minutes\n');
    const r = portent(['config', 'check', bad]);
    assert.equal(r.code, 3);
    assert.match(r.out, /server\.listen_prot.*did you mean "listen_port"/);
    assert.match(r.out, /collector\.max_clock_skew/);
    assert.equal(portent(['server'], { PORTENT_SERVER_LISTEN_PORT: 'eighty' }).code, 3);
  });

  it('enrols, lists and revokes sensors', () => {
    const added = portent(['sensors', 'add', 'edge-1', '--json']);
    assert.equal(added.code, 0, added.err);
    const sensor = JSON.parse(added.out) as { id: string; secret: string };
    assert.match(sensor.id, /^snr_/);
    assert.ok(sensor.secret.length >= 40);
    const again = portent(['sensors', 'add', 'edge-1']);
    assert.equal(again.code, 1);
    assert.match(again.err, /SENSOR_EXISTS/);
    assert.match(portent(['sensors', 'list']).out, /edge-1 +never-seen/);
    assert.equal(portent(['sensors', 'revoke', 'edge-1']).code, 0);
    assert.match(portent(['sensors', 'list']).out, /edge-1 +revoked/);
    assert.equal(portent(['sensors', 'revoke', 'nobody']).code, 1);
  });

  it('works through the admin routes while a server holds the store file', async () => {
    const env = {
      PORTENT_STORAGE_PATH: join(dir, 'served.duckdb'),
      PORTENT_SERVER_LISTEN_PORT: String(40000 + Math.floor(Math.random() * 20000)),
      PORTENT_SERVER_ADMIN_TOKEN: 'cli-test-admin-token-0123456789abcdef',
    };
    const server = spawn(process.execPath, [join(root, 'src/bin/portent.ts'), 'server'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      let text = '';
      server.stdout!.on('data', (d) => (text += d));
      while (!/listening/i.test(text)) await once(server.stdout!, 'data');
      const run = (args: string[]) =>
        new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
          const c = spawn(process.execPath, [join(root, 'src/bin/portent.ts'), ...args], {
            env: { ...process.env, ...env },
          });
          let out = '';
          let err = '';
          c.stdout.on('data', (d) => (out += d));
          c.stderr.on('data', (d) => (err += d));
          c.on('exit', (code) => resolve({ code, out, err }));
        });
      const added = await run(['sensors', 'add', 'via-http', '--json']);
      assert.equal(added.code, 0, added.err);
      assert.match(JSON.parse(added.out).id, /^snr_/);
      const listed = await run(['sensors', 'list']);
      assert.equal(listed.code, 0, listed.err);
      assert.match(listed.out, /via-http +never-seen/);
      const retask = await run(['sensors', 'retask', 'via-http', '--ports', 'tcp/5168', '--for', '600']);
      assert.equal(retask.code, 0, retask.err);
      const bad = await run(['sensors', 'retask', 'via-http', '--ports', 'sctp/1']);
      assert.equal(bad.code, 2);
      const explicit = await run([
        'sensors',
        'list',
        '--server',
        `http://127.0.0.1:${env.PORTENT_SERVER_LISTEN_PORT}`,
      ]);
      assert.equal(explicit.code, 0, explicit.err);
    } finally {
      server.kill('SIGTERM');
      await once(server, 'exit');
    }
  });

  it('imports NDJSON once however often it is run, and reports bad lines with file and line', () => {
    const file = join(dir, 'events.ndjson');
    const lines = Array.from({ length: 25_000 }, (_, i) =>
      JSON.stringify({
        time: Date.UTC(2026, 10, 1) + i * 1000,
        src: `198.51.100.${i % 200}`,
        src_port: 40000,
        dst: '203.0.113.9',
        dst_port: 5168,
        proto: 'tcp',
        tcp_flags: 'S',
        action: 'blocked',
        origin: 'firewall',
      }),
    );
    writeFileSync(file, lines.join('\n') + '\n');
    const first = portent(['import', '--format', 'ndjson', '--sensor', 'archive', file]);
    assert.equal(first.code, 0, first.err);
    assert.match(first.out, /Imported 25000 events in 3 batches/);
    const second = portent(['import', '--format', 'ndjson', '--sensor', 'archive', file]);
    assert.equal(second.code, 0, second.err);
    assert.match(second.out, /Imported 0 events in 0 batches .*3 batches were already stored/);

    const broken = join(dir, 'broken.ndjson');
    writeFileSync(
      broken,
      [lines[0], lines[1].replace('"src_port":40000', '"src_port":70000'), '{not json'].join('\n'),
    );
    const r = portent(['import', '--format', 'ndjson', '--sensor', 'archive', broken]);
    assert.equal(r.code, 1);
    assert.match(r.err, /IMPORT_INVALID/);
    assert.match(r.err, /broken\.ndjson\/events\/1\/src_port: .*\(line 2\)/);
    assert.match(r.err, /\(line 3\)/);
  });
});
