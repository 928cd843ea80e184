// The compact columnar binary batch (application/vnd.portent.batch): encoder and hostile-input decoder.
//
// The layout mirrors EventColumns so decoding is mostly memcpy into typed arrays: one header, then one
// contiguous little-endian column after another, each aligned to its element size (relative to the start
// of the batch) so a reader can also take typed-array views. Columns whose value is the same in every row
// are stored once, addresses take 4 bytes when the whole column is IPv4, and fingerprint columns exist only
// when some row has the fingerprint. docs/formats.md is the byte-by-byte description; keep it in step.

import { systemClock } from '../clock.ts';
import { MAX_REPORTED_PROBLEMS, PortentError, type FieldProblem } from '../errors.ts';
import {
  ACTION_NAMES,
  EVENT_LIMITS,
  ORIGIN_NAMES,
  allocColumns,
  batchIdProblem,
  softwareProblem,
  timeProblem,
  type DecodeLimits,
  type EventBatch,
  type EventColumns,
} from '../event.ts';

export const BINARY_CONTENT_TYPE = 'application/vnd.portent.batch';
export const BINARY_VERSION = 1;

/** "PTB1" */
const MAGIC0 = 0x50;
const MAGIC1 = 0x54;
const MAGIC2 = 0x42;
const MAGIC3 = 0x31;
/** Fixed part of the header; the software string follows it. */
const HEADER_BYTES = 56;
/** The software length is one byte on the wire; anything over 64 is rejected as invalid, not malformed. */
const MAX_SOFTWARE_WIRE_BYTES = 255;

/** Header flags (byte 5). */
const F_SRC16 = 1;
const F_DST16 = 2;
const F_TIME64 = 4;
const F_ALL = F_SRC16 | F_DST16 | F_TIME64;

/** Optional-column mask (bytes 6..7): columns present only when some row needs them. */
const O_IP_ID = 1 << 0;
const O_TTL = 1 << 1;
const O_WINDOW = 1 << 2;
const O_SEQ = 1 << 3;
const O_COUNT = 1 << 4;
const O_SAMPLING = 1 << 5;
const O_PAYLOAD = 1 << 6;
const O_ALL = 0x7f;

/** Constant-column mask (bytes 8..9): the column holds one value that applies to every row. */
const C_TIME = 1 << 0;
const C_SRC = 1 << 1;
const C_DST = 1 << 2;
const C_SRC_PORT = 1 << 3;
const C_DST_PORT = 1 << 4;
const C_PROTO = 1 << 5;
const C_TCP_FLAGS = 1 << 6;
const C_KIND = 1 << 7;
const C_COUNT = 1 << 8;
const C_SAMPLING = 1 << 9;
const C_ALL = 0x3ff;

const MAPPED = 0x0000ffff;
const TWO32 = 0x100000000;

/** Typed-array byte copies are only the wire's little-endian layout on little-endian hosts. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const POPCOUNT = new Uint8Array(256);
for (let i = 1; i < 256; i++) POPCOUNT[i] = (i & 1) + POPCOUNT[i >>> 1];

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, '0'));

function padTo(pos: number, align: number): number {
  return (pos + align - 1) & -align;
}

// ---------------------------------------------------------------------------------------------------------
// Encoding

function hexByte(s: string, i: number): number {
  const h = parseInt(s.slice(i, i + 2), 16);
  return Number.isNaN(h) ? -1 : h;
}

function isConstant(a: ArrayLike<number>, n: number): boolean {
  const v = a[0];
  for (let i = 1; i < n; i++) if (a[i] !== v) return false;
  return true;
}

/** Whether every address fits 4 bytes (IPv4-mapped with a non-zero value, or all-zero), and whether all are equal. */
function addressShape(limbs: Uint32Array, n: number): { narrow: boolean; constant: boolean } {
  let narrow = true;
  let constant = true;
  for (let i = 0; i < n; i++) {
    const o = 4 * i;
    const a = limbs[o];
    const b = limbs[o + 1];
    const c = limbs[o + 2];
    const d = limbs[o + 3];
    if (narrow && !(c === 0 && d === 0 && ((b === MAPPED && a !== 0) || (b === 0 && a === 0))))
      narrow = false;
    if (constant && (a !== limbs[0] || b !== limbs[1] || c !== limbs[2] || d !== limbs[3])) constant = false;
    if (!narrow && !constant) break;
  }
  return { narrow, constant };
}

