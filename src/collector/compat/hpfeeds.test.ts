// The hpfeeds broker over real TCP, driven by a client written here from the protocol description
// (hpfeeds docs/protocol.rst), storing into a real DuckDB store: authentication, every accepted
// channel, hostile frames, refusals, bounds, idempotent batches and the embedded server's wiring.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { bigIntToLimbs, formatAddress } from '../../core/address.ts';
import { FakeClock } from '../../core/clock.ts';
import { Action, Origin, Proto, TcpFlag } from '../../core/event.ts';
import { loadConfig } from '../../config/load.ts';
import { startEmbeddedServer } from '../../bin/embedded.ts';
import { buildApp, type PortentApp } from '../../server/app.ts';
import { DuckDBDatabase } from '../../storage/duckdb/database.ts';
import { DuckDBEventStore } from '../../storage/duckdb/event-store.ts';
import { DuckDBStateStore } from '../../storage/duckdb/state-store.ts';
import { LIMITS, T0 } from '../../../test/support/collector-harness.ts';
import { dshieldApiKey } from './dshield-auth.ts';
import { HpfeedsBroker, type HpfeedsOptions } from './hpfeeds.ts';

// ---------------------------------------------------------------------------------------------------
// A client from the protocol description: uint32 length (with the header), uint8 op code, then the
// body; names are a uint8 length and bytes; AUTH carries SHA-1(nonce + secret).

const OP_ERROR = 0;
const OP_INFO = 1;
const OP_AUTH = 2;
const OP_PUBLISH = 3;
const OP_SUBSCRIBE = 4;

function msg(op: number, body: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(5 + body.length, 0);
  h[4] = op;
  return Buffer.concat([h, body]);
}
const str8 = (s: string) => {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([b.length]), b]);
};

class Client {
  readonly socket: Socket;
  readonly #frames: { op: number; body: Buffer }[] = [];
  #buf = Buffer.alloc(0);
  #waiter: (() => void) | null = null;
  readonly closed: Promise<void>;
  brokerName = '';
  nonce: Buffer = Buffer.alloc(0);

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      while (this.#buf.length >= 5 && this.#buf.length >= this.#buf.readUInt32BE(0)) {
        const len = this.#buf.readUInt32BE(0);
        this.#frames.push({ op: this.#buf[4], body: this.#buf.subarray(5, len) });
        this.#buf = this.#buf.subarray(len);
      }
      this.#waiter?.();
    });
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()));
    socket.on('close', () => this.#waiter?.());
    socket.on('error', () => {});
  }

  /** Connects and reads OP_INFO. */
  static async open(port: number): Promise<Client> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const c = new Client(socket);
    const info = await c.next();
    assert.equal(info.op, OP_INFO);
    const len = info.body[0];
    c.brokerName = info.body.subarray(1, 1 + len).toString();
    c.nonce = info.body.subarray(1 + len);
    return c;
  }

  /** The next frame from the broker, or op -1 when the connection closed first. */
  async next(timeoutMs = 5000): Promise<{ op: number; body: Buffer }> {
    const deadline = Date.now() + timeoutMs;
    while (this.#frames.length === 0) {
      if (this.socket.destroyed || this.socket.readableEnded) return { op: -1, body: Buffer.alloc(0) };
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no frame from the broker in time');
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
        setTimeout(resolve, left);
      });
      this.#waiter = null;
    }
    return this.#frames.shift() as { op: number; body: Buffer };
  }

  /** The next OP_ERROR text; fails on any other frame. */
  async error(): Promise<string> {
    const f = await this.next();
    assert.equal(f.op, OP_ERROR, `expected OP_ERROR, got op ${f.op}`);
    return f.body.toString('utf8');
  }

  send(b: Buffer): void {
    this.socket.write(b);
  }

  auth(ident: string, secret: string): void {
    const hash = createHash('sha1').update(this.nonce).update(secret, 'utf8').digest();
    this.send(msg(OP_AUTH, Buffer.concat([str8(ident), hash])));
  }

  publish(ident: string, channel: string, payload: string | Buffer): void {
    this.send(msg(OP_PUBLISH, Buffer.concat([str8(ident), str8(channel), Buffer.from(payload)])));
  }

  /** Half-closes and waits until the broker has closed too. */
  async end(): Promise<void> {
    this.socket.end();
    await this.closed;
  }
}

