// The honeypot on real sockets on 127.0.0.1 with ephemeral ports: capture, banners, limits, UDP, stop, re-tasking.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeClock, type Clock } from '../../core/clock.ts';
import { decodeHoneypotConfig } from './config.ts';
import { Honeypot, type HoneypotOptions, type HoneypotRecord } from './honeypot.ts';

interface Running {
  hp: Honeypot;
  records: HoneypotRecord[];
  clock: FakeClock;
  tcpPort: number;
  udpPort: number;
}

/** A started honeypot on 127.0.0.1 with one TCP and one UDP listener on free ports. */
async function startHoneypot(
  config: Record<string, unknown> = {},
  options: Partial<HoneypotOptions> & { clock?: Clock } = {},
): Promise<Running> {
  const records: HoneypotRecord[] = [];
  const clock = new FakeClock();
  const hp = new Honeypot({
    config: decodeHoneypotConfig({
      bind_address: '127.0.0.1',
      tcp_ports: [{ port: 0 }],
      udp_ports: [{ port: 0 }],
      ...config,
    }),
    clock,
    onRecord: (r) => records.push(r),
    ...options,
  });
  await hp.start();
  const tcpPort = hp.listening().find((l) => l.proto === 'tcp')?.port ?? -1;
  const udpPort = hp.listening().find((l) => l.proto === 'udp')?.port ?? -1;
  return { hp, records, clock, tcpPort, udpPort };
}

async function until(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Connects, sends `bytes` (then half-closes unless `keepOpen`), and collects what the honeypot sends back. */
function tcpExchange(
  port: number,
  bytes: Buffer | null,
  opts: { keepOpen?: boolean; localAddress?: string } = {},
): Promise<{ received: Buffer; closedAfterMs: number; localPort: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const chunks: Buffer[] = [];
    let localPort = 0;
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: opts.localAddress }, () => {
      localPort = socket.localPort ?? 0;
      if (bytes !== null) socket.write(bytes);
      if (!opts.keepOpen) socket.end();
    });
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', () => {});
    socket.on('close', () =>
      resolve({ received: Buffer.concat(chunks), closedAfterMs: Date.now() - started, localPort }),
    );
  });
}

/** Connects and hangs up; rejects with the connect error (ECONNREFUSED once nothing listens). */
function connectOnly(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => {
      s.destroy();
      resolve();
    });
    s.on('error', reject);
  });
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Bytes no text decoder round-trips: markup, a NUL, lone continuation bytes, an overlong encoding, CR LF. */
const HOSTILE = Buffer.concat([
  Buffer.from('<script>alert(1)</script><img src=x onerror=alert(2)>', 'latin1'),
  Buffer.from([
    0x00, 0xff, 0xfe, 0x80, 0xbf, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 0x0d, 0x0a, 0x1b, 0x5b, 0x32, 0x4a,
  ]),
  Buffer.from('GET /../../etc/passwd HTTP/1.0\r\n\r\n', 'latin1'),
]);

test('a TCP client that sends bytes gives one event and the exact payload sample', async () => {
  const { hp, records, tcpPort, clock } = await startHoneypot();
  try {
    const { localPort } = await tcpExchange(tcpPort, Buffer.from('hello honeypot\n'));
    await until('the record', () => records.length === 1);
    const [{ event, payload, refused }] = records;
    assert.equal(refused, null);
    assert.deepEqual(event, {
      time: clock.now(),
      src: '127.0.0.1',
      srcPort: localPort,
      dst: '127.0.0.1',
      dstPort: tcpPort,
      proto: 6,
      tcpFlags: 2,
      action: 'honeypot',
      origin: 'honeypot',
      ipId: null,
      ttl: null,
      window: null,
      seq: null,
      payloadSha256: sha256(Buffer.from('hello honeypot\n')),
      count: 1,
      sampling: 1,
    });
    assert.deepEqual(payload, {
      sha256: sha256(Buffer.from('hello honeypot\n')),
      bytes: Buffer.from('hello honeypot\n'),
      truncated: false,
    });
    const s = hp.stats();
    assert.equal(s.tcpConnections, 1);
    assert.equal(s.bytesCaptured, 15);
    assert.equal(s.openConnections, 0);
    assert.equal(s.bufferedBytes, 0);
  } finally {
    await hp.stop();
  }
});

