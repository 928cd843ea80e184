// The sensor's shipper against a real collector in this process: happy path, lost answers, 429, 503, 413, 400, 401, TLS.
//
// The collector is the real app on a real DuckDB store, listening on loopback. Where a test needs an
// answer the collector would not give on cue (a 503, a dropped connection, TLS), a small front server
// relays requests to it and changes what the test needs. Time is one FakeClock shared by the spool,
// the shipper and the collector; the shipper's sleeps advance it, so nothing waits on the wall clock.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, describe, it, type TestContext } from 'node:test';
import type { CollectorOptions } from '../src/collector/routes.ts';
import { FakeClock } from '../src/core/clock.ts';
import type { EventColumns } from '../src/core/event.ts';
import { decodeBinaryBatch } from '../src/core/wire/binary.ts';
import { buildApp, type PortentApp } from '../src/server/app.ts';
import type { Sleep } from '../src/sensor/shipper/backoff.ts';
import { Shipper, type ShipperOptions } from '../src/sensor/shipper/shipper.ts';
import type { SensorCredentials } from '../src/sensor/shipper/submit.ts';
import { Spool, type SpoolOptions } from '../src/sensor/spool/spool.ts';
import { BackgroundTraffic } from '../src/sim/background.ts';
import { DuckDBDatabase } from '../src/storage/duckdb/database.ts';
import { DuckDBEventStore } from '../src/storage/duckdb/event-store.ts';
import { DuckDBStateStore } from '../src/storage/duckdb/state-store.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const ADMIN_TOKEN = 'shipper-test-admin-token-0123456789abcdef';
const LIMITS: CollectorOptions = {
  maxBatchBytes: 4 * 1024 * 1024,
  maxDecompressedBytes: 16 * 1024 * 1024,
  maxBatchEvents: 20_000,
  maxClockSkewMs: 300_000,
  sensorEventsPerS: 10_000_000,
  sensorBurstEvents: 10_000_000,
  adminToken: ADMIN_TOKEN,
};