/** Rows with a fingerprint, checking each against its wire range (programming errors, hence RangeError). */
function presentRows(a: ArrayLike<number>, n: number, name: string, max: number): number {
  let k = 0;
  for (let i = 0; i < n; i++) {
    const v = a[i];
    if (v === -1 || Number.isNaN(v)) continue;
    if (!Number.isInteger(v) || v < 0 || v > max)
      throw new RangeError(`events.${name}[${i}] = ${v} is outside 0..${max} and cannot be encoded`);
    k++;
  }
  return k;
}

/** Encodes a batch. Encodes invalid values faithfully when the wire can hold them (the decoder judges); throws RangeError when it cannot. */
export function encodeBinaryBatch(batch: EventBatch): Uint8Array {
  const c = batch.events;
  const n = c.length;
  if (!Number.isInteger(n) || n < 0 || n >= TWO32) throw new RangeError(`event count ${n} cannot be encoded`);
  if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(batch.batchId))
    throw new RangeError(`batchId ${JSON.stringify(batch.batchId)} is not a UUID`);
  if (!Number.isSafeInteger(batch.seq) || batch.seq < 0)
    throw new RangeError(`seq ${batch.seq} cannot be encoded`);
  if (!Number.isSafeInteger(batch.created))
    throw new RangeError(`created ${batch.created} cannot be encoded`);
  const software = new TextEncoder().encode(batch.software);
  if (software.length > MAX_SOFTWARE_WIRE_BYTES)
    throw new RangeError(
      `software is ${software.length} bytes; the wire holds at most ${MAX_SOFTWARE_WIRE_BYTES}`,
    );

  // Time: int32 offsets from the earliest time when every time is a whole number within a 2^31 ms
  // (24.8 day) span, which is every sensor batch; float64 otherwise (bulk imports of old logs).
  let tmin = Infinity;
  let tmax = -Infinity;
  let timeInts = true;
  for (let i = 0; i < n; i++) {
    const t = c.time[i];
    if (!Number.isSafeInteger(t)) timeInts = false;
    if (t < tmin) tmin = t;
    if (t > tmax) tmax = t;
  }
  const time64 = !timeInts || tmax - tmin > 0x7fffffff;
  const base = n === 0 || time64 ? 0 : tmin;

  const srcShape = addressShape(c.src, n);
  const dstShape = addressShape(c.dst, n);

  let flags = 0;
  if (!srcShape.narrow) flags |= F_SRC16;
  if (!dstShape.narrow) flags |= F_DST16;
  if (time64) flags |= F_TIME64;

  const kind = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const a = c.action[i];
    const o = c.origin[i];
    if (a > 15 || o > 15)
      throw new RangeError(`events action/origin ${a}/${o} at row ${i} cannot be encoded`);
    kind[i] = a | (o << 4);
  }

  const nIpId = presentRows(c.ipId, n, 'ipId', 0xffff);
  const nTtl = presentRows(c.ttl, n, 'ttl', 0xff);
  const nWindow = presentRows(c.window, n, 'window', 0xffff);
  const nSeq = presentRows(c.seq, n, 'seq', 0xffffffff);
  let nPayload = 0;
  for (let i = 0; i < n; i++) {
    const p = c.payloadSha256[i];
    if (p === null || p === undefined) continue;
    if (p.length !== 64 || !/^[0-9a-fA-F]{64}$/.test(p))
      throw new RangeError(`events.payloadSha256[${i}] is not 64 hex digits and cannot be encoded`);
    nPayload++;
  }
  let anyCount = false;
  let anySampling = false;
  for (let i = 0; i < n; i++) {
    if (c.count[i] !== 1) anyCount = true;
    if (c.sampling[i] !== 1) anySampling = true;
  }

  let opt = 0;
  if (nIpId > 0) opt |= O_IP_ID;
  if (nTtl > 0) opt |= O_TTL;
  if (nWindow > 0) opt |= O_WINDOW;
  if (nSeq > 0) opt |= O_SEQ;
  if (anyCount) opt |= O_COUNT;
  if (anySampling) opt |= O_SAMPLING;
  if (nPayload > 0) opt |= O_PAYLOAD;

  // A column with one row is "constant" trivially; constant encoding only pays from two rows on.
  let cst = 0;
  if (n > 1) {
    if (isConstant(c.time, n)) cst |= C_TIME;
    if (srcShape.constant) cst |= C_SRC;
    if (dstShape.constant) cst |= C_DST;
    if (isConstant(c.srcPort, n)) cst |= C_SRC_PORT;
    if (isConstant(c.dstPort, n)) cst |= C_DST_PORT;
    if (isConstant(c.proto, n)) cst |= C_PROTO;
    if (isConstant(c.tcpFlags, n)) cst |= C_TCP_FLAGS;
    if (isConstant(kind, n)) cst |= C_KIND;
    if (anyCount && isConstant(c.count, n)) cst |= C_COUNT;
    if (anySampling && isConstant(c.sampling, n)) cst |= C_SAMPLING;
  }
  const rows = (bit: number): number => (cst & bit ? 1 : n);
  const bitmapBytes = (n + 7) >>> 3;

  // Sizes, in the order the columns are written; padding before each column aligns it.
  let size = padTo(HEADER_BYTES + software.length, 8);
  size = padTo(size, time64 ? 8 : 4) + rows(C_TIME) * (time64 ? 8 : 4);
  size += rows(C_SRC) * (flags & F_SRC16 ? 16 : 4);
  size += rows(C_DST) * (flags & F_DST16 ? 16 : 4);
  if (anyCount) size += rows(C_COUNT) * 4;
  if (anySampling) size += rows(C_SAMPLING) * 4;
  size += rows(C_SRC_PORT) * 2 + rows(C_DST_PORT) * 2 + rows(C_PROTO) + rows(C_TCP_FLAGS) + rows(C_KIND);
  if (nIpId > 0) size = padTo(size + bitmapBytes, 2) + nIpId * 2;
  if (nTtl > 0) size += bitmapBytes + nTtl;
  if (nWindow > 0) size = padTo(size + bitmapBytes, 2) + nWindow * 2;
  if (nSeq > 0) size = padTo(size + bitmapBytes, 4) + nSeq * 4;
  if (nPayload > 0) size += bitmapBytes + nPayload * 32;

  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);

  out[0] = MAGIC0;
  out[1] = MAGIC1;
  out[2] = MAGIC2;
  out[3] = MAGIC3;
  out[4] = BINARY_VERSION;
  out[5] = flags;
  dv.setUint16(6, opt, true);
  dv.setUint16(8, cst, true);
  out[10] = software.length;
  out[11] = 0;
  dv.setUint32(12, n, true);
  const id = batch.batchId.replaceAll('-', '');
  for (let i = 0; i < 16; i++) out[16 + i] = hexByte(id, 2 * i);
  writeI64(dv, 32, batch.seq);
  writeI64(dv, 40, batch.created);
  writeI64(dv, 48, base);
  out.set(software, HEADER_BYTES);
  let pos = padTo(HEADER_BYTES + software.length, 8);

  // time
  pos = padTo(pos, time64 ? 8 : 4);
  for (let i = 0, r = rows(C_TIME); i < r; i++) {
    if (time64) dv.setFloat64(pos + 8 * i, c.time[i], true);
    else dv.setInt32(pos + 4 * i, c.time[i] - base, true);
  }
  pos += rows(C_TIME) * (time64 ? 8 : 4);

  pos = writeAddresses(out, dv, pos, c.src, rows(C_SRC), (flags & F_SRC16) !== 0);
  pos = writeAddresses(out, dv, pos, c.dst, rows(C_DST), (flags & F_DST16) !== 0);
  if (anyCount) pos = writeU32s(out, dv, pos, c.count, rows(C_COUNT));
  if (anySampling) pos = writeU32s(out, dv, pos, c.sampling, rows(C_SAMPLING));
  pos = writeU16s(out, dv, pos, c.srcPort, rows(C_SRC_PORT));
  pos = writeU16s(out, dv, pos, c.dstPort, rows(C_DST_PORT));
  out.set(c.proto.subarray(0, rows(C_PROTO)), pos);
  pos += rows(C_PROTO);
  out.set(c.tcpFlags.subarray(0, rows(C_TCP_FLAGS)), pos);
  pos += rows(C_TCP_FLAGS);
  out.set(kind.subarray(0, rows(C_KIND)), pos);
  pos += rows(C_KIND);

  if (nIpId > 0) pos = writeSparse(out, dv, pos, c.ipId, n, 2);
  if (nTtl > 0) pos = writeSparse(out, dv, pos, c.ttl, n, 1);
  if (nWindow > 0) pos = writeSparse(out, dv, pos, c.window, n, 2);
  if (nSeq > 0) pos = writeSparse(out, dv, pos, c.seq, n, 4);
  if (nPayload > 0) {
    const bitmap = pos;
    pos += bitmapBytes;
    for (let i = 0; i < n; i++) {
      const p = c.payloadSha256[i];
      if (p === null || p === undefined) continue;
      out[bitmap + (i >>> 3)] |= 1 << (i & 7);
      for (let b = 0; b < 32; b++) out[pos + b] = hexByte(p, 2 * b);
      pos += 32;
    }
  }
  if (pos !== size) throw new Error(`internal: binary batch size ${size} planned, ${pos} written`);
  return out;
}

