// Tests for the binary batch codec: round trips, agreement with NDJSON, size, and hostile input of every kind.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FakeClock } from '../clock.ts';
import { MAX_REPORTED_PROBLEMS, PortentError } from '../errors.ts';
import { allocColumns, EVENT_LIMITS, type EventBatch, type PortentEvent } from '../event.ts';
import { ARB_NOW, arbEventBatch, arbEvents } from './arbitrary.ts';
import { decodeBinaryBatch, encodeBinaryBatch } from './binary.ts';
import { decodeNdjsonBatch, encodeNdjsonBatch, eventsToColumns } from './ndjson.ts';

const limits = { maxEvents: 100_000, clock: new FakeClock(ARB_NOW) };

function batchOf(events: PortentEvent[], extra: Partial<EventBatch> = {}): EventBatch {
  return {
    batchId: '3f2b8c1e-0d4a-4e6b-9a7c-5e1f2d3c4b5a',
    seq: 7,
    created: ARB_NOW - 1000,
    software: 'portent-sensor/0.1.0',
    events: eventsToColumns(events),
    ...extra,
  };
}

function event(over: Partial<PortentEvent> = {}): PortentEvent {
  return {
    time: ARB_NOW - 5000,
    src: '198.51.100.7',
    srcPort: 51234,
    dst: '192.0.2.10',
    dstPort: 23,
    proto: 6,
    tcpFlags: 2,
    action: 'blocked',
    origin: 'firewall',
    ipId: null,
    ttl: null,
    window: null,
    seq: null,
    payloadSha256: null,
    count: 1,
    sampling: 1,
    ...over,
  };
}

/** A small batch using every column and every optional column. */
const full = batchOf([
  event({ ipId: 54321, ttl: 64, window: 1024, seq: 0xdeadbeef, payloadSha256: 'ab'.repeat(32), count: 3 }),
  event({
    src: '2001:db8::1',
    dst: null,
    proto: 17,
    tcpFlags: 0,
    action: 'honeypot',
    origin: 'honeypot',
    sampling: 10,
  }),
  event({ time: ARB_NOW - 4000, dstPort: 445, ttl: 128, action: 'accepted', origin: 'ids' }),
]);

function expectError(fn: () => unknown, code: string, message?: string | RegExp): PortentError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof PortentError, `expected a PortentError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (typeof message === 'string') assert.equal(err.message, message);
    else if (message) assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected ${code}`);
}

test('round trip over the full range of valid batches', () => {
  fc.assert(
    fc.property(arbEventBatch(), (batch) => {
      assert.deepStrictEqual(decodeBinaryBatch(encodeBinaryBatch(batch), limits), batch);
    }),
    { numRuns: 500 },
  );
});

test('binary and NDJSON decode the same batch to the same columns', () => {
  fc.assert(
    fc.property(arbEventBatch(), (batch) => {
      const binary = decodeBinaryBatch(encodeBinaryBatch(batch), limits);
      const ndjson = decodeNdjsonBatch(encodeNdjsonBatch(batch), limits);
      assert.deepStrictEqual(binary, ndjson);
    }),
    { numRuns: 300 },
  );
});

test('decoding works from any byte offset of a larger buffer (e.g. a pooled Buffer)', () => {
  const bytes = encodeBinaryBatch(full);
  for (let shift = 0; shift < 8; shift++) {
    const host = new Uint8Array(bytes.length + 16);
    host.set(bytes, shift);
    assert.deepStrictEqual(decodeBinaryBatch(host.subarray(shift, shift + bytes.length), limits), full);
  }
});