const dir = mkdtempSync(join(tmpdir(), 'portent-shipper-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let dirs = 0;

// ---------------------------------------------------------------------------------------------------------
// Harness

interface Collector extends PortentApp {
  url: string;
  clock: FakeClock;
  sensor: SensorCredentials;
  /** One key per stored event (time, source, ports, protocol, sampling), sorted. */
  storedKeys(): Promise<string[]>;
  batches(): Promise<{ count: number; distinct: number; sizes: number[] }>;
  /** Closes `close` when the test ends, before the collector and anything opened earlier. */
  defer(close: () => Promise<unknown>): void;
  /** A spool in a fresh directory on `clock` (the collector's by default), closed with the test. */
  openSpool(clock?: FakeClock): Promise<Spool>;
  /** A shipper, closed with the test. */
  ship(spool: Spool, opts: ShipperOptions): Shipper;
}

/** Closes what a test opened, last first, whether it passed or failed (an open server would hang the run). */
function closer(t: TestContext): (close: () => Promise<unknown>) => void {
  const open: (() => Promise<unknown>)[] = [];
  t.after(async () => {
    for (const close of open.reverse()) await close();
  });
  return (close) => open.push(close);
}

async function collector(
  t: TestContext,
  overrides: Partial<CollectorOptions> = {},
  clock = new FakeClock(T0),
): Promise<Collector> {
  const db = await DuckDBDatabase.open({ path: join(dir, `store-${++dirs}.duckdb`), threads: 1 });
  const events = await DuckDBEventStore.open(db);
  const state = await DuckDBStateStore.open(db);
  const built = await buildApp({
    events,
    state,
    clock,
    collector: { ...LIMITS, ...overrides },
    maxPendingBatches: 64,
    version: '0.0.0-test',
    logger: false,
    processMetrics: false,
  });
  const res = await built.app.inject({
    method: 'POST',
    url: '/api/v1/sensors',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    payload: { name: 'shipper-test' },
  });
  assert.equal(res.statusCode, 201, res.body);
  const url = await built.app.listen({ host: '127.0.0.1', port: 0 });
  const defer = closer(t);
  defer(async () => {
    await built.writer.close();
    await built.app.close();
    await events.close();
    db.close();
  });
  const rows = async (sql: string) => (await db.reader.runAndReadAll(sql)).getRows();
  return {
    ...built,
    url,
    clock,
    sensor: { id: res.json().id, secret: res.json().secret },
    async storedKeys() {
      const r = await rows(
        'SELECT epoch_ms(time), src::VARCHAR, src_port, dst_port, proto, sampling FROM events',
      );
      return r.map((x) => x.map(String).join('|')).sort();
    },
    async batches() {
      const [[count, distinct]] = await rows('SELECT count(*), count(DISTINCT batch_id) FROM batches');
      const sizes = (await rows('SELECT events FROM batches ORDER BY ingest')).map((x) => Number(x[0]));
      return { count: Number(count), distinct: Number(distinct), sizes };
    },
    defer,
    async openSpool(spoolClock = clock) {
      const spool = await Spool.open(spoolOptions(spoolClock));
      defer(() => spool.close());
      return spool;
    },
    ship(spool, opts) {
      const shipper = new Shipper(spool, opts);
      defer(() => shipper.close());
      return shipper;
    },
  };
}

/** The same keys as `storedKeys`, computed from the columns the sensor wrote. */
function keysOf(chunks: EventColumns[]): string[] {
  const keys: string[] = [];
  for (const c of chunks) {
    for (let i = 0; i < c.length; i++) {
      const s = c.src.subarray(4 * i, 4 * i + 4);
      const src = BigInt(s[0]) + (BigInt(s[1]) << 32n) + (BigInt(s[2]) << 64n) + (BigInt(s[3]) << 96n);
      keys.push([c.time[i], src, c.srcPort[i], c.dstPort[i], c.proto[i], c.sampling[i]].join('|'));
    }
  }
  return keys.sort();
}

const traffic = new BackgroundTraffic({ seed: 11, sources: 3000 });
let nextTime = T0 - 3_600_000;
/** Background traffic with a distinct time per event, so each stored row can be matched to one written event. */
function events(n: number): EventColumns {
  const c = traffic.generate(n, 20 * 2 ** 24, T0 - 3_600_000, T0);
  for (let i = 0; i < n; i++) c.time[i] = nextTime++;
  return c;
}

function spoolOptions(clock: FakeClock): SpoolOptions {
  return {
    dir: join(dir, `spool-${++dirs}`),
    maxBytes: 256 * 1024 * 1024,
    segmentBytes: 8 * 1024 * 1024,
    fsync: 'never',
    samplingAdjustMs: 1000,
    clock,
  };
}

/** A sleep on the FakeClock: records the wait, moves the clock, returns at once. */
function fakeSleep(clock: FakeClock, log: number[], after?: (n: number) => void): Sleep {
  return async (ms) => {
    log.push(ms);
    clock.advance(ms);
    after?.(log.length);
  };
}

function shipperOptions(
  url: string,
  sensor: SensorCredentials,
  clock: FakeClock,
  sleeps: number[],
): ShipperOptions {
  return {
    url,
    credentials: sensor,
    minBatchEvents: 1000,
    maxBatchEvents: 10_000,
    lingerMs: 1000,
    retryBaseMs: 100,
    retryMaxMs: 2000,
    requestTimeoutMs: 10_000,
    clock,
    sleep: fakeSleep(clock, sleeps),
    random: () => 0.5,
  };
}

type Canned = { status: number; headers?: Record<string, string>; body?: string } | 'drop' | undefined;

/**
 * A server in front of the collector: for request n, `answer(n)` may give a canned answer or 'drop'
 * (relay, then cut the connection before the answer); otherwise it relays the collector's answer.
 */
async function front(
  c: Collector,
  answer: (n: number) => Canned,
  tls?: { key: string; cert: string },
): Promise<{ url: string; close(): Promise<void> }> {
  let n = 0;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (b: Buffer) => chunks.push(b));
    req.on('end', async () => {
      const canned = answer(++n);
      if (canned !== undefined && canned !== 'drop') {
        res.writeHead(canned.status, { 'content-type': 'application/json', ...canned.headers });
        res.end(canned.body ?? '{}');
        return;
      }
      const relayed = await c.app.inject({
        method: req.method as 'POST',
        url: req.url,
        headers: req.headers as Record<string, string>,
        payload: Buffer.concat(chunks),
      });
      if (canned === 'drop') {
        req.socket.destroy();
        return;
      }
      const headers: Record<string, string> = { 'content-type': String(relayed.headers['content-type']) };
      if (relayed.headers['retry-after'] !== undefined)
        headers['retry-after'] = String(relayed.headers['retry-after']);
      res.writeHead(relayed.statusCode, headers);
      res.end(relayed.body);
    });
  };
  const server = tls ? createHttpsServer(tls, handler) : createHttpServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  c.defer(close);
  return {
    url: `${tls ? 'https' : 'http'}://${tls ? 'localhost' : '127.0.0.1'}:${port}`,
    close,
  };
}