function writeI64(dv: DataView, at: number, v: number): void {
  const hi = Math.floor(v / TWO32);
  dv.setUint32(at, v - hi * TWO32, true);
  dv.setInt32(at + 4, hi, true);
}

function writeAddresses(
  out: Uint8Array,
  dv: DataView,
  pos: number,
  limbs: Uint32Array,
  rows: number,
  wide: boolean,
): number {
  if (wide) {
    if (LITTLE_ENDIAN) out.set(new Uint8Array(limbs.buffer, limbs.byteOffset, rows * 16), pos);
    else for (let i = 0; i < rows * 4; i++) dv.setUint32(pos + 4 * i, limbs[i], true);
    return pos + rows * 16;
  }
  for (let i = 0; i < rows; i++) dv.setUint32(pos + 4 * i, limbs[4 * i], true);
  return pos + rows * 4;
}

function writeU32s(out: Uint8Array, dv: DataView, pos: number, a: Uint32Array, rows: number): number {
  if (LITTLE_ENDIAN) out.set(new Uint8Array(a.buffer, a.byteOffset, rows * 4), pos);
  else for (let i = 0; i < rows; i++) dv.setUint32(pos + 4 * i, a[i], true);
  return pos + rows * 4;
}

function writeU16s(out: Uint8Array, dv: DataView, pos: number, a: Uint16Array, rows: number): number {
  if (LITTLE_ENDIAN) out.set(new Uint8Array(a.buffer, a.byteOffset, rows * 2), pos);
  else for (let i = 0; i < rows; i++) dv.setUint16(pos + 2 * i, a[i], true);
  return pos + rows * 2;
}

