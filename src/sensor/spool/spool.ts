// The sensor's durable spool: events wait on disk, in append-only segment files, until the collector acknowledges them.
//
// Layout of the directory:
//   spool.json            the spool's id (part of every batch id) and format version
//   00000000000000000001.seg, ...   segments: frames (frame.ts) holding binary-codec event records
//   ack.json              the acknowledged position, the events acknowledged so far, and the ranges in flight
//   rejected/             batches the collector refused as invalid (BATCH.batch + BATCH.json)
//   lock                  the process id of the sensor using the directory
//
// The reader (the shipper) asks for a range after the acknowledged position, records it as pending,
// sends it and acknowledges it; only then does ack.json move, atomically. A batch's id is a function of
// its range (range.ts), and every range is recorded as pending before it is sent (a range the collector
// finds too large is replaced by its halves, also recorded first), so after a crash exactly the ranges
// that may have reached the collector go out again, under the same ids: the collector stores them once.

import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { systemClock, type Clock } from '../../core/clock.ts';
import { PortentError, type FieldProblem } from '../../core/errors.ts';
import { concatColumns, selectRows, type EventColumns } from '../../core/event.ts';
import { columnProblems, decodeBinaryBatch, encodeBinaryBatch } from '../../core/wire/binary.ts';
import { lockDir, syncDir, writeFileAtomic } from './files.ts';
import { encodeFrame, framePayload, scanFrames, FRAME_HEADER_BYTES, type FrameInfo } from './frame.ts';
import { samePoint, type SpoolPoint, type SpoolRange } from './range.ts';
import { CapSampler } from './sampler.ts';

/** 'always': fsync after every append; a number: at most this many ms of appends unsynced; 'never': leave it to the OS. */
export type FsyncPolicy = 'always' | 'never' | number;

export interface SpoolOptions {
  dir: string;
  /** Unacknowledged bytes at which sampling starts. */
  maxBytes: number;
  /** A segment is closed and a new one begun once it would grow past this. */
  segmentBytes: number;
  fsync: FsyncPolicy;
  /** Least time between two steps of the sampling rate. */
  samplingAdjustMs: number;
  clock?: Clock;
}

/** What an append did. */
export interface AppendResult {
  /** Events written (after sampling). */
  kept: number;
  /** Events left out by sampling. */
  sampledAway: number;
  /** The sampling rate k applied: 1 in k kept. */
  rate: number;
}

/** A range the shipper may send next, and what it needs to decide whether to wait for more. */
export interface SpoolPlan {
  range: SpoolRange;
  /** No more records will be added to the range's segment. */
  sealed: boolean;
  /** When the range's first record was appended. */
  firstAppendedAt: number;
}

/** A snapshot of the spool for health reports. */
export interface SpoolHealth {
  /** Bytes not yet acknowledged; the cap applies to this. */
  bytes: number;
  /** Bytes of the segment files on disk (acknowledged records stay until their segment is done). */
  diskBytes: number;
  segments: number;
  unshippedEvents: number;
  /** Age of the oldest unacknowledged record; null when everything is acknowledged. */
  oldestUnshippedAgeMs: number | null;
  /** The sampling rate k: 1 in k events kept; 1 when under the cap. */
  samplingRate: number;
  /** Events left out by sampling since the spool was opened. */
  sampledAwayEvents: number;
  /** Batches in rejected/. */
  quarantinedBatches: number;
  /** Bytes cut from torn or corrupt segment tails when the spool was opened. */
  truncatedBytes: number;
  /** Events acknowledged (or quarantined) over the spool's whole life. */
  ackedEvents: number;
  /** Events ever written: acknowledged plus waiting. */
  appendedEvents: number;
}

/** Appends are cut into records of at most this many events, so a batch never has to read a huge record. */
export const RECORD_MAX_EVENTS = 10_000;

