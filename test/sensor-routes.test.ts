// Heartbeats, sensor status, payload samples and re-tasking through injected requests on a real store.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Static } from 'typebox';
import type { healthSchema } from '../src/collector/schemas.ts';
import { heartbeatAckSchema, sampleSchema, sensorListSchema } from '../src/collector/schemas.ts';
import {
  ADMIN_TOKEN,
  MINUTE,
  assertSchema,
  expectError,
  harness,
  type Harness,
  type SensorCreds,
} from './support/collector-harness.ts';

const JSON_TYPE = 'application/json';

function health(at: number, over: Partial<Static<typeof healthSchema>> = {}): Static<typeof healthSchema> {
  return {
    time: at,
    software: 'portent-sensor/0.1.0',
    started: at - 60_000,
    retaskable: false,
    lag_ms: 1200,
    spool: { bytes: 4096, segments: 1, sampling: 1, sampled_away: 0, quarantined: 0 },
    shipper: { batches_sent: 3, events_sent: 3000, retries: 0, last_success: at - 5000, last_error: null },
    sources: [
      {
        name: '/var/log/ufw.log',
        format: 'netfilter',
        events: 3000,
        skipped: 2,
        errors: 0,
        last_error: null,
      },
    ],
    honeypot: null,
    privacy: { masked: 10, dropped: 0 },
    ...over,
  };
}

describe('sensor heartbeats and status', () => {
  let h: Harness;
  let sensor: SensorCreds;
  before(async () => {
    h = await harness({ sensorStaleAfterMs: 10 * MINUTE });
    sensor = await h.enrol('hb-sensor');
    await h.enrol('never-sensor');
  });
  after(() => h.close());

  const list = async () => {
    const res = await h.app.inject({
      method: 'GET',
      url: '/api/v1/sensors',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(res.statusCode, 200, res.body);
    assertSchema(sensorListSchema, res.json());
    return res.json().sensors as {
      name: string;
      status: string;
      health: unknown;
      clock_offset_ms: number | null;
    }[];
  };

  it('records health and the clock offset, and lists the sensor as active, then stale', async () => {
    const body = health(h.clock.now() + 1500);
    const res = await h.post(sensor, JSON.stringify(body), { url: '/api/v1/heartbeat', type: JSON_TYPE });
    assert.equal(res.statusCode, 200, res.body);
    assertSchema(heartbeatAckSchema, res.json());
    assert.equal(res.json().clock_offset_ms, 1500);
    assert.deepEqual(res.json().retask, []);

    let sensors = await list();
    const hb = sensors.find((s) => s.name === 'hb-sensor')!;
    assert.equal(hb.status, 'active');
    assert.equal(hb.clock_offset_ms, 1500);
    assert.deepEqual(JSON.parse(JSON.stringify(hb.health)), body);
    assert.equal(sensors.find((s) => s.name === 'never-sensor')!.status, 'never-seen');

    h.clock.advance(11 * MINUTE);
    sensors = await list();
    assert.equal(sensors.find((s) => s.name === 'hb-sensor')!.status, 'stale');
  });

  it('refuses unsigned, badly signed and malformed heartbeats with catalog errors', async () => {
    const unsigned = await h.app.inject({
      method: 'POST',
      url: '/api/v1/heartbeat',
      headers: { 'content-type': JSON_TYPE },
      payload: '{}',
    });
    expectError(unsigned, 401, 'AUTH_MISSING');
    const wrongKey = await h.post(
      { id: sensor.id, secret: 'x'.repeat(43) },
      JSON.stringify(health(h.clock.now())),
      {
        url: '/api/v1/heartbeat',
        type: JSON_TYPE,
      },
    );
    expectError(wrongKey, 401, 'AUTH_BAD_SIGNATURE');
    const notJson = await h.post(sensor, '{"time":', { url: '/api/v1/heartbeat', type: JSON_TYPE });
    expectError(notJson, 400, 'BODY_INVALID');
    const bad = health(h.clock.now(), { software: 'evil\u001b[31m' });
    const withExtra = { ...health(h.clock.now()), extra: 1 };
    for (const body of [bad, withExtra, { ...health(h.clock.now()), spool: { bytes: -1 } }]) {
      const res = await h.post(sensor, JSON.stringify(body), { url: '/api/v1/heartbeat', type: JSON_TYPE });
      const err = expectError(res, 400, 'BODY_INVALID');
      assert.ok(err.error.details.length > 0 && err.error.details[0].path.startsWith('body'), res.body);
    }
  });

  it('hands re-tasking requests to sensors that opt in, until they expire', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/api/v1/sensors/hb-sensor/retask',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      payload: {
        ports: [
          { proto: 'tcp', port: 5168 },
          { proto: 'udp', port: 1434 },
        ],
        duration_s: 3600,
        reason: 'surge on 5168',
      },
    });
    assert.equal(res.statusCode, 200, res.body);
    const beat = async (retaskable: boolean) =>
      (
        await h.post(sensor, JSON.stringify(health(h.clock.now(), { retaskable })), {
          url: '/api/v1/heartbeat',
          type: JSON_TYPE,
        })
      ).json();
    assert.deepEqual((await beat(false)).retask, []);
    const got = (await beat(true)).retask as { proto: string; port: number; reason: string }[];
    assert.deepEqual(
      got.map((r) => `${r.proto}/${r.port}`),
      ['tcp/5168', 'udp/1434'],
    );
    assert.equal(got[0].reason, 'surge on 5168');
    h.clock.advance(61 * MINUTE);
    assert.deepEqual((await beat(true)).retask, []);

    const unknown = await h.app.inject({
      method: 'POST',
      url: '/api/v1/sensors/nobody/retask',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      payload: { ports: [{ proto: 'tcp', port: 1 }], duration_s: 60, reason: 'x' },
    });
    expectError(unknown, 404, 'SENSOR_NOT_FOUND');
    const noAdmin = await h.app.inject({
      method: 'POST',
      url: '/api/v1/sensors/hb-sensor/retask',
      payload: {},
    });
    expectError(noAdmin, 401, 'ADMIN_UNAUTHORIZED');
  });
});