test('about 18 bytes per plain IPv4 event', () => {
  const n = 10_000;
  const events: PortentEvent[] = [];
  for (let i = 0; i < n; i++)
    events.push(
      event({
        time: ARB_NOW - 60_000 + i * 6,
        src: `${1 + ((i * 7) % 223)}.${(i * 13) % 256}.${i % 256}.${(i * 31) % 256}`,
        srcPort: 1024 + ((i * 7919) % 64000),
        dst: `192.0.2.${i % 256}`,
        dstPort: [22, 23, 80, 443, 445, 3389, 8080][i % 7],
        proto: i % 10 === 0 ? 17 : 6,
        tcpFlags: i % 10 === 0 ? 0 : 2,
      }),
    );
  const size = encodeBinaryBatch(batchOf(events)).length;
  assert.ok(size / n <= 18.02, `${size / n} bytes per event`);
  // Even when action and origin vary per row it stays under 19.
  const mixed = events.map((e, i) => ({ ...e, action: i % 2 ? 'accepted' : 'blocked' }) as PortentEvent);
  assert.ok(encodeBinaryBatch(batchOf(mixed)).length / n <= 19.02);
  // A single-host sensor (constant dst) and withheld destinations need no dst column at all.
  const withheld = events.map((e) => ({ ...e, dst: null }));
  assert.ok(encodeBinaryBatch(batchOf(withheld)).length / n <= 14.02);
});

test('layout: header fields at their documented offsets', () => {
  const bytes = encodeBinaryBatch(full);
  const dv = new DataView(bytes.buffer);
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 4)), 'PTB1');
  assert.equal(bytes[4], 1);
  assert.equal(bytes[5], 0b001); // src needs 16 bytes (an IPv6 row); dst is IPv4 or withheld; time fits int32
  assert.equal(dv.getUint16(6, true), 0x7f); // every optional column
  assert.equal(bytes[10], 'portent-sensor/0.1.0'.length);
  assert.equal(dv.getUint32(12, true), 3);
  assert.equal(Buffer.from(bytes.subarray(16, 32)).toString('hex'), '3f2b8c1e0d4a4e6b9a7c5e1f2d3c4b5a');
  assert.equal(dv.getBigUint64(32, true), 7n);
  assert.equal(dv.getBigInt64(40, true), BigInt(ARB_NOW - 1000));
  assert.equal(dv.getBigInt64(48, true), BigInt(ARB_NOW - 5000));
  assert.equal(new TextDecoder().decode(bytes.subarray(56, 76)), 'portent-sensor/0.1.0');
});

test('times spanning more than 24.8 days use float64 and still round trip', () => {
  const b = batchOf([event({ time: EVENT_LIMITS.minTime }), event({ time: ARB_NOW })]);
  const bytes = encodeBinaryBatch(b);
  assert.equal(bytes[5] & 4, 4);
  assert.deepStrictEqual(decodeBinaryBatch(bytes, limits), b);
});

test('an empty batch round trips', () => {
  const b = batchOf([]);
  assert.deepStrictEqual(decodeBinaryBatch(encodeBinaryBatch(b), limits), b);
});

test('truncation at every byte offset is BATCH_MALFORMED', () => {
  for (const b of [full, batchOf([event(), event({ srcPort: 1 })])]) {
    const bytes = encodeBinaryBatch(b);
    for (let len = 0; len < bytes.length; len++) {
      expectError(() => decodeBinaryBatch(bytes.subarray(0, len), limits), 'BATCH_MALFORMED');
    }
  }
});

