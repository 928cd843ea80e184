// Reads whole files once, plain or gzip, for `portent sensor import FILE…`: lines with progress, and a
// clear error with how far it got when a file ends early (a truncated gzip) or cannot be read.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline, Transform, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { PortentError } from '../../core/errors.ts';
import { isGzipFile } from './read-lines.ts';
import { LineSplitter } from './line-splitter.ts';

/** Default cap on one line: longer lines are cut to this and counted. */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

export interface ImportProgress {
  /** Bytes read from the file on disk (compressed bytes for a gzip file). */
  bytesRead: number;
  /** The file's size on disk when reading began; `bytesRead / totalBytes` is the fraction done. */
  totalBytes: number;
  /** Lines produced so far. */
  lines: number;
  /** Lines longer than the cap, cut to it. */
  truncatedLines: number;
}

export interface ImportLine {
  text: string;
  /** 1-based line number in the (decompressed) file, for messages like "file:12". */
  lineNumber: number;
  /** True when the line was longer than the cap and cut to it. */
  truncated: boolean;
}

export interface ReadOnceOptions {
  maxLineBytes?: number;
  /** Called after each chunk read from disk; cheap enough to call often, so throttle drawing in the caller. */
  onProgress?: (progress: Readonly<ImportProgress>) => void;
}

/**
 * The lines of one file, gunzipped when it starts with the gzip magic (whatever its name). A last line
 * without a newline is a line. When the file cannot be read to its end (a gzip stream cut short or
 * corrupt, a read error), the lines before the damage are yielded and then an `IMPORT_UNREADABLE`
 * `PortentError` is thrown naming the file and how far reading got; a partly decompressed last line is
 * dropped, since it is cut in an unknown place.
 */
export async function* readFileOnce(path: string, opts: ReadOnceOptions = {}): AsyncGenerator<ImportLine> {
  const splitter = new LineSplitter(opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
  let gzip: boolean;
  let totalBytes: number;
  try {
    totalBytes = (await stat(path)).size;
    gzip = totalBytes >= 2 && (await isGzipFile(path));
  } catch (cause) {
    throw unreadable(path, `cannot be opened: ${(cause as Error).message}`, cause);
  }
  const progress: ImportProgress = { bytesRead: 0, totalBytes, lines: 0, truncatedLines: 0 };
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      progress.bytesRead += chunk.length;
      opts.onProgress?.(progress);
      done(null, chunk);
    },
  });
  const stages = [createReadStream(path, { highWaterMark: 64 * 1024 }), counter];
  if (gzip) stages.push(createGunzip());
  // pipeline, unlike pipe, ends the last stream with any stage's error, so the loop below sees it.
  const input = pipeline(stages, () => {}) as unknown as Readable;

  const emit = function* (lines: ReturnType<LineSplitter['push']>): Generator<ImportLine> {
    for (const line of lines) {
      progress.lines += 1;
      if (line.truncated) progress.truncatedLines += 1;
      yield { text: line.text, lineNumber: progress.lines, truncated: line.truncated };
    }
  };
  try {
    for await (const chunk of input) yield* emit(splitter.push(chunk));
  } catch (cause) {
    const where = gzip
      ? `${describeGzipFailure(cause)} after ${progress.bytesRead} of ${totalBytes} compressed bytes (${splitter.offset} bytes decompressed, ${progress.lines} complete lines read)`
      : `could not be read past byte ${progress.bytesRead} of ${totalBytes} (${progress.lines} lines read): ${(cause as Error).message}`;
    throw unreadable(path, where, cause);
  } finally {
    input.destroy();
  }
  const last = splitter.flush();
  if (last !== undefined) yield* emit([last]);
}

function describeGzipFailure(cause: unknown): string {
  const code = (cause as { code?: string }).code;
  if (code === 'Z_BUF_ERROR') return 'the gzip stream ends early (the file is truncated)';
  if (code === 'Z_DATA_ERROR') return `the gzip stream is corrupt (${(cause as Error).message})`;
  return `reading stopped (${(cause as Error).message})`;
}

function unreadable(path: string, what: string, cause: unknown): PortentError {
  return new PortentError('IMPORT_UNREADABLE', { message: `${path}: ${what}.`, cause });
}
