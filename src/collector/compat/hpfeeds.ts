// A publish-only hpfeeds broker: honeypots that report over hpfeeds (Cowrie, Dionaea, Conpot) send to
// Portent unchanged, with the sensor id as ident and the sensor secret as secret.
//
// It follows the reference broker (hpfeeds3 hpfeeds/broker/connection.py): OP_INFO with a 4-byte
// nonce on connect, OP_AUTH first, then OP_PUBLISH; a protocol violation is answered with OP_ERROR
// and the connection closed. Unlike it, nothing is passed on to subscribers: the events of each
// connection are batched (every batch_max_events events or batch_max_delay) into the GroupWriter.
// hpfeeds has no acknowledgement, so back-pressure is TCP's: while a connection's batches wait for
// the store, or it is over its message rate, the broker stops reading its socket.

import { createHash, randomBytes, timingSafeEqual, type Hash } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Counter, Gauge } from 'prom-client';
import type { Clock } from '../../core/clock.ts';
import { PortentError, type ErrorCode } from '../../core/errors.ts';
import type { PortentEvent } from '../../core/event.ts';
import type { ServerMetrics } from '../../server/metrics.ts';
import type { StateStore } from '../../storage/state-store.ts';
import type { GroupWriter } from '../group-writer.ts';
import { contentBatchId, foldEvents } from './events.ts';
import { decodeChannel, isHpfeedsChannel, HPFEEDS_CHANNELS } from './hpfeeds-channels.ts';
import {
  FrameError,
  FrameReader,
  OP,
  authHash,
  errorFrame,
  infoFrame,
  readAuth,
  readPublish,
  readSubscribe,
  type Frame,
} from './hpfeeds-protocol.ts';

export interface HpfeedsOptions {
  host: string;
  port: number;
  brokerName: string;
  maxConnections: number;
  maxMessageBytes: number;
  maxMessagesPerS: number;
  batchMaxEvents: number;
  batchMaxDelayMs: number;
  authTimeoutMs: number;
  idleTimeoutMs: number;
}

/** What the broker logs through: pino's shape, so the server's logger fits. */
export interface HpfeedsLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface HpfeedsDeps {
  state: StateStore;
  writer: GroupWriter;
  clock: Clock;
  metrics: ServerMetrics;
  log: HpfeedsLog;
  options: HpfeedsOptions;
}

/** A store that is behind is asked again after this long; the connection stays paused meanwhile. */
const STORE_RETRY_MS = 1000;
/** After this many tries (a minute) a batch the store keeps refusing is given up, and counted as lost. */
const STORE_RETRIES = 60;
/** OP_CHANNEL_REFUSED is sent once per channel and connection, for at most this many channels. */
const MAX_REFUSED_CHANNELS_REPORTED = 32;
/** A closing connection that has not finished sending gets this long before it is destroyed. */
const CLOSE_GRACE_MS = 2000;
/** Non-fatal errors the client has not read yet, past which more are not sent. */
const MAX_UNREAD_ERROR_BYTES = 64 * 1024;

class BrokerMetrics {
  readonly connections: Gauge;
  readonly messages: Counter<'channel' | 'outcome'>;
  readonly eventsLost: Counter;

  constructor(m: ServerMetrics) {
    this.connections = new Gauge({
      name: 'portent_hpfeeds_connections',
      help: 'Open hpfeeds connections.',
      registers: [m.registry],
    });
    this.messages = new Counter({
      name: 'portent_hpfeeds_messages_total',
      help: 'hpfeeds PUBLISH messages by channel (accepted ones, else "other") and outcome: accepted, invalid, refused.',
      labelNames: ['channel', 'outcome'] as const,
      registers: [m.registry],
    });
    this.eventsLost = new Counter({
      name: 'portent_hpfeeds_events_lost_total',
      help: 'Events read from hpfeeds that the store refused for a reason other than being behind (e.g. shutting down).',
      registers: [m.registry],
    });
  }
}

export class HpfeedsBroker {
  readonly #deps: HpfeedsDeps;
  readonly #server: Server;
  readonly #connections = new Set<Connection>();
  readonly metrics: BrokerMetrics;
  #closing = false;

  constructor(deps: HpfeedsDeps) {
    this.#deps = deps;
    this.metrics = new BrokerMetrics(deps.metrics);
    this.#server = createServer((socket) => this.#accept(socket));
  }