/** Presence bitmap, padding to the element size, then the present values only. */
function writeSparse(
  out: Uint8Array,
  dv: DataView,
  pos: number,
  a: ArrayLike<number>,
  n: number,
  width: 1 | 2 | 4,
): number {
  const bitmap = pos;
  pos = padTo(pos + ((n + 7) >>> 3), width);
  for (let i = 0; i < n; i++) {
    const v = a[i];
    if (v === -1 || Number.isNaN(v)) continue;
    out[bitmap + (i >>> 3)] |= 1 << (i & 7);
    if (width === 1) out[pos] = v;
    else if (width === 2) dv.setUint16(pos, v, true);
    else dv.setUint32(pos, v, true);
    pos += width;
  }
  return pos;
}

// ---------------------------------------------------------------------------------------------------------
// Decoding

function malformed(message: string): PortentError {
  return new PortentError('BATCH_MALFORMED', { message });
}

/** A hint for the commonest mix-ups: gzip without Content-Encoding, NDJSON sent as binary. */
function misdirected(buf: Uint8Array): string {
  if (buf[0] === 0x1f && buf[1] === 0x8b) return ' (it looks gzip-compressed: send Content-Encoding: gzip)';
  if (buf[0] === 0x7b) return ' (it looks like NDJSON: send it as application/x-ndjson)';
  return '';
}

