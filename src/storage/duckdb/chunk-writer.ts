// Copies columnar events straight into DuckDB data chunks: the appender's fast path, no per-row calls.

import duckdb from '@duckdb/node-bindings';
import {
  DuckDBDataChunk,
  INTEGER,
  SMALLINT,
  TIMESTAMP_MS,
  UBIGINT,
  UHUGEINT,
  UINTEGER,
  USMALLINT,
  UTINYINT,
  VARCHAR,
  type DuckDBAppender,
} from '@duckdb/node-api';
import type { EventColumns } from '../../core/event.ts';

/** An events table's column types, in table order (see migrations.ts); addresses are set per family. */
const EVENT_TYPES = [
  TIMESTAMP_MS, // time
  UINTEGER, // sensor
  UBIGINT, // ingest
  UHUGEINT, // src
  USMALLINT, // src_port
  UHUGEINT, // dst
  USMALLINT, // dst_port
  UTINYINT, // proto
  UTINYINT, // tcp_flags
  UTINYINT, // action
  UTINYINT, // origin
  INTEGER, // ip_id
  SMALLINT, // ttl
  INTEGER, // tcp_window
  UINTEGER, // seq
  VARCHAR, // payload_sha256
  UINTEGER, // count
  UINTEGER, // sampling
];

const ROWS = duckdb.vector_size();
const MASK_WORDS = ROWS / 32;

/**
 * Whether every row's addresses fit the IPv4 table: the source IPv4-mapped, the destination
 * IPv4-mapped or withheld.
 */
export function rowIsIPv4(c: EventColumns, i: number): boolean {
  const { src, dst } = c;
  const o = 4 * i;
  if (src[o + 1] !== 0xffff || src[o + 2] !== 0 || src[o + 3] !== 0) return false;
  return dst[o + 2] === 0 && dst[o + 3] === 0 && (dst[o + 1] === 0xffff || (dst[o + 1] | dst[o]) === 0);
}

/** Reusable scratch space for one chunk, so appending allocates nothing per batch. */
export class EventChunkWriter {
  /** 'v4' writes 32-bit addresses (events_v4), 'v6' 128-bit ones (events_v6). */
  readonly family: 'v4' | 'v6';
  readonly #chunk: DuckDBDataChunk;
  readonly #addr = new Uint32Array(ROWS);

