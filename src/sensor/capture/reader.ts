// Reads a pcap or pcapng capture, from a Buffer or a stream in chunks (a file, `tcpdump -w -`), into parse results.
//
// One result per packet (event, skip or error), plus one error for a damaged or truncated file,
// after which reading stops: the counts then say how far it got.

import type { Readable } from 'node:stream';
import type { ParseContext, ParseResult } from '../parsers/types.ts';
import { CaptureContainerReader, type ContainerItem } from './container.ts';
import { decodePacket } from './packet.ts';

export { looksLikeCapture } from './container.ts';

export type CaptureContext = Pick<ParseContext, 'now'>;

function toResult(item: ContainerItem, ctx: CaptureContext): ParseResult {
  switch (item.kind) {
    case 'packet': {
      const r = decodePacket(item.packet.linkType, item.packet.data, item.packet.timeMs, ctx.now);
      return r.kind === 'error' ? { kind: 'error', message: `packet ${item.packet.index}: ${r.message}` } : r;
    }
    case 'bad-packet':
      return { kind: 'error', message: `packet ${item.index}: ${item.message}` };
    case 'fatal':
      return { kind: 'error', message: item.message };
  }
}

/** A push decoder for callers that own the reading loop: feed chunks, then call end(). */
export class CaptureDecoder {
  readonly #reader = new CaptureContainerReader();
  readonly #ctx: CaptureContext;

  constructor(ctx: CaptureContext) {
    this.#ctx = ctx;
  }

  *push(chunk: Uint8Array): Generator<ParseResult> {
    for (const item of this.#reader.push(chunk)) yield toResult(item, this.#ctx);
  }

  *end(): Generator<ParseResult> {
    for (const item of this.#reader.end()) yield toResult(item, this.#ctx);
  }

  /** Packets read so far (every record, whatever its result). */
  get packetCount(): number {
    return this.#reader.packetCount;
  }
}

/** Results of a whole capture held in memory. */
export function* decodeCapture(bytes: Uint8Array, ctx: CaptureContext): Generator<ParseResult> {
  const decoder = new CaptureDecoder(ctx);
  yield* decoder.push(bytes);
  yield* decoder.end();
}

/**
 * Results of a capture read from a stream (or any async source of byte chunks) as it arrives, so a
 * live `tcpdump -U -w -` yields each packet as soon as tcpdump writes it.
 */
export async function* readCapture(
  input: Readable | AsyncIterable<Uint8Array | string>,
  ctx: CaptureContext,
): AsyncGenerator<ParseResult> {
  for await (const batch of readCaptureBatches(input, ctx)) yield* batch;
}

/**
 * The same results, one array per chunk read: each step of an async generator costs a turn of the
 * event loop, so a caller that handles results in bulk (an import) goes several times faster this way.
 */
export async function* readCaptureBatches(
  input: Readable | AsyncIterable<Uint8Array | string>,
  ctx: CaptureContext,
): AsyncGenerator<ParseResult[]> {
  const decoder = new CaptureDecoder(ctx);
  for await (const chunk of input as AsyncIterable<Uint8Array | string>) {
    if (typeof chunk === 'string') {
      yield [
        {
          kind: 'error',
          message: 'the capture stream was opened as text; read captures as bytes (no encoding)',
        },
      ];
      return;
    }
    const batch = [...decoder.push(chunk)];
    if (batch.length > 0) yield batch;
  }
  const last = [...decoder.end()];
  if (last.length > 0) yield last;
}

export interface ResultCounts {
  events: number;
  skips: number;
  errors: number;
  /** How often each skip reason and error message occurred. */
  skipReasons: Map<string, number>;
  errorMessages: Map<string, number>;
}

export function emptyCounts(): ResultCounts {
  return { events: 0, skips: 0, errors: 0, skipReasons: new Map(), errorMessages: new Map() };
}

/** Adds one result to the counts. */
export function countResult(counts: ResultCounts, r: ParseResult): void {
  if (r.kind === 'event') counts.events++;
  else if (r.kind === 'skip') {
    counts.skips++;
    counts.skipReasons.set(r.reason, (counts.skipReasons.get(r.reason) ?? 0) + 1);
  } else {
    counts.errors++;
    counts.errorMessages.set(r.message, (counts.errorMessages.get(r.message) ?? 0) + 1);
  }
}