test('a connection that sends nothing gives an event without payload', async () => {
  const { hp, records, tcpPort } = await startHoneypot();
  try {
    await tcpExchange(tcpPort, null);
    await until('the record', () => records.length === 1);
    assert.equal(records[0].payload, null);
    assert.equal(records[0].event.payloadSha256, null);
  } finally {
    await hp.stop();
  }
});

test('the banner is sent on connect, as text or as hex bytes', async () => {
  const banner = 'SSH-2.0-OpenSSH_9.6 Ubuntu\r\n';
  const { hp, tcpPort } = await startHoneypot({ tcp_ports: [{ port: 0, banner }] });
  const hex = await startHoneypot({ tcp_ports: [{ port: 0, banner_hex: '00ff0d0a' }], udp_ports: [] });
  try {
    assert.deepEqual(
      (await tcpExchange(tcpPort, Buffer.from('SSH-2.0-Go\r\n'))).received,
      Buffer.from(banner),
    );
    assert.deepEqual((await tcpExchange(hex.tcpPort, null)).received, Buffer.from([0x00, 0xff, 0x0d, 0x0a]));
  } finally {
    await hp.stop();
    await hex.hp.stop();
  }
});

test('a payload longer than capture_bytes is cut at capture_bytes and marked truncated', async () => {
  const { hp, records, tcpPort } = await startHoneypot({ capture_bytes: 64 });
  try {
    const sent = Buffer.alloc(100_000, 0x41);
    for (let i = 0; i < 64; i++) sent[i] = i;
    await tcpExchange(tcpPort, sent, { keepOpen: true });
    await until('the record', () => records.length === 1);
    const { payload, event } = records[0];
    assert.deepEqual(payload?.bytes, sent.subarray(0, 64));
    assert.equal(payload?.truncated, true);
    assert.equal(payload?.sha256, sha256(sent.subarray(0, 64)));
    assert.equal(event.payloadSha256, payload?.sha256);
    // Exactly capture_bytes is not truncated.
    await tcpExchange(tcpPort, sent.subarray(0, 64));
    await until('the second record', () => records.length === 2);
    assert.equal(records[1].payload?.truncated, false);
    assert.equal(records[1].payload?.bytes.length, 64);
  } finally {
    await hp.stop();
  }
});

test('payloads with markup, NUL and invalid UTF-8 stay byte-exact, over TCP and UDP', async () => {
  const { hp, records, tcpPort, udpPort } = await startHoneypot();
  const client = dgram.createSocket('udp4');
  try {
    await tcpExchange(tcpPort, HOSTILE);
    client.send(HOSTILE, udpPort, '127.0.0.1');
    await until('both records', () => records.length === 2);
    for (const r of records) {
      assert.ok(r.payload !== null);
      assert.ok(Buffer.isBuffer(r.payload.bytes));
      assert.ok(r.payload.bytes.equals(HOSTILE), `proto ${r.event.proto}`);
      assert.equal(r.payload.sha256, sha256(HOSTILE));
    }
  } finally {
    client.close();
    await hp.stop();
  }
});

test('an idle connection is closed at capture_timeout and recorded', async () => {
  const { hp, records, tcpPort } = await startHoneypot({ capture_timeout: '300ms' });
  try {
    const { closedAfterMs } = await tcpExchange(tcpPort, null, { keepOpen: true });
    assert.ok(closedAfterMs >= 250 && closedAfterMs < 3000, `closed after ${closedAfterMs} ms`);
    assert.equal(records.length, 1);
    assert.equal(records[0].payload, null);
    // Sending a little and then nothing is recorded with what came, at the same deadline.
    await tcpExchange(tcpPort, Buffer.from('USER root\r\n'), { keepOpen: true });
    assert.deepEqual(records[1].payload?.bytes, Buffer.from('USER root\r\n'));
  } finally {
    await hp.stop();
  }
});

