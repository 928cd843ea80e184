// Group commit: batches that arrive while a commit is running are stored together in the next one.

import { PortentError } from '../core/errors.ts';
import type { AppendItem, AppendOutcome, EventStore } from '../storage/event-store.ts';

interface Pending {
  item: AppendItem;
  resolve: (o: AppendOutcome) => void;
  reject: (e: unknown) => void;
}

/**
 * Every acknowledgement waits for the commit that made its batch durable; grouping amortises the
 * commit (and its fsync) over all batches that queued up during the previous one.
 */
export class GroupWriter {
  readonly #store: EventStore;
  readonly #maxPending: number;
  readonly #maxEventsPerCommit: number;
  readonly #observe: ((seconds: number, batches: number) => void) | undefined;
  readonly #concurrency: number;
  #queue: Pending[] = [];
  /** Running drain loops; each takes the next group as soon as its previous one is written. */
  readonly #loops = new Set<Promise<void>>();
  #closed = false;

  constructor(
    store: EventStore,
    opts: {
      maxPending: number;
      maxEventsPerCommit?: number;
      /**
       * Groups written at once. One by default: batches queued during a commit make the next group
       * larger, and larger commits cost less per event (docs/adr/0004).
       */
      concurrency?: number;
      /** Called with each commit's duration, for the store-latency histogram. */
      observe?: (seconds: number, batches: number) => void;
    },
  ) {
    this.#store = store;
    this.#maxPending = opts.maxPending;
    this.#maxEventsPerCommit = opts.maxEventsPerCommit ?? 500_000;
    this.#observe = opts.observe;
    this.#concurrency = opts.concurrency ?? 1;
  }

  get pending(): number {
    return this.#queue.length;
  }

  /** Resolves once the batch is durable (or known to be stored already). */
  submit(item: AppendItem): Promise<AppendOutcome> {
    if (this.#closed) return Promise.reject(new PortentError('SHUTTING_DOWN'));
    if (this.#queue.length >= this.#maxPending) {
      return Promise.reject(
        new PortentError('STORE_UNAVAILABLE', {
          message: `The store is behind: ${this.#queue.length} batches are waiting to be written. Retry shortly.`,
        }),
      );
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (this.#loops.size < this.#concurrency) {
        const loop: Promise<void> = this.#drain().finally(() => this.#loops.delete(loop));
        this.#loops.add(loop);
      }
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      let events = 0;
      let n = 0;
      while (
        n < this.#queue.length &&
        (n === 0 || events + this.#queue[n].item.batch.events.length <= this.#maxEventsPerCommit)
      ) {
        events += this.#queue[n].item.batch.events.length;
        n++;
      }
      const group = this.#queue.splice(0, n);
      const started = performance.now();
      try {
        const outcomes = await this.#store.append(group.map((p) => p.item));
        this.#observe?.((performance.now() - started) / 1000, group.length);
        group.forEach((p, i) => p.resolve(outcomes[i]));
      } catch (err) {
        for (const p of group) p.reject(err);
      }
    }
  }

  /** Stops taking batches and waits for the queued ones to be written. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#loops);
  }
}
