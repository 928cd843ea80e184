// The embedded event store: raw events by data-chunk appender, rollups and per-source state in DuckDB.
//
// Two write lanes, each on its own connection, each running one operation at a time:
// - events: group commits of raw events with their batch rows (the acknowledgement waits for it);
// - aggregates: appending the in-memory deltas as parts, compacting parts, and the reads that must
//   see parts and compacted rows consistently.
// Each part is written together with the ingest sequence it covers, so after a crash exactly the
// raw events after that sequence are replayed into the deltas: nothing counted twice or lost.

import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import { BLOB, TIMESTAMP_MS, UBIGINT, UHUGEINT, UINTEGER, USMALLINT, UTINYINT } from '@duckdb/node-api';
import { allocColumns, selectRows, type EventColumns } from '../../core/event.ts';
import { PortentError } from '../../core/errors.ts';
import { addressToBigInt, formatAddress, isV4, parseAddress } from '../../core/address.ts';
import { DistinctSketch } from '../../core/sketch.ts';
import {
  Aggregates,
  DAY,
  HOUR,
  LEVELS,
  MINUTE,
  RollupCell,
  SourceCell,
  protoPortKey,
  type LevelName,
} from '../aggregates.ts';
import type {
  AppendItem,
  AppendOutcome,
  EventStore,
  Metric,
  SeriesPoint,
  SourceSummary,
  TopPort,
} from '../event-store.ts';
import type { DuckDBDatabase } from './database.ts';
import { EventChunkWriter, rowIsIPv4 } from './chunk-writer.ts';
import { RowAppender, type ColumnData } from './rows.ts';

export interface DuckDBEventStoreOptions {
  /** Parts of minutes older than this (by event time, against the newest part) are compacted. */
  compactAfterMs?: number;
}

const ROLLUPS_SEQ = 'rollups_ingest';
const SOURCES_SEQ = 'sources_ingest';
const LEVEL_TABLE: Record<LevelName, string> = {
  minute: 'rollup_minute',
  hour: 'rollup_hour',
  day: 'rollup_day',
};
/**
 * Connections appending events. One measured fastest: with a single writer the batches queued during a
 * commit form one large next commit, and DuckDB writes a transaction of over a row group (122,880
 * rows) straight to the file as compressed row groups instead of through the WAL. The code allows more.
 */
const WRITERS = 1;
/** Per-source parts are compacted one slice of the address space (address modulo this) at a time. */
const SOURCE_SLICES = 8;
/** Replaying raw events after a crash reads this many batches at a time. */
const REPLAY_BATCHES = 100;

const ROLLUP_TYPES = [
  TIMESTAMP_MS,
  UTINYINT,
  USMALLINT,
  UBIGINT,
  UINTEGER,
  UINTEGER,
  UINTEGER,
  UINTEGER,
  BLOB,
  BLOB,
  BLOB,
  BLOB,
];
const SOURCE_TYPES = [
  UHUGEINT,
  TIMESTAMP_MS,
  TIMESTAMP_MS,
  UBIGINT,
  UINTEGER,
  UINTEGER,
  UINTEGER,
  BLOB,
  BLOB,
  BLOB,
];
const ROLLUP_COLUMNS =
  'epoch_ms(bucket)::DOUBLE, proto, port, events::DOUBLE, sources_sketch, targets_sketch, sensors_sketch, subnets_sketch';
const SOURCE_COLUMNS =
  'addr, epoch_ms(first_seen)::DOUBLE, epoch_ms(last_seen)::DOUBLE, events::DOUBLE, ports_sketch, targets_sketch, sensors_sketch';

const num = (v: unknown): number => Number(v);
const sketch = (v: unknown): DistinctSketch => DistinctSketch.deserialize(v as Uint8Array);
const est = (s: DistinctSketch): number => Math.round(s.estimate());

/** Reads a row of ROLLUP_COLUMNS into a cell. */
function rollupFromRow(r: unknown[]): RollupCell {
  const c = new RollupCell();
  c.events = num(r[3]);
  c.sources = sketch(r[4]);
  c.targets = sketch(r[5]);
  c.sensors = sketch(r[6]);
  c.subnets = sketch(r[7]);
  return c;
}

/** Reads a row of SOURCE_COLUMNS into a cell. */
function sourceFromRow(r: unknown[]): SourceCell {
  const addr = new Uint32Array(4);
  const v = r[0] as bigint;
  for (let l = 0; l < 4; l++) addr[l] = Number((v >> BigInt(32 * l)) & 0xffffffffn);
  const c = new SourceCell(addr);
  c.first = num(r[1]);
  c.last = num(r[2]);
  c.events = num(r[3]);
  c.ports = sketch(r[4]);
  c.targets = sketch(r[5]);
  c.sensors = sketch(r[6]);
  return c;
}

