// The embedded event store: raw events by data-chunk appender, rollups and per-source state in DuckDB.

import { timestampMillisValue, type DuckDBAppender, type DuckDBConnection } from '@duckdb/node-api';
import type { Clock } from '../../core/clock.ts';
import { allocColumns } from '../../core/event.ts';
import { PortentError } from '../../core/errors.ts';
import { addressToBigInt, bigIntToLimbs, formatAddress, parseAddress } from '../../core/address.ts';
import { DistinctSketch } from '../../core/sketch.ts';
import {
  Aggregates,
  LEVELS,
  DAY,
  HOUR,
  MINUTE,
  protoPortKey,
  type LevelName,
  type RollupCell,
  type SourceCell,
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
import { EventChunkWriter } from './chunk-writer.ts';

export interface DuckDBEventStoreOptions {
  clock: Clock;
  /** How long a quiet rollup cell or source stays in memory after it was written. */
  residentMs: number;
  /** Most per-source cells kept in memory. */
  maxSources: number;
}

const CHECKPOINT_KEY = 'aggregates_ingest';
const TABLE: Record<LevelName, string> = { minute: 'rollup_minute', hour: 'rollup_hour', day: 'rollup_day' };
const WIDTH: Record<LevelName, number> = { minute: MINUTE, hour: HOUR, day: DAY };
/** Replaying raw events after a crash reads this many batches at a time. */
const REPLAY_BATCHES = 100;

const num = (v: unknown): number => Number(v);
const sketch = (v: unknown): DistinctSketch => DistinctSketch.deserialize(v as Uint8Array);

export class DuckDBEventStore implements EventStore {
  readonly #db: DuckDBDatabase;
  readonly #clock: Clock;
  readonly #agg: Aggregates;
  readonly #chunks = new EventChunkWriter();
  #appender!: DuckDBAppender;
  /** Last ingest sequence handed out; one per stored batch, strictly increasing. */
  #ingestSeq = 0;
  /** Every write (append, flush, prune) runs alone, in order: the aggregates and the file agree. */
  #lane: Promise<unknown> = Promise.resolve();

  private constructor(db: DuckDBDatabase, opts: DuckDBEventStoreOptions) {
    this.#db = db;
    this.#clock = opts.clock;
    this.#agg = new Aggregates({ residentMs: opts.residentMs, maxSources: opts.maxSources });
  }

  /** Opens the store and rebuilds in-memory aggregates for events stored after the last flush. */
  static async open(db: DuckDBDatabase, opts: DuckDBEventStoreOptions): Promise<DuckDBEventStore> {
    const store = new DuckDBEventStore(db, opts);
    const con = db.writer;
    // The checkpoint outlives pruned batches, so sequence numbers never go back.
    store.#ingestSeq = num(
      (
        await con.runAndReadAll(
          `SELECT greatest((SELECT coalesce(max(ingest), 0) FROM batches), (SELECT coalesce(max(value), 0) FROM meta WHERE key = $1))::DOUBLE`,
          [CHECKPOINT_KEY],
        )
      ).getRows()[0][0],
    );
    store.#appender = await con.createAppender('events');
    await store.#replay();
    return store;
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lane.then(fn, fn);
    this.#lane = run.catch(() => undefined);
    return run;
  }

  append(items: AppendItem[]): Promise<AppendOutcome[]> {
    return this.#exclusive(() => this.#append(items));
  }

  async #append(items: AppendItem[]): Promise<AppendOutcome[]> {
    const con = this.#db.writer;
    const outcomes: (AppendOutcome | undefined)[] = new Array(items.length);
    const firstInGroup = new Map<string, number>();
    for (let i = 0; i < items.length; i++) {
      const key = `${items[i].sensor}/${items[i].batch.batchId}`;
      const earlier = firstInGroup.get(key);
      if (earlier !== undefined) continue; // resolved below from the earlier copy
      firstInGroup.set(key, i);
      const known = await con.runAndReadAll(
        'SELECT ingest::DOUBLE FROM batches WHERE sensor = $1 AND batch_id = $2::UUID',
        [items[i].sensor, items[i].batch.batchId],
      );
      const rows = known.getRows();
      if (rows.length > 0) outcomes[i] = { status: 'duplicate', ingestSeq: num(rows[0][0]) };
    }
    const fresh = [...firstInGroup.values()].filter((i) => outcomes[i] === undefined);
    const seqBefore = this.#ingestSeq;
    if (fresh.length > 0) {
      try {
        await con.run('BEGIN');
        const values: (string | number)[] = [];
        const tuples: string[] = [];
        for (const i of fresh) {
          const { sensor, batch, received } = items[i];
          const seq = ++this.#ingestSeq;
          this.#chunks.append(this.#appender, batch.events, sensor, seq);
          const p = values.length;
          tuples.push(
            `($${p + 1}, $${p + 2}::UUID, $${p + 3}, $${p + 4}, epoch_ms($${p + 5}::BIGINT), epoch_ms($${p + 6}::BIGINT), $${p + 7}, $${p + 8})`,
          );
          values.push(
            sensor,
            batch.batchId,
            seq,
            batch.seq,
            batch.created,
            received,
            batch.events.length,
            batch.software,
          );
          outcomes[i] = { status: 'stored', ingestSeq: seq };
        }
        this.#appender.flushSync();
        await con.run(`INSERT INTO batches VALUES ${tuples.join(', ')}`, values);
        await con.run('COMMIT');
      } catch (err) {
        this.#ingestSeq = seqBefore;
        for (const i of fresh) outcomes[i] = undefined;
        await con.run('ROLLBACK').catch(() => undefined);
        this.#appender.clear();
        throw new PortentError('STORE_UNAVAILABLE', {
          message: `The event store failed to commit: ${(err as Error).message}`,
          cause: err,
        });
      }
      const now = this.#clock.now();
      for (const i of fresh) {
        const o = outcomes[i] as AppendOutcome;
        this.#agg.add(items[i].sensor, items[i].batch.events, o.ingestSeq, now);
      }
    }
    for (let i = 0; i < items.length; i++) {
      if (outcomes[i] === undefined) {
        const first = outcomes[firstInGroup.get(`${items[i].sensor}/${items[i].batch.batchId}`)!]!;
        outcomes[i] = { status: 'duplicate', ingestSeq: first.ingestSeq };
      }
    }
    return outcomes as AppendOutcome[];
  }

  flush(): Promise<void> {
    return this.#exclusive(() => this.#flush());
  }

  /**
   * Writes every changed cell whole, merged with what the file held, together with the ingest
   * sequence the aggregates now include, in one transaction; then forgets quiet cells.
   */
  async #flush(): Promise<void> {
    const now = this.#clock.now();
    this.#agg.propagate(now);
    await this.#mergeStoredRollups();
    await this.#mergeStoredSources();
    const con = this.#db.writer;
    const dirtyRollups = [...this.#agg.dirtyCells()];
    const dirtySources = [...this.#agg.sources.values()].filter((s) => s.dirty);
    if (dirtyRollups.length === 0 && dirtySources.length === 0) return;
    await con.run('BEGIN');
    try {
      for (const { name } of LEVELS) {
        const rows = dirtyRollups.filter((d) => d.level === name);
        if (rows.length === 0) continue;
        await con.run(`CREATE OR REPLACE TEMP TABLE stage_rollup AS SELECT * FROM ${TABLE[name]} LIMIT 0`);
        const app = await con.createAppender('stage_rollup', 'main', 'temp');
        for (const { bucket, key, cell } of rows) {
          app.appendTimestampMilliseconds(tsMs(bucket));
          app.appendUTinyInt(key >>> 16);
          app.appendUSmallInt(key & 0xffff);
          app.appendUBigInt(BigInt(cell.events));
          app.appendUInteger(Math.round(cell.sources.estimate()));
          app.appendUInteger(Math.round(cell.targets.estimate()));
          app.appendUInteger(Math.round(cell.sensors.estimate()));
          app.appendUInteger(Math.round(cell.subnets.estimate()));
          app.appendBlob(cell.sources.serialize());
          app.appendBlob(cell.targets.serialize());
          app.appendBlob(cell.sensors.serialize());
          app.appendBlob(cell.subnets.serialize());
          app.endRow();
        }
        app.flushSync();
        app.closeSync();
        await con.run(`INSERT OR REPLACE INTO ${TABLE[name]} SELECT * FROM temp.stage_rollup`);
      }
      if (dirtySources.length > 0) {
        await con.run('CREATE OR REPLACE TEMP TABLE stage_sources AS SELECT * FROM sources LIMIT 0');
        const app = await con.createAppender('stage_sources', 'main', 'temp');
        for (const s of dirtySources) {
          app.appendUHugeInt(addressToBigInt(s.addr, 0));
          app.appendTimestampMilliseconds(tsMs(s.first));
          app.appendTimestampMilliseconds(tsMs(s.last));
          app.appendUBigInt(BigInt(s.events));
          app.appendUInteger(Math.round(s.ports.estimate()));
          app.appendUInteger(Math.round(s.targets.estimate()));
          app.appendUInteger(Math.round(s.sensors.estimate()));
          app.appendBlob(s.ports.serialize());
          app.appendBlob(s.targets.serialize());
          app.appendBlob(s.sensors.serialize());
          app.endRow();
        }
        app.flushSync();
        app.closeSync();
        await con.run('INSERT OR REPLACE INTO sources SELECT * FROM temp.stage_sources');
      }
      await con.run('INSERT OR REPLACE INTO meta VALUES ($1, $2)', [CHECKPOINT_KEY, this.#agg.lastSeq]);
      await con.run('COMMIT');
    } catch (err) {
      await con.run('ROLLBACK').catch(() => undefined);
      throw new PortentError('STORE_UNAVAILABLE', {
        message: `Writing rollups failed: ${(err as Error).message}`,
        cause: err,
      });
    }
    for (const { cell } of dirtyRollups) cell.dirty = false;
    for (const s of dirtySources) s.dirty = false;
    this.#agg.evict(now);
  }

  /** Merges stored rows into cells created for buckets that may already be in the file. */
  async #mergeStoredRollups(): Promise<void> {
    const byLevel = new Map<LevelName, Map<number, Map<number, RollupCell>>>();
    for (const { level, bucket, key, cell } of this.#agg.unmerged()) {
      let buckets = byLevel.get(level);
      if (!buckets) byLevel.set(level, (buckets = new Map()));
      let cells = buckets.get(bucket);
      if (!cells) buckets.set(bucket, (cells = new Map()));
      cells.set(key, cell);
    }
    for (const [level, buckets] of byLevel) {
      const list = [...buckets.keys()];
      for (let i = 0; i < list.length; i += 500) {
        const part = list.slice(i, i + 500);
        const result = await this.#db.writer.runAndReadAll(
          `SELECT epoch_ms(bucket)::DOUBLE, proto, port, events::DOUBLE, sources_sketch, targets_sketch, sensors_sketch, subnets_sketch
           FROM ${TABLE[level]} WHERE epoch_ms(bucket) IN (${part.map((b) => String(b)).join(',')})`,
        );
        for (const r of result.getRowsJS()) {
          const cell = buckets.get(num(r[0]))?.get(protoPortKey(num(r[1]), num(r[2])));
          if (cell === undefined) continue;
          cell.mergeFrom({
            events: num(r[3]),
            sources: sketch(r[4]),
            targets: sketch(r[5]),
            sensors: sketch(r[6]),
            subnets: sketch(r[7]),
          });
        }
      }
      for (const cells of buckets.values()) for (const cell of cells.values()) cell.needsMerge = false;
    }
  }

  /** Merges stored per-source rows into source cells that were not in memory. */
  async #mergeStoredSources(): Promise<void> {
    const pending = new Map<bigint, SourceCell>();
    for (const s of this.#agg.sources.values()) if (s.needsMerge) pending.set(addressToBigInt(s.addr, 0), s);
    if (pending.size === 0) return;
    const con = this.#db.writer;
    await con.run('CREATE OR REPLACE TEMP TABLE stage_keys (addr UHUGEINT)');
    const app = await con.createAppender('stage_keys', 'main', 'temp');
    for (const k of pending.keys()) {
      app.appendUHugeInt(k);
      app.endRow();
    }
    app.flushSync();
    app.closeSync();
    const result = await con.runAndReadAll(
      `SELECT s.addr, epoch_ms(first_seen)::DOUBLE, epoch_ms(last_seen)::DOUBLE, events::DOUBLE, ports_sketch, targets_sketch, sensors_sketch
       FROM sources s JOIN temp.stage_keys k ON s.addr = k.addr`,
    );
    for (const r of result.getRowsJS()) {
      pending.get(r[0] as bigint)?.mergeFrom({
        first: num(r[1]),
        last: num(r[2]),
        events: num(r[3]),
        ports: sketch(r[4]),
        targets: sketch(r[5]),
        sensors: sketch(r[6]),
      });
    }
    for (const s of pending.values()) s.needsMerge = false;
  }

  /** Rebuilds aggregates from raw events newer than the last flush (after a crash or kill). */
  async #replay(): Promise<void> {
    const con = this.#db.writer;
    const meta = (
      await con.runAndReadAll('SELECT value::DOUBLE FROM meta WHERE key = $1', [CHECKPOINT_KEY])
    ).getRows();
    const after = meta.length > 0 ? num(meta[0][0]) : 0;
    const now = this.#clock.now();
    const last = this.#ingestSeq;
    // Batches are replayed a slice of ingest sequence numbers at a time, to bound memory.
    for (let from = after; from < last; from += REPLAY_BATCHES) {
      const result = await con.runAndReadAll(
        `SELECT epoch_ms(time)::DOUBLE, sensor, ingest::DOUBLE,
           (src & 4294967295)::UINTEGER, ((src >> 32) & 4294967295)::UINTEGER, ((src >> 64) & 4294967295)::UINTEGER, (src >> 96)::UINTEGER,
           (coalesce(dst, 0) & 4294967295)::UINTEGER, ((coalesce(dst, 0) >> 32) & 4294967295)::UINTEGER,
           ((coalesce(dst, 0) >> 64) & 4294967295)::UINTEGER, (coalesce(dst, 0) >> 96)::UINTEGER,
           dst_port, proto, count, sampling
         FROM events WHERE ingest > $1 AND ingest <= $2 ORDER BY ingest`,
        [from, from + REPLAY_BATCHES],
      );
      const rows = result.getRows();
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
        this.#agg.add(num(rows[start][1]), c, num(rows[start][2]), now);
        start = end;
      }
    }
    this.#agg.lastSeq = Math.max(after, last);
  }

  async portSeries(
    proto: number,
    port: number,
    from: number,
    to: number,
    stepMs: number,
  ): Promise<SeriesPoint[]> {
    await this.flush();
    const level: LevelName = stepMs % DAY === 0 ? 'day' : stepMs % HOUR === 0 ? 'hour' : 'minute';
    const start = from - (from % stepMs);
    const steps = Math.ceil((to - start) / stepMs);
    const merged = Array.from({ length: steps }, () => ({
      events: 0,
      sources: new DistinctSketch(),
      targets: new DistinctSketch(),
      sensors: new DistinctSketch(),
      subnets: new DistinctSketch(),
    }));
    const result = await this.#db.reader.runAndReadAll(
      `SELECT epoch_ms(bucket)::DOUBLE, events::DOUBLE, sources_sketch, targets_sketch, sensors_sketch, subnets_sketch
       FROM ${TABLE[level]} WHERE proto = $1 AND port = $2 AND bucket >= epoch_ms($3::BIGINT) AND bucket < epoch_ms($4::BIGINT)`,
      [proto, port, start, start + steps * stepMs],
    );
    for (const r of result.getRowsJS()) {
      const m = merged[Math.floor((num(r[0]) - start) / stepMs)];
      m.events += num(r[1]);
      m.sources.merge(sketch(r[2]));
      m.targets.merge(sketch(r[3]));
      m.sensors.merge(sketch(r[4]));
      m.subnets.merge(sketch(r[5]));
    }
    return merged.map((m, i) => ({
      t: start + i * stepMs,
      events: m.events,
      sources: Math.round(m.sources.estimate()),
      targets: Math.round(m.targets.estimate()),
      sensors: Math.round(m.sensors.estimate()),
      subnets: Math.round(m.subnets.estimate()),
    }));
  }

  /**
   * Ranks ports over a window. Events rank exactly; for distinct counts the sum of per-bucket
   * counts picks candidates (it bounds the window's count from above), and the candidates' sketches
   * are merged for the true window figure, so a port is only missed if it ranks below 4×limit by
   * the bound.
   */
  async topPorts(from: number, to: number, by: Metric, limit: number): Promise<TopPort[]> {
    await this.flush();
    const level: LevelName = to - from >= 6 * HOUR ? 'hour' : 'minute';
    const width = WIDTH[level];
    const start = from - (from % width);
    const candidates = by === 'events' ? limit : limit * 4;
    const table = TABLE[level];
    const result = await this.#db.reader.runAndReadAll(
      `WITH ranked AS (
         SELECT proto, port FROM ${table}
         WHERE bucket >= epoch_ms($1::BIGINT) AND bucket < epoch_ms($2::BIGINT)
         GROUP BY proto, port ORDER BY sum(${by}) DESC, proto, port LIMIT ${candidates})
       SELECT r.proto, r.port, t.events::DOUBLE, t.sources_sketch, t.targets_sketch, t.sensors_sketch, t.subnets_sketch
       FROM ${table} t JOIN ranked r ON t.proto = r.proto AND t.port = r.port
       WHERE t.bucket >= epoch_ms($1::BIGINT) AND t.bucket < epoch_ms($2::BIGINT)`,
      [start, to],
    );
    const ports = new Map<number, { proto: number; port: number; events: number; sk: DistinctSketch[] }>();
    for (const r of result.getRowsJS()) {
      const k = protoPortKey(num(r[0]), num(r[1]));
      let p = ports.get(k);
      if (!p)
        ports.set(
          k,
          (p = {
            proto: num(r[0]),
            port: num(r[1]),
            events: 0,
            sk: [0, 1, 2, 3].map(() => new DistinctSketch()),
          }),
        );
      p.events += num(r[2]);
      for (let j = 0; j < 4; j++) p.sk[j].merge(sketch(r[3 + j]));
    }
    const out: TopPort[] = [...ports.values()].map((p) => ({
      proto: p.proto,
      port: p.port,
      events: p.events,
      sources: Math.round(p.sk[0].estimate()),
      targets: Math.round(p.sk[1].estimate()),
      sensors: Math.round(p.sk[2].estimate()),
      subnets: Math.round(p.sk[3].estimate()),
    }));
    out.sort((a, b) => b[by] - a[by] || a.proto - b.proto || a.port - b.port);
    return out.slice(0, limit);
  }

  async source(ip: string): Promise<SourceSummary | null> {
    const limbs = new Uint32Array(4);
    if (!parseAddress(ip, limbs, 0)) return null;
    await this.flush();
    const addr = addressToBigInt(limbs, 0).toString();
    const rows = (
      await this.#db.reader.runAndReadAll(
        `SELECT epoch_ms(first_seen)::DOUBLE, epoch_ms(last_seen)::DOUBLE, events::DOUBLE, ports, targets, sensors
         FROM sources WHERE addr = $1::UHUGEINT`,
        [addr],
      )
    ).getRows();
    if (rows.length === 0) return null;
    const [first, last, events, ports, targets, sensors] = rows[0].map(num);
    const top = await this.#db.reader.runAndReadAll(
      `SELECT proto, dst_port, sum(count::DOUBLE * sampling) AS n FROM events
       WHERE src = $1::UHUGEINT AND time >= epoch_ms($2::BIGINT)
       GROUP BY proto, dst_port ORDER BY n DESC, proto, dst_port LIMIT 20`,
      [addr, last - DAY],
    );
    bigIntToLimbs(BigInt(addr), limbs, 0);
    return {
      ip: formatAddress(limbs, 0),
      firstSeen: first,
      lastSeen: last,
      events,
      ports,
      targets,
      sensors,
      topPorts: top.getRows().map((r) => ({ proto: num(r[0]), port: num(r[1]), events: num(r[2]) })),
    };
  }

  /** Prunes by when batches arrived, not by event time, so importing old logs does not erase them. */
  pruneRaw(before: number): Promise<number> {
    return this.#exclusive(async () => {
      await this.#flush();
      const con = this.#db.writer;
      const r = await con.run(
        `DELETE FROM events WHERE ingest <= (SELECT coalesce(max(ingest), 0) FROM batches WHERE received < epoch_ms($1::BIGINT))`,
        [before],
      );
      await con.run('DELETE FROM batches WHERE received < epoch_ms($1::BIGINT)', [before]);
      return r.rowsChanged;
    });
  }

  async stats(): Promise<{ events: number; batches: number }> {
    const r = (
      await this.#db.reader.runAndReadAll(
        'SELECT (SELECT count(*) FROM events)::DOUBLE, (SELECT count(*) FROM batches)::DOUBLE',
      )
    ).getRows()[0];
    return { events: num(r[0]), batches: num(r[1]) };
  }

  async close(): Promise<void> {
    await this.flush();
    await this.#exclusive(async () => {
      this.#appender.closeSync();
    });
  }

  /** The connection reads go through; for tests that check the file directly. */
  get reader(): DuckDBConnection {
    return this.#db.reader;
  }
}

/** A TIMESTAMP_MS value for the appender. */
const tsMs = (ms: number) => timestampMillisValue(BigInt(ms));