  /** Starts listening; resolves with the bound address. */
  listen(): Promise<AddressInfo> {
    const { host, port } = this.#deps.options;
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ host, port }, () => {
        this.#server.off('error', reject);
        resolve(this.#server.address() as AddressInfo);
      });
    });
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Stops accepting, then closes every connection after storing what it has read. */
  async close(): Promise<void> {
    this.#closing = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await Promise.all([...this.#connections].map((c) => c.shutdown()));
    await closed;
  }

  #accept(socket: Socket): void {
    if (this.#closing || this.#connections.size >= this.#deps.options.maxConnections) {
      socket.on('error', () => {});
      socket.end(
        errorFrame(
          hpfeedsError('HPFEEDS_TOO_MANY_CONNECTIONS', this.#closing ? 'the broker is shutting down' : ''),
        ),
      );
      setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
      return;
    }
    const c = new Connection(socket, this.#deps, this.metrics, () => {
      this.#connections.delete(c);
      this.metrics.connections.dec();
    });
    this.#connections.add(c);
    this.metrics.connections.inc();
  }
}

/** The text of an OP_ERROR: the catalog code first, so a client log shows what to look up. */
function hpfeedsError(code: ErrorCode, detail: string): string {
  const e = new PortentError(code);
  return detail === '' ? `${code}: ${e.message}` : `${code}: ${e.message} (${detail})`;
}

/** Text from the client made safe to echo: printable ASCII, short. */
function shown(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s).replace(/[^\x20-\x7e]/g, '?');
}

/** One client connection: authentication, publishes, and its batch on the way to the store. */
class Connection {
  readonly #socket: Socket;
  readonly #deps: HpfeedsDeps;
  readonly #metrics: BrokerMetrics;
  readonly #onClosed: () => void;
  readonly #reader: FrameReader;
  readonly #nonce = randomBytes(4);
  #sensor: { id: string; num: number } | null = null;
  /** A frame is being handled asynchronously (AUTH looks up the store): hold the rest. */
  #busy = false;
  /** The client has gone (end, error or close). */
  #ended = false;
  #closed = false;
  #authTimer: NodeJS.Timeout | null;
  readonly #refusedChannels = new Set<string>();

  // Rate: a token bucket over messages, refilled continuously, one second's worth deep.
  #tokens: number;
  #tokensAt: number;
  #rateTimer: NodeJS.Timeout | null = null;

  // The batch being filled, and the one on its way to the store.
  #events: PortentEvent[] = [];
  #hash: Hash | null = null;
  #batchTimer: NodeJS.Timeout | null = null;
  #flushing: Promise<void> | null = null;