test('extra bytes, bad magic, version, flags and padding are BATCH_MALFORMED with precise messages', () => {
  const bytes = encodeBinaryBatch(full);
  const withTail = new Uint8Array(bytes.length + 1);
  withTail.set(bytes);
  expectError(
    () => decodeBinaryBatch(withTail, limits),
    'BATCH_MALFORMED',
    `1 trailing bytes after the last column at offset ${bytes.length}`,
  );
  const edit = (at: number, value: number): Uint8Array => {
    const copy = bytes.slice();
    copy[at] = value;
    return copy;
  };
  expectError(
    () => decodeBinaryBatch(edit(0, 0x51), limits),
    'BATCH_MALFORMED',
    'not a binary batch: it does not start with the magic bytes "PTB1"',
  );
  expectError(
    () => decodeBinaryBatch(edit(4, 2), limits),
    'BATCH_MALFORMED',
    'unsupported binary batch version 2; this collector reads version 1',
  );
  expectError(
    () => decodeBinaryBatch(edit(5, 0x13), limits),
    'BATCH_MALFORMED',
    'unknown flag bits 0x10 in header byte 5',
  );
  expectError(
    () => decodeBinaryBatch(edit(11, 1), limits),
    'BATCH_MALFORMED',
    'reserved header byte 11 is not zero',
  );
  // The software string is 20 bytes, so 4 bytes of padding follow it (56 + 20 = 76 -> 80).
  expectError(
    () => decodeBinaryBatch(edit(77, 1), limits),
    'BATCH_MALFORMED',
    'non-zero padding byte before columns at offset 77',
  );
  expectError(() => decodeBinaryBatch(new Uint8Array(0), limits), 'BATCH_MALFORMED', /truncated in header/);
  expectError(
    () => decodeBinaryBatch(new TextEncoder().encode('{"batch_id": 1}'), limits),
    'BATCH_MALFORMED',
    'not a binary batch: it does not start with the magic bytes "PTB1" (it looks like NDJSON: send it as application/x-ndjson)',
  );
  expectError(
    () => decodeBinaryBatch(new Uint8Array([0x1f, 0x8b, 8, 0, 0]), limits),
    'BATCH_MALFORMED',
    /gzip/,
  );
});

test('a truncated column is named with the bytes needed and left', () => {
  const events = Array.from({ length: 1000 }, (_, i) =>
    event({ time: ARB_NOW - 5000 + i, srcPort: i, dstPort: i, src: `10.0.${i >> 8}.${i & 255}` }),
  );
  const bytes = encodeBinaryBatch(batchOf(events));
  // header 56 + software 20 + pad 4 = 80; time 4000; src 4000; dst constant 4; src_port 2000 -> dst_port at 10084.
  expectError(
    () => decodeBinaryBatch(bytes.subarray(0, 11084), limits),
    'BATCH_MALFORMED',
    'binary batch truncated in dst_port: needs 2000 bytes at offset 10084, 1000 left',
  );
});

test('more events than the limit is BATCH_TOO_LARGE before anything is allocated', () => {
  const bytes = encodeBinaryBatch(full);
  expectError(
    () => decodeBinaryBatch(bytes, { maxEvents: 2 }),
    'BATCH_TOO_LARGE',
    'The batch has 3 events; this collector accepts at most 2 per batch.',
  );
  // A header claiming 4 billion events in 80 bytes is refused as too large, not allocated.
  const lie = bytes.slice(0, 80);
  new DataView(lie.buffer).setUint32(12, 0xffffffff, true);
  expectError(() => decodeBinaryBatch(lie, { maxEvents: 100_000 }), 'BATCH_TOO_LARGE');
  // ... and within the limit, as truncated before any column is allocated.
  new DataView(lie.buffer).setUint32(12, 100_000, true);
  expectError(() => decodeBinaryBatch(lie, { maxEvents: 100_000 }), 'BATCH_MALFORMED', /truncated in time/);
});

test('semantic problems are BATCH_INVALID with paths, whole batch rejected', () => {
  const c = eventsToColumns([event(), event(), event(), event()]);
  c.action[1] = 5;
  c.origin[2] = 9;
  c.time[3] = ARB_NOW + EVENT_LIMITS.maxFutureMs + 1;
  c.src.fill(0, 0, 4);
  c.count[2] = 0;
  const err = expectError(
    () => decodeBinaryBatch(encodeBinaryBatch({ ...full, events: c }), limits),
    'BATCH_INVALID',
  );
  assert.deepEqual(err.details, [
    { path: '/events/0/src', message: 'must not be the unspecified address (::)' },
    { path: '/events/1/action', message: 'unknown action code 5 (0..3)' },
    { path: '/events/2/origin', message: 'unknown origin code 9 (0..3)' },
    { path: '/events/2/count', message: 'must be at least 1' },
    {
      path: '/events/3/time',
      message:
        "2026-01-02T00:00:00.001Z is more than 24 h ahead of the collector's clock (2026-01-01T00:00:00.000Z)",
    },
  ]);
});

