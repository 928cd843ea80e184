// End-to-end tests of the collector and read API through injected requests, on a real DuckDB store and a FakeClock.

import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import type { TSchema } from 'typebox';
import {
  healthResponseSchema,
  seriesResponseSchema,
  sourceResponseSchema,
  topResponseSchema,
} from '../src/api/schemas.ts';
import { NDJSON_TYPE } from '../src/collector/routes.ts';
import { batchAckSchema, sensorListSchema, sensorSchema } from '../src/collector/schemas.ts';
import type { ErrorCode } from '../src/core/errors.ts';
import {
  Action,
  protoName,
  type EventBatch,
  type EventColumns,
  type PortentEvent,
} from '../src/core/event.ts';
import { SIGNATURE_HEADERS } from '../src/core/signing.ts';
import { encodeBinaryBatch } from '../src/core/wire/binary.ts';
import { columnsToEvents, encodeNdjsonBatch } from '../src/core/wire/ndjson.ts';
import { BackgroundTraffic } from '../src/sim/background.ts';
import {
  ADMIN_TOKEN,
  BATCHES,
  HOUR,
  LIMITS,
  MINUTE,
  T0,
  assertSchema,
  expectError,
  harness,
  type ErrorBody,
  type Harness,
  type PostOptions,
  type SensorCreds,
} from './support/collector-harness.ts';

const paths = (body: ErrorBody): string[] => body.error.details.map((d) => d.path);

/** Asserts a 200 acknowledgement and returns it. */
function expectAck(res: LightMyRequestResponse, status: 'stored' | 'duplicate', batch: EventBatch) {
  assert.equal(res.statusCode, 200, res.body);
  const ack = res.json() as { status: string; batch_id: string; events: number; ingest_seq: number };
  assertSchema(batchAckSchema, ack);
  assert.equal(ack.status, status);
  assert.equal(ack.batch_id, batch.batchId);
  assert.equal(ack.events, batch.events.length);
  return ack;
}

/** A 200 read-API response, checked against its schema. */
function expectOk(res: LightMyRequestResponse, schema: TSchema) {
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json();
  assertSchema(schema, body);
  return body;
}

// ---------------------------------------------------------------------------------------------------------
// Batches and what the API should say about them

const traffic = new BackgroundTraffic({ seed: 7, sources: 300 });
let sensorNetCount = 0;

/** A batch of realistic events from the given minutes before T0. */
function makeBatch(n: number, fromMinAgo = 30, toMinAgo = 1): EventBatch {
  const net = ((198 << 24) | (51 << 16) | ((++sensorNetCount & 0xff) << 8)) >>> 0;
  const events = traffic.generate(n, net, T0 - fromMinAgo * MINUTE, T0 - toMinAgo * MINUTE);
  return {
    batchId: randomUUID(),
    seq: sensorNetCount,
    created: T0 - toMinAgo * MINUTE,
    software: 'portent-test/1.0',
    events,
  };
}

const binaryGzip = (b: EventBatch): Buffer => gzipSync(encodeBinaryBatch(b));

const iso = (ms: number): string => new Date(ms).toISOString();
const subnetOf = (ip: string): string => (ip.includes(':') ? ip : ip.split('.').slice(0, 3).join('.'));

interface Tally {
  events: number;
  sources: Set<string>;
  targets: Set<string>;
  subnets: Set<string>;
}
const tally = (): Tally => ({ events: 0, sources: new Set(), targets: new Set(), subnets: new Set() });
function count(t: Tally, e: PortentEvent): void {
  t.events += e.count * e.sampling;
  t.sources.add(e.src);
  if (e.dst !== null) t.targets.add(e.dst);
  t.subnets.add(subnetOf(e.src));
}
const metrics = (t: Tally, sensors: number) => ({
  events: t.events,
  sources: t.sources.size,
  targets: t.targets.size,
  sensors: t.events > 0 ? sensors : 0,
  subnets: t.subnets.size,
});

/** The series the API should return for one port, from one sensor's events. */
function expectedSeries(
  events: PortentEvent[],
  proto: number,
  port: number,
  from: number,
  to: number,
  step: number,
) {
  const points = [];
  for (let t = from - (from % step); t < to; t += step) {
    const x = tally();
    for (const e of events)
      if (e.proto === proto && e.dstPort === port && e.time >= t && e.time < t + step) count(x, e);
    points.push({ t: iso(t), ...metrics(x, 1) });
  }
  return points;
}