interface Writer {
  con: DuckDBConnection;
  /** Appenders of events_v4 and events_v6. */
  v4: { appender: DuckDBAppender; chunks: EventChunkWriter };
  v6: { appender: DuckDBAppender; chunks: EventChunkWriter };
  /** The writer's operations run one at a time. */
  lane: Promise<unknown>;
}

/** Appends a batch's rows to events_v4, or those with an IPv6 address to events_v6. */
function appendEvents(w: Writer, c: EventColumns, sensor: number, ingest: number): void {
  const v6: number[] = [];
  for (let i = 0; i < c.length; i++) if (!rowIsIPv4(c, i)) v6.push(i);
  if (v6.length === 0) return w.v4.chunks.append(w.v4.appender, c, sensor, ingest);
  if (v6.length === c.length) return w.v6.chunks.append(w.v6.appender, c, sensor, ingest);
  const isV6 = new Uint8Array(c.length);
  for (const i of v6) isV6[i] = 1;
  const v4 = [...isV6.keys()].filter((i) => isV6[i] === 0);
  w.v4.chunks.append(w.v4.appender, selectRows(c, v4), sensor, ingest);
  w.v6.chunks.append(w.v6.appender, selectRows(c, v6), sensor, ingest);
}

/** Appends rows through a short-lived appender on `table` (in the temp catalog when `schema` is 'temp'). */
async function appendRows(
  con: DuckDBConnection,
  table: string,
  schema: string | undefined,
  rows: RowAppender,
  n: number,
  columns: ColumnData[],
): Promise<void> {
  const app = await con.createAppender(
    table,
    schema === 'temp' ? 'main' : null,
    schema === 'temp' ? 'temp' : null,
  );
  rows.append(app, n, columns);
  app.flushSync();
  app.closeSync();
}

/** Runs `fn` after everything queued before it on the same lane has settled. */
function queueOn<T>(holder: { lane: Promise<unknown> }, fn: () => Promise<T>): Promise<T> {
  const run = holder.lane.then(fn, fn);
  holder.lane = run.catch(() => undefined);
  return run;
}

/** bucket -> key -> cell, for one rollup level. */
type Buckets = Map<number, Map<number, RollupCell>>;

function mergeInto(target: Buckets, bucket: number, key: number, cell: RollupCell): void {
  let m = target.get(bucket);
  if (m === undefined) target.set(bucket, (m = new Map()));
  const had = m.get(key);
  m.set(key, had === undefined ? cell : had.merge(cell));
}

