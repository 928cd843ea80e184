// Tests of live capture: the errors that say why tcpdump cannot run, and a real loopback capture where tcpdump and privileges allow.

import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  explainTcpdumpFailure,
  findExecutable,
  LiveCaptureError,
  processMayCapture,
  startLiveCapture,
} from './live.ts';

test('without tcpdump on PATH the error says how to install it', async () => {
  const empty = mkdtempSync(join(tmpdir(), 'portent-path-'));
  const saved = process.env.PATH;
  process.env.PATH = empty;
  try {
    await assert.rejects(startLiveCapture({ iface: 'lo' }), (e: unknown) => {
      assert.ok(e instanceof LiveCaptureError);
      assert.equal(e.reason, 'not-installed');
      assert.match(e.message, /apt-get install tcpdump/);
      return true;
    });
  } finally {
    process.env.PATH = saved;
  }
});

test('an interface name that could be read as an option is refused before anything runs', async () => {
  for (const iface of ['-w', '--help', 'eth0 -w /tmp/x', '', 'a'.repeat(65)]) {
    await assert.rejects(startLiveCapture({ iface, tcpdumpPath: '/bin/false' }), (e: unknown) => {
      assert.ok(e instanceof LiveCaptureError && e.reason === 'bad-option', iface);
      return true;
    });
  }
});

test('findExecutable finds only executable files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portent-bin-'));
  writeFileSync(join(dir, 'plain'), 'x');
  writeFileSync(join(dir, 'runnable'), '#!/bin/sh\n');
  chmodSync(join(dir, 'runnable'), 0o755);
  assert.equal(findExecutable('plain', dir), null);
  assert.equal(findExecutable('runnable', `/nonexistent:${dir}`), join(dir, 'runnable'));
  assert.equal(findExecutable('missing', dir), null);
});

test("tcpdump's own failure messages become errors that say what to do", () => {
  const cases: [string, number, string, RegExp][] = [
    [
      "tcpdump: eth0: You don't have permission to capture on that device\n(socket: Operation not permitted)\n",
      1,
      'no-permission',
      /CAP_NET_RAW/,
    ],
    [
      "tcpdump: eth0: You don't have permission to perform this capture on that device\n",
      1,
      'no-permission',
      /setcap cap_net_raw/,
    ],
    [
      'tcpdump: nosuch0: No such device exists\n(SIOCGIFHWADDR: No such device)\n',
      1,
      'no-such-interface',
      /ip link/,
    ],
    ["tcpdump: can't parse filter expression: syntax error\n", 1, 'bad-filter', /pcap-filter/],
    ['tcpdump: syntax error in filter expression: syntax error\n', 1, 'bad-filter', /pcap-filter/],
    ['', 2, 'failed', /exited with code 2/],
    ['', null as unknown as number, 'failed', /was killed/],
  ];
  for (const [stderr, code, reason, hint] of cases) {
    const e = explainTcpdumpFailure(stderr, code, 'eth0');
    assert.equal(e.reason, reason, stderr);
    assert.match(e.message, hint, stderr);
  }
});

test('live capture on loopback sees a UDP probe', async (t) => {
  if (findExecutable('tcpdump') === null) return t.skip('tcpdump is not installed (apt-get install tcpdump)');
  if (!processMayCapture()) return t.skip('this process may not capture (needs root or CAP_NET_RAW)');
  const port = 40000 + Math.floor(Math.random() * 20000);
  const capture = await startLiveCapture({ iface: 'lo', filter: `udp and dst port ${port}` });
  const socket = createSocket('udp4');
  const timer = setInterval(() => socket.send('portent', port, '127.0.0.1'), 50);
  try {
    for await (const r of capture.results()) {
      if (r.kind === 'event') {
        assert.equal(r.event.dstPort, port);
        assert.equal(r.event.proto, 17);
        assert.equal(r.event.src, '127.0.0.1');
        break;
      }
    }
  } finally {
    clearInterval(timer);
    socket.close();
    await capture.stop();
  }
});