// ---------------------------------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'portent-hpfeeds-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let stores = 0;

const OPTIONS: HpfeedsOptions = {
  host: '127.0.0.1',
  port: 0,
  brokerName: 'portent',
  maxConnections: 8,
  maxMessageBytes: 64 * 1024,
  maxMessagesPerS: 10_000,
  batchMaxEvents: 1000,
  batchMaxDelayMs: 50,
  authTimeoutMs: 5000,
  idleTimeoutMs: 60_000,
};

interface Setup {
  port: number;
  broker: HpfeedsBroker;
  built: PortentApp;
  sensor: { id: string; secret: string };
  /** Stored events as text lines, sorted. */
  rows(): Promise<string[]>;
  /** Waits until `n` events are stored. */
  waitRows(n: number): Promise<string[]>;
  batches(): Promise<number>;
  close(): Promise<void>;
}

async function setup(overrides: Partial<HpfeedsOptions> = {}): Promise<Setup> {
  const clock = new FakeClock(T0);
  const db = await DuckDBDatabase.open({ path: join(dir, `store-${++stores}.duckdb`), threads: 2 });
  const events = await DuckDBEventStore.open(db);
  const state = await DuckDBStateStore.open(db);
  const built = await buildApp({
    events,
    state,
    clock,
    collector: LIMITS,
    maxPendingBatches: 64,
    version: '0.0.0-test',
    logger: false,
    processMetrics: false,
  });
  const s = await state.addSensor('honeypot-1', T0);
  const silent = { info() {}, warn() {}, error() {} };
  const broker = new HpfeedsBroker({
    state,
    writer: built.writer,
    clock,
    metrics: built.metrics,
    log: silent,
    options: { ...OPTIONS, ...overrides },
  });
  const { port } = await broker.listen();
  const rows = () => storedRows(db);
  return {
    port,
    broker,
    built,
    sensor: { id: s.id, secret: s.secret },
    rows,
    async waitRows(n) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const r = await rows();
        if (r.length >= n || Date.now() > deadline) return r;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async batches() {
      return Number((await db.reader.runAndReadAll('SELECT count(*) FROM batches')).getRows()[0][0]);
    },
    async close() {
      await broker.close();
      await built.writer.close();
      await built.app.close();
      await events.close();
      db.close();
    },
  };
}

const limbs = new Uint32Array(4);
function addr(v: unknown): string {
  if (v === null) return 'null';
  bigIntToLimbs(BigInt(String(v)), limbs, 0);
  const a = formatAddress(limbs, 0);
  return a === '::' ? 'null' : a;
}

async function storedRows(db: DuckDBDatabase): Promise<string[]> {
  const r = await db.reader.runAndReadAll(
    `SELECT epoch_ms(time), src, src_port, dst, dst_port, proto, tcp_flags, action, origin,
       coalesce(payload_sha256, '-'), count FROM events`,
  );
  return r
    .getRows()
    .map((x) =>
      [new Date(Number(x[0])).toISOString(), addr(x[1]), x[2], addr(x[3]), ...x.slice(4).map(String)].join(
        ' ',
      ),
    )
    .sort();
}

const H = Action.honeypot;
const HP = Origin.honeypot;
const TCP = Proto.tcp;
const SYN = TcpFlag.SYN;
const FILE_SHA = 'a'.repeat(63) + 'b';

