// Property tests of record framing: whatever happens to the tail of a segment, a scan finds a prefix of whole records.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeFrame, framePayload, scanFrames, FRAME_HEADER_BYTES } from './frame.ts';

interface Rec {
  payload: Uint8Array;
  events: number;
  appendedAt: number;
}

const arbRecord: fc.Arbitrary<Rec> = fc.record({
  payload: fc.uint8Array({ minLength: 1, maxLength: 300 }),
  events: fc.integer({ min: 1, max: 20_000 }),
  appendedAt: fc.integer({ min: 0, max: 2 ** 45 }),
});

function segmentOf(records: Rec[]): { buf: Buffer; ends: number[] } {
  const frames = records.map((r) => encodeFrame(r.payload, r.events, r.appendedAt));
  const ends: number[] = [];
  let end = 0;
  for (const f of frames) ends.push((end += f.length));
  return { buf: Buffer.concat(frames), ends };
}

/** Asserts the scan found exactly the first `n` records, intact. */
function assertPrefix(buf: Uint8Array, records: Rec[], ends: number[], n: number): void {
  const { frames, validEnd } = scanFrames(buf);
  assert.equal(frames.length, n);
  assert.equal(validEnd, n === 0 ? 0 : ends[n - 1]);
  frames.forEach((f, i) => {
    assert.equal(f.offset, i === 0 ? 0 : ends[i - 1]);
    assert.equal(f.events, records[i].events);
    assert.equal(f.appendedAt, records[i].appendedAt);
    assert.deepEqual(Buffer.from(framePayload(buf.subarray(f.offset))), Buffer.from(records[i].payload));
  });
}

describe('spool record framing', () => {
  it('reads back every record it wrote', () => {
    fc.assert(
      fc.property(fc.array(arbRecord, { maxLength: 30 }), (records) => {
        const { buf, ends } = segmentOf(records);
        assertPrefix(buf, records, ends, records.length);
      }),
    );
  });

  it('after a cut at any byte, finds exactly the records that end before the cut', () => {
    fc.assert(
      fc.property(
        fc.array(arbRecord, { minLength: 1, maxLength: 20 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (records, where) => {
          const { buf, ends } = segmentOf(records);
          const cut = Math.floor(where * buf.length);
          const whole = ends.filter((e) => e <= cut).length;
          assertPrefix(buf.subarray(0, cut), records, ends, whole);
        },
      ),
    );
  });

  it('after one flipped bit anywhere, finds exactly the records before the damaged one', () => {
    fc.assert(
      fc.property(
        fc.array(arbRecord, { minLength: 1, maxLength: 20 }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        fc.integer({ min: 0, max: 7 }),
        (records, where, bit) => {
          const { buf, ends } = segmentOf(records);
          const at = Math.floor(where * buf.length);
          buf[at] ^= 1 << bit;
          const damaged = ends.findIndex((e) => e > at);
          assertPrefix(buf, records, ends, damaged);
        },
      ),
    );
  });

  it('stops at garbage after the records: zeros, random bytes, a torn header', () => {
    fc.assert(
      fc.property(
        fc.array(arbRecord, { maxLength: 10 }),
        fc.oneof(
          fc.integer({ min: 1, max: 4096 }).map((n) => new Uint8Array(n)),
          fc.uint8Array({ minLength: 1, maxLength: 4096 }),
          fc.uint8Array({ minLength: 1, maxLength: FRAME_HEADER_BYTES - 1 }),
        ),
        (records, garbage) => {
          const { buf, ends } = segmentOf(records);
          const all = Buffer.concat([buf, garbage]);
          // Random bytes forming a frame with a matching CRC: about 2^-32, never in a test run.
          assertPrefix(all, records, ends, records.length);
        },
      ),
    );
  });

  it('refuses to frame what it could not read back', () => {
    assert.throws(() => encodeFrame(new Uint8Array(0), 1, 0), RangeError);
    assert.throws(() => encodeFrame(new Uint8Array(1), 0, 0), RangeError);
    assert.throws(() => encodeFrame(new Uint8Array(1), 1, Number.NaN), RangeError);
  });
});
