// The collector's HTTP routes: signed batch submission, and sensor enrolment for administrators.

import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../core/clock.ts';
import { PortentError } from '../core/errors.ts';
import type { EventBatch } from '../core/event.ts';
import {
  NONCE_PATTERN,
  SIGNATURE_HEADERS,
  bodyDigest,
  canonicalRequest,
  signature,
  signaturesEqual,
} from '../core/signing.ts';
import { decodeBinaryBatch } from '../core/wire/binary.ts';
import { decodeNdjsonBatch } from '../core/wire/ndjson.ts';
import type { ServerMetrics } from '../server/metrics.ts';
import type { StateStore } from '../storage/state-store.ts';
import type { GroupWriter } from './group-writer.ts';
import { dshieldApiKey } from './compat/dshield-auth.ts';
import { NonceCache } from './nonce-cache.ts';
import { RateLimiter } from './rate-limit.ts';
import {
  batchAckSchema,
  retaskRequestSchema,
  sampleSchema,
  sensorCreatedSchema,
  sensorListSchema,
  sensorSchema,
} from './schemas.ts';
import { protoNumber, protoText, samplePreview, sensorRoutes, type SensorHealth } from './sensor-routes.ts';
import type { Sensor, SensorStatus } from '../storage/state-store.ts';
import type { Static } from 'typebox';

const gunzipAsync = promisify(gunzip);

export const BINARY_TYPE = 'application/vnd.portent.batch';
export const NDJSON_TYPE = 'application/x-ndjson';

export interface CollectorOptions {
  maxBatchBytes: number;
  maxDecompressedBytes: number;
  maxBatchEvents: number;
  maxClockSkewMs: number;
  sensorEventsPerS: number;
  sensorBurstEvents: number;
  /** Empty disables the admin routes. */
  adminToken: string;
  /** A sensor not heard from (heartbeat or batch) for this long is listed as stale; 10 minutes if absent. */
  sensorStaleAfterMs?: number;
}

export interface CollectorDeps {
  state: StateStore;
  writer: GroupWriter;
  clock: Clock;
  metrics: ServerMetrics;
  options: CollectorOptions;
}

/** How long a sensor's secret is cached; revocation through this server takes effect at once. */
const SECRET_CACHE_MS = 10_000;