export class DuckDBEventStore implements EventStore {
  readonly #db: DuckDBDatabase;
  readonly #compactAfterMs: number;
  #agg!: Aggregates;
  readonly #rollupRows = new RowAppender(ROLLUP_TYPES, [
    'i64',
    'u8',
    'u16',
    'i64',
    'u32',
    'u32',
    'u32',
    'u32',
    'blob',
    'blob',
    'blob',
    'blob',
  ]);
  /** Keys of the rows compaction must merge with: bucket, proto, port; and address. */
  readonly #rollupKeys = new RowAppender([TIMESTAMP_MS, UTINYINT, USMALLINT], ['i64', 'u8', 'u16']);
  readonly #sourceKeys = new RowAppender([UHUGEINT], ['u128']);
  readonly #sourceRows = new RowAppender(SOURCE_TYPES, [
    'u128',
    'i64',
    'i64',
    'i64',
    'u32',
    'u32',
    'u32',
    'blob',
    'blob',
    'blob',
  ]);
  /** Event writers, each its own connection and appender: one commits while the next appends. */
  #writers: Writer[] = [];
  #nextWriter = 0;
  #aggregator!: DuckDBConnection;
  /** Batches being written, by sensor/batch id: a copy arriving meanwhile waits for the first. */
  readonly #inflight = new Map<string, Promise<AppendOutcome>>();
  /** Deltas are updated in ingest-sequence order, whichever writer commits first. */
  #aggregated: Promise<void> = Promise.resolve();
  /** Last ingest sequence handed out; one per stored batch, strictly increasing. */
  #ingestSeq = 0;
  /** Ingest sequences the stored rollups and sources include. */
  #storedRollupSeq = 0;
  #storedSourceSeq = 0;
  #aggLane: Promise<unknown> = Promise.resolve();
  #nextSourceSlice = 0;

  private constructor(db: DuckDBDatabase, opts: DuckDBEventStoreOptions) {
    this.#db = db;
    this.#compactAfterMs = opts.compactAfterMs ?? 2 * MINUTE;
  }

  /** Opens the store and replays raw events the stored rollups and sources do not include yet. */
  static async open(db: DuckDBDatabase, opts: DuckDBEventStoreOptions = {}): Promise<DuckDBEventStore> {
    const store = new DuckDBEventStore(db, opts);
    const con = db.reader;
    const meta = new Map<string, number>();
    for (const r of (await con.runAndReadAll('SELECT key, value::DOUBLE FROM meta')).getRows())
      meta.set(String(r[0]), num(r[1]));
    store.#storedRollupSeq = meta.get(ROLLUPS_SEQ) ?? 0;
    store.#storedSourceSeq = meta.get(SOURCES_SEQ) ?? 0;
    // The checkpoints outlive pruned batches, so sequence numbers never go back.
    const maxBatch = num(
      (await con.runAndReadAll('SELECT coalesce(max(ingest), 0)::DOUBLE FROM batches')).getRows()[0][0],
    );
    store.#ingestSeq = Math.max(maxBatch, store.#storedRollupSeq, store.#storedSourceSeq);
    store.#agg = new Aggregates(store.#storedRollupSeq, store.#storedSourceSeq);
    for (let i = 0; i < WRITERS; i++) {
      const writer = await db.connect();
      store.#writers.push({
        con: writer,
        v4: { appender: await writer.createAppender('events_v4'), chunks: new EventChunkWriter('v4') },
        v6: { appender: await writer.createAppender('events_v6'), chunks: new EventChunkWriter('v6') },
        lane: Promise.resolve(),
      });
    }
    store.#aggregator = await db.connect();
    await store.#replay();
    return store;
  }

  #inLane<T>(fn: () => Promise<T>): Promise<T> {
    const holder = { lane: this.#aggLane };
    const run = queueOn(holder, fn);
    this.#aggLane = holder.lane;
    return run;
  }

  async append(items: AppendItem[]): Promise<AppendOutcome[]> {
    const keyOf = (item: AppendItem) => `${item.sensor}/${item.batch.batchId}`;
    const outcomes: Promise<AppendOutcome>[] = new Array(items.length);
    const firstOfKey = new Map<string, number>();
    const mine: number[] = [];
    const settle = new Map<number, { resolve: (o: AppendOutcome) => void; reject: (e: unknown) => void }>();
    for (let i = 0; i < items.length; i++) {
      const key = keyOf(items[i]);
      const first = firstOfKey.get(key);
      if (first !== undefined) {
        outcomes[i] = outcomes[first].then((o) => ({ status: 'duplicate', ingestSeq: o.ingestSeq }));
        continue;
      }
      firstOfKey.set(key, i);
      const pending = this.#inflight.get(key);
      if (pending) {
        outcomes[i] = pending.then((o) => ({ status: 'duplicate', ingestSeq: o.ingestSeq }));
        continue;
      }
      // Registered before any await, so a copy in a concurrent group finds it.
      const promise = new Promise<AppendOutcome>((resolve, reject) => settle.set(i, { resolve, reject }));
      promise.catch(() => undefined);
      this.#inflight.set(key, promise);
      outcomes[i] = promise;
      mine.push(i);
    }
    try {
      if (mine.length > 0) {
        const seqs = await this.#write(mine.map((i) => items[i]));
        // Batches the table already held were not stored again: answer with their first sequence.
        const held = mine.filter((_, j) => seqs[j] === null);
        const known = await this.#knownBatches(held.map((i) => items[i]));
        mine.forEach((i, j) => {
          const seq = seqs[j];
          settle
            .get(i)!
            .resolve(
              seq !== null
                ? { status: 'stored', ingestSeq: seq }
                : { status: 'duplicate', ingestSeq: known.get(keyOf(items[i]))! },
            );
        });
      }
    } catch (err) {
      for (const s of settle.values()) s.reject(err);
      throw err;
    } finally {
      for (const i of mine) this.#inflight.delete(keyOf(items[i]));
    }
    return Promise.all(outcomes);
  }

  /** The ingest sequence of each of these batches that is already stored, by sensor/batch id. */
  async #knownBatches(items: AppendItem[]): Promise<Map<string, number>> {
    const known = new Map<string, number>();
    if (items.length === 0) return known;
    const values: (number | string)[] = [];
    const tuples = items.map((item) => {
      values.push(item.sensor, item.batch.batchId);
      return `($${values.length - 1}::UINTEGER, $${values.length}::UUID)`;
    });
    const rows = (
      await this.#db.reader.runAndReadAll(
        `SELECT b.sensor, b.batch_id::VARCHAR, b.ingest::DOUBLE FROM batches b
         JOIN (VALUES ${tuples.join(', ')}) v(sensor, batch_id) ON b.sensor = v.sensor AND b.batch_id = v.batch_id`,
        values,
      )
    ).getRows();
    for (const r of rows) known.set(`${num(r[0])}/${String(r[1])}`, num(r[2]));
    return known;
  }

  /**
   * Appends and commits the batches on the next writer; resolves with their ingest sequences once
   * durable and counted in the deltas, or null for a batch the table already held (the batch rows
   * go in first, skipping conflicts, so one statement both records and finds duplicates). Sequence
   * numbers are handed out, and deltas updated, in one order across writers, so a checkpoint always
   * covers a prefix of the sequence.
   */
  #write(batch: AppendItem[]): Promise<(number | null)[]> {
    const w = this.#writers[this.#nextWriter++ % this.#writers.length];
    return queueOn(w, async () => {
      await w.con.run('BEGIN');
      // Sequence numbers and the place in the delta chain are taken together, with no await between.
      const seqs = batch.map(() => ++this.#ingestSeq);
      // Which batches the table did not hold yet; the others are left out of events and deltas.
      const inserted: boolean[] = batch.map(() => false);
      let committed!: (ok: boolean) => void;
      const outcome = new Promise<boolean>((resolve) => (committed = resolve));
      const counted = (this.#aggregated = this.#aggregated.then(async () => {
        if (await outcome)
          batch.forEach((item, j) => inserted[j] && this.#agg.add(item.sensor, item.batch.events, seqs[j]));
      }));
      try {
        const values: (string | number)[] = [];
        const tuples: string[] = [];
        batch.forEach(({ sensor, batch: b, received }, j) => {
          const p = values.length;
          tuples.push(
            `($${p + 1}, $${p + 2}::UUID, $${p + 3}, $${p + 4}, epoch_ms($${p + 5}::BIGINT), epoch_ms($${p + 6}::BIGINT), $${p + 7}, $${p + 8})`,
          );
          values.push(sensor, b.batchId, seqs[j], b.seq, b.created, received, b.events.length, b.software);
        });
        // The batch rows first: inserted into a transaction that already holds the events' rows
        // they took about twice as long (48 against 26 ms for a group of 40 in bench/ingest).
        const fresh = await w.con.runAndReadAll(
          `INSERT INTO batches VALUES ${tuples.join(', ')} ON CONFLICT DO NOTHING RETURNING ingest::DOUBLE`,
          values,
        );
        const freshSeqs = new Set(fresh.getRows().map((r) => num(r[0])));
        batch.forEach(({ sensor, batch: b }, j) => {
          inserted[j] = freshSeqs.has(seqs[j]);
          if (inserted[j]) appendEvents(w, b.events, sensor, seqs[j]);
        });
        w.v4.appender.flushSync();
        w.v6.appender.flushSync();
        await w.con.run('COMMIT');
        committed(true);
      } catch (err) {
        committed(false);
        await w.con.run('ROLLBACK').catch(() => undefined);
        w.v4.appender.clear();
        w.v6.appender.clear();
        throw new PortentError('STORE_UNAVAILABLE', {
          message: `The event store failed to commit: ${(err as Error).message}`,
          cause: err,
        });
      }
      await counted;
      return seqs.map((seq, j) => (inserted[j] ? seq : null));
    });
  }

  flush(): Promise<void> {
    return this.#inLane(async () => {
      await this.#flushRollups();
      await this.#flushSources();
    });
  }

  /** Appends the rollup delta as parts; writes all flushes and compactions that the tests wait on. */
  flushRollups(): Promise<void> {
    return this.#inLane(() => this.#flushRollups());
  }

  flushSources(): Promise<void> {
    return this.#inLane(() => this.#flushSources());
  }

  /** Runs a write on the aggregator connection in one transaction. */
  async #transaction(fn: (con: DuckDBConnection) => Promise<void>): Promise<void> {
    const con = this.#aggregator;
    await con.run('BEGIN');
    try {
      await fn(con);
      await con.run('COMMIT');
    } catch (err) {
      await con.run('ROLLBACK').catch(() => undefined);
      throw new PortentError('STORE_UNAVAILABLE', {
        message: `Writing aggregates failed: ${(err as Error).message}`,
        cause: err,
      });
    }
  }

  async #setSeq(con: DuckDBConnection, key: string, seq: number): Promise<void> {
    await con.run('INSERT OR REPLACE INTO meta VALUES ($1, $2)', [key, seq]);
  }

  async #flushRollups(): Promise<void> {
    const { cells, seq } = this.#agg.takeRollups();
    if (seq === this.#storedRollupSeq) return;
    try {
      await this.#transaction(async (con) => {
        await this.#appendRollups(con, 'rollup_parts', cells);
        await this.#setSeq(con, ROLLUPS_SEQ, seq);
      });
    } catch (err) {
      this.#agg.giveBackRollups(cells);
      throw err;
    }
    this.#storedRollupSeq = seq;
  }

  async #flushSources(): Promise<void> {
    const { cells, seq } = this.#agg.takeSources();
    if (seq === this.#storedSourceSeq) return;
    try {
      await this.#transaction(async (con) => {
        await this.#appendSources(con, 'source_parts', cells.values(), cells.size);
        await this.#setSeq(con, SOURCES_SEQ, seq);
      });
    } catch (err) {
      this.#agg.giveBackSources(cells);
      throw err;
    }
    this.#storedSourceSeq = seq;
  }

  async #appendRollups(con: DuckDBConnection, table: string, cells: Buckets, schema?: string): Promise<void> {
    let n = 0;
    for (const m of cells.values()) n += m.size;
    if (n === 0) return;
    const bucket = new Float64Array(n);
    const proto = new Uint8Array(n);
    const port = new Uint16Array(n);
    const events = new Float64Array(n);
    const counts = [0, 1, 2, 3].map(() => new Uint32Array(n));
    const blobs: Uint8Array[][] = [0, 1, 2, 3].map(() => new Array<Uint8Array>(n));
    let i = 0;
    for (const [b, m] of cells) {
      for (const [k, c] of m) {
        bucket[i] = b;
        proto[i] = k >>> 16;
        port[i] = k & 0xffff;
        events[i] = c.events;
        [c.sources, c.targets, c.sensors, c.subnets].forEach((s, j) => {
          counts[j][i] = est(s);
          blobs[j][i] = s.serialize();
        });
        i++;
      }
    }
    await appendRows(con, table, schema, this.#rollupRows, n, [
      bucket,
      proto,
      port,
      events,
      ...counts,
      ...blobs,
    ] as ColumnData[]);
  }

  async #appendSources(
    con: DuckDBConnection,
    table: string,
    cells: Iterable<SourceCell>,
    n: number,
    schema?: string,
  ): Promise<void> {
    if (n === 0) return;
    const addr = new Uint32Array(4 * n);
    const first = new Float64Array(n);
    const last = new Float64Array(n);
    const events = new Float64Array(n);
    const counts = [0, 1, 2].map(() => new Uint32Array(n));
    const blobs: Uint8Array[][] = [0, 1, 2].map(() => new Array<Uint8Array>(n));
    let i = 0;
    for (const s of cells) {
      addr.set(s.addr, 4 * i);
      first[i] = s.first;
      last[i] = s.last;
      events[i] = s.events;
      [s.ports, s.targets, s.sensors].forEach((sk, j) => {
        counts[j][i] = est(sk);
        blobs[j][i] = sk.serialize();
      });
      i++;
    }
    await appendRows(con, table, schema, this.#sourceRows, n, [
      addr,
      first,
      last,
      events,
      ...counts,
      ...blobs,
    ] as ColumnData[]);
  }

  /** Merges appended parts into one row per minute, hour and day, and per source. */
  compact(): Promise<void> {
    return this.#inLane(async () => {
      await this.#compactRollups();
      for (let slice = 0; slice < SOURCE_SLICES; slice++) await this.#compactSources(slice);
    });
  }

  /**
   * What the compaction timer runs: all rollup parts, and the source parts of one slice of the
   * address space, so that each run holds only a fraction of the per-source state in memory.
   */
  compactSome(): Promise<void> {
    return this.#inLane(async () => {
      await this.#compactRollups();
      await this.#compactSources(this.#nextSourceSlice);
      this.#nextSourceSlice = (this.#nextSourceSlice + 1) % SOURCE_SLICES;
    });
  }

  async #compactRollups(): Promise<void> {
    const con = this.#aggregator;
    const newest = num(
      (
        await con.runAndReadAll('SELECT coalesce(epoch_ms(max(bucket)), 0)::DOUBLE FROM rollup_parts')
      ).getRows()[0][0],
    );
    const cutoff = newest - (newest % MINUTE) - this.#compactAfterMs;
    const rows = (
      await con.runAndReadAll(
        `SELECT ${ROLLUP_COLUMNS} FROM rollup_parts WHERE bucket < epoch_ms($1::BIGINT)`,
        [cutoff],
      )
    ).getRowsJS();
    if (rows.length === 0) return;
    const parts: Buckets = new Map();
    for (const r of rows) mergeInto(parts, num(r[0]), protoPortKey(num(r[1]), num(r[2])), rollupFromRow(r));
    await this.#transaction(async (tx) => {
      for (const [level, width] of Object.entries(LEVELS) as [LevelName, number][]) {
        // The parts of this level's buckets, each merged into the stored row of its key, if any.
        const merged: Buckets = new Map();
        for (const [b, m] of parts)
          for (const [k, c] of m) mergeInto(merged, b - (b % width), k, new RollupCell().merge(c));
        const keys: number[][] = [[], [], []];
        for (const [b, m] of merged)
          for (const k of m.keys()) keys.forEach((col, c) => col.push([b, k >>> 16, k & 0xffff][c]));
        await tx.run(
          'CREATE OR REPLACE TEMP TABLE stage_keys AS SELECT bucket, proto, port FROM rollup_minute LIMIT 0',
        );
        await appendRows(tx, 'stage_keys', 'temp', this.#rollupKeys, keys[0].length, [
          Float64Array.from(keys[0]),
          Uint8Array.from(keys[1]),
          Uint16Array.from(keys[2]),
        ]);
        const stored = await tx.runAndReadAll(
          `SELECT ${ROLLUP_COLUMNS} FROM ${LEVEL_TABLE[level]} JOIN temp.stage_keys USING (bucket, proto, port)`,
        );
        for (const r of stored.getRowsJS()) {
          merged
            .get(num(r[0]))!
            .get(protoPortKey(num(r[1]), num(r[2])))!
            .merge(rollupFromRow(r));
        }
        await tx.run('CREATE OR REPLACE TEMP TABLE stage_rollup AS SELECT * FROM rollup_minute LIMIT 0');
        await this.#appendRollups(tx, 'stage_rollup', merged, 'temp');
        await tx.run(`INSERT OR REPLACE INTO ${LEVEL_TABLE[level]} SELECT * FROM temp.stage_rollup`);
      }
      await tx.run('DELETE FROM rollup_parts WHERE bucket < epoch_ms($1::BIGINT)', [cutoff]);
    });
  }

  async #compactSources(slice: number): Promise<void> {
    const con = this.#aggregator;
    const inSlice = `(addr % ${SOURCE_SLICES}) = ${slice}`;
    const rows = (
      await con.runAndReadAll(`SELECT ${SOURCE_COLUMNS} FROM source_parts WHERE ${inSlice}`)
    ).getRowsJS();
    if (rows.length === 0) return;
    const merged = new Map<bigint, SourceCell>();
    for (const r of rows) {
      const had = merged.get(r[0] as bigint);
      const c = sourceFromRow(r);
      merged.set(r[0] as bigint, had === undefined ? c : had.merge(c));
    }
    await this.#transaction(async (tx) => {
      const addrs = new Uint32Array(4 * merged.size);
      [...merged.values()].forEach((c, i) => addrs.set(c.addr, 4 * i));
      await tx.run('CREATE OR REPLACE TEMP TABLE stage_keys AS SELECT addr FROM sources LIMIT 0');
      await appendRows(tx, 'stage_keys', 'temp', this.#sourceKeys, merged.size, [addrs]);
      const stored = await tx.runAndReadAll(
        `SELECT ${SOURCE_COLUMNS} FROM sources JOIN temp.stage_keys USING (addr)`,
      );
      for (const r of stored.getRowsJS()) merged.get(r[0] as bigint)!.merge(sourceFromRow(r));
      await tx.run('CREATE OR REPLACE TEMP TABLE stage_sources AS SELECT * FROM sources LIMIT 0');
      await this.#appendSources(tx, 'stage_sources', merged.values(), merged.size, 'temp');
      await tx.run('INSERT OR REPLACE INTO sources SELECT * FROM temp.stage_sources');
      await tx.run(`DELETE FROM source_parts WHERE ${inSlice}`);
    });
  }

  /** Rebuilds the deltas from raw events newer than what the stored rollups and sources include. */
  async #replay(): Promise<void> {
    const con = this.#db.reader;
    const last = this.#ingestSeq;
    for (
      let from = Math.min(this.#storedRollupSeq, this.#storedSourceSeq);
      from < last;
      from += REPLAY_BATCHES
    ) {
      const rows = (
        await con.runAndReadAll(
          `SELECT epoch_ms(time)::DOUBLE, sensor, ingest::DOUBLE,
             (src & 4294967295)::UINTEGER, ((src >> 32) & 4294967295)::UINTEGER, ((src >> 64) & 4294967295)::UINTEGER, (src >> 96)::UINTEGER,
             (coalesce(dst, 0) & 4294967295)::UINTEGER, ((coalesce(dst, 0) >> 32) & 4294967295)::UINTEGER,
             ((coalesce(dst, 0) >> 64) & 4294967295)::UINTEGER, (coalesce(dst, 0) >> 96)::UINTEGER,
             dst_port, proto, count, sampling
           FROM events WHERE ingest > $1 AND ingest <= $2 ORDER BY ingest`,
          [from, from + REPLAY_BATCHES],
        )
      ).getRows();
      let start = 0;
      while (start < rows.length) {
        let end = start;
        while (end < rows.length && rows[end][2] === rows[start][2]) end++;
        const c = allocColumns(end - start);
        for (let i = start; i < end; i++) {
          const r = rows[i];
          const j = i - start;
          c.time[j] = num(r[0]);
          for (let l = 0; l < 4; l++) {
            c.src[4 * j + l] = num(r[3 + l]);
            c.dst[4 * j + l] = num(r[7 + l]);
          }
          c.dstPort[j] = num(r[11]);
          c.proto[j] = num(r[12]);
          c.count[j] = num(r[13]);
          c.sampling[j] = num(r[14]);
        }
        this.#agg.add(num(rows[start][1]), c, num(rows[start][2]));
        start = end;
      }
    }
  }

  /**
   * Rows of a level's table and of the parts, over [from, to), after writing the in-memory delta:
   * one query, so compaction cannot move a part between the two halves of what is read.
   */
  async #rollupRowsIn(
    level: LevelName,
    from: number,
    to: number,
    where = 'TRUE',
    params: (number | string)[] = [],
  ): Promise<unknown[][]> {
    await this.#flushRollups();
    const n = params.length;
    return (
      await this.#aggregator.runAndReadAll(
        `SELECT ${ROLLUP_COLUMNS} FROM ${LEVEL_TABLE[level]} WHERE bucket >= epoch_ms($${n + 1}::BIGINT) AND bucket < epoch_ms($${n + 2}::BIGINT) AND ${where}
         UNION ALL
         SELECT ${ROLLUP_COLUMNS} FROM rollup_parts WHERE bucket >= epoch_ms($${n + 1}::BIGINT) AND bucket < epoch_ms($${n + 2}::BIGINT) AND ${where}`,
        [...params, from, to],
      )
    ).getRowsJS();
  }

  portSeries(proto: number, port: number, from: number, to: number, stepMs: number): Promise<SeriesPoint[]> {
    return this.#inLane(async () => {
      const level: LevelName = stepMs % DAY === 0 ? 'day' : stepMs % HOUR === 0 ? 'hour' : 'minute';
      const start = from - (from % stepMs);
      const steps = Math.ceil((to - start) / stepMs);
      const merged = Array.from({ length: steps }, () => new RollupCell());
      for (const r of await this.#rollupRowsIn(
        level,
        start,
        start + steps * stepMs,
        'proto = $1 AND port = $2',
        [proto, port],
      )) {
        merged[Math.floor((num(r[0]) - start) / stepMs)].merge(rollupFromRow(r));
      }
      return merged.map((m, i) => ({
        t: start + i * stepMs,
        events: m.events,
        sources: est(m.sources),
        targets: est(m.targets),
        sensors: est(m.sensors),
        subnets: est(m.subnets),
      }));
    });
  }

  /**
   * Ranks ports over a window. Events rank exactly; for distinct counts the sum of per-row counts
   * (an upper bound of the window's count) picks 4×limit candidates, whose sketches are merged for
   * the true figure.
   */
  topPorts(from: number, to: number, by: Metric, limit: number): Promise<TopPort[]> {
    return this.#inLane(async () => {
      const level: LevelName = to - from >= 6 * HOUR ? 'hour' : 'minute';
      const start = from - (from % LEVELS[level]);
      await this.#flushRollups();
      const candidates = (
        await this.#aggregator.runAndReadAll(
          `SELECT proto, port FROM (
             SELECT proto, port, ${by} AS m FROM ${LEVEL_TABLE[level]} WHERE bucket >= epoch_ms($1::BIGINT) AND bucket < epoch_ms($2::BIGINT)
             UNION ALL
             SELECT proto, port, ${by} AS m FROM rollup_parts WHERE bucket >= epoch_ms($1::BIGINT) AND bucket < epoch_ms($2::BIGINT))
           GROUP BY proto, port ORDER BY sum(m) DESC, proto, port LIMIT ${by === 'events' ? limit : 4 * limit}`,
          [start, to],
        )
      ).getRows();
      if (candidates.length === 0) return [];
      const keys = candidates.map((r) => `(${num(r[0])}, ${num(r[1])})`).join(', ');
      const ports = new Map<number, { proto: number; port: number; cell: RollupCell }>();
      for (const r of await this.#rollupRowsIn(level, start, to, `(proto, port) IN (${keys})`)) {
        const k = protoPortKey(num(r[1]), num(r[2]));
        let p = ports.get(k);
        if (!p) ports.set(k, (p = { proto: num(r[1]), port: num(r[2]), cell: new RollupCell() }));
        p.cell.merge(rollupFromRow(r));
      }
      const out: TopPort[] = [...ports.values()].map(({ proto, port, cell }) => ({
        proto,
        port,
        events: cell.events,
        sources: est(cell.sources),
        targets: est(cell.targets),
        sensors: est(cell.sensors),
        subnets: est(cell.subnets),
      }));
      out.sort((a, b) => b[by] - a[by] || a.proto - b.proto || a.port - b.port);
      return out.slice(0, limit);
    });
  }

  source(ip: string): Promise<SourceSummary | null> {
    const limbs = new Uint32Array(4);
    if (!parseAddress(ip, limbs, 0)) return Promise.resolve(null);
    return this.#inLane(async () => {
      await this.#flushSources();
      const addr = addressToBigInt(limbs, 0).toString();
      const rows = (
        await this.#aggregator.runAndReadAll(
          `SELECT ${SOURCE_COLUMNS} FROM sources WHERE addr = $1::UHUGEINT
           UNION ALL SELECT ${SOURCE_COLUMNS} FROM source_parts WHERE addr = $1::UHUGEINT`,
          [addr],
        )
      ).getRowsJS();
      if (rows.length === 0) return null;
      const s = rows.map(sourceFromRow).reduce((a, b) => a.merge(b));
      // Straight from the table of the address's family, where the filter can use zone maps.
      const v4 = isV4(limbs, 0);
      const top = await this.#db.reader.runAndReadAll(
        `SELECT proto, dst_port, sum(count::DOUBLE * sampling) AS n FROM ${v4 ? 'events_v4' : 'events_v6'}
         WHERE src = $1::${v4 ? 'UINTEGER' : 'UHUGEINT'} AND time >= epoch_ms($2::BIGINT)
         GROUP BY proto, dst_port ORDER BY n DESC, proto, dst_port LIMIT 20`,
        [v4 ? limbs[0] : addr, s.last - DAY],
      );
      return {
        ip: formatAddress(limbs, 0),
        firstSeen: s.first,
        lastSeen: s.last,
        events: s.events,
        ports: est(s.ports),
        targets: est(s.targets),
        sensors: est(s.sensors),
        topPorts: top.getRows().map((r) => ({ proto: num(r[0]), port: num(r[1]), events: num(r[2]) })),
      };
    });
  }

  /**
   * Prunes by when batches arrived, not by event time, so importing old logs does not erase them;
   * never prunes events the stored aggregates do not include yet.
   */
  pruneRaw(before: number): Promise<number> {
    const w = this.#writers[0];
    return queueOn(w, async () => {
      // One bound on the ingest sequence for both tables, so a batch row goes exactly with its events.
      const bound = (
        await w.con.runAndReadAll(
          'SELECT least($2, (SELECT coalesce(max(ingest), 0) FROM batches WHERE received < epoch_ms($1::BIGINT)))::DOUBLE',
          [before, Math.min(this.#storedRollupSeq, this.#storedSourceSeq)],
        )
      ).getRows()[0][0];
      await w.con.run('BEGIN');
      try {
        const r4 = await w.con.run('DELETE FROM events_v4 WHERE ingest <= $1', [bound]);
        const r6 = await w.con.run('DELETE FROM events_v6 WHERE ingest <= $1', [bound]);
        await w.con.run('DELETE FROM batches WHERE ingest <= $1', [bound]);
        await w.con.run('COMMIT');
        return r4.rowsChanged + r6.rowsChanged;
      } catch (err) {
        await w.con.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  async stats(): Promise<{ events: number; batches: number }> {
    const r = (
      await this.#db.reader.runAndReadAll(
        'SELECT ((SELECT count(*) FROM events_v4) + (SELECT count(*) FROM events_v6))::DOUBLE, (SELECT count(*) FROM batches)::DOUBLE',
      )
    ).getRows()[0];
    return { events: num(r[0]), batches: num(r[1]) };
  }

  async memory(): Promise<Record<string, number>> {
    const rows = (
      await this.#db.reader.runAndReadAll(
        'SELECT tag, memory_usage_bytes::DOUBLE FROM duckdb_memory() WHERE memory_usage_bytes > 0',
      )
    ).getRows();
    return Object.fromEntries(rows.map((r) => [String(r[0]).toLowerCase(), num(r[1])]));
  }

  async close(): Promise<void> {
    await Promise.all(
      this.#writers.map((w) =>
        queueOn(w, async () => {
          w.v4.appender.closeSync();
          w.v6.appender.closeSync();
        }),
      ),
    );
    await this.flush();
  }
}
