// Appends rows of numbers and blobs to a DuckDB table through data chunks, column by column.

import duckdb from '@duckdb/node-bindings';
import { DuckDBDataChunk, type DuckDBAppender, type DuckDBType } from '@duckdb/node-api';

/** How a JS column maps onto the table's column. */
export type ColumnKind =
  | 'u8'
  | 'u16'
  | 'u32'
  /** A non-negative integer below 2^53, from a Float64Array, into BIGINT/UBIGINT/TIMESTAMP_MS. */
  | 'i64'
  /** Four little-endian uint32 limbs per row, into UHUGEINT. */
  | 'u128'
  | 'blob';

export type ColumnData = Uint8Array | Uint16Array | Uint32Array | Float64Array | Uint8Array[];

const ROWS = duckdb.vector_size();
const BYTES: Record<Exclude<ColumnKind, 'blob'>, number> = { u8: 1, u16: 2, u32: 4, i64: 8, u128: 16 };

export class RowAppender {
  readonly #kinds: ColumnKind[];
  readonly #chunk: DuckDBDataChunk;
  readonly #i64 = new Uint32Array(ROWS * 2);

  constructor(types: DuckDBType[], kinds: ColumnKind[]) {
    this.#kinds = kinds;
    this.#chunk = DuckDBDataChunk.create(types, ROWS);
  }

  /** Appends `n` rows; column `j` of row `i` is `columns[j][i]` (limbs `4i..4i+3` for u128). */
  append(appender: DuckDBAppender, n: number, columns: ColumnData[]): void {
    const raw = (appender as unknown as { appender: duckdb.Appender }).appender;
    const chunk = this.#chunk.chunk;
    for (let start = 0; start < n; start += ROWS) {
      const rows = Math.min(ROWS, n - start);
      duckdb.data_chunk_set_size(chunk, rows);
      this.#kinds.forEach((kind, j) => {
        const vector = duckdb.data_chunk_get_vector(chunk, j);
        const data = columns[j];
        if (kind === 'blob') {
          const blobs = data as Uint8Array[];
          for (let r = 0; r < rows; r++) duckdb.vector_assign_string_element_len(vector, r, blobs[start + r]);
          return;
        }
        let source: ArrayBufferView = data as ArrayBufferView;
        let offset = start * BYTES[kind];
        if (kind === 'i64') {
          const f = data as Float64Array;
          const w = this.#i64;
          for (let r = 0; r < rows; r++) {
            const v = f[start + r];
            w[2 * r] = v % 4294967296;
            w[2 * r + 1] = Math.floor(v / 4294967296);
          }
          source = w;
          offset = 0;
        }
        duckdb.copy_data_to_vector(
          vector,
          0,
          source.buffer as ArrayBuffer,
          source.byteOffset + offset,
          rows * BYTES[kind],
        );
      });
      duckdb.append_data_chunk(raw, chunk);
    }
  }
}
