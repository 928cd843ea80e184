// Shared by the compatibility entrances: content-derived batch ids, and folding identical events into counts.

import type { Hash } from 'node:crypto';
import { EVENT_LIMITS, type EventColumns, type PortentEvent } from '../../core/event.ts';
import { eventsToColumns } from '../../core/wire/ndjson.ts';

/**
 * A UUID (version-5 layout) from a SHA-256 over the content: a client that sends the same content
 * again gets the same batch id, and the store keeps it once. Feed the hash everything that makes
 * the batch what it is, including the sensor.
 */
export function contentBatchId(h: Hash): string {
  const b = h.digest();
  b[6] = (b[6] & 0x0f) | 0x50;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = b.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/**
 * Columns of the events, identical ones (every field but count equal) folded into one with the
 * counts added, in order of first appearance. DShield and honeypot records repeat a lot: the same
 * source trying password after password in the same second is one row with a count.
 */
export function foldEvents(events: readonly PortentEvent[]): EventColumns {
  const byKey = new Map<string, PortentEvent>();
  for (const e of events) {
    const key = `${e.time}|${e.src}|${e.srcPort}|${e.dst}|${e.dstPort}|${e.proto}|${e.tcpFlags}|${e.action}|${e.origin}|${e.ipId}|${e.ttl}|${e.window}|${e.seq}|${e.payloadSha256}|${e.sampling}`;
    const seen = byKey.get(key);
    if (seen === undefined) byKey.set(key, { ...e });
    else seen.count = Math.min(EVENT_LIMITS.maxCount, seen.count + e.count);
  }
  return eventsToColumns([...byKey.values()]);
}
