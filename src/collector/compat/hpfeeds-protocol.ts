// The hpfeeds wire protocol: framing and message bodies, as hpfeeds3's hpfeeds/protocol.py has them.
//
// A message is uint32 length (big-endian, counting the 5-byte header), uint8 op code, then the body.
// Names (broker name, ident, channel) are a uint8 length and that many bytes; the last field runs to
// the end of the message. The broker sends OP_INFO (name, 4-byte nonce) on connect; the client
// answers OP_AUTH (ident, SHA-1 of nonce followed by the secret).

import { createHash } from 'node:crypto';

export const OP = { error: 0, info: 1, auth: 2, publish: 3, subscribe: 4, unsubscribe: 5 } as const;

export const HEADER_BYTES = 5;
/** OP_AUTH is a name of up to 255 bytes and a 20-byte hash, as the reference broker's SIZES has it. */
export const MAX_AUTH_FRAME = HEADER_BYTES + 256 + 20;
/** SUBSCRIBE and UNSUBSCRIBE: an ident and a channel name. */
export const MAX_NAMES_FRAME = HEADER_BYTES + 256 + 1024;

/** A frame problem: fatal for the connection. `tooLarge` frames are refused before their body is read. */
export class FrameError extends Error {
  readonly tooLarge: boolean;
  constructor(message: string, tooLarge = false) {
    super(message);
    this.tooLarge = tooLarge;
  }
}

export interface Frame {
  op: number;
  body: Buffer;
}

/**
 * Cuts a byte stream into frames. The length is checked as soon as the header is in, so a hostile
 * length never makes the reader buffer more than the limit.
 */
export class FrameReader {
  readonly #maxPublishBody: number;
  #buf: Buffer = Buffer.alloc(0);

  /** `maxPublishBody`: most bytes after the header of an OP_PUBLISH (1 MiB in the reference broker). */
  constructor(maxPublishBody: number) {
    this.#maxPublishBody = maxPublishBody;
  }

  push(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
  }

  /** Bytes held that are not yet a whole frame (or frames not yet taken). */
  get buffered(): number {
    return this.#buf.length;
  }

  /** The next whole frame, or null until more bytes arrive; throws FrameError for a bad header. */
  next(): Frame | null {
    if (this.#buf.length < HEADER_BYTES) return null;
    const length = this.#buf.readUInt32BE(0);
    const op = this.#buf[4];
    if (op > OP.unsubscribe) throw new FrameError(`unknown op code ${op}`);
    if (length < HEADER_BYTES) throw new FrameError(`message length ${length} is below the 5-byte header`);
    const max =
      op === OP.publish
        ? HEADER_BYTES + this.#maxPublishBody
        : op === OP.auth
          ? MAX_AUTH_FRAME
          : op === OP.subscribe || op === OP.unsubscribe
            ? MAX_NAMES_FRAME
            : HEADER_BYTES + 64 * 1024;
    if (length > max)
      throw new FrameError(
        `message length ${length} is over the ${max} bytes accepted for op code ${op}`,
        true,
      );
    if (this.#buf.length < length) return null;
    const body = this.#buf.subarray(HEADER_BYTES, length);
    this.#buf = this.#buf.subarray(length);
    return { op, body };
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A length-prefixed name at `offset`: the text and the offset after it. */
function readName(body: Buffer, offset: number, what: string): { text: string; end: number } {
  if (offset >= body.length) throw new FrameError(`the message ends before its ${what}`);
  const len = body[offset];
  const end = offset + 1 + len;
  if (end > body.length) throw new FrameError(`the ${what} length ${len} runs past the end of the message`);
  return { text: decodeName(body.subarray(offset + 1, end), what), end };
}

function decodeName(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new FrameError(`the ${what} is not UTF-8`);
  }
}

export function readAuth(body: Buffer): { ident: string; hash: Buffer } {
  const ident = readName(body, 0, 'ident');
  const hash = body.subarray(ident.end);
  if (hash.length !== 20) throw new FrameError(`the AUTH hash is ${hash.length} bytes, not the 20 of SHA-1`);
  return { ident: ident.text, hash };
}

export function readPublish(body: Buffer): { ident: string; channel: string; payload: Buffer } {
  const ident = readName(body, 0, 'ident');
  const channel = readName(body, ident.end, 'channel');
  return { ident: ident.text, channel: channel.text, payload: body.subarray(channel.end) };
}

export function readSubscribe(body: Buffer): { ident: string; channel: string } {
  const ident = readName(body, 0, 'ident');
  return { ident: ident.text, channel: decodeName(body.subarray(ident.end), 'channel') };
}

function frame(op: number, body: Buffer): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32BE(HEADER_BYTES + body.length, 0);
  header[4] = op;
  return Buffer.concat([header, body]);
}

function name(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > 255) throw new RangeError('an hpfeeds name is at most 255 bytes');
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

export function infoFrame(brokerName: string, nonce: Buffer): Buffer {
  return frame(OP.info, Buffer.concat([name(brokerName), nonce]));
}

export function errorFrame(message: string): Buffer {
  return frame(OP.error, Buffer.from(message, 'utf8'));
}

/** SHA-1 of the nonce followed by the secret's UTF-8 bytes: what the client proves it knows. */
export function authHash(nonce: Buffer, secret: string): Buffer {
  return createHash('sha1').update(nonce).update(secret, 'utf8').digest();
}
