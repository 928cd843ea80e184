// The in-process bus of the embedded profile: one queue per subscriber, drained asynchronously.

import { PortentError } from '../core/errors.ts';
import type { Bus, BusHandler, Subscription } from './bus.ts';

export interface MemoryBusOptions {
  /** Called with what a handler threw or rejected with; delivery goes on. */
  onError: (err: unknown, subject: string) => void;
}

/** One subscriber's queue; a single drain loop at a time keeps its messages in order. */
class Subscriber {
  readonly subject: string;
  readonly handler: BusHandler;
  readonly #onError: MemoryBusOptions['onError'];
  readonly #queue: Uint8Array[] = [];
  #draining: Promise<void> | null = null;
  active = true;

  constructor(subject: string, handler: BusHandler, onError: MemoryBusOptions['onError']) {
    this.subject = subject;
    this.handler = handler;
    this.#onError = onError;
  }

  enqueue(data: Uint8Array): void {
    this.#queue.push(data);
    this.#draining ??= this.#drain();
  }

  /** Resolves when the queue is empty. */
  idle(): Promise<void> {
    return this.#draining ?? Promise.resolve();
  }

  async #drain(): Promise<void> {
    // The first await puts every delivery after the publisher's synchronous code.
    await Promise.resolve();
    for (let data = this.#queue.shift(); data !== undefined; data = this.#queue.shift()) {
      if (!this.active) break;
      try {
        await this.handler(data, this.subject);
      } catch (err) {
        // A throwing error reporter must not stop the queue either.
        try {
          this.#onError(err, this.subject);
        } catch {
          // Nothing left to report to.
        }
      }
    }
    this.#queue.length = 0;
    this.#draining = null;
  }
}

export class MemoryBus implements Bus {
  readonly #subscribers = new Map<string, Set<Subscriber>>();
  readonly #onError: MemoryBusOptions['onError'];
  #closed = false;

  constructor(opts: MemoryBusOptions) {
    this.#onError = opts.onError;
  }

  async publish(subject: string, data: Uint8Array): Promise<void> {
    if (this.#closed) throw closedError();
    // Each subscriber gets its own copy, as it would from a network bus: no one sees another's changes.
    for (const s of this.#subscribers.get(subject) ?? []) s.enqueue(data.slice());
  }

  subscribe(subject: string, handler: BusHandler): Subscription {
    if (this.#closed) throw closedError();
    const s = new Subscriber(subject, handler, this.#onError);
    let set = this.#subscribers.get(subject);
    if (set === undefined) this.#subscribers.set(subject, (set = new Set()));
    set.add(s);
    return {
      unsubscribe: () => {
        s.active = false;
        set.delete(s);
      },
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    // A handler may be waiting on work that publishes nothing more (publishing now is refused), so
    // one pass over the queues finds them all.
    const all = [...this.#subscribers.values()].flatMap((set) => [...set]);
    await Promise.all(all.map((s) => s.idle()));
    this.#subscribers.clear();
  }
}

const closedError = () =>
  new PortentError('BUS_CLOSED', { message: 'The bus is closed: the server is shutting down.' });