test('a burst of 200 connections from one source: the rate limit holds, refusals are counted and recorded', async () => {
  const { hp, records, tcpPort, clock } = await startHoneypot({
    source_attempt_burst: 20,
    source_attempts_per_s: 1,
    max_events_per_s: 1000,
  });
  try {
    // The fake clock does not move, so exactly the burst gets through.
    const results = await Promise.all(
      Array.from({ length: 200 }, () => tcpExchange(tcpPort, Buffer.from('x'))),
    );
    assert.equal(results.length, 200, 'every client saw its connection closed');
    await until('every record', () => records.length === 200);
    const s = hp.stats();
    assert.equal(s.tcpConnections, 20);
    assert.equal(s.refused.sourceRate, 180);
    assert.equal(records.filter((r) => r.refused === 'sourceRate').length, 180);
    assert.ok(records.filter((r) => r.refused !== null).every((r) => r.payload === null));
    assert.equal(s.openConnections, 0);
    assert.equal(s.bufferedBytes, 0);
    assert.equal(s.trackedSources, 1);
    // Still healthy: once the bucket has refilled, connections are captured again.
    clock.advance(60_000);
    await tcpExchange(tcpPort, Buffer.from('again'));
    await until('the next record', () => records.length === 201);
    assert.equal(records[200].refused, null);
    assert.deepEqual(records[200].payload?.bytes, Buffer.from('again'));
  } finally {
    await hp.stop();
  }
});

test('a burst of 200 held connections from 20 sources: the overall and per-source limits hold', async () => {
  const { hp, records, tcpPort } = await startHoneypot({
    max_connections: 40,
    max_connections_per_source: 3,
    source_attempt_burst: 1000,
    capture_timeout: '30s',
  });
  const sockets: net.Socket[] = [];
  try {
    // 127.0.0.0/8 is all loopback on Linux, so each client address is a distinct source. Ten in a row
    // from each source: the first sources meet the per-source limit, the later ones the overall one.
    for (let i = 0; i < 200; i++) {
      const socket = net.connect({
        port: tcpPort,
        host: '127.0.0.1',
        localAddress: `127.0.0.${Math.floor(i / 10) + 1}`,
      });
      socket.on('error', () => {});
      sockets.push(socket);
    }
    const settled = () => {
      const s = hp.stats();
      return s.openConnections + s.refused.connections + s.refused.sourceConnections === 200;
    };
    await until('every connection to be held or refused', settled);
    const s = hp.stats();
    // 20 sources × 3 = 60 would be allowed per source, but only 40 overall.
    assert.equal(s.openConnections, 40);
    assert.equal(s.refused.connections + s.refused.sourceConnections, 160);
    assert.ok(s.refused.sourceConnections > 0 && s.refused.connections > 0, JSON.stringify(s.refused));
    // Nothing was released yet, so the captured ones show the per-source limit directly.
    const refusedBySource = new Map<string, number>();
    for (const r of records) refusedBySource.set(r.event.src, (refusedBySource.get(r.event.src) ?? 0) + 1);
    for (let i = 1; i <= 20; i++)
      assert.ok(10 - (refusedBySource.get(`127.0.0.${i}`) ?? 0) <= 3, `127.0.0.${i}`);
    for (const socket of sockets) socket.destroy();
    await until('every record', () => records.length === 200);
    assert.equal(hp.stats().openConnections, 0);
  } finally {
    for (const socket of sockets) socket.destroy();
    await hp.stop();
  }
});

