// Follows one log file like `tail -F` and remembers, across restarts, how far its lines were handled.
//
// The consumer pulls lines (async iterator or readAvailable) and confirms them once they are safe in the
// spool; only confirmed positions are persisted, so after a crash reading resumes at the first unconfirmed
// line (at-least-once). A file renamed away by rotation is read to its end before the new file is started,
// and a partial last line is held until its newline arrives (see `partialLineTimeoutMs` for writers that
// never end it). Everything the tailer holds is bounded: one read chunk of lines and one capped line per
// open file.

import { watch, type FSWatcher } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { systemClock, type Clock } from '../../core/clock.ts';
import { LineSplitter, type SplitLine } from './line-splitter.ts';
import {
  HEAD_BYTES,
  identify,
  loadTailState,
  locate,
  rotatedBetween,
  sameHead,
  sameInode,
  saveTailState,
  statIfExists,
  type FileIdentity,
  type TailState,
} from './tail-state.ts';

export interface TailOptions {
  /** The file to follow. It need not exist yet. */
  path: string;
  /** Where the confirmed position is kept, one file per tailed path; its directory must exist. */
  statePath: string;
  /** Where to start in a file that exists when the path is tailed for the first time (no state yet). */
  startAt?: 'end' | 'beginning';
  /** How often to look at the file when no file-system event says it changed. Default 1000 ms. */
  pollIntervalMs?: number;
  /** Lines longer than this many bytes are cut to it and counted. Default 64 KiB. */
  maxLineBytes?: number;
  /**
   * How long a file that left the path (renamed by rotation, or deleted) is still read after it went
   * quiet, for writers that keep writing to it until told to reopen. Default 5000 ms.
   */
  rotateWaitMs?: number;
  /**
   * After how long without new bytes an unterminated last line is emitted anyway; 0 (the default) holds it
   * until its newline arrives. Bytes that continue it later then form a line of their own.
   */
  partialLineTimeoutMs?: number;
  /** Use fs.watch on the file's directory to notice changes at once; polling always runs too. */
  watch?: boolean;
  /** Bytes read at a time; also bounds how many lines wait for the consumer. Default 64 KiB. */
  readChunkBytes?: number;
  /** Measures the quiet times above; tests pass a FakeClock and call wake(). */
  clock?: Clock;
}

/** Where a line ends: pass it to confirm() once the line is handled. Later positions compare greater. */
export interface TailPosition {
  /** The file's place in the order the tailer followed files since it started. */
  readonly seq: number;
  readonly file: FileIdentity;
  /** Byte offset just past the line in that file. */
  readonly offset: number;
}

export interface TailLine {
  /** The line without its terminator; invalid UTF-8 is replaced by U+FFFD. */
  text: string;
  /** True when the line was longer than maxLineBytes and only its first bytes are in `text`. */
  truncated: boolean;
  /** The line's length in bytes as written. */
  bytes: number;
  position: TailPosition;
}

export interface TailStats {
  linesRead: number;
  bytesRead: number;
  /** Lines longer than maxLineBytes, cut. */
  truncatedLines: number;
  /** Unterminated lines emitted at rotation, deletion, truncation or after partialLineTimeoutMs. */
  partialLinesFlushed: number;
  /** Times a new file appeared at the path after another (rotation, or deleted and recreated). */
  rotations: number;
  /** Times the file at the path shrank or was rewritten in place (copytruncate). */
  truncations: number;
  /** Copies left by copytruncate found and read on from where the original was cut. */
  copiesRead: number;
  /** Files named in the saved state that could not be found again at start (their unread lines are lost). */
  lostFiles: number;
  /** Errors met while looking at or reading the file; the tailer retries at the next poll. */
  errors: number;
  lastError: string | undefined;
  /** Files held open: the one at the path and rotated ones still being read. */
  openFiles: number;
}

interface FileRecord {
  seq: number;
  ident: FileIdentity;
}