/** Where one column's data sits, found by the layout pass before anything is allocated. */
interface Sparse {
  bitmap: number;
  values: number;
  present: number;
}

/**
 * Decodes and validates a binary batch. Input is treated as hostile: every length is checked against
 * the buffer before it is read and before anything proportional to the event count is allocated.
 * Throws PortentError BATCH_MALFORMED (cannot be decoded), BATCH_TOO_LARGE (more than
 * limits.maxEvents events) or BATCH_INVALID (decoded, but some field is out of range; the whole batch
 * is rejected and details lists the first problems).
 */
export function decodeBinaryBatch(buf: Uint8Array, limits: DecodeLimits): EventBatch {
  const total = buf.byteLength;
  const dv = new DataView(buf.buffer, buf.byteOffset, total);
  let pos = 0;

  const need = (what: string, bytes: number): void => {
    if (bytes > total - pos)
      throw malformed(
        `binary batch truncated in ${what}: needs ${bytes} bytes at offset ${pos}, ${total - pos} left`,
      );
  };
  /** Skips to the next multiple of `align`; padding must be zero so every batch has one encoding. */
  const align = (what: string, a: number): void => {
    const to = padTo(pos, a);
    need(what, to - pos);
    for (; pos < to; pos++)
      if (buf[pos] !== 0) throw malformed(`non-zero padding byte before ${what} at offset ${pos}`);
  };
  /** Claims `bytes` for a column and returns where they start. */
  const take = (what: string, bytes: number): number => {
    need(what, bytes);
    const at = pos;
    pos += bytes;
    return at;
  };
  const sparse = (what: string, n: number, width: number, alignment: number): Sparse => {
    const bitmapBytes = (n + 7) >>> 3;
    const bitmap = take(`${what} presence bitmap`, bitmapBytes);
    let present = 0;
    for (let i = 0; i < bitmapBytes; i++) present += POPCOUNT[buf[bitmap + i]];
    if (n & 7 && buf[bitmap + bitmapBytes - 1] >>> (n & 7))
      throw malformed(`${what} presence bitmap has bits set beyond event ${n - 1}`);
    align(what, alignment);
    return { bitmap, values: take(what, present * width), present };
  };

  // Header
  if (total >= 4 && (buf[0] !== MAGIC0 || buf[1] !== MAGIC1 || buf[2] !== MAGIC2 || buf[3] !== MAGIC3))
    throw malformed(`not a binary batch: it does not start with the magic bytes "PTB1"${misdirected(buf)}`);
  need('header', HEADER_BYTES);
  if (buf[4] !== BINARY_VERSION)
    throw malformed(
      `unsupported binary batch version ${buf[4]}; this collector reads version ${BINARY_VERSION}`,
    );
  const flags = buf[5];
  const opt = dv.getUint16(6, true);
  const cst = dv.getUint16(8, true);
  if (flags & ~F_ALL)
    throw malformed(`unknown flag bits 0x${(flags & ~F_ALL).toString(16)} in header byte 5`);
  if (opt & ~O_ALL)
    throw malformed(`unknown optional-column bits 0x${(opt & ~O_ALL).toString(16)} in header`);
  if (cst & ~C_ALL)
    throw malformed(`unknown constant-column bits 0x${(cst & ~C_ALL).toString(16)} in header`);
  if ((cst & C_COUNT && !(opt & O_COUNT)) || (cst & C_SAMPLING && !(opt & O_SAMPLING)))
    throw malformed('header marks an absent column (count or sampling) as constant');
  const softwareLength = buf[10];
  if (buf[11] !== 0) throw malformed('reserved header byte 11 is not zero');
  const n = dv.getUint32(12, true);
  if (n > limits.maxEvents)
    throw new PortentError('BATCH_TOO_LARGE', {
      message: `The batch has ${n} events; this collector accepts at most ${limits.maxEvents} per batch.`,
    });
  let batchId = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) batchId += '-';
    batchId += HEX[buf[16 + i]];
  }
  const seqHi = dv.getUint32(36, true);
  const seq = seqHi * TWO32 + dv.getUint32(32, true);
  const created = dv.getInt32(44, true) * TWO32 + dv.getUint32(40, true);
  const base = dv.getInt32(52, true) * TWO32 + dv.getUint32(48, true);
  if (!Number.isSafeInteger(base)) throw malformed(`base time ${base} is not a safe integer`);
  pos = HEADER_BYTES;
  const softwareAt = take('software', softwareLength);
  // Latin-1 view of the bytes: any byte outside printable ASCII is then reported by softwareProblem.
  let software = '';
  for (let i = 0; i < softwareLength; i++) software += String.fromCharCode(buf[softwareAt + i]);
  align('columns', 8);

  // Layout pass: where every column is, with every length checked, before anything is allocated.
  const time64 = (flags & F_TIME64) !== 0;
  const src16 = (flags & F_SRC16) !== 0;
  const dst16 = (flags & F_DST16) !== 0;
  const rows = (bit: number): number => (cst & bit ? 1 : n);
  align('time', time64 ? 8 : 4);
  const timeAt = take('time', rows(C_TIME) * (time64 ? 8 : 4));
  const srcAt = take('src', rows(C_SRC) * (src16 ? 16 : 4));
  const dstAt = take('dst', rows(C_DST) * (dst16 ? 16 : 4));
  const countAt = opt & O_COUNT ? take('count', rows(C_COUNT) * 4) : -1;
  const samplingAt = opt & O_SAMPLING ? take('sampling', rows(C_SAMPLING) * 4) : -1;
  const srcPortAt = take('src_port', rows(C_SRC_PORT) * 2);
  const dstPortAt = take('dst_port', rows(C_DST_PORT) * 2);
  const protoAt = take('proto', rows(C_PROTO));
  const tcpFlagsAt = take('tcp_flags', rows(C_TCP_FLAGS));
  const kindAt = take('action_origin', rows(C_KIND));
  const ipId = opt & O_IP_ID ? sparse('ip_id', n, 2, 2) : null;
  const ttl = opt & O_TTL ? sparse('ttl', n, 1, 1) : null;
  const window = opt & O_WINDOW ? sparse('window', n, 2, 2) : null;
  const tcpSeq = opt & O_SEQ ? sparse('seq', n, 4, 4) : null;
  const payload = opt & O_PAYLOAD ? sparse('payload_sha256', n, 32, 1) : null;
  if (pos !== total) throw malformed(`${total - pos} trailing bytes after the last column at offset ${pos}`);

  // Decode pass.
  const c = allocColumns(n);
  if (time64) {
    if (cst & C_TIME) c.time.fill(base + dv.getFloat64(timeAt, true));
    else for (let i = 0; i < n; i++) c.time[i] = base + dv.getFloat64(timeAt + 8 * i, true);
  } else if (cst & C_TIME) {
    c.time.fill(base + dv.getInt32(timeAt, true));
  } else {
    const t = c.time;
    for (let i = 0; i < n; i++) t[i] = base + dv.getInt32(timeAt + 4 * i, true);
  }
  readAddresses(buf, dv, srcAt, c.src, n, src16, (cst & C_SRC) !== 0);
  readAddresses(buf, dv, dstAt, c.dst, n, dst16, (cst & C_DST) !== 0);
  if (countAt >= 0) readU32s(buf, dv, countAt, c.count, n, (cst & C_COUNT) !== 0);
  if (samplingAt >= 0) readU32s(buf, dv, samplingAt, c.sampling, n, (cst & C_SAMPLING) !== 0);
  readU16s(buf, dv, srcPortAt, c.srcPort, n, (cst & C_SRC_PORT) !== 0);
  readU16s(buf, dv, dstPortAt, c.dstPort, n, (cst & C_DST_PORT) !== 0);
  if (cst & C_PROTO) c.proto.fill(buf[protoAt]);
  else c.proto.set(buf.subarray(protoAt, protoAt + n));
  if (cst & C_TCP_FLAGS) c.tcpFlags.fill(buf[tcpFlagsAt]);
  else c.tcpFlags.set(buf.subarray(tcpFlagsAt, tcpFlagsAt + n));
  if (cst & C_KIND) {
    c.action.fill(buf[kindAt] & 15);
    c.origin.fill(buf[kindAt] >>> 4);
  } else {
    const action = c.action;
    const origin = c.origin;
    for (let i = 0; i < n; i++) {
      const k = buf[kindAt + i];
      action[i] = k & 15;
      origin[i] = k >>> 4;
    }
  }
  if (ipId) readSparse(buf, dv, ipId, c.ipId, n, 2);
  if (ttl) readSparse(buf, dv, ttl, c.ttl, n, 1);
  if (window) readSparse(buf, dv, window, c.window, n, 2);
  if (tcpSeq) readSparse(buf, dv, tcpSeq, c.seq, n, 4);
  if (payload) {
    let at = payload.values;
    for (let i = 0; i < n; i++) {
      if (!(buf[payload.bitmap + (i >>> 3)] & (1 << (i & 7)))) continue;
      let h = '';
      for (let b = 0; b < 32; b++) h += HEX[buf[at + b]];
      c.payloadSha256[i] = h;
      at += 32;
    }
  }

  const batch: EventBatch = { batchId, seq, created, software, events: c };
  const now = (limits.clock ?? systemClock).now();
  const problems: FieldProblem[] = [];
  const idProblem = batchIdProblem(batchId);
  if (idProblem) problems.push({ path: '/batch_id', message: idProblem });
  if (seqHi > 0x1fffff) problems.push({ path: '/seq', message: 'must be at most 2^53-1' });
  const createdProblem = timeProblem(created, now);
  if (createdProblem) problems.push({ path: '/created', message: createdProblem });
  const swProblem = softwareProblem(software);
  if (swProblem) problems.push({ path: '/software', message: swProblem });
  columnProblems(c, now, problems);
  if (problems.length > 0) throw new PortentError('BATCH_INVALID', { details: problems });
  return batch;
}