export async function collectorRoutes(app: FastifyInstance, deps: CollectorDeps): Promise<void> {
  const { state, writer, clock, metrics, options } = deps;
  const nonces = new NonceCache(2 * options.maxClockSkewMs);
  // The burst must hold the largest valid batch, or such a batch would be refused for ever.
  const limiter = new RateLimiter(
    options.sensorEventsPerS,
    Math.max(options.sensorBurstEvents, options.maxBatchEvents),
  );
  const secrets = new Map<string, { value: { num: number; secret: string } | null; until: number }>();
  const lastBatch = new Map<number, number>();
  const staleAfterMs = options.sensorStaleAfterMs ?? 10 * 60_000;

  async function secretOf(id: string): Promise<{ num: number; secret: string } | null> {
    const now = clock.now();
    const hit = secrets.get(id);
    if (hit && hit.until > now) return hit.value;
    const value = await state.sensorSecret(id);
    if (secrets.size > 100_000) secrets.clear();
    secrets.set(id, { value, until: now + SECRET_CACHE_MS });
    return value;
  }

  /** Checks the request's signature headers; returns the sensor's numeric id. */
  async function authenticate(req: FastifyRequest, body: Buffer): Promise<{ id: string; num: number }> {
    const h = (name: string): string | undefined => {
      const v = req.headers[name];
      return typeof v === 'string' ? v : undefined;
    };
    const id = h(SIGNATURE_HEADERS.sensor);
    const ts = h(SIGNATURE_HEADERS.timestamp);
    const nonce = h(SIGNATURE_HEADERS.nonce);
    const sig = h(SIGNATURE_HEADERS.signature);
    if (!id || !ts || !nonce || !sig) {
      const missing = Object.values(SIGNATURE_HEADERS).filter((name) => !h(name));
      throw new PortentError('AUTH_MISSING', {
        message: `The request is not signed: header ${missing.join(', ')} missing.`,
      });
    }
    if (!/^\d{1,12}$/.test(ts))
      throw new PortentError('AUTH_BAD_SIGNATURE', {
        message: `${SIGNATURE_HEADERS.timestamp} must be Unix seconds, got "${ts.slice(0, 40)}".`,
      });
    if (!NONCE_PATTERN.test(nonce))
      throw new PortentError('AUTH_BAD_SIGNATURE', {
        message: `${SIGNATURE_HEADERS.nonce} must be 16-64 characters from A-Z a-z 0-9 _ -.`,
      });
    const skewS = Math.abs(clock.now() / 1000 - Number(ts));
    if (skewS * 1000 > options.maxClockSkewMs) {
      throw new PortentError('AUTH_CLOCK_SKEW', {
        message: `The request timestamp is ${Math.round(skewS)} s away from the collector's clock; at most ${options.maxClockSkewMs / 1000} s is accepted.`,
      });
    }
    const known = await secretOf(id);
    if (known === null)
      throw new PortentError('AUTH_UNKNOWN_SENSOR', {
        message: `No active sensor has the id "${id.slice(0, 64)}".`,
      });
    const expected = signature(
      known.secret,
      canonicalRequest(req.method, req.url, ts, nonce, bodyDigest(body)),
    );
    if (!signaturesEqual(expected, sig.toLowerCase())) throw new PortentError('AUTH_BAD_SIGNATURE');
    if (!nonces.remember(id, nonce, clock.now())) throw new PortentError('AUTH_REPLAY');
    return { id, num: known.num };
  }

  async function decode(req: FastifyRequest, raw: Buffer): Promise<EventBatch> {
    const encoding = (req.headers['content-encoding'] ?? 'identity').toString().toLowerCase();
    let body = raw;
    if (encoding === 'gzip') {
      try {
        body = await gunzipAsync(raw, { maxOutputLength: options.maxDecompressedBytes });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
          throw new PortentError('BATCH_TOO_LARGE', {
            message: `The batch decompresses to more than ${options.maxDecompressedBytes} bytes.`,
          });
        }
        throw new PortentError('BATCH_MALFORMED', {
          message: `The body is not valid gzip: ${(err as Error).message}.`,
        });
      }
    } else if (encoding !== 'identity') {
      throw new PortentError('UNSUPPORTED_MEDIA_TYPE', {
        message: `Content-Encoding "${encoding.slice(0, 40)}" is not supported; use gzip or none.`,
      });
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    const limits = { maxEvents: options.maxBatchEvents, clock };
    return type === BINARY_TYPE ? decodeBinaryBatch(body, limits) : decodeNdjsonBatch(body, limits);
  }

  // Batches get a context of their own with only the batch parsers: a JSON or form body is then a
  // 415, never parsed as something else first.
  await app.register(async (batches) => {
    batches.removeAllContentTypeParsers();
    batches.addContentTypeParser(
      [BINARY_TYPE, NDJSON_TYPE],
      { parseAs: 'buffer', bodyLimit: options.maxBatchBytes },
      (_req, body, done) => done(null, body),
    );

    batches.post('/api/v1/batches', { schema: { response: { 200: batchAckSchema } } }, async (req, reply) => {
      const raw = req.body;
      if (!Buffer.isBuffer(raw)) {
        throw new PortentError('UNSUPPORTED_MEDIA_TYPE', {
          message: `Content-Type must be ${NDJSON_TYPE} or ${BINARY_TYPE}.`,
        });
      }
      const sensor = await authenticate(req, raw);
      const batch = await decode(req, raw);
      const now = clock.now();
      const allowed = limiter.take(sensor.id, batch.events.length, now);
      if (!allowed.ok) {
        reply.header('retry-after', String(allowed.retryAfterS));
        throw new PortentError('RATE_LIMITED', {
          message: `Sensor ${sensor.id} is over its rate of ${options.sensorEventsPerS} events/s; retry in ${allowed.retryAfterS} s.`,
        });
      }
      metrics.pendingBatches.inc();
      try {
        const outcome = await writer.submit({ sensor: sensor.num, batch, received: now });
        metrics.batchesIngested.inc({ outcome: outcome.status });
        if (outcome.status === 'stored') metrics.eventsIngested.inc(batch.events.length);
        lastBatch.set(sensor.num, now);
        return {
          status: outcome.status,
          batch_id: batch.batchId,
          events: batch.events.length,
          ingest_seq: outcome.ingestSeq,
        };
      } finally {
        metrics.pendingBatches.dec();
      }
    });
  });

  await app.register((signed) => sensorRoutes(signed, { state, clock, authenticate, lastBatch }));

  function requireAdmin(req: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void {
    const [scheme = '', ...rest] = (req.headers.authorization ?? '').split(' ');
    const given = `${scheme.toLowerCase()} ${rest.join(' ')}`;
    if (options.adminToken === '') {
      done(
        new PortentError('ADMIN_UNAUTHORIZED', {
          message: 'Admin routes are disabled: set server.admin_token to enable them.',
        }),
      );
    } else if (!signaturesEqual(given, `bearer ${options.adminToken}`)) {
      done(new PortentError('ADMIN_UNAUTHORIZED'));
    } else done();
  }

  const nameBody = {
    type: 'object',
    required: ['name'],
    additionalProperties: false,
    properties: { name: { type: 'string', minLength: 1, maxLength: 64 } },
  } as const;

  app.post(
    '/api/v1/sensors',
    { onRequest: requireAdmin, schema: { body: nameBody, response: { 201: sensorCreatedSchema } } },
    async (req, reply) => {
      const s = await state.addSensor((req.body as { name: string }).name, clock.now());
      reply.code(201);
      return {
        id: s.id,
        number: s.num,
        name: s.name,
        secret: s.secret,
        dshield_apikey: dshieldApiKey(s.secret),
        created: new Date(s.created).toISOString(),
      };
    },
  );

  app.get(
    '/api/v1/sensors',
    { onRequest: requireAdmin, schema: { response: { 200: sensorListSchema } } },
    async () => {
      const statuses = await state.sensorStatuses();
      const now = clock.now();
      return {
        sensors: (await state.listSensors()).map((s) =>
          sensorWithStatus(s, statuses.get(s.num), lastBatch.get(s.num), now, staleAfterMs),
        ),
      };
    },
  );

  const idParams = {
    type: 'object',
    properties: { id: { type: 'string', maxLength: 80 } },
    required: ['id'],
  } as const;

  app.post(
    '/api/v1/sensors/:id/retask',
    { onRequest: requireAdmin, schema: { params: idParams, body: retaskRequestSchema } },
    async (req) => {
      const s = await state.findSensor((req.params as { id: string }).id);
      if (s === null || s.revoked !== null)
        throw new PortentError('SENSOR_NOT_FOUND', {
          message: `No active sensor has the id or name "${(req.params as { id: string }).id.slice(0, 80)}".`,
        });
      const body = req.body as Static<typeof retaskRequestSchema>;
      const now = clock.now();
      const until = now + body.duration_s * 1000;
      for (const p of body.ports)
        await state.retask(
          s.num,
          { proto: protoNumber(p.proto), port: p.port, until, reason: body.reason },
          now,
        );
      return { sensor: s.id, until: new Date(until).toISOString(), ports: body.ports };
    },
  );

  app.get(
    '/api/v1/samples/:sha256',
    {
      schema: {
        params: {
          type: 'object',
          properties: { sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
          required: ['sha256'],
        },
        response: { 200: sampleSchema },
      },
    },
    async (req) => {
      const sha = (req.params as { sha256: string }).sha256;
      const s = await state.sample(sha);
      if (s === null) throw new PortentError('NOT_FOUND', { message: `No sample has the SHA-256 ${sha}.` });
      return {
        sha256: s.sha256,
        size: s.bytes.length,
        truncated: s.truncated,
        first_seen: new Date(s.firstSeen).toISOString(),
        last_seen: new Date(s.lastSeen).toISOString(),
        seen: s.seen,
        proto: protoText(s.proto),
        port: s.port,
        base64: s.bytes.toString('base64'),
        preview: samplePreview(s.bytes),
      };
    },
  );

  app.delete(
    '/api/v1/sensors/:id',
    { onRequest: requireAdmin, schema: { params: idParams, response: { 200: sensorSchema } } },
    async (req) => {
      const s = await state.revokeSensor((req.params as { id: string }).id, clock.now());
      secrets.delete(s.id);
      return sensorView(s);
    },
  );
}

function sensorView(s: { num: number; id: string; name: string; created: number; revoked: number | null }) {
  return {
    id: s.id,
    number: s.num,
    name: s.name,
    created: new Date(s.created).toISOString(),
    revoked: s.revoked === null ? null : new Date(s.revoked).toISOString(),
  };
}

/** A sensor as listed: when it was last heard from, and whether that is too long ago. */
export function sensorWithStatus(
  s: Sensor,
  st: SensorStatus | undefined,
  batchSeen: number | undefined,
  now: number,
  staleAfterMs: number,
) {
  const lastBatch = Math.max(batchSeen ?? 0, st?.lastBatch ?? 0) || null;
  const lastSeen = Math.max(lastBatch ?? 0, st?.lastHeartbeat ?? 0) || null;
  const status =
    s.revoked !== null
      ? 'revoked'
      : lastSeen === null
        ? 'never-seen'
        : now - lastSeen > staleAfterMs
          ? 'stale'
          : 'active';
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  return {
    ...sensorView(s),
    status,
    last_seen: iso(lastSeen),
    last_batch: iso(lastBatch),
    clock_offset_ms: st?.clockOffsetMs ?? null,
    health: st?.health ? (JSON.parse(st.health) as SensorHealth) : null,
  } as const;
}

export type SensorListing = ReturnType<typeof sensorWithStatus>;