/** Payloads as each honeypot's hpfeeds output publishes them. */
const COWRIE_SESSION = JSON.stringify({
  session: 'a1b2c3d4e5f6',
  startTime: '2026-01-01T11:30:00.123456Z',
  endTime: '2026-01-01T11:31:02.000000Z',
  peerIP: '198.51.100.20',
  peerPort: 40222,
  hostIP: '192.0.2.5',
  hostPort: 2222,
  loggedin: ['root', 'hunter2'],
  credentials: [['root', '123456']],
  commands: ['uname -a'],
  unknownCommands: [],
  urls: ['http://malware.example/x.sh'],
  version: 'SSH-2.0-Go',
  ttylog: null,
  hashes: [FILE_SHA],
  protocol: 'ssh',
});
const DIONAEA_ACCEPT = JSON.stringify({
  connection_type: 'accept',
  connection_transport: 'tcp',
  connection_protocol: 'smbd',
  remote_host: '198.51.100.21',
  remote_port: 51000,
  remote_hostname: '',
  local_host: '192.0.2.6',
  local_port: 445,
});
const DIONAEA_LISTEN = JSON.stringify({
  connection_type: 'listen',
  connection_transport: 'tcp',
  connection_protocol: 'httpd',
  remote_host: '',
  remote_port: 0,
  remote_hostname: '',
  local_host: '0.0.0.0',
  local_port: 80,
});
const DIONAEA_CAPTURE = JSON.stringify({
  time: '2026-01-01 11:40:00.500000 UTC +0000',
  saddr: '198.51.100.22',
  sport: '51001',
  daddr: '192.0.2.6',
  dport: '445',
  md5: 'd41d8cd98f00b204e9800998ecf8427e',
  sha512: 'c'.repeat(128),
  url: 'http://198.51.100.22/bin.exe',
});
const CONPOT_MODBUS = JSON.stringify({
  id: '0c2f8d4e-4a8b-4a55-9d44-1b2d3c4e5f60',
  remote: ['198.51.100.23', 50000],
  src_ip: '198.51.100.23',
  src_port: 50000,
  local: ['192.0.2.7', 502],
  dst_ip: '192.0.2.7',
  dst_port: 502,
  data_type: 'modbus',
  timestamp: '2026-01-01T11:45:00.250000',
  public_ip: '203.0.113.1',
  data: { type: 'NEW_CONNECTION' },
});
const CONPOT_SNMP = JSON.stringify({
  id: '1c2f8d4e-4a8b-4a55-9d44-1b2d3c4e5f61',
  remote: ['198.51.100.24', 161],
  local: ['0.0.0.0', 161],
  data_type: 'snmp',
  timestamp: '2026-01-01T11:46:00',
  public_ip: null,
  data: { request: 'get', version: '2c' },
});
const PORTENT_LINES = [
  '{"time":"2026-01-01T11:50:00Z","src":"198.51.100.25","src_port":1234,"dst":null,"dst_port":23,"proto":"tcp","tcp_flags":"S","action":"honeypot","origin":"honeypot"}',
  '{"time":"2026-01-01T11:50:01Z","src":"2001:db8::25","src_port":1234,"dst":null,"dst_port":23,"proto":"tcp","tcp_flags":"S","action":"honeypot","origin":"honeypot","count":3}',
].join('\n');

async function authed(s: Setup): Promise<Client> {
  const c = await Client.open(s.port);
  c.auth(s.sensor.id, s.sensor.secret);
  return c;
}

