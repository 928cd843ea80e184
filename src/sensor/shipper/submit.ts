// Sends one signed batch to a collector: the sensor side of the submission protocol.
//
// Requests go through node:http and node:https rather than fetch so that a private CA (a collector
// with a self-signed certificate) is one `ca` option on an Agent, with no extra dependency.

import { randomUUID } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { gzipSync } from 'node:zlib';
import type { EventBatch, EventColumns } from '../../core/event.ts';
import { signRequest } from '../../core/signing.ts';
import { BINARY_CONTENT_TYPE, encodeBinaryBatch } from '../../core/wire/binary.ts';

export const BATCHES_PATH = '/api/v1/batches';

/** Answers longer than this are cut: a collector's answer is a few hundred bytes of JSON. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

export interface SensorCredentials {
  id: string;
  secret: string;
}

export interface SubmitResult {
  status: number;
  body: unknown;
  /** Seconds the collector asked the sensor to wait (429, 503), from Retry-After. */
  retryAfterS?: number;
}

export interface SubmitOptions {
  /** Connection pool; `collectorAgent` makes one that trusts a private CA. Node's global agents otherwise. */
  agent?: HttpAgent;
  /** Aborts the request (the batch may or may not have been stored; re-send it under the same id). */
  signal?: AbortSignal;
  /** Fails the request when the connection is idle this long. */
  timeoutMs?: number;
}

/** Wraps columns in an envelope with a fresh batch id. */
export function newBatch(events: EventColumns, seq: number, now: number, software = 'portent'): EventBatch {
  return { batchId: randomUUID(), seq, created: now, software, events };
}

/** A keep-alive connection pool for `baseUrl`; for https, `ca` (PEM) replaces the system's trusted CAs. */
export function collectorAgent(baseUrl: string, opts: { ca?: string | Buffer } = {}): HttpAgent {
  return new URL(baseUrl).protocol === 'https:'
    ? new HttpsAgent({ keepAlive: true, ca: opts.ca })
    : new HttpAgent({ keepAlive: true });
}

/** The request body for a batch: binary format, gzipped. */
export function encodeBatchBody(batch: EventBatch): Buffer {
  return gzipSync(encodeBinaryBatch(batch), { level: 1 });
}

/** Encodes the batch in the binary format, gzips it, signs it and posts it. */
export function submitBatch(
  baseUrl: string,
  who: SensorCredentials,
  batch: EventBatch,
  now = Date.now(),
  opts: SubmitOptions = {},
): Promise<SubmitResult> {
  return postBatchBody(baseUrl, who, encodeBatchBody(batch), now, opts);
}

/** Signs an encoded body (from `encodeBatchBody`) at `now` with a fresh nonce and posts it. */
export async function postBatchBody(
  baseUrl: string,
  who: SensorCredentials,
  body: Uint8Array,
  now: number,
  opts: SubmitOptions = {},
): Promise<SubmitResult> {
  const headers = {
    'content-type': BINARY_CONTENT_TYPE,
    'content-encoding': 'gzip',
    'content-length': String(body.byteLength),
    ...signRequest(who.id, who.secret, 'POST', BATCHES_PATH, body, now),
  };
  const res = await post(new URL(BATCHES_PATH, baseUrl), headers, body, opts);
  let parsed: unknown = res.text;
  try {
    parsed = JSON.parse(res.text);
  } catch {
    // keep the text
  }
  return {
    status: res.status,
    body: parsed,
    retryAfterS: retryAfterSeconds(res.headers['retry-after'], now),
  };
}

/** Retry-After as seconds from `now`: either a number of seconds or an HTTP date. */
export function retryAfterSeconds(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** POSTs a body and reads the answer (cut at 1 MiB). */
export function post(
  url: URL,
  headers: Record<string, string>,
  body: Uint8Array,
  opts: SubmitOptions,
): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(
      url,
      { method: 'POST', headers, agent: opts.agent, signal: opts.signal, timeout: opts.timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_RESPONSE_BYTES) chunks.push(chunk);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => {
      const err = new Error(
        `no answer from ${url.host} within ${opts.timeoutMs} ms`,
      ) as NodeJS.ErrnoException;
      err.code = 'ETIMEDOUT';
      req.destroy(err);
    });
    req.on('error', reject);
    req.end(body);
  });
}