test('the memory budget cuts captures short and never holds more than max_buffered_bytes', async () => {
  const { hp, records, tcpPort } = await startHoneypot({
    capture_bytes: 4096,
    max_buffered_bytes: '8KiB',
    capture_timeout: '30s',
  });
  const sockets: net.Socket[] = [];
  try {
    let peak = 0;
    for (let i = 0; i < 5; i++) {
      const socket = net.connect({ port: tcpPort, host: '127.0.0.1' }, () =>
        socket.write(Buffer.alloc(3000, i)),
      );
      socket.on('error', () => {});
      sockets.push(socket);
    }
    await until('three captures to end', () => {
      peak = Math.max(peak, hp.stats().bufferedBytes);
      return records.length >= 3;
    });
    const s = hp.stats();
    assert.ok(s.bufferedBytes <= 8192 && peak <= 8192, `buffered ${s.bufferedBytes}, peak ${peak}`);
    assert.ok(s.capturesCutShort >= 1);
    assert.ok(records.every((r) => r.payload === null || r.payload.bytes.length <= 3000));
    assert.ok(records.some((r) => r.payload?.truncated === true));
  } finally {
    for (const socket of sockets) socket.destroy();
    await hp.stop();
  }
});

test('events over max_events_per_s are dropped and counted', async () => {
  const { hp, records, tcpPort } = await startHoneypot({ max_events_per_s: 5 });
  try {
    for (let i = 0; i < 12; i++) await tcpExchange(tcpPort, Buffer.from([i]));
    await until('the drops to be counted', () => hp.stats().eventsDropped === 7);
    assert.equal(records.length, 5);
    assert.equal(hp.stats().eventsEmitted, 5);
    assert.equal(hp.stats().tcpConnections, 12);
  } finally {
    await hp.stop();
  }
});

/** Sends one datagram and collects replies for `waitMs`. */
async function udpExchange(
  port: number,
  bytes: Buffer,
  waitMs = 150,
): Promise<{ replies: Buffer[]; localPort: number }> {
  const client = dgram.createSocket('udp4');
  const replies: Buffer[] = [];
  client.on('message', (m) => replies.push(m));
  await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', () => resolve()));
  const localPort = client.address().port;
  client.send(bytes, port, '127.0.0.1');
  await sleep(waitMs);
  client.close();
  return { replies, localPort };
}

test('a UDP datagram gives an event and a sample, and no reply by default', async () => {
  const { hp, records, udpPort, clock } = await startHoneypot();
  try {
    const request = Buffer.from([
      0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06, 0x70, 0x75, 0x62, 0x6c, 0x69, 0x63,
    ]);
    const { replies, localPort } = await udpExchange(udpPort, request);
    assert.deepEqual(replies, []);
    assert.equal(records.length, 1);
    const { event, payload } = records[0];
    assert.equal(event.proto, 17);
    assert.equal(event.tcpFlags, 0);
    assert.equal(event.src, '127.0.0.1');
    assert.equal(event.srcPort, localPort);
    assert.equal(event.dst, '127.0.0.1');
    assert.equal(event.dstPort, udpPort);
    assert.equal(event.time, clock.now());
    assert.equal(event.action, 'honeypot');
    assert.deepEqual(payload, { sha256: sha256(request), bytes: request, truncated: false });
    assert.equal(hp.stats().udpReplies, 0);
  } finally {
    await hp.stop();
  }
});

test('a UDP banner goes only to requests at least as long, within the reply rate', async () => {
  const banner = 'PORTENT-UDP-BANNER-20';
  const { hp, records, udpPort } = await startHoneypot({
    udp_ports: [{ port: 0, banner }],
    udp_reply_burst: 2,
    capture_bytes: 8,
  });
  try {
    const short = await udpExchange(udpPort, Buffer.alloc(banner.length - 1, 1));
    assert.deepEqual(short.replies, [], 'a shorter request gets nothing back');
    const equal = await udpExchange(udpPort, Buffer.alloc(banner.length, 2));
    assert.deepEqual(equal.replies, [Buffer.from(banner)]);
    const longer = await udpExchange(udpPort, Buffer.alloc(500, 3));
    assert.deepEqual(longer.replies, [Buffer.from(banner)]);
    for (const r of [...short.replies, ...equal.replies, ...longer.replies])
      assert.ok(r.length <= banner.length);
    const overRate = await udpExchange(udpPort, Buffer.alloc(500, 4));
    assert.deepEqual(overRate.replies, [], 'the reply burst of 2 is used up');
    const s = hp.stats();
    assert.equal(s.udpReplies, 2);
    assert.equal(s.udpRepliesSuppressed, 2);
    // Datagrams longer than capture_bytes are sampled and marked truncated too.
    assert.equal(records[2].payload?.bytes.length, 8);
    assert.equal(records[2].payload?.truncated, true);
  } finally {
    await hp.stop();
  }
});

