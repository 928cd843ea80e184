// Record framing for spool segments: a length- and CRC32-checked header before each payload.
//
// A segment is a plain concatenation of frames. After a crash or a power loss its tail may be torn
// (a frame cut short) or garbage (blocks the file system allocated but never wrote, usually zeros);
// `scanFrames` stops at the first frame that is incomplete or whose CRC does not match, so the valid
// part of a segment is always a prefix of whole records.

import { crc32 } from 'node:zlib';

/** Bytes before each payload: length u32, crc u32, events u32, appended-at f64 (little-endian). */
export const FRAME_HEADER_BYTES = 20;

/** Largest payload a frame may declare; a flipped length bit must not make the reader allocate gigabytes. */
export const MAX_FRAME_PAYLOAD_BYTES = 64 * 1024 * 1024;

/** Most events one frame may declare. */
export const MAX_FRAME_EVENTS = 10_000_000;

/** One record as found in a segment. */
export interface FrameInfo {
  /** Byte offset of the frame header in the segment. */
  offset: number;
  /** Whole frame: header plus payload. */
  bytes: number;
  /** Events in the record. */
  events: number;
  /** When the record was appended, ms since the epoch. */
  appendedAt: number;
}

/** The CRC covers every header field but itself, then the payload, so a torn length is caught too. */
function frameCrc(header: Uint8Array, payload: Uint8Array): number {
  return crc32(payload, crc32(header.subarray(8, FRAME_HEADER_BYTES), crc32(header.subarray(0, 4))));
}

/** One frame around `payload`. */
export function encodeFrame(payload: Uint8Array, events: number, appendedAt: number): Buffer {
  if (payload.byteLength === 0 || payload.byteLength > MAX_FRAME_PAYLOAD_BYTES)
    throw new RangeError(
      `a spool record must be 1 to ${MAX_FRAME_PAYLOAD_BYTES} bytes, not ${payload.byteLength}`,
    );
  if (!Number.isInteger(events) || events < 1 || events > MAX_FRAME_EVENTS)
    throw new RangeError(`a spool record must hold 1 to ${MAX_FRAME_EVENTS} events, not ${events}`);
  if (!Number.isFinite(appendedAt)) throw new RangeError(`a spool record needs a time, not ${appendedAt}`);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.byteLength);
  frame.writeUInt32LE(payload.byteLength, 0);
  frame.writeUInt32LE(events, 8);
  frame.writeDoubleLE(appendedAt, 12);
  frame.set(payload, FRAME_HEADER_BYTES);
  frame.writeUInt32LE(frameCrc(frame, payload), 4);
  return frame;
}

/** The payload of the frame at the start of `frame` (which must be exactly one valid frame or more). */
export function framePayload(frame: Uint8Array): Uint8Array {
  const length = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0, true);
  return frame.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + length);
}

/**
 * Walks the frames of `buf` (a segment, or a part of one starting at a frame boundary whose segment
 * offset is `base`). Returns the whole valid frames and where the valid prefix ends (a segment offset).
 */
export function scanFrames(buf: Uint8Array, base = 0): { frames: FrameInfo[]; validEnd: number } {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const frames: FrameInfo[] = [];
  let pos = 0;
  while (buf.byteLength - pos >= FRAME_HEADER_BYTES) {
    const length = dv.getUint32(pos, true);
    const events = dv.getUint32(pos + 8, true);
    if (length === 0 || length > MAX_FRAME_PAYLOAD_BYTES) break;
    if (events === 0 || events > MAX_FRAME_EVENTS) break;
    const end = pos + FRAME_HEADER_BYTES + length;
    if (end > buf.byteLength) break;
    const header = buf.subarray(pos, pos + FRAME_HEADER_BYTES);
    if (frameCrc(header, buf.subarray(pos + FRAME_HEADER_BYTES, end)) !== dv.getUint32(pos + 4, true)) break;
    frames.push({ offset: base + pos, bytes: end - pos, events, appendedAt: dv.getFloat64(pos + 12, true) });
    pos = end;
  }
  return { frames, validEnd: base + pos };
}