  constructor(family: 'v4' | 'v6') {
    this.family = family;
    const address = family === 'v4' ? UINTEGER : UHUGEINT;
    this.#chunk = DuckDBDataChunk.create(
      EVENT_TYPES.map((t, i) => (i === 3 || i === 5 ? address : t)),
      ROWS,
    );
  }
  readonly #i64 = new Uint32Array(ROWS * 2);
  readonly #u32 = new Uint32Array(ROWS);
  readonly #mask = new Uint32Array(MASK_WORDS);

  /** Appends all events of one batch, tagging each row with its sensor and ingest sequence. */
  append(appender: DuckDBAppender, c: EventColumns, sensor: number, ingest: number): void {
    const raw = appender as unknown as { appender: duckdb.Appender };
    for (let start = 0; start < c.length; start += ROWS) {
      const n = Math.min(ROWS, c.length - start);
      this.#fill(c, start, n, sensor, ingest);
      duckdb.append_data_chunk(raw.appender, this.#chunk.chunk);
    }
  }

  #vector(col: number): duckdb.Vector {
    return duckdb.data_chunk_get_vector(this.#chunk.chunk, col);
  }

  #copy(col: number, arr: ArrayBufferView, byteStart: number, bytes: number): void {
    duckdb.copy_data_to_vector(
      this.#vector(col),
      0,
      arr.buffer as ArrayBuffer,
      arr.byteOffset + byteStart,
      bytes,
    );
  }

  /** Writes the validity bits in #mask (1 = value present) for column `col`. */
  #validity(col: number): void {
    const v = this.#vector(col);
    duckdb.vector_ensure_validity_writable(v);
    duckdb.copy_data_to_vector_validity(v, 0, this.#mask.buffer, 0, this.#mask.byteLength);
  }

  /** Sets #mask from a presence test over rows [start, start+n). */
  #maskWhere(start: number, n: number, present: (i: number) => boolean): boolean {
    const m = this.#mask;
    m.fill(0);
    let all = true;
    for (let r = 0; r < n; r++) {
      if (present(start + r)) m[r >>> 5] |= 1 << (r & 31);
      else all = false;
    }
    return all;
  }

  /** Copies rows [start, start+n) of an address column: the low limb only for IPv4. */
  #address(col: number, limbs: Uint32Array, start: number, n: number): void {
    if (this.family === 'v6') return this.#copy(col, limbs, start * 16, n * 16);
    const a = this.#addr;
    for (let r = 0; r < n; r++) a[r] = limbs[4 * (start + r)];
    this.#copy(col, a, 0, n * 4);
  }

  #fill(c: EventColumns, start: number, n: number, sensor: number, ingest: number): void {
    duckdb.data_chunk_set_size(this.#chunk.chunk, n);
    const i64 = this.#i64;
    const u32 = this.#u32;
    // time: ms since epoch as int64 (non-negative, < 2^53), written as two uint32 halves.
    for (let r = 0; r < n; r++) {
      const t = c.time[start + r];
      i64[2 * r] = t % 4294967296;
      i64[2 * r + 1] = Math.floor(t / 4294967296);
    }
    this.#copy(0, i64, 0, n * 8);
    this.#copy(1, u32.fill(sensor, 0, n), 0, n * 4);
    i64.fill(0, 0, n * 2);
    for (let r = 0; r < n; r++) {
      i64[2 * r] = ingest % 4294967296;
      i64[2 * r + 1] = Math.floor(ingest / 4294967296);
    }
    this.#copy(2, i64, 0, n * 8);
    this.#address(3, c.src, start, n);
    this.#copy(4, c.srcPort, start * 2, n * 2);
    this.#address(5, c.dst, start, n);
    const dst = c.dst;
    this.#maskWhere(start, n, (i) => (dst[4 * i] | dst[4 * i + 1] | dst[4 * i + 2] | dst[4 * i + 3]) !== 0);
    this.#validity(5);
    this.#copy(6, c.dstPort, start * 2, n * 2);
    this.#copy(7, c.proto, start, n);
    this.#copy(8, c.tcpFlags, start, n);
    this.#copy(9, c.action, start, n);
    this.#copy(10, c.origin, start, n);
    this.#copy(11, c.ipId, start * 4, n * 4);
    this.#maskWhere(start, n, (i) => c.ipId[i] >= 0);
    this.#validity(11);
    this.#copy(12, c.ttl, start * 2, n * 2);
    this.#maskWhere(start, n, (i) => c.ttl[i] >= 0);
    this.#validity(12);
    this.#copy(13, c.window, start * 4, n * 4);
    this.#maskWhere(start, n, (i) => c.window[i] >= 0);
    this.#validity(13);
    for (let r = 0; r < n; r++) {
      const s = c.seq[start + r];
      u32[r] = s === s ? s : 0; // NaN marks "absent"
    }
    this.#copy(14, u32, 0, n * 4);
    this.#maskWhere(start, n, (i) => c.seq[i] === c.seq[i]);
    this.#validity(14);
    const payloadVector = this.#vector(15);
    this.#maskWhere(start, n, (i) => c.payloadSha256[i] !== null);
    for (let r = 0; r < n; r++) {
      const h = c.payloadSha256[start + r];
      if (h !== null) duckdb.vector_assign_string_element(payloadVector, r, h);
    }
    this.#validity(15);
    this.#copy(16, c.count, start * 4, n * 4);
    this.#copy(17, c.sampling, start * 4, n * 4);
  }
}