function readAddresses(
  buf: Uint8Array,
  dv: DataView,
  at: number,
  out: Uint32Array,
  n: number,
  wide: boolean,
  constant: boolean,
): void {
  if (constant) {
    let a: number, b: number, c: number, d: number;
    if (wide) {
      a = dv.getUint32(at, true);
      b = dv.getUint32(at + 4, true);
      c = dv.getUint32(at + 8, true);
      d = dv.getUint32(at + 12, true);
    } else {
      a = dv.getUint32(at, true);
      b = a === 0 ? 0 : MAPPED;
      c = d = 0;
    }
    for (let i = 0; i < 4 * n; i += 4) {
      out[i] = a;
      out[i + 1] = b;
      out[i + 2] = c;
      out[i + 3] = d;
    }
  } else if (wide) {
    if (LITTLE_ENDIAN) new Uint8Array(out.buffer, out.byteOffset, n * 16).set(buf.subarray(at, at + n * 16));
    else for (let i = 0; i < 4 * n; i++) out[i] = dv.getUint32(at + 4 * i, true);
  } else {
    // Rows start zeroed (allocColumns), so only limbs 0 and 1 are written; 0 is the withheld address.
    for (let i = 0; i < n; i++) {
      const v = dv.getUint32(at + 4 * i, true);
      out[4 * i] = v;
      out[4 * i + 1] = v === 0 ? 0 : MAPPED;
    }
  }
}