/** Every port's totals from one sensor's events, ranked like the API: by the metric, then proto, then port. */
function expectedTop(events: PortentEvent[], by: 'events' | 'sources', limit: number) {
  const ports = new Map<number, { proto: number; port: number; t: Tally }>();
  for (const e of events) {
    const k = e.proto * 65536 + e.dstPort;
    let p = ports.get(k);
    if (!p) ports.set(k, (p = { proto: e.proto, port: e.dstPort, t: tally() }));
    count(p.t, e);
  }
  return [...ports.values()]
    .map((p) => ({ proto: p.proto, port: p.port, ...metrics(p.t, 1) }))
    .sort((a, b) => b[by] - a[by] || a.proto - b.proto || a.port - b.port)
    .slice(0, limit)
    .map((p) => ({ ...p, proto: protoName(p.proto) }));
}

function expectedSource(events: PortentEvent[], ip: string) {
  const mine = events.filter((e) => e.src === ip);
  const ports = new Map<number, { proto: number; port: number; events: number }>();
  const targets = new Set<string>();
  for (const e of mine) {
    const k = e.proto * 65536 + e.dstPort;
    const p = ports.get(k) ?? { proto: e.proto, port: e.dstPort, events: 0 };
    p.events += e.count * e.sampling;
    ports.set(k, p);
    if (e.dst !== null) targets.add(e.dst);
  }
  return {
    ip,
    first_seen: iso(Math.min(...mine.map((e) => e.time))),
    last_seen: iso(Math.max(...mine.map((e) => e.time))),
    events: mine.reduce((s, e) => s + e.count * e.sampling, 0),
    ports: ports.size,
    targets: targets.size,
    sensors: 1,
    top_ports: [...ports.values()]
      .sort((a, b) => b.events - a.events || a.proto - b.proto || a.port - b.port)
      .slice(0, 20)
      .map((p) => ({ ...p, proto: protoName(p.proto) })),
  };
}

