// The shipper: sends the spool's events to the collector in signed batches, until each is acknowledged.
//
// One batch is in flight at a time, in spool order. Every range is recorded as pending in the spool
// before it is sent and acknowledged there only after the collector's 2xx, and its batch id is derived
// from the range, so a crash at any point leads to the same batch being sent again under the same id,
// which the collector stores once. What the collector answers decides what happens next:
//   2xx          acknowledged (stored, or a duplicate of a batch stored before)
//   400          the batch is invalid and always will be: quarantined in the spool's rejected/
//   401, 403     the sensor's credentials are refused: shipping stops with SHIPPER_UNAUTHORIZED
//   413          too large: split in halves (each recorded before it is sent), down to single events
//   429, 503     wait for Retry-After when given, else back off; then send again
//   anything else, or no answer: back off exponentially with full jitter, then send again

import type { Agent } from 'node:http';
import { systemClock, type Clock } from '../../core/clock.ts';
import { PortentError } from '../../core/errors.ts';
import type { EventBatch } from '../../core/event.ts';
import { batchIdOf, describeRange, type SpoolRange } from '../spool/range.ts';
import type { Spool, SpoolHealth } from '../spool/spool.ts';
import { fullJitter, realSleep, type Sleep } from './backoff.ts';
import {
  collectorAgent,
  encodeBatchBody,
  postBatchBody,
  type SensorCredentials,
  type SubmitResult,
} from './submit.ts';

export interface ShipperOptions {
  /** The collector's base URL, e.g. https://portent.example.org:8470. */
  url: string;
  credentials: SensorCredentials;
  /** PEM certificate(s) to trust for an https URL instead of the system's CAs. */
  ca?: string | Buffer;
  /** Fewer events than this wait up to `lingerMs` for more before they are sent. */
  minBatchEvents: number;
  maxBatchEvents: number;
  lingerMs: number;
  /** Backoff: the first retry waits up to this, doubling per attempt... */
  retryBaseMs: number;
  /** ... up to this. */
  retryMaxMs: number;
  requestTimeoutMs: number;
  /** The envelope's software string. */
  software?: string;
  clock?: Clock;
  sleep?: Sleep;
  /** Source of jitter, [0, 1). */
  random?: () => number;
}

/** The last failure the shipper saw. */
export interface ShipperError {
  /** The collector's error code (BATCH_INVALID, RATE_LIMITED, ...), a system code (ECONNREFUSED), or HTTP_<status>. */
  code: string;
  message: string;
  /** HTTP status, or null when there was no answer. */
  status: number | null;
  at: number;
}

export interface ShipperHealth {
  /** idle: nothing to send (or waiting for a fuller batch); sending; waiting: backing off; stopped. */
  state: 'idle' | 'sending' | 'waiting' | 'stopped';
  /** Batches the collector acknowledged, duplicates included. */
  batchesSent: number;
  /** Of those, batches it already had (sent again after a crash or a lost answer). */
  duplicateBatches: number;
  eventsSent: number;
  /** Attempts that were followed by another attempt at the same batch. */
  retries: number;
  /** Batches split in two after a 413. */
  splits: number;
  /** Batches set aside in the spool's rejected/ by this shipper (the spool counts all of them). */
  quarantinedBatches: number;
  lastError: ShipperError | null;
  lastSuccessAt: number | null;
  /** When the next attempt is due while waiting, else null. */
  nextAttemptAt: number | null;
  /** Age of the oldest event not yet acknowledged; null when the spool is empty. */
  lagMs: number | null;
  unshippedEvents: number;
  spool: SpoolHealth;
}

