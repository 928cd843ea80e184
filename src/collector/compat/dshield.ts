// The DShield submission API (POST /submitapi/): unmodified DShield clients report to Portent.
//
// A submission is {"type": ..., "logs": ...} with an X-ISC-Authorization header (dshield-auth.ts).
// The userid is the sensor's number and the apikey is derived from its secret, so enrolment is the
// same `portent sensors add` as for Portent sensors. A submission is checked whole, folded into one
// batch whose id derives from its content, and acknowledged with 200 only once the store has it.

import { createHash } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import type { Clock } from '../../core/clock.ts';
import { MAX_REPORTED_PROBLEMS, PortentError } from '../../core/errors.ts';
import type { EventBatch } from '../../core/event.ts';
import type { ServerMetrics } from '../../server/metrics.ts';
import type { StateStore } from '../../storage/state-store.ts';
import type { GroupWriter } from '../group-writer.ts';
import { NonceCache } from '../nonce-cache.ts';
import { RateLimiter } from '../rate-limit.ts';
import { credentialsMatch, dshieldApiKey, parseIscAuthorization } from './dshield-auth.ts';
import { DSHIELD_LOG_TYPES, decodeDShieldLogs, isDShieldLogType, logRecords } from './dshield-logs.ts';
import { contentBatchId, foldEvents } from './events.ts';

/** The paths DShield clients post to: "…/submitapi/" as configured, and without the slash. */
export const DSHIELD_PATHS = ['/submitapi/', '/submitapi'] as const;

export interface DShieldOptions {
  maxBodyBytes: number;
  maxRecords: number;
  nonceMemoryMs: number;
  maxRememberedNonces: number;
  /** Per-sensor token bucket, as the native collector's (a bucket of its own). */
  sensorEventsPerS: number;
  sensorBurstEvents: number;
}

export interface DShieldDeps {
  state: StateStore;
  writer: GroupWriter;
  clock: Clock;
  metrics: ServerMetrics;
  options: DShieldOptions;
}

/** How often an unknown userid may trigger a fresh read of the sensor list. */
const SENSOR_LIST_REFRESH_MS = 1000;
/** How long a known sensor's API key is trusted without asking the store again. */
const KEY_CACHE_MS = 10_000;