const FORMAT = 1;
const META_FILE = 'spool.json';
const ACK_FILE = 'ack.json';
const REJECTED_DIR = 'rejected';
const SEGMENT_RE = /^(\d{20})\.seg$/;
/** Records carry a fixed envelope: the batch envelope is made when a range is sent. */
const RECORD_ID = '5b001000-0000-4000-8000-000000000001';
const RECORD_SOFTWARE = 'portent-spool';
/** Reading back never judges event times: they were checked on append, and the collector judges again. */
const NO_TIME_LIMIT: Clock = { now: () => Number.MAX_SAFE_INTEGER };

interface Segment {
  num: number;
  path: string;
  /** Bytes of whole records. */
  size: number;
  offsets: number[];
  counts: number[];
  times: number[];
}

interface AckState {
  segment: number;
  offset: number;
  index: number;
  /** Events acknowledged over the spool's life. */
  events: number;
  /** Ranges to send before planning more: each ends at one of these points and starts where the last ended. */
  pending: SpoolPoint[];
}

const segmentName = (num: number): string => `${String(num).padStart(20, '0')}.seg`;

function invalid(dir: string, what: string): PortentError {
  return new PortentError('SPOOL_INVALID', { message: `The spool directory ${dir} ${what}.` });
}

/** The events of `c` from row `from` up to `to`. */
function sliceColumns(c: EventColumns, from: number, to: number): EventColumns {
  if (from === 0 && to === c.length) return c;
  return selectRows(
    c,
    Array.from({ length: to - from }, (_, i) => from + i),
  );
}