describe('payload samples', () => {
  let h: Harness;
  let sensor: SensorCreds;
  before(async () => {
    h = await harness();
    sensor = await h.enrol('honeypot-1');
  });
  after(() => h.close());

  // Attacker-controlled: markup, NUL, invalid UTF-8, a backslash.
  const payload = Buffer.concat([
    Buffer.from('<script>alert(1)</script>\\'),
    Buffer.from([0, 0xff, 0xfe, 0x0a]),
  ]);
  const sha = createHash('sha256').update(payload).digest('hex');
  const upload = (bytes: Buffer, digest = sha) =>
    h.post(
      sensor,
      JSON.stringify({
        samples: [
          {
            sha256: digest,
            bytes: bytes.toString('base64'),
            truncated: false,
            time: h.clock.now(),
            proto: 'tcp',
            port: 5168,
          },
        ],
      }),
      { url: '/api/v1/samples', type: JSON_TYPE },
    );

  it('stores a sample byte for byte, counts sightings, and serves it as escaped text in JSON', async () => {
    assert.equal((await upload(payload)).statusCode, 200);
    h.clock.advance(MINUTE);
    assert.equal((await upload(payload)).statusCode, 200);
    const res = await h.get(`/api/v1/samples/${sha}`);
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const body = res.json();
    assertSchema(sampleSchema, body);
    assert.deepEqual(Buffer.from(body.base64, 'base64'), payload);
    assert.equal(body.seen, 2);
    assert.equal(body.port, 5168);
    assert.equal(body.preview, '<script>alert(1)</script>\\x5c\\x00\\xff\\xfe\\x0a');
    assert.equal(new Date(body.last_seen).getTime() - new Date(body.first_seen).getTime(), MINUTE);
  });

  it('refuses a sample whose bytes do not match its digest, storing nothing', async () => {
    const other = createHash('sha256').update('other').digest('hex');
    const res = await upload(Buffer.from('other bytes'), other);
    const err = expectError(res, 400, 'BODY_INVALID');
    assert.equal(err.error.details[0].path, 'body/samples/0/sha256');
    expectError(await h.get(`/api/v1/samples/${other}`), 404, 'NOT_FOUND');
    expectError(await h.get('/api/v1/samples/not-a-digest'), 400, 'QUERY_INVALID');
  });
});