function readU32s(
  buf: Uint8Array,
  dv: DataView,
  at: number,
  out: Uint32Array,
  n: number,
  constant: boolean,
): void {
  if (constant) out.fill(dv.getUint32(at, true));
  else if (LITTLE_ENDIAN) new Uint8Array(out.buffer, out.byteOffset, n * 4).set(buf.subarray(at, at + n * 4));
  else for (let i = 0; i < n; i++) out[i] = dv.getUint32(at + 4 * i, true);
}

function readU16s(
  buf: Uint8Array,
  dv: DataView,
  at: number,
  out: Uint16Array,
  n: number,
  constant: boolean,
): void {
  if (constant) out.fill(dv.getUint16(at, true));
  else if (LITTLE_ENDIAN) new Uint8Array(out.buffer, out.byteOffset, n * 2).set(buf.subarray(at, at + n * 2));
  else for (let i = 0; i < n; i++) out[i] = dv.getUint16(at + 2 * i, true);
}

function readSparse(
  buf: Uint8Array,
  dv: DataView,
  s: Sparse,
  out: Int32Array | Int16Array | Float64Array,
  n: number,
  width: 1 | 2 | 4,
): void {
  let at = s.values;
  for (let i = 0; i < n; i++) {
    if (!(buf[s.bitmap + (i >>> 3)] & (1 << (i & 7)))) continue;
    out[i] = width === 1 ? buf[at] : width === 2 ? dv.getUint16(at, true) : dv.getUint32(at, true);
    at += width;
  }
}