/** The most frequent value of a key over the events. */
function mostCommon<T>(events: PortentEvent[], key: (e: PortentEvent) => T): T {
  const counts = new Map<T, number>();
  for (const e of events) counts.set(key(e), (counts.get(key(e)) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0][0];
}

/** An NDJSON body of the batch with some event fields replaced: { 3: { src_port: 70000 } }. */
function ndjsonWith(batch: EventBatch, edits: Record<number, Record<string, unknown>>): string {
  const lines = encodeNdjsonBatch(batch).split('\n');
  for (const [i, fields] of Object.entries(edits))
    lines[Number(i) + 1] = JSON.stringify({ ...JSON.parse(lines[Number(i) + 1]), ...fields });
  return lines.join('\n');
}

/** A copy of the columns, so a batch can be altered without touching another. */
function cloneColumns(c: EventColumns): EventColumns {
  return structuredClone(c);
}

// ---------------------------------------------------------------------------------------------------------
// The main harness: most tests share one app and store, in order.

let h: Harness;
let sensor: SensorCreds;
before(async () => {
  h = await harness();
  sensor = await h.enrol('edge-1');
});
after(async () => {
  await h.close();
});

describe('batch ingest', () => {
  const batch = makeBatch(2_000);
  const body = binaryGzip(batch);
  const rows = columnsToEvents(batch.events);
  const port = mostCommon(
    rows.filter((e) => e.proto === 6),
    (e) => e.dstPort,
  );
  const seriesUrl = `/api/v1/ports/tcp/${port}/series?from=${T0 - HOUR}&to=${T0}&step=10m`;
  let first: { ingest_seq: number };
  let seriesBefore: unknown;

  it('stores a signed gzip binary batch', async () => {
    const res = await h.post(sensor, body, { encoding: 'gzip' });
    first = expectAck(res, 'stored', batch);
    assert.deepEqual(await h.stats(), { events: 2_000, batches: 1 });
  });

  it('shows the batch in the port series with exact counts', async () => {
    const series = expectOk(await h.get(seriesUrl), seriesResponseSchema);
    assert.deepEqual(series, {
      proto: 'tcp',
      port,
      from: iso(T0 - HOUR),
      to: iso(T0),
      step_s: 600,
      points: expectedSeries(rows, 6, port, T0 - HOUR, T0, 10 * MINUTE),
    });
    assert.ok(series.points.some((p: { events: number }) => p.events > 0));
    seriesBefore = series;
    // The default step and range (1 h over the 24 h before now) see the same events.
    const hourly = expectOk(await h.get(`/api/v1/ports/tcp/${port}/series`), seriesResponseSchema);
    assert.equal(hourly.points.length, 24);
    assert.equal(hourly.step_s, 3600);
    assert.deepEqual(hourly.points.at(-1), { ...expectedSeries(rows, 6, port, T0 - HOUR, T0, HOUR)[0] });
  });

  it('shows the batch in the top ports, by events and by sources', async () => {
    const byEvents = expectOk(await h.get('/api/v1/ports/top?by=events&limit=5'), topResponseSchema);
    assert.deepEqual(byEvents, {
      from: iso(T0 - 24 * HOUR),
      to: iso(T0),
      by: 'events',
      ports: expectedTop(rows, 'events', 5),
    });
    const bySources = expectOk(await h.get('/api/v1/ports/top'), topResponseSchema);
    assert.equal(bySources.by, 'sources');
    assert.deepEqual(bySources.ports, expectedTop(rows, 'sources', 10));
  });

  it('shows the busiest source with its summary', async () => {
    const ip = mostCommon(rows, (e) => e.src);
    const source = expectOk(await h.get(`/api/v1/sources/${ip}`), sourceResponseSchema);
    assert.deepEqual(source, expectedSource(rows, ip));
  });

  it('acknowledges a re-sent batch as a duplicate and never stores it twice', async () => {
    const res = await h.post(sensor, body, { encoding: 'gzip' });
    const ack = expectAck(res, 'duplicate', batch);
    assert.equal(ack.ingest_seq, first.ingest_seq);
    assert.deepEqual(await h.stats(), { events: 2_000, batches: 1 });
    assert.deepEqual(expectOk(await h.get(seriesUrl), seriesResponseSchema), seriesBefore);
  });

  it('stores two concurrent copies of a batch once', async () => {
    const twin = makeBatch(500);
    const twinBody = binaryGzip(twin);
    const before = await h.stats();
    const [a, b] = await Promise.all([
      h.post(sensor, twinBody, { encoding: 'gzip' }),
      h.post(sensor, twinBody, { encoding: 'gzip' }),
    ]);
    const acks = [a, b].map((r) => {
      assert.equal(r.statusCode, 200, r.body);
      return r.json() as { status: string; ingest_seq: number };
    });
    assert.deepEqual(acks.map((x) => x.status).sort(), ['duplicate', 'stored']);
    assert.equal(acks[0].ingest_seq, acks[1].ingest_seq);
    assert.deepEqual(await h.stats(), { events: before.events + 500, batches: before.batches + 1 });
  });

  it('accepts NDJSON batches, plain and gzip', async () => {
    const plain = makeBatch(300);
    const before = await h.stats();
    expectAck(await h.post(sensor, encodeNdjsonBatch(plain), { type: NDJSON_TYPE }), 'stored', plain);
    const zipped = makeBatch(300);
    expectAck(
      await h.post(sensor, gzipSync(encodeNdjsonBatch(zipped)), { type: NDJSON_TYPE, encoding: 'gzip' }),
      'stored',
      zipped,
    );
    // Content-Type parameters and an upper-case encoding name are fine.
    const param = makeBatch(10);
    expectAck(
      await h.post(sensor, encodeNdjsonBatch(param), { type: `${NDJSON_TYPE}; charset=utf-8` }),
      'stored',
      param,
    );
    const upper = makeBatch(10);
    expectAck(
      await h.post(sensor, gzipSync(encodeNdjsonBatch(upper)), { type: NDJSON_TYPE, encoding: 'GZIP' }),
      'stored',
      upper,
    );
    assert.deepEqual(await h.stats(), { events: before.events + 620, batches: before.batches + 4 });
    // Re-sent as NDJSON, the binary batch from above is a duplicate too: the batch id is the key.
    const again = await h.post(sensor, gzipSync(encodeNdjsonBatch(batch)), {
      type: NDJSON_TYPE,
      encoding: 'gzip',
    });
    assert.equal(expectAck(again, 'duplicate', batch).ingest_seq, first.ingest_seq);
  });
});

describe('authentication', () => {
  const body = () => binaryGzip(makeBatch(5));
  const post = (opts: PostOptions, who: SensorCreds = sensor, b: Uint8Array = body()) =>
    h.post(who, b, { encoding: 'gzip', ...opts });

  it('refuses a request without signature headers (AUTH_MISSING)', async () => {
    const none = Object.fromEntries(Object.values(SIGNATURE_HEADERS).map((k) => [k, undefined]));
    const err = expectError(await post({ headers: none }), 401, 'AUTH_MISSING');
    assert.deepEqual(err.error.details, []);
    for (const name of Object.values(SIGNATURE_HEADERS)) {
      const one = expectError(await post({ headers: { [name]: undefined } }), 401, 'AUTH_MISSING');
      assert.match(one.error.message, new RegExp(name));
    }
  });

  it('refuses an unknown sensor (AUTH_UNKNOWN_SENSOR)', async () => {
    expectError(
      await post({}, { id: 'snr_doesnotexist00', secret: sensor.secret }),
      401,
      'AUTH_UNKNOWN_SENSOR',
    );
  });

  it('refuses a wrong secret and tampered body, path or timestamp (AUTH_BAD_SIGNATURE)', async () => {
    expectError(
      await post({}, { id: sensor.id, secret: randomBytes(32).toString('base64url') }),
      401,
      'AUTH_BAD_SIGNATURE',
    );
    expectError(await post({ signedBody: body() }), 401, 'AUTH_BAD_SIGNATURE');
    expectError(await post({ signedPath: '/api/v1/batches?sensor=other' }), 401, 'AUTH_BAD_SIGNATURE');
    expectError(await post({ url: '/api/v1/batches?x=1', signedPath: BATCHES }), 401, 'AUTH_BAD_SIGNATURE');
    const ts = String(Math.floor(h.clock.now() / 1000) - 1);
    expectError(await post({ headers: { [SIGNATURE_HEADERS.timestamp]: ts } }), 401, 'AUTH_BAD_SIGNATURE');
    // A timestamp or nonce that is not even well-formed.
    expectError(
      await post({ headers: { [SIGNATURE_HEADERS.timestamp]: 'yesterday' } }),
      401,
      'AUTH_BAD_SIGNATURE',
    );
    expectError(await post({ headers: { [SIGNATURE_HEADERS.nonce]: 'short' } }), 401, 'AUTH_BAD_SIGNATURE');
  });

  it('refuses timestamps 6 minutes off either way (AUTH_CLOCK_SKEW) and accepts 4 minutes', async () => {
    const before = await h.stats();
    for (const offset of [6 * MINUTE, -6 * MINUTE]) {
      const err = expectError(await post({ at: h.clock.now() + offset }), 401, 'AUTH_CLOCK_SKEW');
      assert.match(err.error.message, /360 s/);
    }
    assert.deepEqual(await h.stats(), before);
    for (const offset of [4 * MINUTE, -4 * MINUTE]) {
      const b = makeBatch(5);
      expectAck(await post({ at: h.clock.now() + offset }, sensor, binaryGzip(b)), 'stored', b);
    }
  });

  it('refuses a nonce used twice (AUTH_REPLAY), even with a new signature', async () => {
    const b = makeBatch(5);
    const nonce = randomBytes(18).toString('base64url');
    expectAck(await post({ nonce }, sensor, binaryGzip(b)), 'stored', b);
    expectError(await post({ nonce }, sensor, binaryGzip(b)), 401, 'AUTH_REPLAY');
    expectError(await post({ nonce }), 401, 'AUTH_REPLAY');
    // The same nonce from another sensor is that sensor's own business.
    const other = await h.enrol('edge-nonce');
    const ob = makeBatch(5);
    expectAck(await post({ nonce }, other, binaryGzip(ob)), 'stored', ob);
  });

  it('refuses a revoked sensor (AUTH_UNKNOWN_SENSOR)', async () => {
    const doomed = await h.enrol('edge-doomed');
    const b = makeBatch(5);
    expectAck(await post({}, doomed, binaryGzip(b)), 'stored', b);
    const res = await h.app.inject({
      method: 'DELETE',
      url: `/api/v1/sensors/${doomed.id}`,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(res.statusCode, 200, res.body);
    const revoked = res.json();
    assertSchema(sensorSchema, revoked);
    assert.equal(revoked.revoked, iso(h.clock.now()));
    expectError(await post({}, doomed), 401, 'AUTH_UNKNOWN_SENSOR');
  });
});

describe('batch validation', () => {
  async function expectRejected(
    res: LightMyRequestResponse,
    status: number,
    code: ErrorCode,
    before: { events: number; batches: number },
  ) {
    const err = expectError(res, status, code);
    assert.deepEqual(await h.stats(), before, 'nothing from a refused batch may be stored');
    return err;
  }

  it('rejects invalid NDJSON events whole (BATCH_INVALID)', async () => {
    const cases: [Record<number, Record<string, unknown>>, string[]][] = [
      [{ 3: { src_port: 70000 } }, ['/events/3/src_port']],
      [{ 0: { dst_port: -1 } }, ['/events/0/dst_port']],
      [{ 5: { action: 'dropped' } }, ['/events/5/action']],
      [{ 2: { src: '192.0.2.300' } }, ['/events/2/src']],
      [{ 7: { dst: 'not-an-address' } }, ['/events/7/dst']],
      [{ 1: { time: '2100-01-01T00:00:00Z' } }, ['/events/1/time']],
      [
        { 4: { time: T0 - 3 * 86_400_000, src_port: 'x', proto: 'ftp' } },
        ['/events/4/src_port', '/events/4/proto'],
      ],
      [{ 6: { src_prot: 1 } }, ['/events/6/src_prot']],
    ];
    for (const [edits, want] of cases) {
      const before = await h.stats();
      const b = makeBatch(10);
      const err = await expectRejected(
        await h.post(sensor, ndjsonWith(b, edits), { type: NDJSON_TYPE }),
        400,
        'BATCH_INVALID',
        before,
      );
      assert.deepEqual(paths(err), want, JSON.stringify(edits));
      // The first nine events are valid: still nothing from the batch is stored, and the id is not burnt.
      expectAck(await h.post(sensor, encodeNdjsonBatch(b), { type: NDJSON_TYPE }), 'stored', b);
    }
  });

  it('rejects invalid binary events whole (BATCH_INVALID)', async () => {
    const b = makeBatch(10);
    const bad = { ...b, events: cloneColumns(b.events) };
    bad.events.action[3] = 9;
    bad.events.time[6] = Date.UTC(2100, 0, 1);
    const before = await h.stats();
    const err = await expectRejected(
      await h.post(sensor, binaryGzip(bad), { encoding: 'gzip' }),
      400,
      'BATCH_INVALID',
      before,
    );
    assert.deepEqual(paths(err), ['/events/3/action', '/events/6/time']);
    assert.equal(Action.honeypot, 3);
    expectAck(await h.post(sensor, binaryGzip(b), { encoding: 'gzip' }), 'stored', b);
  });

  it('rejects an event more than 24 h ahead of the collector clock (the FakeClock, not the system clock)', async () => {
    const own = await harness();
    try {
      const who = await own.enrol('edge-future');
      const b = makeBatch(10);
      const future = { ...b, events: cloneColumns(b.events) };
      future.events.time[3] = T0 + 2 * 86_400_000;
      const err = expectError(
        await own.post(who, binaryGzip(future), { encoding: 'gzip' }),
        400,
        'BATCH_INVALID',
      );
      assert.deepEqual(paths(err), ['/events/3/time']);
      const nd = expectError(
        await own.post(who, ndjsonWith(b, { 3: { time: T0 + 2 * 86_400_000 } }), { type: NDJSON_TYPE }),
        400,
        'BATCH_INVALID',
      );
      assert.deepEqual(paths(nd), ['/events/3/time']);
      assert.deepEqual(await own.stats(), { events: 0, batches: 0 });
    } finally {
      await own.close();
    }
  });

  it('rejects bodies that are not batches (BATCH_MALFORMED)', async () => {
    const before = await h.stats();
    const good = encodeBinaryBatch(makeBatch(50));
    const cases: [string, Uint8Array | string, PostOptions][] = [
      ['garbage NDJSON', 'this is not a batch\n', { type: NDJSON_TYPE }],
      ['garbage binary', randomBytes(500), {}],
      ['empty binary', new Uint8Array(0), {}],
      ['bad gzip', randomBytes(300), { encoding: 'gzip' }],
      ['truncated gzip', gzipSync(good).subarray(0, 40), { encoding: 'gzip' }],
      ['truncated binary', good.subarray(0, good.length - 7), {}],
      ['truncated binary header', good.subarray(0, 30), {}],
      ['not UTF-8', Buffer.from([0xff, 0xfe, 0x0a]), { type: NDJSON_TYPE }],
    ];
    for (const [what, body, opts] of cases) {
      const err = await expectRejected(await h.post(sensor, body, opts), 400, 'BATCH_MALFORMED', before);
      assert.deepEqual(err.error.details, [], what);
    }
  });

  it('refuses oversized batches (BATCH_TOO_LARGE)', async () => {
    const before = await h.stats();
    // Over max_batch_bytes on the wire.
    await expectRejected(
      await h.post(sensor, randomBytes(LIMITS.maxBatchBytes + 1)),
      413,
      'BATCH_TOO_LARGE',
      before,
    );
    // A gzip bomb: 8 KiB that inflates to 8 MiB, past max_decompressed_bytes.
    const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024), { level: 9 });
    assert.ok(bomb.length < 64 * 1024);
    const err = await expectRejected(
      await h.post(sensor, bomb, { encoding: 'gzip' }),
      413,
      'BATCH_TOO_LARGE',
      before,
    );
    assert.match(err.error.message, /decompresses/);
    // More events than max_batch_events, in either format.
    const big = makeBatch(LIMITS.maxBatchEvents + 1);
    await expectRejected(
      await h.post(sensor, binaryGzip(big), { encoding: 'gzip' }),
      413,
      'BATCH_TOO_LARGE',
      before,
    );
    await expectRejected(
      await h.post(sensor, gzipSync(encodeNdjsonBatch(big)), { type: NDJSON_TYPE, encoding: 'gzip' }),
      413,
      'BATCH_TOO_LARGE',
      before,
    );
    // Exactly at the limit is fine.
    const most = makeBatch(LIMITS.maxBatchEvents);
    const own = await h.enrol('edge-most');
    expectAck(await h.post(own, binaryGzip(most), { encoding: 'gzip' }), 'stored', most);
  });

  it('refuses other content types and encodings (UNSUPPORTED_MEDIA_TYPE)', async () => {
    const before = await h.stats();
    const b = makeBatch(5);
    const bin = encodeBinaryBatch(b);
    for (const type of ['application/octet-stream', 'text/plain', 'multipart/form-data; boundary=x']) {
      await expectRejected(await h.post(sensor, bin, { type }), 415, 'UNSUPPORTED_MEDIA_TYPE', before);
    }
    await expectRejected(
      await h.post(sensor, '{"batch_id":"x"}', { type: 'application/json' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      before,
    );
    for (const encoding of ['br', 'deflate', 'gzip, br']) {
      await expectRejected(await h.post(sensor, bin, { encoding }), 415, 'UNSUPPORTED_MEDIA_TYPE', before);
    }
  });

  it('refuses a binary batch sent as application/json with 415, not 400 QUERY_INVALID', async () => {
    const before = await h.stats();
    await expectRejected(
      await h.post(sensor, encodeBinaryBatch(makeBatch(5)), { type: 'application/json' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      before,
    );
  });
});

describe('rate limit', () => {
  it('answers 429 with Retry-After over the rate, accepts after waiting, and leaves other sensors alone', async () => {
    const fast = await h.enrol('edge-fast');
    const calm = await h.enrol('edge-calm');
    // The burst is 20,000 events: four full batches pass at once.
    for (let i = 0; i < 4; i++) {
      const b = makeBatch(LIMITS.maxBatchEvents);
      expectAck(await h.post(fast, binaryGzip(b), { encoding: 'gzip' }), 'stored', b);
    }
    const fifth = makeBatch(LIMITS.maxBatchEvents);
    const before = await h.stats();
    const res = await h.post(fast, binaryGzip(fifth), { encoding: 'gzip' });
    expectError(res, 429, 'RATE_LIMITED');
    assert.deepEqual(await h.stats(), before);
    const retry = String(res.headers['retry-after']);
    assert.match(retry, /^\d+$/);
    const seconds = Number(retry);
    assert.ok(seconds >= 1, retry);
    // Another sensor has its own bucket.
    const c = makeBatch(LIMITS.maxBatchEvents);
    expectAck(await h.post(calm, binaryGzip(c), { encoding: 'gzip' }), 'stored', c);
    // Not a moment too soon ...
    h.clock.advance(seconds * 1000 - 600);
    expectError(await h.post(fast, binaryGzip(fifth), { encoding: 'gzip' }), 429, 'RATE_LIMITED');
    // ... but after Retry-After seconds the same batch goes through.
    h.clock.advance(600);
    expectAck(await h.post(fast, binaryGzip(fifth), { encoding: 'gzip' }), 'stored', fifth);
  });
});

describe('admin routes', () => {
  const admin = (
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    authorization?: string,
    payload?: object,
    on: Harness = h,
  ) => on.app.inject({ method, url, headers: authorization === undefined ? {} : { authorization }, payload });

  it('refuses a missing or wrong token (ADMIN_UNAUTHORIZED)', async () => {
    for (const auth of [
      undefined,
      '',
      'Bearer wrong',
      `Bearer ${ADMIN_TOKEN}x`,
      ADMIN_TOKEN,
      `Basic ${ADMIN_TOKEN}`,
    ]) {
      expectError(
        await admin('POST', '/api/v1/sensors', auth, { name: 'intruder' }),
        401,
        'ADMIN_UNAUTHORIZED',
      );
      expectError(await admin('GET', '/api/v1/sensors', auth), 401, 'ADMIN_UNAUTHORIZED');
      expectError(await admin('DELETE', `/api/v1/sensors/${sensor.id}`, auth), 401, 'ADMIN_UNAUTHORIZED');
    }
    const list = await admin('GET', '/api/v1/sensors', `Bearer ${ADMIN_TOKEN}`);
    assert.equal(list.statusCode, 200);
    assert.ok(!list.json().sensors.some((s: { name: string }) => s.name === 'intruder'));
    assert.equal(list.json().sensors.find((s: { id: string }) => s.id === sensor.id).revoked, null);
  });

  it('says the admin routes are disabled when no admin token is configured', async () => {
    const off = await harness({ adminToken: '' });
    try {
      for (const auth of [undefined, 'Bearer ', `Bearer ${ADMIN_TOKEN}`]) {
        const err = expectError(
          await admin('POST', '/api/v1/sensors', auth, { name: 'x' }, off),
          401,
          'ADMIN_UNAUTHORIZED',
        );
        assert.match(err.error.message, /disabled/);
        expectError(await admin('GET', '/api/v1/sensors', auth, undefined, off), 401, 'ADMIN_UNAUTHORIZED');
      }
    } finally {
      await off.close();
    }
  });

  it('refuses a name already enrolled (SENSOR_EXISTS), lists revoked sensors, and frees the name on revocation', async () => {
    const auth = `Bearer ${ADMIN_TOKEN}`;
    const first = await h.enrol('edge-twice');
    expectError(await admin('POST', '/api/v1/sensors', auth, { name: 'edge-twice' }), 409, 'SENSOR_EXISTS');
    const gone = await admin('DELETE', `/api/v1/sensors/${first.id}`, auth);
    assert.equal(gone.statusCode, 200, gone.body);
    const res = await admin('GET', '/api/v1/sensors', auth);
    assert.equal(res.statusCode, 200);
    const list = res.json() as { sensors: { id: string; name: string; revoked: string | null }[] };
    assertSchema(sensorListSchema, list);
    assert.equal(list.sensors.find((s) => s.id === first.id)?.revoked, iso(h.clock.now()));
    assert.equal(list.sensors.find((s) => s.id === sensor.id)?.revoked, null);
    assert.ok(list.sensors.every((s) => !('secret' in s)));
    // The name can be enrolled again once the old sensor is revoked: a new id and secret.
    const second = await h.enrol('edge-twice');
    assert.notEqual(second.id, first.id);
    expectError(await admin('DELETE', '/api/v1/sensors/snr_nosuchsensor', auth), 404, 'SENSOR_NOT_FOUND');
  });

  it('validates the enrolment body (BODY_INVALID)', async () => {
    const auth = `Bearer ${ADMIN_TOKEN}`;
    const err = expectError(await admin('POST', '/api/v1/sensors', auth, { name: '' }), 400, 'BODY_INVALID');
    assert.deepEqual(paths(err), ['body/name']);
    expectError(await admin('POST', '/api/v1/sensors', auth, { name: 'x'.repeat(65) }), 400, 'BODY_INVALID');
    expectError(await admin('POST', '/api/v1/sensors', auth, {}), 400, 'BODY_INVALID');
  });

  it('refuses an unknown field in the enrolment body (BODY_INVALID)', async () => {
    const auth = `Bearer ${ADMIN_TOKEN}`;
    const err = expectError(
      await admin('POST', '/api/v1/sensors', auth, { name: 'edge-extra', extra: 1 }),
      400,
      'BODY_INVALID',
    );
    assert.deepEqual(paths(err), ['body/extra']);
  });
});

describe('read API validation', () => {
  const cases: [string, string[]][] = [
    ['/api/v1/ports/ftp/21/series', ['params/proto']],
    ['/api/v1/ports/tcp/70000/series', ['params/port']],
    ['/api/v1/ports/tcp/-1/series', ['params/port']],
    ['/api/v1/ports/tcp/22/series?step=90s', ['/step']],
    ['/api/v1/ports/tcp/22/series?step=1x', ['/step']],
    [`/api/v1/ports/tcp/22/series?from=${T0}&to=${T0 - HOUR}`, ['/from']],
    ['/api/v1/ports/tcp/22/series?from=yesterday', ['/from']],
    ['/api/v1/ports/tcp/22/series?to=2026-01-01T00:00:00', ['/to']],
    [`/api/v1/ports/tcp/22/series?from=0&to=${T0}&step=1m`, ['/step']],
    ['/api/v1/ports/top?window=abc', ['/window']],
    ['/api/v1/ports/top?by=foo', ['querystring/by']],
    ['/api/v1/ports/top?limit=0', ['querystring/limit']],
    ['/api/v1/ports/top?limit=many', ['querystring/limit']],
  ];
  for (const [url, want] of cases) {
    it(`400 QUERY_INVALID for ${url}`, async () => {
      const err = expectError(await h.get(url), 400, 'QUERY_INVALID');
      assert.ok(err.error.details.length > 0);
      // Fastify reports a union once per branch; each path names the same parameter.
      assert.deepEqual([...new Set(paths(err))], want);
    });
  }

  for (const url of ['/api/v1/ports/top?colour=blue', '/api/v1/ports/tcp/22/series?stpe=1h']) {
    it(`400 QUERY_INVALID for an unknown query parameter: ${url}`, async () => {
      const err = expectError(await h.get(url), 400, 'QUERY_INVALID');
      assert.equal(err.error.details.length, 1);
      assert.match(err.error.details[0].path, /colour|stpe/);
    });
  }

  it('404 NOT_FOUND for a source never seen, or not an address', async () => {
    expectError(await h.get('/api/v1/sources/203.0.113.77'), 404, 'NOT_FOUND');
    expectError(await h.get('/api/v1/sources/2001:db8::77'), 404, 'NOT_FOUND');
    expectError(await h.get('/api/v1/sources/not-an-ip'), 404, 'NOT_FOUND');
  });

  it('404 NOT_FOUND as JSON for an unknown route or method', async () => {
    const err = expectError(await h.get('/api/v1/nothing/here?x=1'), 404, 'NOT_FOUND');
    assert.match(err.error.message, /GET \/api\/v1\/nothing\/here\./);
    expectError(await h.app.inject({ method: 'PUT', url: BATCHES }), 404, 'NOT_FOUND');
    expectError(await h.get(BATCHES), 404, 'NOT_FOUND');
  });

  it('200 responses of the read API match their schemas, including empty results', async () => {
    expectOk(
      await h.get('/api/v1/ports/udp/9/series?step=1d&from=2025-12-01T00:00:00Z'),
      seriesResponseSchema,
    );
    expectOk(await h.get('/api/v1/ports/sctp/0/series?step=15m'), seriesResponseSchema);
    const empty = expectOk(
      await h.get('/api/v1/ports/top?window=1m&by=subnets&limit=1000'),
      topResponseSchema,
    );
    assert.deepEqual(empty.ports, []);
    expectOk(await h.get('/api/v1/ports/top?window=7d&by=targets&limit=3'), topResponseSchema);
    expectOk(await h.get('/api/v1/health'), healthResponseSchema);
  });
});

describe('metrics and health', () => {
  it('counts stored events and rejects in /metrics, and store totals in /api/v1/health', async () => {
    const own = await harness();
    try {
      const who = await own.enrol('edge-metrics');
      const b = makeBatch(1_234);
      expectAck(await own.post(who, binaryGzip(b), { encoding: 'gzip' }), 'stored', b);
      // A duplicate is not counted again.
      expectAck(await own.post(who, binaryGzip(b), { encoding: 'gzip' }), 'duplicate', b);
      expectError(
        await own.post(who, binaryGzip(b), { encoding: 'gzip', signedBody: Buffer.from('other') }),
        401,
        'AUTH_BAD_SIGNATURE',
      );
      expectError(await own.get('/api/v1/sources/203.0.113.1'), 404, 'NOT_FOUND');

      const res = await own.get('/metrics');
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^text\/plain/);
      const text = res.body;
      assert.match(text, /^# TYPE portent_events_ingested_total counter$/m);
      assert.match(text, /^portent_events_ingested_total 1234$/m);
      assert.match(text, /^portent_rejects_total\{code="AUTH_BAD_SIGNATURE"\} 1$/m);
      assert.match(text, /^portent_rejects_total\{code="NOT_FOUND"\} 1$/m);
      assert.match(text, /^portent_batches_ingested_total\{outcome="stored"\} 1$/m);
      assert.match(text, /^portent_batches_ingested_total\{outcome="duplicate"\} 1$/m);

      const health = expectOk(await own.get('/api/v1/health'), healthResponseSchema);
      assert.equal(health.status, 'ok');
      assert.equal(health.version, '0.0.0-test');
      assert.deepEqual(health.store, { events: 1_234, batches: 1 });
      assert.equal(health.pending_batches, 0);
      assert.deepEqual(health.problems, []);
    } finally {
      await own.close();
    }
  });

  it('says "degraded" while background work fails, and counts the failures', async () => {
    const own = await harness();
    try {
      own.metrics.background('Compacting rollups', new Error('disk full'));
      const degraded = expectOk(await own.get('/api/v1/health'), healthResponseSchema);
      assert.equal(degraded.status, 'degraded');
      assert.deepEqual(degraded.problems, [{ task: 'Compacting rollups', message: 'disk full' }]);
      assert.match(
        (await own.get('/metrics')).body,
        /^portent_background_failures_total\{task="Compacting rollups"\} 1$/m,
      );
      own.metrics.background('Compacting rollups');
      const healed = expectOk(await own.get('/api/v1/health'), healthResponseSchema);
      assert.equal(healed.status, 'ok');
      assert.deepEqual(healed.problems, []);
    } finally {
      await own.close();
    }
  });
});