/** A file being read. The last one is normally the file at the path; the ones before it left it. */
interface OpenFile {
  fh: FileHandle;
  /** This handle's own inode (a copytruncate copy has another inode than its record). */
  dev: string;
  ino: string;
  /** Birth time in ns, 0n where the file system keeps none. */
  birthNs: bigint;
  record: FileRecord;
  readOffset: number;
  splitter: LineSplitter;
  /** Clock time of the last read that returned bytes. */
  grewAt: number;
  /** Clock time the file stopped being the file at the path; undefined while it is. */
  leftAt: number | undefined;
  /** A copytruncate copy: nothing writes to it, so it is finished at its end without waiting. */
  isCopy: boolean;
}

export class FileTailer implements AsyncIterable<TailLine> {
  readonly path: string;
  readonly statePath: string;
  readonly #startAt: 'end' | 'beginning';
  readonly #pollIntervalMs: number;
  readonly #maxLineBytes: number;
  readonly #rotateWaitMs: number;
  readonly #partialLineTimeoutMs: number;
  readonly #useWatch: boolean;
  readonly #clock: Clock;
  readonly #buf: Buffer;

  #open: OpenFile[] = [];
  /** Files followed from the one of the last confirmed line on, for the saved state's `next`. */
  #records: FileRecord[] = [];
  #nextSeq = 1;
  /** The last files followed, kept longer than #records: to tell a copy of one from a rotated file. */
  #known: FileRecord[] = [];
  #ready: TailLine[] = [];
  #started: Promise<void> | undefined;
  #reading = false;
  #closed = false;
  #inFlight: Promise<unknown> | undefined;
  #waker: (() => void) | undefined;
  #wakePending = false;
  #watcher: FSWatcher | undefined;
  #confirmed: TailPosition | undefined;
  #saved: TailPosition | undefined;
  #saving: Promise<void> = Promise.resolve();
  #stats: Omit<TailStats, 'openFiles'> = {
    linesRead: 0,
    bytesRead: 0,
    truncatedLines: 0,
    partialLinesFlushed: 0,
    rotations: 0,
    truncations: 0,
    copiesRead: 0,
    lostFiles: 0,
    errors: 0,
    lastError: undefined,
  };
  #filesSeen = 0;

  constructor(opts: TailOptions) {
    this.path = opts.path;
    this.statePath = opts.statePath;
    if (
      dirname(opts.statePath) === dirname(opts.path) &&
      basename(opts.statePath).startsWith(basename(opts.path))
    ) {
      // It would be taken for a rotated copy of the log when looking for one.
      throw new RangeError(`the state file ${opts.statePath} must not be named like the log it follows`);
    }
    this.#startAt = opts.startAt ?? 'end';
    this.#pollIntervalMs = positive('pollIntervalMs', opts.pollIntervalMs ?? 1000);
    this.#maxLineBytes = positive('maxLineBytes', opts.maxLineBytes ?? 64 * 1024);
    this.#rotateWaitMs = nonNegative('rotateWaitMs', opts.rotateWaitMs ?? 5000);
    this.#partialLineTimeoutMs = nonNegative('partialLineTimeoutMs', opts.partialLineTimeoutMs ?? 0);
    this.#useWatch = opts.watch ?? true;
    this.#clock = opts.clock ?? systemClock;
    this.#buf = Buffer.allocUnsafe(positive('readChunkBytes', opts.readChunkBytes ?? 64 * 1024));
  }

  stats(): TailStats {
    return { ...this.#stats, openFiles: this.#open.length };
  }

  [Symbol.asyncIterator](): AsyncIterator<TailLine> {
    return this;
  }

  /** The next line, waiting for one as long as it takes; done once close() was called. */
  async next(): Promise<IteratorResult<TailLine, undefined>> {
    return this.#exclusive(async () => {
      await this.#start();
      for (;;) {
        if (this.#closed) return { done: true, value: undefined };
        const line = this.#ready.shift();
        if (line !== undefined) return { done: false, value: line };
        if (!(await this.#step())) await this.#wait();
      }
    });
  }

  /**
   * Lines that can be read now, up to `max`, without waiting for more: for batching consumers. Empty when
   * nothing new is there yet.
   */
  async readAvailable(max = 1000): Promise<TailLine[]> {
    return this.#exclusive(async () => {
      await this.#start();
      while (!this.#closed && this.#ready.length < max && (await this.#step()));
      return this.#ready.splice(0, Math.min(max, this.#ready.length));
    });
  }

  /** Looks at the file now rather than at the next poll (a signal, a test driving a FakeClock). */
  wake(): void {
    if (this.#waker !== undefined) this.#waker();
    else this.#wakePending = true;
  }

  /**
   * Marks every line up to and including the one ending at `position` as handled, and persists that
   * position atomically before resolving. Confirm in order; an older position than one already confirmed
   * is ignored. Each call writes and fsyncs the state file, so confirm once per spooled batch, not per line.
   */
  confirm(position: TailPosition): Promise<void> {
    if (this.#confirmed === undefined || comparePositions(position, this.#confirmed) > 0) {
      this.#confirmed = position;
    }
    const run = this.#saving.catch(() => {}).then(() => this.#saveConfirmed());
    this.#saving = run;
    return run;
  }

  /** Stops following: a waiting next() returns done; open files are closed; confirmed state is saved. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#watcher?.close();
    this.#watcher = undefined;
    this.wake();
    await this.#inFlight?.catch(() => {});
    await this.#saving.catch(() => {});
    for (const f of this.#open) await f.fh.close().catch(() => {});
    this.#open = [];
  }

  async #exclusive<T>(read: () => Promise<T>): Promise<T> {
    if (this.#reading) throw new Error('a FileTailer has one consumer: await each read before the next');
    this.#reading = true;
    const run = read();
    this.#inFlight = run;
    try {
      return await run;
    } finally {
      this.#reading = false;
      this.#inFlight = undefined;
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Starting: from the saved state, or at the start or end of the file for a path never tailed before.

  #start(): Promise<void> {
    this.#started ??= this.#restore();
    return this.#started;
  }

  async #restore(): Promise<void> {
    let state: TailState | undefined;
    try {
      state = await loadTailState(this.statePath);
    } catch (err) {
      // Better to read lines again than to skip them: an unreadable state restarts at the beginning.
      this.#noteError(`state file ignored: ${(err as Error).message}`);
      state = { version: 1, path: this.path, file: null, next: [] };
    }
    if (state !== undefined && state.path === this.path) await this.#resume(state);
    else await this.#begin();
    this.#startWatching();
  }

  async #resume(state: TailState): Promise<void> {
    const now = this.#clock.now();
    const wanted = [
      ...(state.file === null ? [] : [{ id: state.file, offset: state.file.offset }]),
      ...state.next.map((id) => ({ id, offset: 0 })),
    ];
    for (const { id, offset } of wanted) {
      const found = await locate(this.path, id, offset, this.#open);
      if (found === undefined) {
        this.#stats.lostFiles += 1;
        continue;
      }
      this.#adopt(found.fh, found.st, this.#newRecord(id), offset, now);
      this.#open.at(-1)!.isCopy = !found.sameInode;
    }
    // The file at the path now, and the files a rotation made while we were stopped between it and the
    // last one found. Opened now: a file left for later could be rotated away before we look again.
    await this.#adoptPathFile(now);
  }

  async #begin(): Promise<void> {
    const st = await statIfExists(this.path);
    if (st?.isFile()) {
      const fh = await open(this.path, 'r');
      const fst = await fh.stat({ bigint: true });
      const offset = this.#startAt === 'end' ? Number(fst.size) : 0;
      this.#adopt(fh, fst, this.#newRecord(await identify(fh, fst)), offset, undefined);
      const first = this.#open[0];
      this.#confirmed = { seq: first.record.seq, file: first.record.ident, offset };
    }
    // Persist the starting point at once, so a restart before any confirmation neither skips nor repeats.
    await this.confirm(this.#confirmed ?? NO_FILE_YET);
  }

  #newRecord(ident: FileIdentity): FileRecord {
    const record = { seq: this.#nextSeq++, ident };
    this.#records.push(record);
    this.#known.push(record);
    if (this.#known.length > KNOWN_FILES) this.#known.shift();
    return record;
  }

  #adopt(fh: FileHandle, st: BigIntStats, record: FileRecord, offset: number, leftAt: number | undefined) {
    this.#filesSeen += 1;
    this.#open.push({
      fh,
      dev: String(st.dev),
      ino: String(st.ino),
      birthNs: st.birthtimeNs,
      record,
      readOffset: offset,
      splitter: new LineSplitter(this.#maxLineBytes, offset),
      grewAt: this.#clock.now(),
      leftAt,
      isCopy: false,
    });
  }

  // ---------------------------------------------------------------------------------------------------
  // Reading: one step looks at the path, then reads one chunk of the oldest open file.

  /** Does one unit of work; false when there is nothing to do until the file changes or time passes. */
  async #step(): Promise<boolean> {
    try {
      const now = this.#clock.now();
      if (await this.#checkPath(now)) return true;
      const cur = this.#open[0];
      if (cur === undefined) return false;
      const { bytesRead } = await cur.fh.read(this.#buf, 0, this.#buf.length, cur.readOffset);
      if (bytesRead > 0) {
        cur.readOffset += bytesRead;
        cur.grewAt = now;
        this.#stats.bytesRead += bytesRead;
        for (const line of cur.splitter.push(this.#buf.subarray(0, bytesRead))) this.#emit(cur, line);
        return true;
      }
      if (cur.leftAt !== undefined) {
        const quietFor = now - Math.max(cur.leftAt, cur.grewAt);
        if (!cur.isCopy && quietFor < this.#rotateWaitMs) return false;
        await this.#finish(cur);
        return true;
      }
      if (
        this.#partialLineTimeoutMs > 0 &&
        cur.splitter.partialBytes > 0 &&
        now - cur.grewAt >= this.#partialLineTimeoutMs
      ) {
        this.#flushPartial(cur);
        return true;
      }
      return false;
    } catch (err) {
      if (this.#closed) return false;
      this.#noteError((err as Error).message);
      return false;
    }
  }

  /**
   * Notices what happened at the path since the last look: a new file (rotation, recreation), the file
   * gone, or the file shrunk or rewritten in place. True when that changed what to read next.
   */
  async #checkPath(now: number): Promise<boolean> {
    const st = await statIfExists(this.path);
    const last = this.#open.at(-1);
    if (st === undefined || !st.isFile()) {
      if (last !== undefined && last.leftAt === undefined) last.leftAt = now;
      return false;
    }
    if (last !== undefined && sameInode(last, st)) {
      last.leftAt = undefined;
      return this.#checkInPlace(last, st, now);
    }
    // An older file renamed back, or a file we already hold: nothing new to read from its start.
    if (this.#open.some((f) => sameInode(f, st))) return false;
    return this.#adoptPathFile(now);
  }

  /**
   * Opens the file now at the path, from its start, after any files rotation created between the last
   * file open and it (several rotations between two looks, or while the tailer was stopped).
   */
  async #adoptPathFile(now: number): Promise<boolean> {
    let fh: FileHandle;
    try {
      fh = await open(this.path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    const st = await fh.stat({ bigint: true });
    if (!st.isFile() || this.#open.some((f) => sameInode(f, st))) {
      await fh.close();
      return false;
    }
    const last = this.#open.at(-1);
    if (last !== undefined) {
      if (last.leftAt === undefined) last.leftAt = now;
      const known = this.#known.map((r) => r.ident);
      for (const f of await rotatedBetween(this.path, last.birthNs, st.birthtimeNs, this.#open, known)) {
        this.#adopt(f.fh, f.st, this.#newRecord(await identify(f.fh, f.st)), 0, now);
      }
    }
    if (this.#filesSeen > 0) this.#stats.rotations += 1;
    this.#adopt(fh, st, this.#newRecord(await identify(fh, st)), 0, undefined);
    return true;
  }

  /** Handles the file at the path having shrunk or been rewritten (copytruncate); grows its identity. */
  async #checkInPlace(f: OpenFile, st: BigIntStats, now: number): Promise<boolean> {
    const size = Number(st.size);
    const id = f.record.ident;
    if (size >= f.readOffset && (await sameHead(f.fh, id))) {
      // While the file is shorter than HEAD_BYTES, its identity grows with it.
      if (id.headBytes < HEAD_BYTES && size > id.headBytes) f.record.ident = await identify(f.fh, st);
      return false;
    }
    this.#stats.truncations += 1;
    // copytruncate copied the file before emptying it: what we had not read yet may be in the copy.
    const copy = f.readOffset > 0 ? await locate(this.path, id, f.readOffset, this.#open) : undefined;
    if (copy !== undefined) {
      this.#stats.copiesRead += 1;
      this.#open.splice(this.#open.indexOf(f), 0, {
        fh: copy.fh,
        dev: String(copy.st.dev),
        ino: String(copy.st.ino),
        birthNs: copy.st.birthtimeNs,
        record: f.record,
        readOffset: f.readOffset,
        splitter: f.splitter, // a partial line continues in the copy
        grewAt: now,
        leftAt: now,
        isCopy: true,
      });
    } else {
      this.#flushPartial(f);
    }
    f.record = this.#newRecord(await identify(f.fh, st));
    f.readOffset = 0;
    f.splitter = new LineSplitter(this.#maxLineBytes, 0);
    f.grewAt = now;
    return true;
  }

  async #finish(f: OpenFile): Promise<void> {
    this.#flushPartial(f);
    this.#open.splice(this.#open.indexOf(f), 1);
    await f.fh.close();
  }

  #flushPartial(f: OpenFile): void {
    const partial = f.splitter.flush();
    if (partial === undefined) return;
    this.#stats.partialLinesFlushed += 1;
    this.#emit(f, partial);
  }

  #emit(f: OpenFile, line: SplitLine): void {
    this.#stats.linesRead += 1;
    if (line.truncated) this.#stats.truncatedLines += 1;
    this.#ready.push({
      text: line.text,
      truncated: line.truncated,
      bytes: line.bytes,
      position: { seq: f.record.seq, file: f.record.ident, offset: line.end },
    });
  }

  #noteError(message: string): void {
    this.#stats.errors += 1;
    this.#stats.lastError = message;
  }

  // ---------------------------------------------------------------------------------------------------
  // Waiting: for a file-system event on the directory, a wake(), or the poll interval.

  async #wait(): Promise<void> {
    if (this.#wakePending) {
      this.#wakePending = false;
      return;
    }
    this.#startWatching(); // again, in case the directory did not exist before
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waker = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.#pollIntervalMs);
      this.#waker = done;
    });
  }

  #startWatching(): void {
    if (!this.#useWatch || this.#watcher !== undefined || this.#closed) return;
    const name = basename(this.path);
    try {
      // Not persistent: a consumer waiting in next() keeps the process alive through the poll timer.
      this.#watcher = watch(dirname(this.path), { persistent: false }, (_event, filename) => {
        if (filename === null || filename.startsWith(name)) this.wake();
      });
      this.#watcher.on('error', () => {
        this.#watcher?.close();
        this.#watcher = undefined;
      });
    } catch {
      this.#watcher = undefined; // polling alone until the directory can be watched
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Persisting confirmed positions.

  async #saveConfirmed(): Promise<void> {
    const pos = this.#confirmed;
    if (pos === undefined || pos === this.#saved) return;
    this.#records = this.#records.filter((r) => r.seq >= pos.seq);
    const state: TailState = {
      version: 1,
      path: this.path,
      file: pos === NO_FILE_YET ? null : { ...pos.file, offset: pos.offset },
      next: this.#records.filter((r) => r.seq > pos.seq).map((r) => r.ident),
    };
    await saveTailState(this.statePath, state);
    this.#saved = pos;
  }
}

/** How many followed files are remembered to recognise copies of them. */
const KNOWN_FILES = 64;

/** The position saved for a path tailed before any file existed there. */
const NO_FILE_YET: TailPosition = Object.freeze({
  seq: 0,
  file: { dev: '', ino: '', headBytes: 0, headHash: '' },
  offset: 0,
});

function comparePositions(a: TailPosition, b: TailPosition): number {
  return a.seq - b.seq || a.offset - b.offset;
}

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new RangeError(`${name} must be a positive integer; got ${value}`);
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError(`${name} must be 0 or more; got ${value}`);
  return value;
}
