// The DShield /submitapi/ route through injected requests, signed as the real DShield clients sign,
// on a real DuckDB store: authentication, each log type, whole-submission rejection and idempotency.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { bigIntToLimbs, formatAddress } from '../../core/address.ts';
import { FakeClock } from '../../core/clock.ts';
import { Action, Origin, Proto, TcpFlag } from '../../core/event.ts';
import { buildApp, type PortentApp } from '../../server/app.ts';
import { DuckDBDatabase } from '../../storage/duckdb/database.ts';
import { DuckDBEventStore } from '../../storage/duckdb/event-store.ts';
import { DuckDBStateStore } from '../../storage/duckdb/state-store.ts';
import { LIMITS, T0, expectError } from '../../../test/support/collector-harness.ts';
import { dshieldApiKey } from './dshield-auth.ts';
import { webPayloadSha256 } from './dshield-logs.ts';
import type { DShieldOptions } from './dshield.ts';

const OPTIONS: DShieldOptions = {
  maxBodyBytes: 64 * 1024,
  maxRecords: 500,
  nonceMemoryMs: 3_600_000,
  maxRememberedNonces: 10_000,
  sensorEventsPerS: 100_000,
  sensorBurstEvents: 100_000,
};

/** What a DShield client is configured with. */
interface Client {
  userid: number;
  apikey: string;
}

/**
 * The header exactly as DShield.py makeauthheader(), isc_agent make_auth_header() and Cowrie's
 * dshield output build it: HMAC-SHA256 keyed with nonce + str(userid) over the apikey.
 */
function iscHeader(
  c: { userid: number | string; apikey: string },
  nonce = randomBytes(8).toString('base64'),
) {
  const hash = createHmac('sha256', Buffer.from(nonce + String(c.userid), 'utf8'))
    .update(Buffer.from(c.apikey, 'utf8'))
    .digest('base64');
  return `ISC-HMAC-SHA256 Credentials=${hash} Userid=${c.userid} Nonce=${nonce}`;
}

interface Setup {
  built: PortentApp;
  clock: FakeClock;
  db: DuckDBDatabase;
  state: DuckDBStateStore;
  client: Client;
  sensorId: string;
  submit(
    body: unknown,
    opts?: { client?: Client; header?: string | null; logType?: string },
  ): Promise<LightMyRequestResponse>;
  rows(): Promise<string[]>;
  batches(): Promise<number>;
  close(): Promise<void>;
}

