// Splits a byte stream into lines with their end offsets, holding at most a capped partial line.
//
// Both the tailer and the one-shot reader use it: they need the byte offset just past each line (the
// tailer persists it), a bound on memory however long a line is, and text that never throws on bad UTF-8.

/** One complete line, without its terminator (LF, or CRLF). */
export interface SplitLine {
  /** The line as text; invalid UTF-8 is replaced by U+FFFD. */
  text: string;
  /** Byte offset just past the line's LF in the stream: where reading resumes to get the next line. */
  end: number;
  /** True when the line was longer than the cap and only its first bytes are in `text`. */
  truncated: boolean;
  /** The line's length in bytes as written, without the terminator (more than `text` holds when cut). */
  bytes: number;
}

const LF = 0x0a;
const CR = 0x0d;

export class LineSplitter {
  readonly maxLineBytes: number;
  /** Pieces of the line not yet ended by a LF, at most `maxLineBytes` in all. */
  #held: Buffer[] = [];
  #heldBytes = 0;
  /** Bytes of the current line seen so far, kept or not. */
  #lineBytes = 0;
  /** Stream offset just past the last byte pushed. */
  #offset: number;

  constructor(maxLineBytes: number, startOffset = 0) {
    if (!Number.isSafeInteger(maxLineBytes) || maxLineBytes < 1) {
      throw new RangeError(`maxLineBytes must be a positive integer; got ${maxLineBytes}`);
    }
    this.maxLineBytes = maxLineBytes;
    this.#offset = startOffset;
  }

  /** Stream offset just past the last byte pushed. */
  get offset(): number {
    return this.#offset;
  }

  /** Bytes of an unfinished line seen so far (0 when the stream is at a line boundary). */
  get partialBytes(): number {
    return this.#lineBytes;
  }

  /** Feeds the next bytes of the stream; returns the lines they complete. */
  push(chunk: Buffer): SplitLine[] {
    const lines: SplitLine[] = [];
    let start = 0;
    while (start < chunk.length) {
      const lf = chunk.indexOf(LF, start);
      if (lf < 0) {
        this.#hold(chunk.subarray(start));
        break;
      }
      this.#hold(chunk.subarray(start, lf));
      lines.push(this.#take(this.#offset + lf + 1));
      start = lf + 1;
    }
    this.#offset += chunk.length;
    return lines;
  }

  /** Ends the unfinished line, if any, as though a LF followed it (end of input, rotation, idle time). */
  flush(): SplitLine | undefined {
    if (this.#lineBytes === 0) return undefined;
    return this.#take(this.#offset);
  }

  #hold(piece: Buffer): void {
    this.#lineBytes += piece.length;
    const room = this.maxLineBytes - this.#heldBytes;
    if (room <= 0 || piece.length === 0) return;
    // Copy: the caller's read buffer is reused, and a subarray would pin the whole chunk.
    const kept = Buffer.from(piece.subarray(0, room));
    this.#held.push(kept);
    this.#heldBytes += kept.length;
  }

  #take(end: number): SplitLine {
    let bytes = this.#held.length === 1 ? this.#held[0] : Buffer.concat(this.#held, this.#heldBytes);
    let length = this.#lineBytes;
    const truncated = length > this.maxLineBytes;
    // A CR before the LF is part of the terminator (and a CR ending unfinished input most likely will
    // be), unless the line was cut before it.
    if (!truncated && length > 0 && bytes[bytes.length - 1] === CR) {
      bytes = bytes.subarray(0, bytes.length - 1);
      length -= 1;
    }
    this.#held = [];
    this.#heldBytes = 0;
    this.#lineBytes = 0;
    return { text: bytes.toString('utf8'), end, truncated, bytes: length };
  }
}