/**
 * Appends the problems of decoded columns (paths /events/<row>/<field>) until `problems` holds
 * MAX_REPORTED_PROBLEMS. Checks what the wire can hold but a valid event cannot: times outside
 * [1990, now + 24 h], the unspecified source address, action/origin codes beyond the named ones, and
 * count or sampling 0. Fingerprints need no check here: their wire widths are their valid ranges.
 */
export function columnProblems(c: EventColumns, now: number, problems: FieldProblem[]): void {
  const minT = EVENT_LIMITS.minTime;
  const maxT = now + EVENT_LIMITS.maxFutureMs;
  const maxAction = ACTION_NAMES.length - 1;
  const maxOrigin = ORIGIN_NAMES.length - 1;
  const report = (row: number, field: string, message: string): boolean => {
    problems.push({ path: `/events/${row}/${field}`, message });
    return problems.length >= MAX_REPORTED_PROBLEMS;
  };
  if (problems.length >= MAX_REPORTED_PROBLEMS) return;
  for (let i = 0; i < c.length; i++) {
    const t = c.time[i];
    // The plain comparison is the fast path; timeProblem words the message (and catches NaN and fractions).
    if (
      !(t >= minT && t <= maxT && Number.isInteger(t)) &&
      report(i, 'time', timeProblem(t, now) ?? 'invalid')
    )
      return;
    const s = 4 * i;
    if (
      (c.src[s] | c.src[s + 1] | c.src[s + 2] | c.src[s + 3]) === 0 &&
      report(i, 'src', 'must not be the unspecified address (::)')
    )
      return;
    if (
      c.action[i] > maxAction &&
      report(i, 'action', `unknown action code ${c.action[i]} (0..${maxAction})`)
    )
      return;
    if (
      c.origin[i] > maxOrigin &&
      report(i, 'origin', `unknown origin code ${c.origin[i]} (0..${maxOrigin})`)
    )
      return;
    if (c.count[i] === 0 && report(i, 'count', 'must be at least 1')) return;
    if (c.sampling[i] === 0 && report(i, 'sampling', 'must be at least 1')) return;
  }
}