test('envelope problems are BATCH_INVALID at /batch_id, /seq, /created, /software', () => {
  const bytes = encodeBinaryBatch({
    ...full,
    batchId: '00000000-0000-0000-0000-000000000000',
    software: 'bad\u0007',
  });
  new DataView(bytes.buffer).setUint32(36, 0x00200000, true); // seq = 2^53
  new DataView(bytes.buffer).setInt32(44, -1, true); // created negative
  const err = expectError(() => decodeBinaryBatch(bytes, limits), 'BATCH_INVALID');
  assert.deepEqual(
    err.details.map((d) => d.path),
    ['/batch_id', '/seq', '/created', '/software'],
  );
  assert.equal(err.details[0].message, 'must not be the nil UUID');
  const long = encodeBinaryBatch({ ...full, software: 'x'.repeat(65) });
  assert.deepEqual(expectError(() => decodeBinaryBatch(long, limits), 'BATCH_INVALID').details, [
    { path: '/software', message: 'must be at most 64 characters' },
  ]);
});

test(`at most ${MAX_REPORTED_PROBLEMS} problems are reported`, () => {
  const c = allocColumns(500);
  const err = expectError(
    () => decodeBinaryBatch(encodeBinaryBatch({ ...full, events: c }), limits),
    'BATCH_INVALID',
  );
  assert.equal(err.details.length, MAX_REPORTED_PROBLEMS);
  assert.equal(err.details[0].path, '/events/0/time');
});

test('hostile bytes never crash the decoder: mutated batches decode to valid batches or PortentError', () => {
  fc.assert(
    fc.property(
      arbEventBatch({ maxEvents: 12 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      (batch, edits) => {
        const bytes = encodeBinaryBatch(batch);
        for (const [at, value] of edits) bytes[at % bytes.length] = value;
        let decoded: EventBatch;
        try {
          decoded = decodeBinaryBatch(bytes, limits);
        } catch (err) {
          assert.ok(err instanceof PortentError, String(err));
          assert.ok(['BATCH_MALFORMED', 'BATCH_INVALID', 'BATCH_TOO_LARGE'].includes(err.code));
          return;
        }
        // Whatever got through is a valid batch and survives a re-encode unchanged.
        assert.deepStrictEqual(decodeBinaryBatch(encodeBinaryBatch(decoded), limits), decoded);
      },
    ),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (junk) => {
      try {
        decodeBinaryBatch(junk, limits);
      } catch (err) {
        assert.ok(err instanceof PortentError);
        return;
      }
      assert.fail('random bytes decoded');
    }),
  );
});

test('the encoder refuses what the wire cannot hold', () => {
  const c = eventsToColumns([event()]);
  c.ipId[0] = 70_000;
  assert.throws(() => encodeBinaryBatch({ ...full, events: c }), /ipId\[0\] = 70000 is outside 0..65535/);
  assert.throws(() => encodeBinaryBatch({ ...full, batchId: 'nope' }), RangeError);
  assert.throws(() => encodeBinaryBatch({ ...full, seq: -1 }), RangeError);
});

test('plain IPv4 batches from arbEvents use 4-byte addresses', () => {
  fc.assert(
    fc.property(arbEvents({ family: 'v4', minEvents: 1 }), (events) => {
      const bytes = encodeBinaryBatch(batchOf(events));
      // 0.0.0.0 is a real (if odd) address and needs 16 bytes to stay distinct from "withheld".
      const zero = events.some((e) => e.src === '0.0.0.0');
      if (!zero) assert.equal(bytes[5] & 1, 0);
    }),
  );
});