test('no UDP reply is ever larger than its request, for every request length from 0 to 128', async () => {
  const banner = Buffer.alloc(64, 0x5a);
  const { hp, udpPort } = await startHoneypot({
    udp_ports: [{ port: 0, banner_hex: banner.toString('hex') }],
    udp_reply_burst: 1000,
    source_attempt_burst: 1000,
  });
  const client = dgram.createSocket('udp4');
  const replies: Buffer[] = [];
  client.on('message', (m) => replies.push(m));
  try {
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', () => resolve()));
    // One datagram per length, so reply n can be matched to request n by its size alone.
    for (let len = 0; len <= 128; len++) client.send(Buffer.alloc(len, 1), udpPort, '127.0.0.1');
    await until('the replies', () => replies.length === 128 - 64 + 1);
    assert.ok(replies.every((r) => r.equals(banner)));
    assert.equal(hp.stats().udpRepliesSuppressed, 64);
  } finally {
    client.close();
    await hp.stop();
  }
});

test('stop() closes listeners and open connections promptly, recording what they sent', async () => {
  const { hp, records, tcpPort, udpPort } = await startHoneypot({ capture_timeout: '5m' });
  const held = net.connect({ port: tcpPort, host: '127.0.0.1' }, () => held.write('partial'));
  held.on('error', () => {});
  const closed = new Promise<void>((resolve) => held.on('close', () => resolve()));
  await until('the connection to be held with its bytes', () => hp.stats().bufferedBytes === 7);
  const t0 = Date.now();
  await hp.stop();
  await closed;
  assert.ok(Date.now() - t0 < 1000, `stop took ${Date.now() - t0} ms`);
  assert.deepEqual(
    records.map((r) => r.payload?.bytes),
    [Buffer.from('partial')],
  );
  assert.deepEqual(hp.listening(), []);
  await assert.rejects(connectOnly(tcpPort), { code: 'ECONNREFUSED' });
  // The UDP port is free again: binding it succeeds.
  const again = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    again.once('error', reject);
    again.bind(udpPort, '127.0.0.1', () => resolve());
  });
  again.close();
  await hp.stop(); // a second stop is harmless
});

test('re-tasking: open() listens until the clock passes `until`, close() ends it early', async () => {
  const { hp, records, clock } = await startHoneypot(
    { tcp_ports: [], udp_ports: [], max_retasked_ports: 2, max_retask_duration: '1h' },
    { sweepIntervalMs: 10 },
  );
  try {
    const now = clock.now();
    const opened = await hp.open(0, 'tcp', now + 60_000);
    assert.equal(opened.until, now + 60_000);
    await tcpExchange(opened.port, Buffer.from('surge'));
    await until('the record', () => records.length === 1);
    assert.equal(records[0].event.dstPort, opened.port);

    // Asking again extends; a far-future `until` is cut to max_retask_duration.
    assert.deepEqual(await hp.open(opened.port, 'tcp', now + 10 * 3600_000), {
      port: opened.port,
      until: now + 3600_000,
    });

    const udp = await hp.open(0, 'udp', now + 30_000);
    await assert.rejects(hp.open(0, 'tcp', now + 1000), /2 ports are re-tasked already/);
    await assert.rejects(hp.open(0, 'tcp', now), /not after now/);

    assert.equal(await hp.close(udp.port), 1);
    assert.deepEqual(
      hp.listening().map((l) => l.proto),
      ['tcp'],
    );

    clock.advance(3600_000);
    await until('expiry', () => hp.listening().length === 0, 2000);
    await assert.rejects(connectOnly(opened.port), { code: 'ECONNREFUSED' });
  } finally {
    await hp.stop();
  }
});

