// Request signing shared by sensors and the collector: HMAC-SHA256 over method, path, time, nonce and body.

import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADERS = {
  sensor: 'x-portent-sensor',
  timestamp: 'x-portent-timestamp',
  nonce: 'x-portent-nonce',
  signature: 'x-portent-signature',
} as const;

/** Nonces are 16 to 64 URL-safe characters: enough entropy, bounded memory in the replay cache. */
export const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;

/**
 * The signed string: method, path with query, unix seconds, nonce and the hex SHA-256 of the body
 * exactly as sent (after compression), one per line. Signing the compressed bytes lets the
 * collector authenticate before it spends any work decompressing.
 */
export function canonicalRequest(
  method: string,
  path: string,
  timestamp: string,
  nonce: string,
  bodySha256: string,
): string {
  return `${method.toUpperCase()}\n${path}\n${timestamp}\n${nonce}\n${bodySha256}`;
}

export function bodyDigest(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

export function signature(secret: string, canonical: string): string {
  return createHmac('sha256', secret).update(canonical).digest('hex');
}

/** Constant-time comparison of two hex signatures. */
export function signaturesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The headers a sensor sends with a request. */
export function signRequest(
  sensorId: string,
  secret: string,
  method: string,
  path: string,
  body: Uint8Array,
  nowMs: number,
): Record<string, string> {
  const timestamp = String(Math.floor(nowMs / 1000));
  const nonce = randomBytes(18).toString('base64url');
  return {
    [SIGNATURE_HEADERS.sensor]: sensorId,
    [SIGNATURE_HEADERS.timestamp]: timestamp,
    [SIGNATURE_HEADERS.nonce]: nonce,
    [SIGNATURE_HEADERS.signature]: signature(
      secret,
      canonicalRequest(method, path, timestamp, nonce, bodyDigest(body)),
    ),
  };
}