export class Shipper {
  readonly #spool: Spool;
  readonly #opts: ShipperOptions;
  readonly #clock: Clock;
  readonly #sleep: Sleep;
  readonly #random: () => number;
  readonly #agent: Agent;
  #abort = new AbortController();
  #running: Promise<void> | null = null;
  #state: ShipperHealth['state'] = 'idle';
  #stats = {
    batchesSent: 0,
    duplicateBatches: 0,
    eventsSent: 0,
    retries: 0,
    splits: 0,
    quarantinedBatches: 0,
  };
  #lastError: ShipperError | null = null;
  #lastSuccessAt: number | null = null;
  #nextAttemptAt: number | null = null;

  constructor(spool: Spool, opts: ShipperOptions) {
    if (!(opts.minBatchEvents >= 1 && opts.minBatchEvents <= opts.maxBatchEvents))
      throw new RangeError(
        `minBatchEvents (${opts.minBatchEvents}) must be from 1 to maxBatchEvents (${opts.maxBatchEvents})`,
      );
    this.#spool = spool;
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#sleep = opts.sleep ?? realSleep;
    this.#random = opts.random ?? Math.random;
    this.#agent = collectorAgent(opts.url, { ca: opts.ca });
  }

  /**
   * Ships until `stop()`, or with `untilEmpty` until everything spooled is acknowledged (no lingering).
   * Rejects with SHIPPER_UNAUTHORIZED when the collector refuses the credentials, or with the spool's
   * error when the disk fails; either way nothing is lost: unsent events stay in the spool.
   */
  run(opts: { untilEmpty?: boolean } = {}): Promise<void> {
    if (this.#running !== null) throw new Error('the shipper is already running');
    this.#abort = new AbortController();
    this.#running = this.#loop(opts.untilEmpty ?? false).finally(() => {
      this.#running = null;
      this.#state = 'stopped';
      this.#nextAttemptAt = null;
    });
    return this.#running;
  }

  /** Stops after aborting any request in flight (it is sent again, under the same id, next time). */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#running?.catch(() => {});
  }

  /** Stops and closes the connections. */
  async close(): Promise<void> {
    await this.stop();
    this.#agent.destroy();
  }

  health(): ShipperHealth {
    const spool = this.#spool.health();
    return {
      state: this.#state,
      ...this.#stats,
      lastError: this.#lastError,
      lastSuccessAt: this.#lastSuccessAt,
      nextAttemptAt: this.#nextAttemptAt,
      lagMs: spool.oldestUnshippedAgeMs,
      unshippedEvents: spool.unshippedEvents,
      spool,
    };
  }

  async #loop(untilEmpty: boolean): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      let range = this.#spool.pending()[0];
      if (range === undefined) {
        const planned = await this.#nextRange(untilEmpty, signal);
        if (planned === null) return;
        await this.#spool.schedule(planned);
        range = planned;
      }
      await this.#ship(range, signal);
    }
  }

  /** The next range to send; waits for events, and for a batch of `minBatchEvents` up to the linger time. */
  async #nextRange(untilEmpty: boolean, signal: AbortSignal): Promise<SpoolRange | null> {
    while (!signal.aborted) {
      const plan = await this.#spool.plan(this.#opts.maxBatchEvents);
      if (plan === null) {
        if (untilEmpty) return null;
        this.#state = 'idle';
        await this.#spool.waitForData(signal);
        continue;
      }
      const lingerLeft = plan.firstAppendedAt + this.#opts.lingerMs - this.#clock.now();
      if (plan.range.events >= this.#opts.minBatchEvents || plan.sealed || untilEmpty || lingerLeft <= 0)
        return plan.range;
      this.#state = 'idle';
      const wake = new AbortController();
      const relay = () => wake.abort();
      signal.addEventListener('abort', relay, { once: true });
      await Promise.race([this.#spool.waitForData(wake.signal), this.#sleep(lingerLeft, wake.signal)]);
      wake.abort();
      signal.removeEventListener('abort', relay);
    }
    return null;
  }

  /** Sends one pending range and acts on the answer; returns without acting when stopped. */
  async #ship(range: SpoolRange, signal: AbortSignal): Promise<void> {
    const batch: EventBatch = {
      batchId: batchIdOf(this.#opts.credentials.id, this.#spool.id, range),
      // The spool-life index of the batch's first event: gaps in it at the collector are events lost.
      seq: this.#spool.ackedEvents,
      created: this.#clock.now(),
      software: this.#opts.software ?? 'portent-sensor',
      events: await this.#spool.read(range),
    };
    const body = encodeBatchBody(batch);
    const answer = await this.#deliver(body, signal);
    if (answer === null) return;
    const { status } = answer;
    if (status >= 200 && status < 300) {
      await this.#spool.ack(range);
      this.#stats.batchesSent++;
      this.#stats.eventsSent += range.events;
      if ((answer.body as { status?: unknown } | null)?.status === 'duplicate')
        this.#stats.duplicateBatches++;
      this.#lastSuccessAt = this.#clock.now();
    } else if (status === 413 && range.events > 1) {
      this.#stats.splits++;
      await this.#spool.split(range);
    } else if (status === 400 || status === 413) {
      await this.#spool.quarantine(range, batch.batchId, body, {
        status,
        ...errorOf(answer),
        range: describeRange(range),
        at: new Date(this.#clock.now()).toISOString(),
      });
      this.#stats.quarantinedBatches++;
    } else {
      const { code, message } = errorOf(answer);
      throw new PortentError('SHIPPER_UNAUTHORIZED', {
        message: `The collector refused the sensor's credentials (${status} ${code}: ${message}); shipping stopped and events wait in the spool.`,
      });
    }
  }

  /**
   * Posts the body until the collector gives a final answer (2xx, 400, 401, 403, 413), waiting between
   * attempts; null when stopped first.
   */
  async #deliver(body: Uint8Array, signal: AbortSignal): Promise<SubmitResult | null> {
    const o = this.#opts;
    for (let attempt = 0; !signal.aborted; attempt++) {
      if (attempt > 0) this.#stats.retries++;
      this.#state = 'sending';
      let waitMs = fullJitter(attempt, o.retryBaseMs, o.retryMaxMs, this.#random);
      try {
        const answer = await postBatchBody(o.url, o.credentials, body, this.#clock.now(), {
          agent: this.#agent,
          signal,
          timeoutMs: o.requestTimeoutMs,
        });
        const s = answer.status;
        if (s !== 429 && s !== 503 && ((s >= 200 && s < 300) || [400, 401, 403, 413].includes(s))) {
          if (s >= 400) this.#fail(errorOf(answer), s);
          return answer;
        }
        this.#fail(errorOf(answer), s);
        // The collector knows when it will have room; its word beats a guess.
        if ((s === 429 || s === 503) && answer.retryAfterS !== undefined) waitMs = answer.retryAfterS * 1000;
      } catch (err) {
        if (signal.aborted) return null;
        const e = err as NodeJS.ErrnoException;
        this.#fail({ code: e.code ?? 'NETWORK_ERROR', message: e.message }, null);
      }
      this.#state = 'waiting';
      this.#nextAttemptAt = this.#clock.now() + waitMs;
      await this.#sleep(waitMs, signal);
      this.#nextAttemptAt = null;
    }
    return null;
  }

  #fail(e: { code: string; message: string }, status: number | null): void {
    this.#lastError = { ...e, status, at: this.#clock.now() };
  }
}

/** The collector's error code and message from an answer, or HTTP_<status> when it sent none. */
function errorOf(answer: SubmitResult): { code: string; message: string } {
  const error = (answer.body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (typeof error?.code === 'string')
    return { code: error.code, message: typeof error.message === 'string' ? error.message : '' };
  const text =
    typeof answer.body === 'string' ? answer.body.slice(0, 200) : JSON.stringify(answer.body).slice(0, 200);
  return { code: `HTTP_${answer.status}`, message: text };
}