const dir = mkdtempSync(join(tmpdir(), 'portent-dshield-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

async function setup(options: DShieldOptions | null = OPTIONS): Promise<Setup> {
  const clock = new FakeClock(T0);
  const db = await DuckDBDatabase.open({ path: join(dir, `store-${++n}.duckdb`), threads: 2 });
  const events = await DuckDBEventStore.open(db);
  const state = await DuckDBStateStore.open(db);
  const built = await buildApp({
    events,
    state,
    clock,
    collector: LIMITS,
    dshield: options ?? undefined,
    maxPendingBatches: 64,
    version: '0.0.0-test',
    logger: false,
    processMetrics: false,
  });
  await state.addSensor('other', T0); // so the DShield sensor's number is not 1
  const s = await state.addSensor('dshield-pi', T0);
  const client = { userid: s.num, apikey: dshieldApiKey(s.secret) };
  return {
    built,
    clock,
    db,
    state,
    client,
    sensorId: s.id,
    submit(body, opts = {}) {
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'DShield PyLib 0.1',
      };
      const header = opts.header === undefined ? iscHeader(opts.client ?? client) : opts.header;
      if (header !== null) headers['x-isc-authorization'] = header;
      if (opts.logType !== undefined) headers['x-isc-logtype'] = opts.logType;
      const payload = typeof body === 'string' ? body : JSON.stringify(body);
      return built.app.inject({ method: 'POST', url: '/submitapi/', headers, payload });
    },
    async rows() {
      const r = await db.reader.runAndReadAll(
        `SELECT epoch_ms(time), src, src_port, dst, dst_port, proto, tcp_flags, action, origin, coalesce(payload_sha256, 'null'), count
         FROM events ORDER BY time, src_port, payload_sha256`,
      );
      return r
        .getRows()
        .map((x) =>
          [
            new Date(Number(x[0])).toISOString(),
            addr(x[1]),
            x[2],
            x[3] === null ? 'null' : addr(x[3]),
            x[4],
            x[5],
            x[6],
            x[7],
            x[8],
            x[9],
            x[10],
          ].join(' '),
        );
    },
    async batches() {
      return Number((await db.reader.runAndReadAll('SELECT count(*) FROM batches')).getRows()[0][0]);
    },
    async close() {
      await built.writer.close();
      await built.app.close();
      await events.close();
      db.close();
    },
  };
}

const limbs = new Uint32Array(4);
function addr(v: unknown): string {
  bigIntToLimbs(BigInt(String(v)), limbs, 0);
  const a = formatAddress(limbs, 0);
  return a === '::' ? 'null' : a;
}

const sec = (iso: string) => Date.parse(iso) / 1000;
const B = Action.blocked;
const H = Action.honeypot;
const FW = Origin.firewall;
const HP = Origin.honeypot;

/** Records as fwlogparser.py builds them: ports are the strings it split out of the log line. */
const FIREWALL = {
  type: 'firewall',
  logs: [
    {
      time: sec('2026-01-01T11:50:00Z'),
      sip: '198.51.100.7',
      dip: '192.0.2.10',
      proto: 6,
      sport: '51234',
      dport: '23',
      flags: 'S',
      version: 4,
    },
    {
      time: sec('2026-01-01T11:50:01Z'),
      sip: '198.51.100.8',
      dip: '192.0.2.10',
      proto: 17,
      sport: '5353',
      dport: '161',
      flags: '',
      version: 4,
    },
    {
      time: sec('2026-01-01T11:50:02Z'),
      sip: '2001:db8::7',
      dip: '2001:db8::1',
      proto: 6,
      sport: '40000',
      dport: '445',
      flags: '12AS',
      version: 6,
    },
    {
      time: sec('2026-01-01T11:50:03Z'),
      sip: '198.51.100.9',
      dip: '192.0.2.10',
      proto: 1,
      sport: '8',
      dport: '0',
      flags: '',
      version: 4,
    },
  ],
};

describe('DShield /submitapi/', () => {
  let s: Setup;
  before(async () => {
    s = await setup();
  });
  after(() => s.close());

  it('gives each sensor an apikey every DShield client accepts, the same as the documented openssl command', async (t) => {
    // DShield.py: ^[a-zA-Z0-9=+/]+$; isc_agent: only a-zA-Z0-9=+.
    assert.match(s.client.apikey, /^[a-zA-Z0-9=+]+$/);
    const secret = (await s.state.sensorSecret(s.sensorId))?.secret as string;
    let out: string;
    try {
      out = execFileSync('openssl', ['dgst', '-sha256', '-hmac', secret], {
        input: 'portent-dshield-apikey',
      }).toString();
    } catch {
      t.skip('openssl is not installed');
      return;
    }
    assert.equal(out.trim().split(/\s+/).pop(), s.client.apikey);
  });

  it('answers HEAD, as isc_agent checks the URL before it starts', async () => {
    const res = await s.built.app.inject({ method: 'HEAD', url: '/submitapi/' });
    assert.equal(res.statusCode, 200);
  });

  it('stores a firewall submission and acknowledges it once it is durable', async () => {
    const res = await s.submit(FIREWALL, { logType: 'firewall' });
    assert.equal(res.statusCode, 200, res.body);
    const ack = res.json();
    assert.equal(ack.status, 'stored');
    assert.equal(ack.records, 4);
    assert.equal(ack.events, 4);
    assert.match(ack.batch_id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const flags = TcpFlag.CWR | TcpFlag.ECE | TcpFlag.ACK | TcpFlag.SYN;
    assert.deepEqual(await s.rows(), [
      `2026-01-01T11:50:00.000Z 198.51.100.7 51234 192.0.2.10 23 ${Proto.tcp} ${TcpFlag.SYN} ${B} ${FW} null 1`,
      `2026-01-01T11:50:01.000Z 198.51.100.8 5353 192.0.2.10 161 ${Proto.udp} 0 ${B} ${FW} null 1`,
      `2026-01-01T11:50:02.000Z 2001:db8::7 40000 2001:db8::1 445 ${Proto.tcp} ${flags} ${B} ${FW} null 1`,
      `2026-01-01T11:50:03.000Z 198.51.100.9 8 192.0.2.10 0 ${Proto.icmp} 0 ${B} ${FW} null 1`,
    ]);
  });

  it('stores a re-sent submission once, though its header has a fresh nonce', async () => {
    const before = await s.rows();
    const res = await s.submit(FIREWALL);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().status, 'duplicate');
    assert.deepEqual(await s.rows(), before);
    assert.equal(await s.batches(), 1);
  });

  it('refuses a wrong apikey, an unknown userid, a missing or malformed header and a replayed nonce', async () => {
    const wrongKey = { ...s.client, apikey: dshieldApiKey('not the secret') };
    expectError(await s.submit(FIREWALL, { client: wrongKey }), 401, 'DSHIELD_BAD_CREDENTIALS');
    // The real secret as apikey is refused too: the apikey is derived from it, never the secret itself.
    const secret = (await s.state.sensorSecret(s.sensorId))?.secret as string;
    expectError(
      await s.submit(FIREWALL, { client: { ...s.client, apikey: secret } }),
      401,
      'DSHIELD_BAD_CREDENTIALS',
    );
    expectError(
      await s.submit(FIREWALL, { client: { ...s.client, userid: 999 } }),
      401,
      'DSHIELD_UNKNOWN_USER',
    );
    expectError(await s.submit(FIREWALL, { header: null }), 401, 'DSHIELD_AUTH_MISSING');
    const bad = expectError(
      await s.submit(FIREWALL, { header: `ISC-HMAC-SHA256 Credentials=abc Userid=${s.client.userid}` }),
      401,
      'DSHIELD_AUTH_MISSING',
    );
    assert.match(bad.error.message, /Nonce/);
    expectError(await s.submit(FIREWALL, { header: 'Bearer xyz' }), 401, 'DSHIELD_AUTH_MISSING');
    const header = iscHeader(s.client);
    const other = { ...FIREWALL, logs: FIREWALL.logs.slice(0, 1).map((r) => ({ ...r, sport: '1' })) };
    assert.equal((await s.submit(other, { header })).statusCode, 200);
    expectError(await s.submit({ ...other, logs: [] }, { header }), 401, 'DSHIELD_REPLAY');
  });

  it('refuses a revoked sensor once its cached key expires (10 s)', async () => {
    const t = await setup();
    try {
      assert.equal((await t.submit(FIREWALL)).statusCode, 200);
      await t.state.revokeSensor(t.sensorId, T0);
      t.clock.advance(10_001);
      expectError(await t.submit(FIREWALL), 401, 'DSHIELD_UNKNOWN_USER');
    } finally {
      await t.close();
    }
  });

  it('rejects malformed JSON, a bad record, an unknown type and a type that disagrees with X-ISC-LogType, storing nothing', async () => {
    const before = await s.rows();
    expectError(await s.submit('{"type": "firewall", "logs": [', {}), 400, 'DSHIELD_INVALID');
    expectError(await s.submit('[1, 2]'), 400, 'DSHIELD_INVALID');
    expectError(
      await s.submit(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('latin1')),
      400,
      'DSHIELD_INVALID',
    );
    const logs = [
      { ...FIREWALL.logs[0], sport: '7' },
      { ...FIREWALL.logs[1], sip: '198.51.100.300' },
      { ...FIREWALL.logs[0], dport: '70000' },
      { ...FIREWALL.logs[0], flags: 'SX' },
      { ...FIREWALL.logs[0], time: sec('2026-01-03T00:00:00Z') },
      'not a record',
    ];
    const body = expectError(await s.submit({ type: 'firewall', logs }), 400, 'DSHIELD_INVALID');
    assert.deepEqual(
      body.error.details.map((d) => d.path),
      ['/logs/1/sip', '/logs/2/dport', '/logs/3/flags', '/logs/4/time', '/logs/5'],
    );
    expectError(await s.submit({ type: 'email', logs: [] }), 400, 'DSHIELD_UNSUPPORTED_TYPE');
    expectError(await s.submit({ type: 'firewall', logs: {} }), 400, 'DSHIELD_INVALID');
    expectError(await s.submit(FIREWALL, { logType: 'cowrie' }), 400, 'DSHIELD_INVALID');
    assert.deepEqual(await s.rows(), before);
  });

  it('refuses a body over dshield.max_body_bytes and more records than dshield.max_records', async () => {
    const big = { type: 'firewall', logs: Array.from({ length: 600 }, () => FIREWALL.logs[0]) };
    expectError(await s.submit(big), 413, 'DSHIELD_TOO_LARGE');
    const pad = { type: 'firewall', logs: FIREWALL.logs, pad: 'x'.repeat(70 * 1024) };
    expectError(await s.submit(pad), 413, 'DSHIELD_TOO_LARGE');
  });
});

describe('DShield log types', () => {
  it('cowrie: login attempts become honeypot events on port 22, identical ones folded into a count', async () => {
    const s = await setup();
    try {
      const t = sec('2026-01-01T11:00:00Z');
      // As Cowrie's output/dshield.py batches them: int(event["time"]) and the login fields.
      const logs = [
        {
          timestamp: t,
          source_ip: '203.0.113.5',
          user: 'root',
          password: '123456',
          lastcommand: '',
          hassh: 'ab',
          banner: 'SSH-2.0-Go',
        },
        {
          timestamp: t,
          source_ip: '203.0.113.5',
          user: 'root',
          password: 'admin',
          lastcommand: '',
          hassh: 'ab',
          banner: 'SSH-2.0-Go',
        },
        {
          timestamp: t + 1,
          source_ip: '203.0.113.6',
          user: 'pi',
          password: 'raspberry',
          lastcommand: 'uname',
          hassh: '',
          banner: '',
        },
      ];
      const res = await s.submit(
        { type: 'cowrie', logs, authheader: iscHeader(s.client) },
        { logType: 'cowrie' },
      );
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().records, 3);
      assert.equal(res.json().events, 2);
      assert.deepEqual(await s.rows(), [
        `2026-01-01T11:00:00.000Z 203.0.113.5 0 null 22 ${Proto.tcp} 0 ${H} ${HP} null 2`,
        `2026-01-01T11:00:01.000Z 203.0.113.6 0 null 22 ${Proto.tcp} 0 ${H} ${HP} null 1`,
      ]);
      const text = JSON.stringify(
        (await s.db.reader.runAndReadAll('SELECT * FROM events')).getRows(),
        (_k, v) => (typeof v === 'bigint' ? String(v) : v),
      );
      assert.ok(
        !text.includes('raspberry') && !text.includes('uname'),
        'credentials and commands are not stored',
      );
    } finally {
      await s.close();
    }
  });

  it('webhoneypot: both client shapes; URL and user agent are kept only as a payload hash', async () => {
    const s = await setup();
    try {
      const ua = 'Mozilla/5.0 zgrab/0.x';
      // weblogsubmit.py: a list, float Unix seconds, headers as a sub-dictionary.
      const batch = {
        type: 'webhoneypot',
        logs: [
          {
            time: sec('2026-01-01T11:10:00Z') + 0.25,
            headers: { header_Host: 'x' },
            sip: '203.0.113.9',
            dip: '192.0.2.10',
            method: 'GET',
            url: '/.env',
            useragent: ua,
          },
        ],
      };
      const r1 = await s.submit(batch, { logType: 'webhoneypot' });
      assert.equal(r1.statusCode, 200, r1.body);
      // isc_agent: one record as a JSON string, ISO time without a zone, signature_id as an object.
      const record = {
        time: '2026-01-01T11:10:05.500000',
        headers: { 'User-Agent': ua },
        sip: '203.0.113.9',
        dip: '192.0.2.10',
        method: 'POST',
        url: '/cgi-bin/luci;stok=/locale',
        data: 'a=b',
        useragent: ua,
        version: 'HTTP/1.1',
        response_id: 1,
        signature_id: { id: 7, rules: [] },
      };
      const r2 = await s.submit(
        { type: 'webhoneypot', logs: JSON.stringify(record), timestamp: record.time },
        { logType: 'webhoneypot' },
      );
      assert.equal(r2.statusCode, 200, r2.body);
      const h1 = createHash('sha256').update(`GET /.env\n${ua}`).digest('hex');
      assert.equal(webPayloadSha256('GET', '/.env', ua), h1);
      assert.deepEqual(await s.rows(), [
        `2026-01-01T11:10:00.250Z 203.0.113.9 0 192.0.2.10 80 ${Proto.tcp} 0 ${H} ${HP} ${h1} 1`,
        `2026-01-01T11:10:05.500Z 203.0.113.9 0 192.0.2.10 80 ${Proto.tcp} 0 ${H} ${HP} ${webPayloadSha256('POST', record.url, ua)} 1`,
      ]);
      expectError(
        await s.submit({ type: 'webhoneypot', logs: [{ ...batch.logs[0], url: 42 }] }),
        400,
        'DSHIELD_INVALID',
      );
    } finally {
      await s.close();
    }
  });

  it('is not served unless dshield is enabled', async () => {
    const s = await setup(null);
    try {
      expectError(await s.submit(FIREWALL), 404, 'NOT_FOUND');
    } finally {
      await s.close();
    }
  });
});