describe('hpfeeds broker', () => {
  it('greets with OP_INFO, authenticates, and stores what is published on each channel', async () => {
    const s = await setup();
    try {
      const c = await Client.open(s.port);
      assert.equal(c.brokerName, 'portent');
      assert.equal(c.nonce.length, 4);
      c.auth(s.sensor.id, s.sensor.secret);
      const id = s.sensor.id;
      c.publish(id, 'cowrie.sessions', COWRIE_SESSION);
      c.publish(id, 'dionaea.connections', DIONAEA_LISTEN);
      c.publish(id, 'dionaea.connections', DIONAEA_ACCEPT);
      c.publish(id, 'dionaea.capture', DIONAEA_CAPTURE);
      c.publish(id, 'conpot.events', CONPOT_MODBUS);
      c.publish(id, 'conpot.events', CONPOT_SNMP);
      c.publish(id, 'portent.events', PORTENT_LINES);
      await c.end();
      const rows = await s.waitRows(8);
      assert.deepEqual(rows, [
        `2026-01-01T11:30:00.123Z 198.51.100.20 40222 192.0.2.5 2222 ${TCP} 0 ${H} ${HP} ${FILE_SHA} 1`,
        `2026-01-01T11:30:00.123Z 198.51.100.20 40222 192.0.2.5 2222 ${TCP} ${SYN} ${H} ${HP} - 1`,
        `2026-01-01T11:40:00.500Z 198.51.100.22 51001 192.0.2.6 445 ${TCP} 0 ${H} ${HP} - 1`,
        `2026-01-01T11:45:00.250Z 198.51.100.23 50000 192.0.2.7 502 ${TCP} ${SYN} ${H} ${HP} - 1`,
        `2026-01-01T11:46:00.000Z 198.51.100.24 161 null 161 ${Proto.udp} 0 ${H} ${HP} - 1`,
        `2026-01-01T11:50:00.000Z 198.51.100.25 1234 null 23 ${TCP} ${SYN} ${H} ${HP} - 1`,
        `2026-01-01T11:50:01.000Z 2001:db8::25 1234 null 23 ${TCP} ${SYN} ${H} ${HP} - 3`,
        // Dionaea's connection records carry no time: the broker's clock stands in.
        `${new Date(T0).toISOString()} 198.51.100.21 51000 192.0.2.6 445 ${TCP} ${SYN} ${H} ${HP} - 1`,
      ]);
      const metrics = await s.built.metrics.registry.getSingleMetricAsString(
        'portent_hpfeeds_messages_total',
      );
      assert.match(metrics, /channel="dionaea.connections",outcome="accepted"} 2/);
    } finally {
      await s.close();
    }
  });

  it('refuses a wrong secret and an unknown ident with OP_ERROR and closes', async () => {
    const s = await setup();
    try {
      const c = await Client.open(s.port);
      c.auth(s.sensor.id, 'not the secret');
      assert.match(await c.error(), /^HPFEEDS_AUTH_FAILED: /);
      await c.closed;
      const d = await Client.open(s.port);
      d.auth('snr_nobody', s.sensor.secret);
      assert.match(await d.error(), /^HPFEEDS_AUTH_FAILED: .*"snr_nobody"/);
      await d.closed;
      assert.equal(s.broker.connectionCount, 0);
    } finally {
      await s.close();
    }
  });

  it('closes on a publish before AUTH, a publish under another ident, garbage bytes and a bad name length', async () => {
    const s = await setup();
    try {
      const a = await Client.open(s.port);
      a.publish(s.sensor.id, 'cowrie.sessions', COWRIE_SESSION);
      assert.match(await a.error(), /^HPFEEDS_FRAME_INVALID: .*first message must be AUTH/);
      await a.closed;

      const b = await authed(s);
      b.publish('someone-else', 'cowrie.sessions', COWRIE_SESSION);
      assert.match(await b.error(), /^HPFEEDS_FRAME_INVALID: .*not the authenticated ident/);
      await b.closed;

      const g = await Client.open(s.port);
      g.send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      assert.match(await g.error(), /^HPFEEDS_FRAME_INVALID: .*unknown op code 47/);
      await g.closed;

      const z = await Client.open(s.port);
      z.send(Buffer.from([0, 0, 0, 2, OP_AUTH]));
      assert.match(await z.error(), /^HPFEEDS_FRAME_INVALID: .*below the 5-byte header/);
      await z.closed;

      const n = await authed(s);
      // The ident claims 200 bytes; 3 follow.
      n.send(msg(OP_PUBLISH, Buffer.from([200, 0x61, 0x62, 0x63])));
      assert.match(await n.error(), /^HPFEEDS_FRAME_INVALID: .*runs past the end/);
      await n.closed;
      assert.deepEqual(await s.rows(), []);
    } finally {
      await s.close();
    }
  });

  it('refuses an oversize frame from its length alone and closes', async () => {
    const s = await setup({ maxMessageBytes: 1024 });
    try {
      const c = await authed(s);
      const header = Buffer.alloc(5);
      header.writeUInt32BE(5 + 1025, 0);
      header[4] = OP_PUBLISH;
      c.send(header); // no body follows: the length is enough
      assert.match(await c.error(), /^HPFEEDS_FRAME_TOO_LARGE: .*1030 is over the 1029 bytes/);
      await c.closed;
      const d = await Client.open(s.port);
      const big = Buffer.alloc(5);
      big.writeUInt32BE(0xffffffff, 0);
      big[4] = OP_AUTH;
      d.send(big);
      assert.match(await d.error(), /^HPFEEDS_FRAME_TOO_LARGE: /);
      await d.closed;
    } finally {
      await s.close();
    }
  });

  it('refuses SUBSCRIBE: a publish-only broker', async () => {
    const s = await setup();
    try {
      const c = await authed(s);
      c.send(msg(OP_SUBSCRIBE, Buffer.concat([str8(s.sensor.id), Buffer.from('cowrie.sessions')])));
      const text = await c.error();
      assert.match(text, /^HPFEEDS_SUBSCRIBE_REFUSED: .*publish-only.*"cowrie.sessions"/);
      await c.closed;
    } finally {
      await s.close();
    }
  });

  it('drops an unknown channel and a bad payload with a non-fatal OP_ERROR and keeps the connection', async () => {
    const s = await setup();
    try {
      const c = await authed(s);
      c.publish(s.sensor.id, 'dionaea.dcerpcrequests', '{"uuid":"x","opnum":1}');
      assert.match(await c.error(), /^HPFEEDS_CHANNEL_REFUSED: .*"dionaea.dcerpcrequests"/);
      c.publish(s.sensor.id, 'dionaea.dcerpcrequests', '{"uuid":"x","opnum":2}'); // reported once
      c.publish(s.sensor.id, 'cowrie.sessions', '{"peerIP": "198.51.100.300"}');
      assert.match(await c.error(), /^HPFEEDS_PAYLOAD_INVALID: .*\(cowrie.sessions: /);
      c.publish(s.sensor.id, 'conpot.events', 'not json');
      assert.match(await c.error(), /^HPFEEDS_PAYLOAD_INVALID: .*\(conpot.events: not UTF-8 JSON/);
      c.publish(s.sensor.id, 'dionaea.connections', DIONAEA_ACCEPT);
      await c.end();
      assert.equal((await s.waitRows(1)).length, 1);
    } finally {
      await s.close();
    }
  });

  it('stores a batch once when the same messages come again', async () => {
    const s = await setup({ batchMaxEvents: 2, batchMaxDelayMs: 60_000 });
    try {
      for (let i = 0; i < 2; i++) {
        const c = await authed(s);
        c.publish(s.sensor.id, 'conpot.events', CONPOT_MODBUS);
        c.publish(s.sensor.id, 'dionaea.capture', DIONAEA_CAPTURE);
        await c.end();
      }
      await s.waitRows(2);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal((await s.rows()).length, 2);
      assert.equal(await s.batches(), 1);
    } finally {
      await s.close();
    }
  });

  it('bounds connections', async () => {
    const s = await setup({ maxConnections: 2 });
    try {
      const a = await Client.open(s.port);
      const b = await Client.open(s.port);
      const socket = connect({ host: '127.0.0.1', port: s.port });
      const c = await new Promise<Buffer>((resolve) => {
        let got = Buffer.alloc(0);
        socket.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
        socket.on('close', () => resolve(got));
      });
      assert.equal(c[4], OP_ERROR);
      assert.match(c.subarray(5).toString(), /^HPFEEDS_TOO_MANY_CONNECTIONS: /);
      await Promise.all([a.end(), b.end()]);
    } finally {
      await s.close();
    }
  });

  it('slows a connection to max_messages_per_s by not reading, and loses nothing', async (t) => {
    const s = await setup({ maxMessagesPerS: 100, batchMaxDelayMs: 20 });
    try {
      const c = await authed(s);
      const started = performance.now();
      const n = 300;
      for (let i = 0; i < n; i++)
        c.publish(
          s.sensor.id,
          'portent.events',
          PORTENT_LINES.split('\n')[0].replace('1234', String(10_000 + i)),
        );
      const rows = await s.waitRows(n);
      const elapsed = performance.now() - started;
      assert.equal(rows.length, n);
      // 100 at once (the bucket), then 100 a second: the last ~200 take about 2 s.
      assert.ok(elapsed >= 1800, `took ${Math.round(elapsed)} ms`);
      t.diagnostic(`${n} messages at 100/s stored in ${Math.round(elapsed)} ms`);
      await c.end();
    } finally {
      await s.close();
    }
  });

  it('closes a connection that does not authenticate in time', async () => {
    const s = await setup({ authTimeoutMs: 200 });
    try {
      const c = await Client.open(s.port);
      assert.match(await c.error(), /^HPFEEDS_TIMEOUT: .*no AUTH in time/);
      await c.closed;
    } finally {
      await s.close();
    }
  });

  it('works with the Python hpfeeds client when it is installed', async (t) => {
    const probe = spawnSync('python3', ['-c', 'import hpfeeds'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      t.skip('the Python hpfeeds package is not installed');
      return;
    }
    const s = await setup();
    try {
      const script = [
        'import sys, hpfeeds',
        'c = hpfeeds.new("127.0.0.1", int(sys.argv[1]), sys.argv[2], sys.argv[3])',
        'c.publish("dionaea.connections", sys.argv[4])',
        'c.stop()',
      ].join('\n');
      execFileSync('python3', ['-c', script, String(s.port), s.sensor.id, s.sensor.secret, DIONAEA_ACCEPT]);
      assert.equal((await s.waitRows(1)).length, 1);
    } finally {
      await s.close();
    }
  });
});

describe('embedded server with dshield and hpfeeds enabled', () => {
  it('serves /submitapi/ and the broker, and stores what the broker read before it stops', async () => {
    const config = loadConfig({
      env: {
        PORTENT_STORAGE_PATH: join(dir, 'embedded.duckdb'),
        PORTENT_SERVER_LISTEN_PORT: '0',
        PORTENT_DSHIELD_ENABLED: 'true',
        PORTENT_HPFEEDS_ENABLED: 'true',
        PORTENT_HPFEEDS_LISTEN_PORT: '0',
        PORTENT_HPFEEDS_BATCH_MAX_DELAY: '1m',
      },
    });
    const server = await startEmbeddedServer(config, { logger: false });
    let stopped = false;
    try {
      assert.ok(server.hpfeeds !== null);
      const sensor = await server.stores.state.addSensor('hybrid', Date.now());
      const c = await Client.open(server.hpfeeds.port);
      c.auth(sensor.id, sensor.secret);
      c.publish(sensor.id, 'dionaea.connections', DIONAEA_ACCEPT);
      // Nothing closes the connection or fills the batch: stopping the server must store it.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const nonce = 'AAECAwQFBgc=';
      const apikey = dshieldApiKey(sensor.secret);
      const credentials = createHmac('sha256', nonce + String(sensor.num))
        .update(apikey)
        .digest('base64');
      const now = Math.floor(Date.now() / 1000);
      const res = await fetch(`${server.url}/submitapi/`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-isc-authorization': `ISC-HMAC-SHA256 Credentials=${credentials} Userid=${sensor.num} Nonce=${nonce}`,
        },
        body: JSON.stringify({
          type: 'firewall',
          logs: [
            {
              time: now,
              sip: '198.51.100.1',
              dip: '192.0.2.1',
              proto: 6,
              sport: '1',
              dport: '22',
              flags: 'S',
            },
          ],
        }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal(((await res.json()) as { status: string }).status, 'stored');
      const port = server.hpfeeds.port;
      // stop() must hand the broker's open batch to the store before closing it; read it back after.
      await server.stop();
      stopped = true;
      await c.closed;
      const reopened = await DuckDBDatabase.open({ path: join(dir, 'embedded.duckdb'), threads: 1 });
      try {
        const rows = await storedRows(reopened);
        assert.equal(rows.length, 2, rows.join('\n'));
      } finally {
        reopened.close();
      }
      await assert.rejects(
        new Promise((resolve, reject) =>
          connect({ host: '127.0.0.1', port }).once('connect', resolve).once('error', reject),
        ),
      );
    } finally {
      if (!stopped) await server.stop();
    }
  });
});
