// Spool positions and ranges, and the batch ids derived from them.
//
// A batch is a range of one segment's events. Its id is a hash of where it lies in the spool, never a
// random number, so a batch re-sent after a crash carries the id it had before and the collector's
// batch-id idempotency stores it once.

import { createHash } from 'node:crypto';

/** A place between two events of a segment: the `index`-th event of the record at byte `offset`. */
export interface SpoolPoint {
  /** Byte offset of a record in the segment, or the segment's length for its end. */
  offset: number;
  /** Events of that record before the point; always less than the record's event count. */
  index: number;
}

/** The events of one segment from `start` up to, not including, `end`. */
export interface SpoolRange {
  segment: number;
  start: SpoolPoint;
  end: SpoolPoint;
  /** How many events lie between the two points. */
  events: number;
}

/**
 * The batch id of a range: a UUID-shaped SHA-256 of the sensor id, the spool's own id (so a spool made
 * afresh never reuses the ids of an old one) and the two points. Version 8 (custom) and the RFC 9562
 * variant bits are set so it is a well-formed UUID.
 */
export function batchIdOf(sensorId: string, spoolId: string, r: SpoolRange): string {
  const key = [
    'portent-batch-v1',
    sensorId,
    spoolId,
    r.segment,
    r.start.offset,
    r.start.index,
    r.end.offset,
    r.end.index,
  ];
  const h = createHash('sha256').update(key.join('\n')).digest();
  h[6] = (h[6] & 0x0f) | 0x80;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.toString('hex', 0, 16);
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/** True when two points are the same place. */
export function samePoint(a: SpoolPoint, b: SpoolPoint): boolean {
  return a.offset === b.offset && a.index === b.index;
}

/** "segment 3, 1024.0 to 9216.5 (1500 events)", for messages and quarantine notes. */
export function describeRange(r: SpoolRange): string {
  return `segment ${r.segment}, ${r.start.offset}.${r.start.index} to ${r.end.offset}.${r.end.index} (${r.events} events)`;
}
