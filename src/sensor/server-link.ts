// The sensor's signed JSON calls to the server besides batches: heartbeats (health out, re-tasking in) and payload samples.

import type { Logger } from 'pino';
import type { Static } from 'typebox';
import type { heartbeatAckSchema, healthSchema } from '../core/wire/reports.ts';
import type { Clock } from '../core/clock.ts';
import type { PortentEvent } from '../core/event.ts';
import { signRequest } from '../core/signing.ts';
import type { PayloadSample } from './honeypot/honeypot.ts';
import type { ShipperOptions } from './shipper/shipper.ts';
import { collectorAgent, post } from './shipper/submit.ts';

export type HeartbeatAnswer = Static<typeof heartbeatAckSchema>;

/** Posts `body` as signed JSON; resolves with the parsed answer, rejects with the server's error text. */
async function postSignedJson(
  link: ShipperOptions,
  path: string,
  body: unknown,
  now: number,
): Promise<unknown> {
  const bytes = Buffer.from(JSON.stringify(body));
  const headers = {
    'content-type': 'application/json',
    'content-length': String(bytes.length),
    ...signRequest(link.credentials.id, link.credentials.secret, 'POST', path, bytes, now),
  };
  const agent = collectorAgent(link.url, { ca: link.ca });
  try {
    const res = await post(new URL(path, link.url), headers, bytes, {
      agent,
      timeoutMs: link.requestTimeoutMs,
    });
    let parsed: { error?: { code: string; message: string } } | null = null;
    try {
      parsed = JSON.parse(res.text);
    } catch {
      // not JSON: reported below
    }
    if (res.status !== 200)
      throw new Error(
        `${path} answered ${res.status}${parsed?.error ? ` ${parsed.error.code}: ${parsed.error.message}` : ''}`,
      );
    return parsed;
  } finally {
    agent.destroy();
  }
}

export async function sendHeartbeat(
  link: ShipperOptions,
  health: Static<typeof healthSchema>,
  now: number,
): Promise<HeartbeatAnswer> {
  return (await postSignedJson(link, '/api/v1/heartbeat', health, now)) as HeartbeatAnswer;
}

/** Most samples waiting for upload; more are counted and left out (their hashes are in the events). */
const MAX_QUEUED = 256;
/** Samples per request. */
const PER_REQUEST = 16;
/** Digests already uploaded this run, so a worm's payload seen a million times is sent once. */
const MAX_REMEMBERED = 100_000;

/** Uploads honeypot payload samples in small signed batches, each distinct payload once. */
export class SampleUploader {
  readonly #link: ShipperOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  #queue: {
    sha256: string;
    bytes: string;
    truncated: boolean;
    time: number;
    proto: 'tcp' | 'udp';
    port: number;
  }[] = [];
  readonly #sent = new Set<string>();
  #busy: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout;
  #stats = { samples: 0, uploaded: 0, leftOut: 0, failures: 0 };

  constructor(link: ShipperOptions, clock: Clock, log: Logger) {
    this.#link = link;
    this.#clock = clock;
    this.#log = log;
    this.#timer = setInterval(() => void this.flush(), 5000);
    this.#timer.unref();
  }

  add(event: PortentEvent, sample: PayloadSample): void {
    this.#stats.samples++;
    if (this.#sent.has(sample.sha256) || this.#queue.some((q) => q.sha256 === sample.sha256)) return;
    if (this.#queue.length >= MAX_QUEUED) {
      this.#stats.leftOut++;
      return;
    }
    this.#queue.push({
      sha256: sample.sha256,
      bytes: sample.bytes.toString('base64'),
      truncated: sample.truncated,
      time: event.time,
      proto: event.proto === 17 ? 'udp' : 'tcp',
      port: event.dstPort,
    });
    if (this.#queue.length >= PER_REQUEST) void this.flush();
  }

  /** Uploads everything queued; failures leave samples queued for the next try. */
  flush(): Promise<void> {
    this.#busy = this.#busy.then(async () => {
      while (this.#queue.length > 0) {
        const part = this.#queue.slice(0, PER_REQUEST);
        try {
          await postSignedJson(this.#link, '/api/v1/samples', { samples: part }, this.#clock.now());
        } catch (err) {
          this.#stats.failures++;
          this.#log.warn(`Payload sample upload failed, will retry: ${(err as Error).message}`);
          return;
        }
        this.#queue = this.#queue.slice(part.length);
        this.#stats.uploaded += part.length;
        if (this.#sent.size >= MAX_REMEMBERED) this.#sent.clear();
        for (const s of part) this.#sent.add(s.sha256);
      }
    });
    return this.#busy;
  }

  stats(): { samples: number; uploaded: number; leftOut: number; failures: number; queued: number } {
    return { ...this.#stats, queued: this.#queue.length };
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