  constructor(socket: Socket, deps: HpfeedsDeps, metrics: BrokerMetrics, onClosed: () => void) {
    this.#socket = socket;
    this.#deps = deps;
    this.#metrics = metrics;
    this.#onClosed = onClosed;
    const o = deps.options;
    this.#reader = new FrameReader(o.maxMessageBytes);
    this.#tokens = o.maxMessagesPerS;
    this.#tokensAt = performance.now();
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    socket.setTimeout(o.idleTimeoutMs, () => this.#fail('HPFEEDS_TIMEOUT', 'idle for too long'));
    socket.on('data', (chunk: Buffer) => {
      this.#reader.push(chunk);
      this.#pump();
    });
    // Frames already read are still handled after the client goes away; then the connection ends.
    const gone = () => {
      this.#ended = true;
      this.#pump();
    };
    socket.on('end', gone);
    socket.on('error', gone);
    socket.on('close', gone);
    this.#authTimer = setTimeout(() => this.#fail('HPFEEDS_TIMEOUT', 'no AUTH in time'), o.authTimeoutMs);
    socket.write(infoFrame(o.brokerName, this.#nonce));
  }

  /** Handles every whole frame held, unless a frame is in progress, the rate is spent or the batch is full. */
  #pump(): void {
    while (!this.#closed && !this.#busy) {
      if (this.#events.length >= this.#deps.options.batchMaxEvents && this.#flushing !== null) {
        // The store is behind this connection: stop reading until the batch in flight is stored.
        this.#socket.pause();
        return;
      }
      if (!this.#haveToken()) return;
      let f: Frame | null;
      try {
        f = this.#reader.next();
      } catch (e) {
        const fe = e as FrameError;
        this.#fail(fe.tooLarge ? 'HPFEEDS_FRAME_TOO_LARGE' : 'HPFEEDS_FRAME_INVALID', fe.message);
        return;
      }
      if (f === null) {
        if (this.#ended) void this.#finish();
        else this.#socket.resume();
        return;
      }
      this.#tokens -= 1;
      this.#handle(f);
    }
  }

  /** Whether one more message may be handled now; if not, reading stops until one may. */
  #haveToken(): boolean {
    const rate = this.#deps.options.maxMessagesPerS;
    const t = performance.now();
    this.#tokens = Math.min(rate, this.#tokens + ((t - this.#tokensAt) / 1000) * rate);
    this.#tokensAt = t;
    if (this.#tokens >= 1) return true;
    this.#socket.pause();
    if (this.#rateTimer === null) {
      const waitMs = Math.ceil(((1 - this.#tokens) / rate) * 1000);
      this.#rateTimer = setTimeout(() => {
        this.#rateTimer = null;
        this.#pump();
      }, waitMs);
    }
    return false;
  }

  #handle(f: Frame): void {
    try {
      if (this.#sensor === null) {
        if (f.op !== OP.auth) throw new FrameError('the first message must be AUTH');
        this.#authenticate(f);
        return;
      }
      switch (f.op) {
        case OP.publish:
          this.#publish(f);
          return;
        case OP.subscribe: {
          const { channel } = readSubscribe(f.body);
          this.#fail('HPFEEDS_SUBSCRIBE_REFUSED', `channel ${shown(channel)}`);
          return;
        }
        case OP.unsubscribe:
          readSubscribe(f.body); // nothing is ever subscribed; checked for form only
          return;
        default:
          throw new FrameError(`op code ${f.op} is not accepted from a client after AUTH`);
      }
    } catch (e) {
      if (e instanceof FrameError) this.#fail('HPFEEDS_FRAME_INVALID', e.message);
      else throw e;
    }
  }

  #authenticate(f: Frame): void {
    const { ident, hash } = readAuth(f.body);
    this.#busy = true;
    this.#socket.pause();
    this.#deps.state.sensorSecret(ident).then(
      (known) => {
        this.#busy = false;
        if (this.#closed) return;
        const ok = known !== null && timingSafeEqual(authHash(this.#nonce, known.secret), hash);
        if (!ok || known === null) {
          this.#deps.log.info({ ident: ident.slice(0, 80) }, 'hpfeeds authentication failed.');
          this.#fail('HPFEEDS_AUTH_FAILED', `ident ${shown(ident)}`);
          return;
        }
        if (this.#authTimer) clearTimeout(this.#authTimer);
        this.#authTimer = null;
        this.#sensor = { id: ident, num: known.num };
        this.#pump();
      },
      (err: unknown) => {
        this.#busy = false;
        this.#deps.log.error({ err }, 'hpfeeds authentication could not read the state store.');
        this.#fail('HPFEEDS_AUTH_FAILED', 'the state store could not be read; try again');
      },
    );
  }

  #publish(f: Frame): void {
    const sensor = this.#sensor as { id: string; num: number };
    const { ident, channel, payload } = readPublish(f.body);
    if (ident !== sensor.id)
      throw new FrameError(
        `PUBLISH ident ${shown(ident)} is not the authenticated ident ${shown(sensor.id)}`,
      );
    if (!isHpfeedsChannel(channel)) {
      this.#metrics.messages.inc({ channel: 'other', outcome: 'refused' });
      if (!this.#refusedChannels.has(channel) && this.#refusedChannels.size < MAX_REFUSED_CHANNELS_REPORTED) {
        this.#refusedChannels.add(channel);
        this.#notify(
          errorFrame(
            hpfeedsError(
              'HPFEEDS_CHANNEL_REFUSED',
              `${shown(channel)}; accepted: ${HPFEEDS_CHANNELS.join(', ')}`,
            ),
          ),
        );
      }
      return;
    }
    const now = this.#deps.clock.now();
    const r = decodeChannel(channel, payload, now);
    if ('problem' in r) {
      this.#metrics.messages.inc({ channel, outcome: 'invalid' });
      this.#notify(errorFrame(hpfeedsError('HPFEEDS_PAYLOAD_INVALID', `${channel}: ${r.problem}`)));
      return;
    }
    this.#metrics.messages.inc({ channel, outcome: 'accepted' });
    if (r.events.length === 0) return;
    if (this.#hash === null) {
      this.#hash = createHash('sha256').update(`hpfeeds\n${sensor.id}\n`);
      this.#armBatchTimer();
    }
    // Channel and payload, length-prefixed, so that no two sequences of messages hash alike.
    this.#hash.update(`${channel}\n${payload.length}\n`).update(payload);
    for (const e of r.events) this.#events.push(e);
    if (this.#events.length >= this.#deps.options.batchMaxEvents) void this.#flush();
  }

  #armBatchTimer(): void {
    this.#batchTimer = setTimeout(() => {
      this.#batchTimer = null;
      void this.#flush();
    }, this.#deps.options.batchMaxDelayMs);
  }

  /** Sends the batch being filled to the store; one batch per connection is in flight at a time. */
  #flush(): Promise<void> {
    if (this.#flushing !== null) return this.#flushing;
    if (this.#events.length === 0 || this.#hash === null || this.#sensor === null) return Promise.resolve();
    if (this.#batchTimer) clearTimeout(this.#batchTimer);
    this.#batchTimer = null;
    const events = this.#events;
    const batchId = contentBatchId(this.#hash);
    this.#events = [];
    this.#hash = null;
    const sensor = this.#sensor;
    this.#flushing = this.#store(sensor.num, batchId, events).finally(() => {
      this.#flushing = null;
      // Events that arrived meanwhile: a full batch goes now, a partial one waits for its timer.
      if (
        this.#events.length >= this.#deps.options.batchMaxEvents ||
        (this.#closed && this.#events.length > 0)
      )
        void this.#flush();
      else if (this.#events.length > 0 && this.#batchTimer === null) this.#armBatchTimer();
      this.#pump();
    });
    return this.#flushing;
  }

  async #store(sensor: number, batchId: string, events: PortentEvent[]): Promise<void> {
    const { writer, clock, metrics, log } = this.#deps;
    const columns = foldEvents(events);
    let retries = 0;
    for (;;) {
      const now = clock.now();
      metrics.pendingBatches.inc();
      try {
        const outcome = await writer.submit({
          sensor,
          batch: { batchId, seq: 0, created: now, software: 'hpfeeds', events: columns },
          received: now,
        });
        metrics.batchesIngested.inc({ outcome: outcome.status });
        if (outcome.status === 'stored') metrics.eventsIngested.inc(columns.length);
        return;
      } catch (err) {
        if (err instanceof PortentError && err.code === 'STORE_UNAVAILABLE' && ++retries <= STORE_RETRIES) {
          await new Promise((r) => setTimeout(r, STORE_RETRY_MS));
          continue;
        }
        this.#metrics.eventsLost.inc(events.length);
        log.error({ err, events: events.length }, 'hpfeeds events could not be stored and are lost.');
        return;
      } finally {
        metrics.pendingBatches.dec();
      }
    }
  }

  #write(frame: Buffer): void {
    if (this.#socket.writable) this.#socket.write(frame);
  }

  /** A non-fatal OP_ERROR: dropped while the client is not reading them, so they cannot pile up here. */
  #notify(frame: Buffer): void {
    if (this.#socket.writableLength < MAX_UNREAD_ERROR_BYTES) this.#write(frame);
  }

  /** Sends OP_ERROR and closes; what was read before is still stored. */
  #fail(code: ErrorCode, detail: string): void {
    if (this.#closed) return;
    this.#write(errorFrame(hpfeedsError(code, detail)));
    void this.#finish();
  }

  /** Stops reading, stores what was read, and ends the socket. Safe to call more than once. */
  async #finish(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const t of [this.#authTimer, this.#rateTimer, this.#batchTimer]) if (t) clearTimeout(t);
      this.#authTimer = this.#rateTimer = null;
      this.#socket.pause();
      this.#socket.end();
      setTimeout(() => this.#socket.destroy(), CLOSE_GRACE_MS).unref();
      this.#done = (async () => {
        while (this.#flushing !== null || this.#events.length > 0) await this.#flush();
        this.#onClosed();
      })();
    }
    await this.#done;
  }

  #done: Promise<void> = Promise.resolve();

  /** For the broker's close(): the same as the client going away. */
  shutdown(): Promise<void> {
    return this.#finish();
  }
}
