// Group commit: batches that arrive while a commit is running are stored together in the next one.

import { PortentError } from '../core/errors.ts';
import type { AppendItem, AppendOutcome, EventStore } from '../storage/event-store.ts';

interface Pending {
  item: AppendItem;
  resolve: (o: AppendOutcome) => void;
  reject: (e: unknown) => void;
}

export interface GroupWriterOptions {
  /** Batches accepted but not yet written before submit answers 503. */
  maxPending: number;
  /** Most events in one group (a group has at least one batch). */
  maxEventsPerCommit?: number;
  /** Most groups being written at once. */
  concurrency?: number;
  /**
   * A group starts beside a running one only when at least this many events wait; otherwise it
   * waits and grows. Large commits cost far less per event (DuckDB writes a transaction of more than
   * one row group, 122,880 rows, straight to the file instead of through its log: docs/adr/0004).
   */
  minEventsToOverlap?: number;
  /** Called with each group's write duration, for the store-latency histogram. */
  observe?: (seconds: number, batches: number) => void;
  /**
   * Called after each commit with the batches it stored, in ingest order (not those answered `duplicate`),
   * before their submitters are answered: the embedded profile's analyzer reads them here (docs/adr/0009).
   * The items are the submitted ones, not copies; it must not keep or change them, and must not throw.
   */
  onStored?: (items: AppendItem[]) => void;
}

/**
 * Every acknowledgement waits for the commit that made its batch durable; grouping amortises the
 * commit over all batches that queued up during the previous one.
 */
export class GroupWriter {
  readonly #store: EventStore;
  readonly #opts: Required<Omit<GroupWriterOptions, 'observe' | 'onStored'>> &
    Pick<GroupWriterOptions, 'observe' | 'onStored'>;
  #queue: Pending[] = [];
  #queuedEvents = 0;
  #running = 0;
  #closed = false;
  /** Resolved when nothing is queued or running, for close(). */
  #idle: { promise: Promise<void>; resolve: () => void } | null = null;

  constructor(store: EventStore, opts: GroupWriterOptions) {
    this.#store = store;
    this.#opts = { maxEventsPerCommit: 500_000, concurrency: 1, minEventsToOverlap: 122_880, ...opts };
  }

  get pending(): number {
    return this.#queue.length;
  }

  /** Resolves once the batch is durable (or known to be stored already). */
  submit(item: AppendItem): Promise<AppendOutcome> {
    if (this.#closed) return Promise.reject(new PortentError('SHUTTING_DOWN'));
    if (this.#queue.length >= this.#opts.maxPending) {
      return Promise.reject(
        new PortentError('STORE_UNAVAILABLE', {
          message: `The store is behind: ${this.#queue.length} batches are waiting to be written. Retry shortly.`,
        }),
      );
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#queuedEvents += item.batch.events.length;
      this.#startGroups();
    });
  }

  #startGroups(): void {
    while (this.#queue.length > 0 && this.#running < this.#opts.concurrency) {
      if (this.#running > 0 && this.#queuedEvents < this.#opts.minEventsToOverlap) return;
      let events = 0;
      let n = 0;
      while (
        n < this.#queue.length &&
        (n === 0 || events + this.#queue[n].item.batch.events.length <= this.#opts.maxEventsPerCommit)
      ) {
        events += this.#queue[n].item.batch.events.length;
        n++;
      }
      this.#queuedEvents -= events;
      this.#running++;
      void this.#write(this.#queue.splice(0, n)).finally(() => {
        this.#running--;
        this.#startGroups();
        if (this.#running === 0 && this.#queue.length === 0) this.#idle?.resolve();
      });
    }
  }

  async #write(group: Pending[]): Promise<void> {
    const started = performance.now();
    try {
      const outcomes = await this.#store.append(group.map((p) => p.item));
      this.#opts.observe?.((performance.now() - started) / 1000, group.length);
      const onStored = this.#opts.onStored;
      if (onStored !== undefined) {
        const stored: AppendItem[] = [];
        for (let i = 0; i < group.length; i++)
          if (outcomes[i].status === 'stored') stored.push(group[i].item);
        if (stored.length > 0) onStored(stored);
      }
      group.forEach((p, i) => p.resolve(outcomes[i]));
    } catch (err) {
      for (const p of group) p.reject(err);
    }
  }

  /** Stops taking batches and waits for the queued ones to be written. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#running === 0 && this.#queue.length === 0) return;
    if (this.#idle === null) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#idle = { promise, resolve };
    }
    await this.#idle.promise;
  }
}