test('configured ports are not closed by close(), and open() on one leaves it as it is', async () => {
  const { hp, tcpPort, clock } = await startHoneypot({ udp_ports: [] });
  try {
    assert.deepEqual(await hp.open(tcpPort, 'tcp', clock.now() + 1000), { port: tcpPort, until: null });
    assert.equal(await hp.close(tcpPort), 0);
    assert.equal(hp.listening().length, 1);
  } finally {
    await hp.stop();
  }
});

test('a port in use fails start() with advice, and nothing stays open', async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
  const busy = (blocker.address() as net.AddressInfo).port;
  const hp = new Honeypot({
    config: decodeHoneypotConfig({ bind_address: '127.0.0.1', tcp_ports: [{ port: busy }, { port: 0 }] }),
    onRecord: () => {},
  });
  try {
    await assert.rejects(hp.start(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'EADDRINUSE');
      assert.match(
        err.message,
        new RegExp(`TCP port ${busy} at 127.0.0.1: another process is already using it`),
      );
      assert.match(err.message, /remove the port from honeypot.tcp_ports/);
      return true;
    });
    assert.deepEqual(hp.listening(), []);
  } finally {
    blocker.close();
  }
});

test('an address that is not this host’s fails with advice about bind_address', async () => {
  const hp = new Honeypot({
    config: decodeHoneypotConfig({
      bind_address: '192.0.2.123',
      tcp_ports: [{ port: 0 }],
      udp_ports: [{ port: 0 }],
    }),
    onRecord: () => {},
  });
  await assert.rejects(hp.start(), (err: AggregateError) => {
    assert.equal(err.errors.length, 2);
    assert.match(err.message, /TCP port 0 at 192.0.2.123: 192.0.2.123 is not an address of this host/);
    assert.match(err.message, /UDP port 0 at 192.0.2.123/);
    return true;
  });
});

test('a throwing onRecord is counted and reported, and the honeypot keeps going', async () => {
  const errors: unknown[] = [];
  let calls = 0;
  const { hp, tcpPort } = await startHoneypot(
    {},
    {
      onRecord: () => {
        calls++;
        throw new Error('sink failed');
      },
      onError: (e) => errors.push(e),
    },
  );
  try {
    await tcpExchange(tcpPort, Buffer.from('a'));
    await tcpExchange(tcpPort, Buffer.from('b'));
    await until('two calls', () => calls === 2);
    assert.equal(hp.stats().recordErrors, 2);
    assert.equal(errors.length, 2);
  } finally {
    await hp.stop();
  }
});

test('on a dual-stack "::" listener, addresses are canonical and UDP has no destination', async (t) => {
  let running: Running;
  try {
    running = await startHoneypot({ bind_address: '::' });
  } catch (err) {
    t.skip(`no IPv6 on this host: ${(err as Error).message}`);
    return;
  }
  const { hp, records, tcpPort, udpPort } = running;
  try {
    await tcpExchange(tcpPort, Buffer.from('v4'));
    await until('the IPv4 record', () => records.length === 1);
    // Node reports ::ffff:127.0.0.1 here; events carry the plain dotted quad.
    assert.equal(records[0].event.src, '127.0.0.1');
    assert.equal(records[0].event.dst, '127.0.0.1');
    await new Promise<void>((resolve) => {
      const s = net.connect({ port: tcpPort, host: '::1' }, () => s.end('v6'));
      s.on('error', () => {});
      s.on('close', () => resolve());
    });
    await until('the IPv6 record', () => records.length === 2);
    assert.equal(records[1].event.src, '::1');
    assert.equal(records[1].event.dst, '::1');
    await udpExchange(udpPort, Buffer.from('u'), 50);
    await until('the UDP record', () => records.length === 3);
    assert.equal(records[2].event.src, '127.0.0.1');
    assert.equal(records[2].event.dst, null, 'a wildcard UDP socket cannot tell the destination');
  } finally {
    await hp.stop();
  }
});
