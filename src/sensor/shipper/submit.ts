// Sends one signed batch to a collector: the sensor side of the submission protocol.

import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { EventBatch, EventColumns } from '../../core/event.ts';
import { signRequest } from '../../core/signing.ts';
import { encodeBinaryBatch } from '../../core/wire/binary.ts';

export const BATCHES_PATH = '/api/v1/batches';

export interface SensorCredentials {
  id: string;
  secret: string;
}

export interface SubmitResult {
  status: number;
  body: unknown;
  retryAfterS?: number;
}

/** Wraps columns in an envelope with a fresh batch id. */
export function newBatch(events: EventColumns, seq: number, now: number, software = 'portent'): EventBatch {
  return { batchId: randomUUID(), seq, created: now, software, events };
}

/** Encodes the batch in the binary format, gzips it, signs it and posts it. */
export async function submitBatch(
  baseUrl: string,
  who: SensorCredentials,
  batch: EventBatch,
  now = Date.now(),
): Promise<SubmitResult> {
  const body = gzipSync(encodeBinaryBatch(batch), { level: 1 });
  const res = await fetch(new URL(BATCHES_PATH, baseUrl), {
    method: 'POST',
    headers: {
      'content-type': 'application/vnd.portent.batch',
      'content-encoding': 'gzip',
      ...signRequest(who.id, who.secret, 'POST', BATCHES_PATH, body, now),
    },
    body,
  });
  const text = await res.text();
  const retry = res.headers.get('retry-after');
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: res.status, body: parsed, retryAfterS: retry === null ? undefined : Number(retry) };
}