/** Lets the shipper's I/O run until `done()` holds (bounded, so a bug fails instead of hanging). */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !done(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(done(), 'the shipper did not get there');
}

// ---------------------------------------------------------------------------------------------------------

describe('Shipper against a real collector', () => {
  it('ships everything once, in batches of the configured size, and empties the spool', async (t) => {
    const c = await collector(t);
    const spool = await c.openSpool();
    const written = [events(4000), events(9000), events(2500), events(12_000), events(700)];
    for (const w of written) await spool.append(w);
    const sleeps: number[] = [];
    const shipper = c.ship(spool, shipperOptions(c.url, c.sensor, c.clock, sleeps));
    await shipper.run({ untilEmpty: true });

    assert.deepEqual(await c.storedKeys(), keysOf(written));
    const b = await c.batches();
    assert.deepEqual([b.count, b.distinct], [4, 4]);
    // Whole records where that fills a batch at least half: 4000 + 6000 of 9000, then the 3000 left of
    // it + 2500 (a third record would pass 10000), 10000, 2000 + 700.
    assert.deepEqual(b.sizes, [10_000, 5_500, 10_000, 2_700]);
    const h = shipper.health();
    assert.equal(h.batchesSent, 4);
    assert.equal(h.eventsSent, 28_200);
    assert.equal(h.retries, 0);
    assert.equal(h.lastError, null);
    assert.equal(h.lastSuccessAt, c.clock.now());
    assert.equal(h.unshippedEvents, 0);
    assert.equal(h.lagMs, null);
    assert.equal(h.state, 'stopped');
    assert.deepEqual(sleeps, []);
  });

  it('sends a batch whose answer was lost again under the same id; the collector stores it once', async (t) => {
    const c = await collector(t);
    const f = await front(c, (n) => (n === 2 ? 'drop' : undefined));
    const spool = await c.openSpool();
    const written = [events(3000), events(3000), events(3000)];
    for (const w of written) await spool.append(w);
    const sleeps: number[] = [];
    const shipper = c.ship(spool, {
      ...shipperOptions(f.url, c.sensor, c.clock, sleeps),
      maxBatchEvents: 3000,
    });
    await shipper.run({ untilEmpty: true });

    assert.deepEqual(await c.storedKeys(), keysOf(written));
    assert.deepEqual(await c.batches(), { count: 3, distinct: 3, sizes: [3000, 3000, 3000] });
    const h = shipper.health();
    assert.equal(h.batchesSent, 3);
    assert.equal(h.duplicateBatches, 1, 'the re-sent batch was a duplicate');
    assert.equal(h.retries, 1);
    assert.equal(h.lastError?.status, null);
    assert.equal(sleeps.length, 1);
  });

  it('waits up to the linger time for a fuller batch, and no longer', async (t) => {
    const c = await collector(t);
    const spool = await c.openSpool();
    const sleeps: number[] = [];
    const shipper = c.ship(spool, shipperOptions(c.url, c.sensor, c.clock, sleeps));
    const running = shipper.run();
    const first = events(300);
    await spool.append(first);
    await until(() => shipper.health().eventsSent === 300);
    assert.deepEqual(sleeps, [1000], 'one linger wait, then the short batch went');
    // A full batch goes at once.
    const second = events(1500);
    await spool.append(second);
    await until(() => shipper.health().eventsSent === 1800);
    assert.deepEqual(sleeps, [1000]);
    assert.equal(shipper.health().state, 'idle');
    await shipper.stop();
    await running;
    assert.deepEqual((await c.batches()).sizes, [300, 1500]);
    assert.deepEqual(await c.storedKeys(), keysOf([first, second]));
  });

  it('honours 429 Retry-After from the rate limiter', async (t) => {
    const c = await collector(t, { sensorEventsPerS: 500, sensorBurstEvents: 2000, maxBatchEvents: 2000 });
    const spool = await c.openSpool();
    const written = [events(6000)];
    await spool.append(written[0]);
    const sleeps: number[] = [];
    const shipper = c.ship(spool, {
      ...shipperOptions(c.url, c.sensor, c.clock, sleeps),
      maxBatchEvents: 2000,
    });
    await shipper.run({ untilEmpty: true });

    assert.deepEqual(await c.storedKeys(), keysOf(written));
    assert.deepEqual((await c.batches()).sizes, [2000, 2000, 2000]);
    // The bucket refills 500 events/s: each further batch of 2000 waits the 4 s the collector asks for.
    assert.deepEqual(sleeps, [4000, 4000]);
    const h = shipper.health();
    assert.equal(h.retries, 2);
    assert.equal(h.lastError?.code, 'RATE_LIMITED');
    assert.equal(h.lastError?.status, 429);
  });

  it('backs off with full jitter on 503, and waits for Retry-After when the 503 gives one', async (t) => {
    const c = await collector(t);
    const unavailable = { status: 503, body: '{"error":{"code":"STORE_UNAVAILABLE","message":"busy"}}' };
    const f = await front(c, (n) =>
      n <= 3 ? unavailable : n === 4 ? { ...unavailable, headers: { 'retry-after': '7' } } : undefined,
    );
    const spool = await c.openSpool();
    const written = [events(1200)];
    await spool.append(written[0]);
    const sleeps: number[] = [];
    const shipper = c.ship(spool, shipperOptions(f.url, c.sensor, c.clock, sleeps));
    await shipper.run({ untilEmpty: true });

    // random() = 0.5 of windows 100, 200, 400 ms (base 100, doubling), then the collector's 7 s.
    assert.deepEqual(sleeps, [50, 100, 200, 7000]);
    assert.deepEqual(await c.storedKeys(), keysOf(written));
    const h = shipper.health();
    assert.equal(h.retries, 4);
    assert.deepEqual(h.lastError && [h.lastError.code, h.lastError.status], ['STORE_UNAVAILABLE', 503]);
  });

  it('keeps retrying an unreachable collector, the window doubling up to the maximum, until stopped', async (t) => {
    const c = await collector(t);
    const f = await front(c, () => undefined);
    const unreachable = f.url;
    await f.close();
    const spool = await c.openSpool();
    await spool.append(events(1000));
    const sleeps: number[] = [];
    const shipper = c.ship(spool, {
      ...shipperOptions(unreachable, c.sensor, c.clock, sleeps),
      random: () => 0.999,
      sleep: fakeSleep(c.clock, sleeps, (n) => {
        if (n === 8) void shipper.stop();
      }),
    });
    await shipper.run();
    assert.deepEqual(sleeps, [99, 199, 399, 799, 1598, 1998, 1998, 1998]);
    const h = shipper.health();
    assert.equal(h.lastError?.code, 'ECONNREFUSED');
    assert.equal(h.state, 'stopped');
    assert.equal(h.unshippedEvents, 1000, 'nothing is lost: the events wait in the spool');
  });

  it('splits a batch the collector finds too large into halves until each fits', async (t) => {
    const c = await collector(t, { maxBatchEvents: 1500 });
    const spool = await c.openSpool();
    const written = [events(2000), events(4000)];
    for (const w of written) await spool.append(w);
    const sleeps: number[] = [];
    const shipper = c.ship(spool, {
      ...shipperOptions(c.url, c.sensor, c.clock, sleeps),
      maxBatchEvents: 6000,
    });
    await shipper.run({ untilEmpty: true });

    assert.deepEqual(await c.storedKeys(), keysOf(written));
    // 6000 -> 3000 + 3000 -> 1500 x 4; no batch crosses a half's boundary.
    assert.deepEqual(await c.batches(), { count: 4, distinct: 4, sizes: [1500, 1500, 1500, 1500] });
    const h = shipper.health();
    assert.equal(h.splits, 3);
    assert.equal(h.retries, 0, 'a 413 is answered by splitting, not by waiting');
    assert.equal(h.lastError?.code, 'BATCH_TOO_LARGE');
    assert.deepEqual(sleeps, []);
  });

  it('quarantines a single event too large to send', async (t) => {
    const c = await collector(t, { maxBatchBytes: 64 });
    const spool = await c.openSpool();
    await spool.append(events(2));
    const shipper = c.ship(spool, shipperOptions(c.url, c.sensor, c.clock, []));
    await shipper.run({ untilEmpty: true });
    const h = shipper.health();
    assert.deepEqual([h.splits, h.quarantinedBatches, h.spool.quarantinedBatches], [1, 2, 2]);
    assert.equal(h.unshippedEvents, 0);
  });

  it('quarantines a batch the collector refuses as invalid, and ships the rest', async (t) => {
    const c = await collector(t);
    // The sensor's clock runs two days ahead: its events pass the spool's checks but are in the collector's future.
    const sensorClock = new FakeClock(T0 + 2 * 86_400_000);
    const spool = await c.openSpool(sensorClock);
    const future = events(100);
    for (let i = 0; i < future.length; i++) future.time[i] += 2 * 86_400_000;
    const good = [events(150), events(150)];
    await spool.append(future);
    for (const g of good) await spool.append(g);
    const shipper = c.ship(spool, {
      ...shipperOptions(c.url, c.sensor, c.clock, []),
      minBatchEvents: 100,
      maxBatchEvents: 100,
    });
    await shipper.run({ untilEmpty: true });

    assert.deepEqual(await c.storedKeys(), keysOf(good));
    const h = shipper.health();
    assert.equal(h.quarantinedBatches, 1);
    assert.equal(h.spool.quarantinedBatches, 1);
    // 150-event records in batches of at most 100: 100, 50 (to the record's end), 100, 50.
    assert.deepEqual((await c.batches()).sizes, [100, 50, 100, 50]);
    assert.equal(h.batchesSent, 4);
    assert.equal(h.lastError?.code, 'BATCH_INVALID');
    assert.equal(h.unshippedEvents, 0);
    // The batch is kept as sent, with the collector's reasons beside it.
    const rejected = join(spool.dir, 'rejected');
    const [note] = readdirSync(rejected).filter((n) => n.endsWith('.json'));
    const why = JSON.parse(readFileSync(join(rejected, note), 'utf8'));
    assert.equal(why.code, 'BATCH_INVALID');
    assert.equal(why.status, 400);
    assert.equal(why.events, 100);
    const body = readFileSync(join(rejected, note.replace(/\.json$/, '.batch')));
    const batch = decodeBinaryBatch(gunzipSync(body), { maxEvents: 100, clock: sensorClock });
    assert.equal(batch.batchId, why.batch_id);
    assert.deepEqual(keysOf([batch.events]), keysOf([future]));
  });

  it('stops on 401 and keeps the events for when the credentials are fixed', async (t) => {
    const c = await collector(t);
    const spool = await c.openSpool();
    const written = [events(1500)];
    await spool.append(written[0]);
    const wrong = { id: c.sensor.id, secret: randomBytes(16).toString('hex') };
    const shipper = c.ship(spool, shipperOptions(c.url, wrong, c.clock, []));
    await assert.rejects(shipper.run(), { code: 'SHIPPER_UNAUTHORIZED', message: /AUTH_BAD_SIGNATURE/ });
    const h = shipper.health();
    assert.equal(h.state, 'stopped');
    assert.deepEqual(h.lastError && [h.lastError.code, h.lastError.status], ['AUTH_BAD_SIGNATURE', 401]);
    assert.equal(h.unshippedEvents, 1500);

    const fixed = c.ship(spool, shipperOptions(c.url, c.sensor, c.clock, []));
    await fixed.run({ untilEmpty: true });
    assert.deepEqual(await c.storedKeys(), keysOf(written));
  });

  it('talks TLS to a collector whose certificate is signed by the configured CA only', async (t) => {
    const tls = selfSignedCertificate();
    if (tls === null) return t.skip('openssl is not installed');
    const c = await collector(t);
    const f = await front(c, () => undefined, tls);
    const spool = await c.openSpool();
    const written = [events(1000)];
    await spool.append(written[0]);

    // Without the CA the certificate is not trusted: retried, never sent, the reason in health.
    const sleeps: number[] = [];
    const untrusting: Shipper = c.ship(spool, {
      ...shipperOptions(f.url, c.sensor, c.clock, sleeps),
      sleep: fakeSleep(c.clock, sleeps, (n) => {
        if (n === 2) void untrusting.stop();
      }),
    });
    await untrusting.run();
    assert.equal(untrusting.health().lastError?.code, 'DEPTH_ZERO_SELF_SIGNED_CERT');

    const shipper = c.ship(spool, { ...shipperOptions(f.url, c.sensor, c.clock, []), ca: tls.cert });
    await shipper.run({ untilEmpty: true });
    assert.deepEqual(await c.storedKeys(), keysOf(written));
  });
});

/** A key and self-signed certificate for "localhost", made with openssl; null when it is missing. */
function selfSignedCertificate(): { key: string; cert: string } | null {
  const at = mkdtempSync(join(dir, 'tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        join(at, 'key.pem'),
        '-out',
        join(at, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return { key: readFileSync(join(at, 'key.pem'), 'utf8'), cert: readFileSync(join(at, 'cert.pem'), 'utf8') };
}