export async function dshieldRoutes(app: FastifyInstance, deps: DShieldDeps): Promise<void> {
  const { state, writer, clock, metrics, options } = deps;
  const nonces = new NonceCache(options.nonceMemoryMs, options.maxRememberedNonces);
  const limiter = new RateLimiter(
    options.sensorEventsPerS,
    Math.max(options.sensorBurstEvents, options.maxRecords),
  );
  const sensors = new SensorsByNumber(state, clock);

  await app.register(async (scope) => {
    // DShield clients send application/json, but the body is read here, whatever its type, so that
    // nothing is parsed before the sender is known and every failure has a DShield error code.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: options.maxBodyBytes },
      (_r, body, done) => done(null, body),
    );
    scope.setErrorHandler((err: FastifyError) => {
      if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
        throw new PortentError('DSHIELD_TOO_LARGE', {
          message: `The submission is larger than dshield.max_body_bytes (${options.maxBodyBytes} bytes).`,
          cause: err,
        });
      throw err;
    });

    // isc_agent checks the URL with HEAD before it starts; Fastify answers HEAD from this GET.
    for (const path of DSHIELD_PATHS)
      scope.get(path, async () => ({ service: 'portent DShield-compatible submission API' }));

    for (const path of DSHIELD_PATHS) {
      scope.post(path, async (req, reply) => {
        const sensor = await authenticate(req);
        const raw = req.body;
        if (!Buffer.isBuffer(raw) || raw.length === 0)
          throw new PortentError('DSHIELD_INVALID', { message: 'The submission has no body.' });
        const submission = parseSubmission(req, raw);
        const now = clock.now();
        const decoded = decodeDShieldLogs(submission.type, submission.records, now, MAX_REPORTED_PROBLEMS);
        if (decoded.problems.length > 0)
          throw new PortentError('DSHIELD_INVALID', { details: decoded.problems });
        if (decoded.events.length === 0) return { status: 'empty', records: 0, events: 0 };
        const columns = foldEvents(decoded.events);
        const allowed = limiter.take(sensor.id, columns.length, now);
        if (!allowed.ok) {
          reply.header('retry-after', String(allowed.retryAfterS));
          throw new PortentError('RATE_LIMITED', {
            message: `Sensor ${sensor.id} is over its rate of ${options.sensorEventsPerS} events/s; retry in ${allowed.retryAfterS} s.`,
          });
        }
        const batch: EventBatch = {
          batchId: contentBatchId(
            createHash('sha256')
              .update(`dshield\n${sensor.id}\n${submission.type}\n`)
              .update(JSON.stringify(submission.logs)),
          ),
          seq: 0,
          created: now,
          software: `dshield-${submission.type}`,
          events: columns,
        };
        metrics.pendingBatches.inc();
        try {
          const outcome = await writer.submit({ sensor: sensor.num, batch, received: now });
          metrics.batchesIngested.inc({ outcome: outcome.status });
          if (outcome.status === 'stored') metrics.eventsIngested.inc(columns.length);
          return {
            status: outcome.status,
            batch_id: batch.batchId,
            records: decoded.records,
            events: columns.length,
            ingest_seq: outcome.ingestSeq,
          };
        } finally {
          metrics.pendingBatches.dec();
        }
      });
    }
  });

  async function authenticate(req: FastifyRequest): Promise<{ id: string; num: number }> {
    const header = req.headers['x-isc-authorization'];
    if (typeof header !== 'string' || header === '')
      throw new PortentError('DSHIELD_AUTH_MISSING', {
        message: 'The submission has no X-ISC-Authorization header.',
      });
    const auth = parseIscAuthorization(header);
    if (typeof auth === 'string') throw new PortentError('DSHIELD_AUTH_MISSING', { message: auth });
    const sensor = await sensors.apiKey(auth.userid);
    if (sensor === null)
      throw new PortentError('DSHIELD_UNKNOWN_USER', {
        message: `No active sensor has the DShield userid ${auth.userid}.`,
      });
    if (!credentialsMatch(auth, sensor.apiKey)) throw new PortentError('DSHIELD_BAD_CREDENTIALS');
    if (!nonces.remember(`dshield\n${auth.userid}`, auth.nonce, clock.now()))
      throw new PortentError('DSHIELD_REPLAY');
    return sensor;
  }

  function parseSubmission(req: FastifyRequest, raw: Buffer) {
    const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding !== 'identity')
      throw new PortentError('DSHIELD_INVALID', {
        message: `Content-Encoding "${encoding.slice(0, 40)}" is not accepted: DShield submissions are plain JSON.`,
      });
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
    } catch (e) {
      throw new PortentError('DSHIELD_INVALID', {
        message: `The body is not UTF-8 JSON: ${(e as Error).message.slice(0, 160)}.`,
      });
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new PortentError('DSHIELD_INVALID', {
        message: 'The body must be a JSON object with type and logs.',
      });
    const o = body as Record<string, unknown>;
    const type = Object.hasOwn(o, 'type') ? o.type : undefined;
    if (typeof type !== 'string')
      throw new PortentError('DSHIELD_INVALID', {
        details: [{ path: '/type', message: 'must be a string' }],
      });
    const headerType = req.headers['x-isc-logtype'];
    if (headerType !== undefined && headerType !== type)
      throw new PortentError('DSHIELD_INVALID', {
        details: [{ path: '/type', message: 'differs from the X-ISC-LogType header' }],
      });
    if (!isDShieldLogType(type))
      throw new PortentError('DSHIELD_UNSUPPORTED_TYPE', {
        message: `DShield log type "${type.slice(0, 40)}" is not accepted; send ${DSHIELD_LOG_TYPES.join(', ')}.`,
      });
    const logs = Object.hasOwn(o, 'logs') ? o.logs : undefined;
    const records = logRecords(type, logs);
    if (typeof records === 'string')
      throw new PortentError('DSHIELD_INVALID', { details: [{ path: '/logs', message: records }] });
    if (records.length > options.maxRecords)
      throw new PortentError('DSHIELD_TOO_LARGE', {
        message: `The submission has ${records.length} records; dshield.max_records is ${options.maxRecords}.`,
      });
    return { type, logs, records };
  }
}

/**
 * DShield userids are numbers, so a sensor is found by its number. The store is asked for the list
 * when a number is not known yet, at most once a second, so guessing userids cannot load it.
 */
class SensorsByNumber {
  readonly #state: StateStore;
  readonly #clock: Clock;
  #idByNum = new Map<number, string>();
  #listedAt = -Infinity;
  readonly #keys = new Map<number, { id: string; num: number; apiKey: string; until: number }>();

  constructor(state: StateStore, clock: Clock) {
    this.#state = state;
    this.#clock = clock;
  }

  /** The active sensor with this number and its DShield API key, or null. */
  async apiKey(num: number): Promise<{ id: string; num: number; apiKey: string } | null> {
    const now = this.#clock.now();
    const hit = this.#keys.get(num);
    if (hit && hit.until > now) return hit;
    let id = this.#idByNum.get(num);
    if (id === undefined && now - this.#listedAt >= SENSOR_LIST_REFRESH_MS) {
      this.#listedAt = now;
      const list = await this.#state.listSensors();
      this.#idByNum = new Map(list.filter((s) => s.revoked === null).map((s) => [s.num, s.id]));
      id = this.#idByNum.get(num);
    }
    if (id === undefined) return null;
    const known = await this.#state.sensorSecret(id);
    if (known === null) {
      this.#idByNum.delete(num);
      this.#keys.delete(num);
      return null;
    }
    const entry = { id, num: known.num, apiKey: dshieldApiKey(known.secret), until: now + KEY_CACHE_MS };
    if (this.#keys.size > 100_000) this.#keys.clear();
    this.#keys.set(num, entry);
    return entry;
  }
}