/** Index of the record at `offset` (or of the first record after it; `offsets.length` at the end). */
function frameAt(seg: Segment, offset: number): number {
  let lo = 0;
  let hi = seg.offsets.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (seg.offsets[mid] < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class Spool {
  readonly dir: string;
  /** Random, made with the directory: part of every batch id. */
  readonly id: string;
  readonly options: Required<SpoolOptions>;
  readonly #clock: Clock;
  readonly #segments: Segment[];
  readonly #sampler: CapSampler;
  readonly #release: () => Promise<void>;
  #ack: AckState;
  #handle: FileHandle;
  /** Bytes of the last segment known to be on disk. */
  #synced: number;
  #lastSync: number;
  #unackedEvents: number;
  #quarantined: number;
  readonly #truncatedBytes: number;
  #tail: Promise<unknown> = Promise.resolve();
  #waiters: (() => void)[] = [];
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(init: {
    dir: string;
    id: string;
    options: Required<SpoolOptions>;
    segments: Segment[];
    ack: AckState;
    handle: FileHandle;
    release: () => Promise<void>;
    quarantined: number;
    truncatedBytes: number;
  }) {
    this.dir = init.dir;
    this.id = init.id;
    this.options = init.options;
    this.#clock = init.options.clock;
    this.#segments = init.segments;
    this.#ack = init.ack;
    this.#handle = init.handle;
    this.#release = init.release;
    this.#quarantined = init.quarantined;
    this.#truncatedBytes = init.truncatedBytes;
    this.#sampler = new CapSampler(init.options.maxBytes, init.options.samplingAdjustMs);
    this.#synced = this.#active.size;
    this.#lastSync = this.#clock.now();
    this.#unackedEvents = this.#countUnacked();
    const fsync = init.options.fsync;
    if (typeof fsync === 'number') {
      // A backstop for quiet spells: appends sync when they find the interval passed, this covers the last one.
      this.#timer = setInterval(() => void this.#serial(() => this.#syncIfBehind()).catch(() => {}), fsync);
      this.#timer.unref();
    }
  }

  /**
   * Opens (or creates) the spool in `options.dir`: takes its lock, cuts torn record tails left by a crash,
   * and forgets segments that were fully acknowledged. Throws SPOOL_LOCKED when another process has the
   * directory and SPOOL_INVALID when its files are not a spool's.
   */
  static async open(options: SpoolOptions): Promise<Spool> {
    const dir = resolve(options.dir);
    const opts: Required<SpoolOptions> = { ...options, dir, clock: options.clock ?? systemClock };
    if (!(opts.segmentBytes > FRAME_HEADER_BYTES)) throw new RangeError('segmentBytes is too small');
    await mkdir(join(dir, REJECTED_DIR), { recursive: true });
    const release = await lockDir(dir);
    try {
      return await Spool.#load(dir, opts, release);
    } catch (err) {
      await release();
      throw err;
    }
  }

  static async #load(
    dir: string,
    options: Required<SpoolOptions>,
    release: () => Promise<void>,
  ): Promise<Spool> {
    const names = await readdir(dir);
    let nums = names
      .map((n) => SEGMENT_RE.exec(n)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);

    let meta = await readJson(dir, META_FILE);
    if (meta === undefined) {
      if (nums.length > 0 || names.includes(ACK_FILE))
        throw invalid(dir, `has segments but no ${META_FILE}: it cannot say which batches it already sent`);
      meta = { format: FORMAT, id: randomUUID() };
      await writeFileAtomic(dir, META_FILE, `${JSON.stringify(meta)}\n`);
    }
    const id = (meta as { id?: unknown }).id;
    if ((meta as { format?: unknown }).format !== FORMAT || typeof id !== 'string' || id.length === 0)
      throw invalid(dir, `has a ${META_FILE} this version cannot read`);

    const ack = parseAck(dir, await readJson(dir, ACK_FILE)) ?? {
      segment: nums[0] ?? 1,
      offset: 0,
      index: 0,
      events: 0,
      pending: [],
    };

    // Segments below the acknowledged one were done; a crash came between ack.json and their removal.
    for (const n of nums) if (n < ack.segment) await rm(join(dir, segmentName(n)), { force: true });
    nums = nums.filter((n) => n >= ack.segment);
    if (nums[0] !== ack.segment) {
      // The acknowledged segment is gone (removed by hand): carry on after it, never reusing its number.
      const next = nums[0] ?? ack.segment + (ack.offset === 0 && ack.index === 0 ? 0 : 1);
      Object.assign(ack, { segment: next, offset: 0, index: 0, pending: [] });
    }
    if (nums.length === 0) nums = [ack.segment];

    const segments: Segment[] = [];
    let truncatedBytes = 0;
    for (const num of nums) {
      const path = join(dir, segmentName(num));
      const handle = await open(path, 'a+');
      try {
        const { size } = await handle.stat();
        const buf = Buffer.allocUnsafe(size);
        if (size > 0) await handle.read(buf, 0, size, 0);
        const { frames, validEnd } = scanFrames(buf);
        if (validEnd < size) {
          await handle.truncate(validEnd);
          truncatedBytes += size - validEnd;
        }
        // After a kill the records may sit in the page cache only; they could be sent from here on.
        await handle.sync();
        segments.push(segmentOf(num, path, validEnd, frames));
      } finally {
        await handle.close();
      }
    }
    await syncDir(dir);

    const first = segments[0];
    if (ack.offset > first.size) {
      // Acknowledged records lost with the tail (fsync "never" and a power cut): they are at the collector.
      Object.assign(ack, { offset: first.size, index: 0, pending: [] });
    }
    const at = frameAt(first, ack.offset);
    if (ack.offset < first.size && (first.offsets[at] !== ack.offset || ack.index >= first.counts[at]))
      throw invalid(dir, `has an ${ACK_FILE} that points between records`);
    // Pending ranges are synced before they are recorded, so they survive whatever tail was cut; if
    // they do not, they were never sent.
    let prev: SpoolPoint = ack;
    for (const p of ack.pending) {
      const forward = p.offset > prev.offset || (p.offset === prev.offset && p.index > prev.index);
      const i = frameAt(first, p.offset);
      const onRecord =
        p.offset === first.size ? p.index === 0 : first.offsets[i] === p.offset && p.index < first.counts[i];
      if (!forward || !onRecord) {
        ack.pending = [];
        break;
      }
      prev = p;
    }

    const quarantined = (await readdir(join(dir, REJECTED_DIR))).filter((n) => n.endsWith('.json')).length;
    const last = segments[segments.length - 1];
    const handle = await open(last.path, 'a');
    const spool = new Spool({
      dir,
      id,
      options,
      segments,
      ack,
      handle,
      release,
      quarantined,
      truncatedBytes,
    });
    spool.#advance();
    await spool.#persistAck();
    return spool;
  }

  get #active(): Segment {
    return this.#segments[this.#segments.length - 1];
  }

  #segment(num: number): Segment {
    const seg = this.#segments.find((s) => s.num === num);
    if (seg === undefined) throw new Error(`segment ${num} is not in the spool`);
    return seg;
  }

  /** Runs file work one step at a time: appends, syncs and closing must not interleave. */
  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(work);
    this.#tail = run.catch(() => {});
    return run;
  }

  // -------------------------------------------------------------------------------------------------------
  // Writing

  /**
   * Writes events to the spool; durable per the fsync policy when the promise resolves. Over the cap they
   * are sampled (sampler.ts). Events a collector could never accept are refused whole with BATCH_INVALID
   * before anything is written: one bad event must not get a whole batch refused later.
   */
  append(events: EventColumns): Promise<AppendResult> {
    return this.#serial(() => this.#append(events));
  }

  async #append(events: EventColumns): Promise<AppendResult> {
    if (this.#closed) throw new Error('the spool is closed');
    const now = this.#clock.now();
    const problems: FieldProblem[] = [];
    columnProblems(events, now, problems);
    if (problems.length > 0) {
      throw new PortentError('BATCH_INVALID', {
        message: 'Events failed validation; nothing from this append was written to the spool.',
        details: problems,
      });
    }
    this.#sampler.adjust(this.#unackedBytes(), now);
    const { kept, sampledAway } = this.#sampler.sample(events);
    const result = { kept: kept.length, sampledAway, rate: this.#sampler.rate };
    if (kept.length === 0) return result;

    // Encode everything first: a value the codec cannot hold must fail before any byte is written.
    const frames: { frame: Buffer; events: number }[] = [];
    for (let from = 0; from < kept.length; from += RECORD_MAX_EVENTS) {
      const part = sliceColumns(kept, from, Math.min(from + RECORD_MAX_EVENTS, kept.length));
      const payload = encodeBinaryBatch({
        batchId: RECORD_ID,
        seq: 0,
        created: now,
        software: RECORD_SOFTWARE,
        events: part,
      });
      frames.push({ frame: encodeFrame(payload, part.length, now), events: part.length });
    }
    for (const { frame, events: count } of frames) {
      let seg = this.#active;
      if (seg.size > 0 && seg.size + frame.length > this.options.segmentBytes) seg = await this.#roll();
      try {
        await this.#handle.appendFile(frame);
      } catch (err) {
        // A short write (disk full) must not leave a torn record in front of later ones.
        await this.#handle.truncate(seg.size).catch(() => {});
        throw err;
      }
      seg.offsets.push(seg.size);
      seg.counts.push(count);
      seg.times.push(now);
      seg.size += frame.length;
      this.#unackedEvents += count;
    }
    const fsync = this.options.fsync;
    if (fsync === 'always' || (typeof fsync === 'number' && now - this.#lastSync >= fsync))
      await this.#sync();
    for (const wake of this.#waiters.splice(0)) wake();
    return result;
  }

  /** Closes the active segment (synced: ranges are only sent from durable records) and starts the next. */
  async #roll(): Promise<Segment> {
    await this.#handle.datasync();
    await this.#handle.close();
    const num = this.#active.num + 1;
    const path = join(this.dir, segmentName(num));
    this.#handle = await open(path, 'a');
    await syncDir(this.dir);
    const seg = segmentOf(num, path, 0, []);
    this.#segments.push(seg);
    this.#synced = 0;
    return seg;
  }

  async #sync(): Promise<void> {
    const size = this.#active.size;
    await this.#handle.datasync();
    this.#synced = size;
    this.#lastSync = this.#clock.now();
  }

  async #syncIfBehind(): Promise<void> {
    if (!this.#closed && this.#synced < this.#active.size) await this.#sync();
  }

  /** Resolves at the next append that writes something, or when `signal` aborts. */
  waitForData(signal?: AbortSignal): Promise<void> {
    return new Promise((done) => {
      if (signal?.aborted) return done();
      const wake = () => {
        signal?.removeEventListener('abort', wake);
        const i = this.#waiters.indexOf(wake);
        if (i >= 0) this.#waiters.splice(i, 1);
        done();
      };
      this.#waiters.push(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });
  }

  // -------------------------------------------------------------------------------------------------------
  // Reading

  /** Events acknowledged over the spool's life: the sequence number of the next batch's first event. */
  get ackedEvents(): number {
    return this.#ack.events;
  }

  /**
   * Ranges recorded as pending and not yet acknowledged, in order, the first starting at the
   * acknowledged position. After a crash they are sent again exactly as they were: any of them may
   * already be at the collector, and only the same range gets the same batch id.
   */
  pending(): SpoolRange[] {
    const seg = this.#segment(this.#ack.segment);
    let start: SpoolPoint = { offset: this.#ack.offset, index: this.#ack.index };
    return this.#ack.pending.map((end) => {
      const r = { segment: seg.num, start, end, events: eventsBetween(seg, start, end) };
      start = end;
      return r;
    });
  }

  /**
   * The next range to send: up to `maxEvents` events from the acknowledged position, within one segment,
   * made of whole records where that gives at least `maxEvents / 2`; null when everything written is
   * acknowledged.
   */
  async plan(maxEvents: number): Promise<SpoolPlan | null> {
    if (this.#advance()) await this.#persistAck();
    const seg = this.#segment(this.#ack.segment);
    const first = frameAt(seg, this.#ack.offset);
    if (first >= seg.offsets.length) return null;
    const start = { offset: this.#ack.offset, index: this.#ack.index };
    let end = pointAfter(seg, start, maxEvents);
    // Batches end on a record boundary unless that would leave them less than half full: a record is
    // then read for one batch only.
    const boundary = { offset: end.offset, index: 0 };
    if (end.index > 0 && end.offset > start.offset && eventsBetween(seg, start, boundary) >= maxEvents / 2)
      end = boundary;
    return {
      range: { segment: seg.num, start, end, events: eventsBetween(seg, start, end) },
      sealed: seg !== this.#active,
      firstAppendedAt: seg.times[first],
    };
  }

  /**
   * Records `range` (from `plan`) as pending, after making sure its records are on disk: a batch that
   * may reach the collector must never be lost, or its offsets reused, locally.
   */
  async schedule(range: SpoolRange): Promise<void> {
    this.#checkStart(range);
    if (this.#ack.pending.length > 0) throw new Error('ranges are pending already');
    if (range.segment === this.#active.num) await this.#serial(() => this.#syncIfBehind());
    this.#ack.pending = [range.end];
    await this.#persistAck();
  }

  /**
   * Replaces the first pending range by its two halves (the first gets the smaller half), recorded
   * before either is sent; for a batch the collector found too large.
   */
  async split(range: SpoolRange): Promise<[SpoolRange, SpoolRange]> {
    this.#checkStart(range);
    if (range.events < 2) throw new RangeError('a range of fewer than 2 events cannot be split');
    const first = this.#ack.pending[0];
    if (first === undefined || !samePoint(first, range.end))
      throw new Error('only the first pending range can be split');
    const seg = this.#segment(range.segment);
    const half = Math.floor(range.events / 2);
    const mid = pointAfter(seg, range.start, half);
    this.#ack.pending.unshift(mid);
    await this.#persistAck();
    return [
      { segment: range.segment, start: range.start, end: mid, events: half },
      { segment: range.segment, start: mid, end: range.end, events: range.events - half },
    ];
  }

  /** The events of `range`, read back from disk and checked against their CRCs. */
  async read(range: SpoolRange): Promise<EventColumns> {
    const seg = this.#segment(range.segment);
    const from = frameAt(seg, range.start.offset);
    const last = range.end.index > 0 ? frameAt(seg, range.end.offset) : frameAt(seg, range.end.offset) - 1;
    const stop = last + 1 < seg.offsets.length ? seg.offsets[last + 1] : seg.size;
    const buf = Buffer.allocUnsafe(stop - range.start.offset);
    const handle = await open(seg.path, 'r');
    try {
      await handle.read(buf, 0, buf.length, range.start.offset);
    } finally {
      await handle.close();
    }
    const { frames, validEnd } = scanFrames(buf, range.start.offset);
    if (validEnd !== stop || frames.length !== last - from + 1)
      throw invalid(
        this.dir,
        `has a record of segment ${seg.num} near offset ${validEnd} that changed on disk`,
      );
    let columns: EventColumns | undefined;
    for (const f of frames) {
      const payload = framePayload(buf.subarray(f.offset - range.start.offset));
      const c = decodeBinaryBatch(payload, { maxEvents: f.events, clock: NO_TIME_LIMIT }).events;
      columns = columns === undefined ? c : concatColumns(columns, c);
    }
    return sliceColumns(columns!, range.start.index, range.start.index + range.events);
  }

  /** Moves the acknowledged position to the end of `range`, which must start at it. */
  async ack(range: SpoolRange): Promise<void> {
    this.#checkStart(range);
    this.#ack.segment = range.segment;
    this.#ack.offset = range.end.offset;
    this.#ack.index = range.end.index;
    this.#ack.events += range.events;
    const pending = this.#ack.pending;
    if (pending.length > 0) {
      if (!samePoint(pending[0], range.end))
        throw new Error('acknowledged range is not the first pending one');
      pending.shift();
    }
    this.#unackedEvents -= range.events;
    this.#advance();
    await this.#persistAck();
  }

  /**
   * Sets a batch the collector refused aside in rejected/ (`BATCHID.batch`, the binary batch, and
   * `BATCHID.json`, why), then acknowledges its range: it must not block the batches behind it.
   */
  async quarantine(range: SpoolRange, batchId: string, body: Uint8Array, why: object): Promise<void> {
    const dir = join(this.dir, REJECTED_DIR);
    await writeFileAtomic(dir, `${batchId}.batch`, body);
    const note = {
      batch_id: batchId,
      segment: range.segment,
      start: range.start,
      end: range.end,
      events: range.events,
      ...why,
    };
    await writeFileAtomic(dir, `${batchId}.json`, `${JSON.stringify(note, null, 2)}\n`);
    this.#quarantined++;
    await this.ack(range);
  }

  #checkStart(range: SpoolRange): void {
    const a = this.#ack;
    if (range.segment !== a.segment || !samePoint(range.start, a))
      throw new Error(
        `range ${range.segment}:${range.start.offset}.${range.start.index} does not start at the acknowledged position ${a.segment}:${a.offset}.${a.index}`,
      );
  }

  /** Moves the acknowledged position past sealed segments it has reached the end of; true if it moved. */
  #advance(): boolean {
    const a = this.#ack;
    let seg = this.#segment(a.segment);
    let moved = false;
    while (a.offset === seg.size && a.pending.length === 0 && seg !== this.#active) {
      seg = this.#segments[this.#segments.indexOf(seg) + 1];
      Object.assign(a, { segment: seg.num, offset: 0, index: 0 });
      moved = true;
    }
    return moved;
  }

  /** Writes ack.json, then removes the segments now behind the acknowledged position. */
  async #persistAck(): Promise<void> {
    await writeFileAtomic(this.dir, ACK_FILE, `${JSON.stringify(this.#ack)}\n`);
    while (this.#segments[0].num < this.#ack.segment) {
      const done = this.#segments.shift()!;
      await rm(done.path, { force: true });
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Health

  #unackedBytes(): number {
    return this.#segments.reduce((sum, s) => sum + s.size, 0) - this.#ack.offset;
  }

  #countUnacked(): number {
    let n = -this.#ack.index;
    for (const seg of this.#segments) {
      const from = seg.num === this.#ack.segment ? frameAt(seg, this.#ack.offset) : 0;
      for (let i = from; i < seg.counts.length; i++) n += seg.counts[i];
    }
    return n;
  }

  health(): SpoolHealth {
    const now = this.#clock.now();
    let oldest: number | null = null;
    for (const seg of this.#segments) {
      const i = seg.num === this.#ack.segment ? frameAt(seg, this.#ack.offset) : 0;
      if (i < seg.times.length) {
        oldest = now - seg.times[i];
        break;
      }
    }
    return {
      bytes: this.#unackedBytes(),
      diskBytes: this.#segments.reduce((sum, s) => sum + s.size, 0),
      segments: this.#segments.length,
      unshippedEvents: this.#unackedEvents,
      oldestUnshippedAgeMs: oldest,
      samplingRate: this.#sampler.rate,
      sampledAwayEvents: this.#sampler.sampledAway,
      quarantinedBatches: this.#quarantined,
      truncatedBytes: this.#truncatedBytes,
      ackedEvents: this.#ack.events,
      appendedEvents: this.#ack.events + this.#unackedEvents,
    };
  }

  /** Syncs what was appended, closes the files and releases the directory. */
  async close(): Promise<void> {
    if (this.#closed) return;
    clearInterval(this.#timer);
    await this.#serial(async () => {
      this.#closed = true;
      await this.#handle.datasync();
      await this.#handle.close();
    });
    for (const wake of this.#waiters.splice(0)) wake();
    await this.#release();
  }
}

function segmentOf(num: number, path: string, size: number, frames: FrameInfo[]): Segment {
  return {
    num,
    path,
    size,
    offsets: frames.map((f) => f.offset),
    counts: frames.map((f) => f.events),
    times: frames.map((f) => f.appendedAt),
  };
}

/** The point `n` events after `start`, stopping at the segment's end. */
function pointAfter(seg: Segment, start: SpoolPoint, n: number): SpoolPoint {
  let i = frameAt(seg, start.offset);
  let left = n + start.index;
  while (i < seg.counts.length && left >= seg.counts[i]) {
    left -= seg.counts[i];
    i++;
  }
  return i < seg.counts.length ? { offset: seg.offsets[i], index: left } : { offset: seg.size, index: 0 };
}

function eventsBetween(seg: Segment, start: SpoolPoint, end: SpoolPoint): number {
  let n = end.index - start.index;
  for (let i = frameAt(seg, start.offset); i < seg.offsets.length && seg.offsets[i] < end.offset; i++)
    n += seg.counts[i];
  return n;
}

async function readJson(dir: string, name: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(join(dir, name), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw invalid(dir, `has a ${name} that is not JSON`);
  }
}

function parseAck(dir: string, value: unknown): AckState | undefined {
  if (value === undefined) return undefined;
  const v = value as Record<string, unknown>;
  const whole = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
  const isPoint = (p: unknown): p is SpoolPoint =>
    typeof p === 'object' && p !== null && whole((p as SpoolPoint).offset) && whole((p as SpoolPoint).index);
  if (
    !whole(v.segment) ||
    !whole(v.offset) ||
    !whole(v.index) ||
    !whole(v.events) ||
    !Array.isArray(v.pending) ||
    !v.pending.every(isPoint)
  )
    throw invalid(dir, `has an ${ACK_FILE} this version cannot read`);
  return {
    segment: v.segment,
    offset: v.offset,
    index: v.index,
    events: v.events,
    pending: v.pending.map((p: SpoolPoint) => ({ offset: p.offset, index: p.index })),
  };
}
