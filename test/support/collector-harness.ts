// The collector test harness: a real app on a real DuckDB store with a FakeClock, driven by injected requests.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { errorResponseSchema } from '../../src/api/schemas.ts';
import { BINARY_TYPE, type CollectorOptions } from '../../src/collector/routes.ts';
import { sensorCreatedSchema } from '../../src/collector/schemas.ts';
import { FakeClock } from '../../src/core/clock.ts';
import { ERRORS, type ErrorCode } from '../../src/core/errors.ts';
import {
  SIGNATURE_HEADERS,
  bodyDigest,
  canonicalRequest,
  signRequest,
  signature,
} from '../../src/core/signing.ts';
import { buildApp, type PortentApp } from '../../src/server/app.ts';
import { DuckDBDatabase } from '../../src/storage/duckdb/database.ts';
import { DuckDBEventStore } from '../../src/storage/duckdb/event-store.ts';
import { DuckDBStateStore } from '../../src/storage/duckdb/state-store.ts';

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
/** The FakeClock's start: noon UTC, so a batch from the last half hour sits in one hour bucket. */
export const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
export const BATCHES = '/api/v1/batches';
export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef-0123456789';

export const LIMITS: CollectorOptions = {
  maxBatchBytes: 256 * 1024,
  maxDecompressedBytes: 1024 * 1024,
  maxBatchEvents: 5_000,
  maxClockSkewMs: 5 * MINUTE,
  sensorEventsPerS: 10_000,
  sensorBurstEvents: 20_000,
  adminToken: ADMIN_TOKEN,
};

const dir = mkdtempSync(join(tmpdir(), 'portent-collector-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let harnessCount = 0;

export interface SensorCreds {
  id: string;
  secret: string;
}

export interface PostOptions {
  /** Content-Type; default the binary batch type. */
  type?: string;
  /** Content-Encoding header, if any. */
  encoding?: string;
  /** Unix ms the request is signed at; default the FakeClock's now. */
  at?: number;
  /** The path the signature covers; default the path posted to. */
  signedPath?: string;
  /** The path posted to; default /api/v1/batches. */
  url?: string;
  /** The body the signature covers; default the body sent. */
  signedBody?: Uint8Array;
  /** A fixed nonce instead of a random one. */
  nonce?: string;
  /** Header changes applied after signing; undefined removes the header. */
  headers?: Record<string, string | undefined>;
}

export interface Harness extends PortentApp {
  clock: FakeClock;
  db: DuckDBDatabase;
  events: DuckDBEventStore;
  state: DuckDBStateStore;
  /** Enrols a sensor through the admin route. */
  enrol(name: string): Promise<SensorCreds>;
  /** Posts a signed batch body. */
  post(who: SensorCreds, body: Uint8Array | string, opts?: PostOptions): Promise<LightMyRequestResponse>;
  get(url: string): Promise<LightMyRequestResponse>;
  stats(): Promise<{ events: number; batches: number }>;
  close(): Promise<void>;
}

export async function harness(overrides: Partial<CollectorOptions> = {}): Promise<Harness> {
  const clock = new FakeClock(T0);
  const db = await DuckDBDatabase.open({ path: join(dir, `store-${++harnessCount}.duckdb`), threads: 2 });
  const events = await DuckDBEventStore.open(db);
  const state = await DuckDBStateStore.open(db);
  const collector = { ...LIMITS, ...overrides };
  const built = await buildApp({
    events,
    state,
    clock,
    collector,
    maxPendingBatches: 64,
    version: '0.0.0-test',
    logger: false,
    processMetrics: false,
  });
  const { app } = built;
  return {
    ...built,
    clock,
    db,
    events,
    state,
    async enrol(name) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/sensors',
        headers: { authorization: `Bearer ${collector.adminToken}` },
        payload: { name },
      });
      assert.equal(res.statusCode, 201, res.body);
      const body = res.json();
      assertSchema(sensorCreatedSchema, body);
      return { id: body.id, secret: body.secret };
    },
    async post(who, body, opts = {}) {
      const payload =
        typeof body === 'string'
          ? Buffer.from(body)
          : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      const url = opts.url ?? BATCHES;
      const signed = signHeaders(
        who,
        opts.signedPath ?? url,
        opts.signedBody ?? payload,
        opts.at ?? clock.now(),
        opts.nonce,
      );
      const headers: Record<string, string> = { 'content-type': opts.type ?? BINARY_TYPE, ...signed };
      if (opts.encoding !== undefined) headers['content-encoding'] = opts.encoding;
      for (const [k, v] of Object.entries(opts.headers ?? {})) {
        if (v === undefined) delete headers[k];
        else headers[k] = v;
      }
      return app.inject({ method: 'POST', url, headers, payload });
    },
    get(url) {
      return app.inject({ method: 'GET', url });
    },
    stats: () => events.stats(),
    async close() {
      await built.writer.close();
      await app.close();
      await events.close();
      db.close();
    },
  };
}

/** Signature headers for a POST; with `nonce` the canonical request is built by hand, as a sensor would. */
export function signHeaders(
  who: SensorCreds,
  path: string,
  body: Uint8Array,
  atMs: number,
  nonce?: string,
): Record<string, string> {
  if (nonce === undefined) return signRequest(who.id, who.secret, 'POST', path, body, atMs);
  const ts = String(Math.floor(atMs / 1000));
  return {
    [SIGNATURE_HEADERS.sensor]: who.id,
    [SIGNATURE_HEADERS.timestamp]: ts,
    [SIGNATURE_HEADERS.nonce]: nonce,
    [SIGNATURE_HEADERS.signature]: signature(
      who.secret,
      canonicalRequest('POST', path, ts, nonce, bodyDigest(body)),
    ),
  };
}

export function assertSchema(schema: TSchema, value: unknown): void {
  if (!Value.Check(schema, value)) {
    const problems = [...Value.Errors(schema, value)].slice(0, 5);
    assert.fail(
      `response does not match its schema: ${JSON.stringify(problems)}\n${JSON.stringify(value).slice(0, 2000)}`,
    );
  }
}

export interface ErrorBody {
  error: { code: string; message: string; hint: string; details: { path: string; message: string }[] };
}

/** Asserts a catalog error response and returns its body. */
export function expectError(res: LightMyRequestResponse, status: number, code: ErrorCode): ErrorBody {
  assert.equal(res.statusCode, status, `expected ${status} ${code}, got ${res.statusCode}: ${res.body}`);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json() as ErrorBody;
  assertSchema(errorResponseSchema, body);
  assert.equal(body.error.code, code, res.body);
  assert.equal(ERRORS[code].status, status);
  assert.equal(body.error.hint, ERRORS[code].hint);
  assert.ok(body.error.message.length > 0);
  return body;
}
