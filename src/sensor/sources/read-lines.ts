// Reads a file as lines, gunzipping it when it starts with the gzip magic, for imports and tests.

import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';

/** True when the file starts with the gzip magic bytes 1f 8b. */
export async function isGzipFile(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await fh.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** The file's bytes, decompressed when gzipped. */
export async function openDecompressed(path: string): Promise<Readable> {
  const raw = createReadStream(path);
  return (await isGzipFile(path)) ? raw.pipe(createGunzip()) : raw;
}

/** Lines without terminators (LF or CRLF); invalid UTF-8 becomes U+FFFD rather than an exception. */
export async function* readLines(path: string): AsyncGenerator<string> {
  const input = await openDecompressed(path);
  const rl = createInterface({ input, crlfDelay: Infinity });
  for await (const line of rl) yield line;
}
