// Low-interaction honeypot listeners: accept TCP connections and UDP datagrams, keep the first bytes, emit one event each.
//
// Nothing here interprets what arrives: payloads are bytes, hashed and handed on, never decoded. Every
// resource an attacker can make the sensor spend is bounded (connections overall and per source, new
// attempts per source, bytes held, events emitted, sources remembered, UDP reply size and rate), and
// every refusal or drop is counted in `stats()`.

import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import net, { type AddressInfo } from 'node:net';
import { formatAddress, isV4, parseAddress } from '../../core/address.ts';
import { systemClock, type Clock } from '../../core/clock.ts';
import { Proto, TcpFlag, type PortentEvent } from '../../core/event.ts';
import { bannerBytes, type HoneypotConfig } from './config.ts';
import { SourceTable, TokenBucket, type SourceState } from './limits.ts';
import { HoneypotListenError, type Transport } from './listen-error.ts';

/** The first bytes of a connection or datagram, exactly as received. */
export interface PayloadSample {
  /** Lower-case hex SHA-256 of `bytes` (the kept bytes, not of what was discarded). */
  sha256: string;
  /** At most `capture_bytes` bytes. */
  bytes: Buffer;
  /** True when more bytes arrived than were kept. */
  truncated: boolean;
}

/** Why an attempt was turned away; it is still recorded as an event without payload. */
export type RefusalReason = 'sourceTable' | 'sourceRate' | 'connections' | 'sourceConnections';

/** What the honeypot hands on: the event (with `payloadSha256` when there is a sample) and the sample. */
export interface HoneypotRecord {
  event: PortentEvent;
  payload: PayloadSample | null;
  refused: RefusalReason | null;
}

/** Counters since start, and the current use of each bounded resource. */
export interface HoneypotStats {
  /** TCP connections accepted and captured. */
  tcpConnections: number;
  /** UDP datagrams accepted and captured. */
  udpDatagrams: number;
  /** Attempts turned away, by reason. */
  refused: Record<RefusalReason, number>;
  eventsEmitted: number;
  /** Events over `max_events_per_s`, not emitted. */
  eventsDropped: number;
  bytesCaptured: number;
  /** Bytes received past `capture_bytes` or the memory budget. */
  bytesDiscarded: number;
  /** TCP captures cut short because `max_buffered_bytes` was in use. */
  capturesCutShort: number;
  udpReplies: number;
  /** UDP banners not sent: the request was shorter than the banner, or the source's reply rate was used up. */
  udpRepliesSuppressed: number;
  /** Errors on open listeners (accept failures, failed UDP sends). */
  listenerErrors: number;
  /** Times `onRecord` threw. */
  recordErrors: number;
  openConnections: number;
  bufferedBytes: number;
  trackedSources: number;
}

/** One open listener. `until` is when a re-tasked port closes (ms since the epoch), null for a configured one. */
export interface ListenerInfo {
  proto: Transport;
  port: number;
  address: string;
  until: number | null;
}

export interface HoneypotOptions {
  config: HoneypotConfig;
  /** Called once per connection or datagram (refused ones included), at most `max_events_per_s`. */
  onRecord(record: HoneypotRecord): void;
  /** Time of events and of every rate and expiry decision; the system clock by default. */
  clock?: Clock;
  /** Told about errors that do not stop the honeypot (a failing listener, a throwing `onRecord`). */
  onError?(err: unknown): void;
  /** How often expired re-tasked ports are closed and idle sources forgotten, in real ms; 1000 by default. */
  sweepIntervalMs?: number;
}

interface Listener extends ListenerInfo {
  banner: Buffer;
  /** Destination of the events: the bound address, or null for a wildcard UDP socket (see config). */
  dst: string | null;
  tcp: net.Server | null;
  udp: dgram.Socket | null;
}

interface Capture {
  listener: Listener;
  socket: net.Socket;
  source: SourceState;
  event: PortentEvent;
  chunks: Buffer[];
  kept: number;
  truncated: boolean;
  timer: NodeJS.Timeout;
  done: boolean;
}

const WILDCARDS = new Set(['0.0.0.0', '::']);

/** Low-interaction TCP and UDP listeners on the configured ports, plus ports opened on request for a while. */
export class Honeypot {
  readonly #config: HoneypotConfig;
  readonly #clock: Clock;
  readonly #onRecord: (record: HoneypotRecord) => void;
  readonly #onError: (err: unknown) => void;
  readonly #sweepIntervalMs: number;
  readonly #listeners = new Map<string, Listener>();
  readonly #captures = new Set<Capture>();
  readonly #sources: SourceTable;
  readonly #events: TokenBucket;
  readonly #scratch = new Uint32Array(4);
  #buffered = 0;
  #pendingOpens = 0;
  /** Expired listeners still closing, so that stop() can wait for them. */
  readonly #expiring = new Set<Promise<void>>();
  #sweeper: NodeJS.Timeout | null = null;
  #state: 'new' | 'running' | 'stopped' = 'new';
  readonly #stats = {
    tcpConnections: 0,
    udpDatagrams: 0,
    refused: { sourceTable: 0, sourceRate: 0, connections: 0, sourceConnections: 0 },
    eventsEmitted: 0,
    eventsDropped: 0,
    bytesCaptured: 0,
    bytesDiscarded: 0,
    capturesCutShort: 0,
    udpReplies: 0,
    udpRepliesSuppressed: 0,
    listenerErrors: 0,
    recordErrors: 0,
  };

  constructor(options: HoneypotOptions) {
    const c = options.config;
    this.#config = c;
    this.#clock = options.clock ?? systemClock;
    this.#onRecord = options.onRecord;
    this.#onError = options.onError ?? (() => {});
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 1000;
    const now = this.#clock.now();
    this.#sources = new SourceTable({
      maxSources: c.max_tracked_sources,
      attemptsPerS: c.source_attempts_per_s,
      attemptBurst: c.source_attempt_burst,
      repliesPerS: c.udp_replies_per_source_per_s,
      replyBurst: c.udp_reply_burst,
    });
    this.#events = new TokenBucket(c.max_events_per_s, c.max_events_per_s, now);
  }

  /**
   * Opens every configured port. If any cannot be opened, closes those that did and rejects with a
   * HoneypotListenError (an AggregateError of them when several failed) saying what to do.
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error('the honeypot was already started');
    this.#state = 'running';
    const c = this.#config;
    const results = await Promise.allSettled([
      ...c.tcp_ports.map((p) => this.#listen('tcp', p.port, bannerBytes(p), null)),
      ...c.udp_ports.map((p) => this.#listen('udp', p.port, bannerBytes(p), null)),
    ]);
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    if (failures.length > 0) {
      await this.stop();
      if (failures.length === 1) throw failures[0];
      throw new AggregateError(failures, failures.map((f) => f.message).join('\n'));
    }
    this.#sweeper = setInterval(() => this.#sweep(), this.#sweepIntervalMs);
    this.#sweeper.unref();
  }

  /** Closes every listener and open connection (recording what each had sent so far). */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    if (this.#sweeper !== null) clearInterval(this.#sweeper);
    await Promise.all([...this.#listeners.values()].map((l) => this.#close(l)));
    await Promise.all(this.#expiring);
  }

  /**
   * Listens on `port` until `until` (ms since the epoch, on the honeypot's clock; cut to
   * `max_retask_duration` from now), for the server to watch a port that is surging. Resolves to the
   * port (the chosen one for 0) and the closing time; a configured port is already open and stays so
   * (`until` null). Asking again for an open re-tasked port extends it.
   */
  async open(port: number, proto: Transport, until: number): Promise<{ port: number; until: number | null }> {
    if (this.#state !== 'running') throw new Error('the honeypot is not running');
    const now = this.#clock.now();
    if (!(until > now))
      throw new RangeError(`cannot open a port until ${until}: that is not after now (${now})`);
    const closesAt = Math.min(until, now + this.#config.max_retask_duration);
    const existing = this.#listeners.get(`${proto}/${port}`);
    if (existing !== undefined) {
      if (existing.until !== null) existing.until = Math.max(existing.until, closesAt);
      return { port, until: existing.until };
    }
    const retasked =
      [...this.#listeners.values()].filter((l) => l.until !== null).length + this.#pendingOpens;
    if (retasked >= this.#config.max_retasked_ports) {
      throw new RangeError(
        `cannot open ${proto} port ${port}: ${retasked} ports are re-tasked already, the most honeypot.max_retasked_ports allows; close one first`,
      );
    }
    this.#pendingOpens++;
    try {
      const l = await this.#listen(proto, port, Buffer.alloc(0), closesAt);
      return { port: l.port, until: l.until };
    } finally {
      this.#pendingOpens--;
    }
  }

  /** Closes re-tasked listeners on `port` (both transports unless one is named); configured ports stay. Resolves to how many closed. */
  async close(port: number, proto?: Transport): Promise<number> {
    const chosen = [...this.#listeners.values()].filter(
      (l) => l.port === port && l.until !== null && (proto === undefined || l.proto === proto),
    );
    await Promise.all(chosen.map((l) => this.#close(l)));
    return chosen.length;
  }

  /** The open listeners. */
  listening(): ListenerInfo[] {
    return [...this.#listeners.values()].map(({ proto, port, address, until }) => ({
      proto,
      port,
      address,
      until,
    }));
  }

  /** A snapshot of the counters and of current use. */
  stats(): HoneypotStats {
    return {
      ...this.#stats,
      refused: { ...this.#stats.refused },
      openConnections: this.#captures.size,
      bufferedBytes: this.#buffered,
      trackedSources: this.#sources.size,
    };
  }

  async #listen(proto: Transport, port: number, banner: Buffer, until: number | null): Promise<Listener> {
    const address = this.#config.bind_address;
    const l: Listener = { proto, port, address, until, banner, dst: null, tcp: null, udp: null };
    try {
      if (proto === 'tcp') {
        const server = net.createServer((socket) => this.#onConnection(l, socket));
        l.tcp = server;
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ port, host: address, exclusive: true }, () => {
            server.off('error', reject);
            resolve();
          });
        });
        server.on('error', (err) => this.#listenerError(err));
        l.port = (server.address() as AddressInfo).port;
      } else {
        const socket = dgram.createSocket({ type: net.isIPv6(address) ? 'udp6' : 'udp4' });
        l.udp = socket;
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          socket.bind({ port, address, exclusive: true }, () => {
            socket.off('error', reject);
            resolve();
          });
        });
        socket.on('error', (err) => this.#listenerError(err));
        socket.on('message', (msg, rinfo) => this.#onDatagram(l, msg, rinfo));
        l.port = socket.address().port;
      }
    } catch (err) {
      l.tcp?.close();
      try {
        l.udp?.close();
      } catch {
        // A socket whose bind failed may already be closed.
      }
      throw new HoneypotListenError(proto, port, address, err);
    }
    l.dst = WILDCARDS.has(address) && proto === 'udp' ? null : this.#canonical(address);
    if (this.#state !== 'running') {
      // stop() ran while this listener was opening.
      await this.#close(l);
      throw new Error('the honeypot stopped while the port was opening');
    }
    this.#listeners.set(`${proto}/${l.port}`, l);
    return l;
  }

  async #close(l: Listener): Promise<void> {
    if (this.#listeners.get(`${l.proto}/${l.port}`) === l) this.#listeners.delete(`${l.proto}/${l.port}`);
    for (const c of this.#captures) if (c.listener === l) this.#finish(c);
    await new Promise<void>((resolve) => {
      if (l.tcp !== null) l.tcp.close(() => resolve());
      else if (l.udp !== null) l.udp.close(() => resolve());
      else resolve();
    });
  }

  #onConnection(l: Listener, socket: net.Socket): void {
    socket.on('error', () => {}); // resets and timeouts from the far end are expected; 'close' follows
    const now = this.#clock.now();
    const src = this.#canonical(socket.remoteAddress);
    if (src === null || this.#state !== 'running') {
      socket.destroy();
      return;
    }
    const key = this.#sourceKey();
    const event = honeypotEvent(
      now,
      src,
      socket.remotePort ?? 0,
      this.#canonical(socket.localAddress),
      l.port,
      Proto.tcp,
    );
    const source = this.#sources.get(key, now);
    const c = this.#config;
    let refused: RefusalReason | null = null;
    if (source === null) refused = 'sourceTable';
    else if (!source.attempts.take(now)) refused = 'sourceRate';
    else if (this.#captures.size >= c.max_connections) refused = 'connections';
    else if (source.open >= c.max_connections_per_source) refused = 'sourceConnections';
    if (refused !== null || source === null) {
      this.#stats.refused[refused ?? 'sourceTable']++;
      // A reset frees the socket at once, with no FIN handshake or TIME_WAIT on our side.
      socket.resetAndDestroy();
      this.#emit(event, null, refused);
      return;
    }
    this.#stats.tcpConnections++;
    source.open++;
    const capture: Capture = {
      listener: l,
      socket,
      source,
      event,
      chunks: [],
      kept: 0,
      truncated: false,
      timer: setTimeout(() => this.#finish(capture), c.capture_timeout).unref(),
      done: false,
    };
    this.#captures.add(capture);
    socket.on('data', (chunk: Buffer) => this.#onData(capture, chunk));
    socket.on('end', () => this.#finish(capture));
    socket.on('close', () => this.#finish(capture));
    if (l.banner.length > 0) socket.write(l.banner);
  }

  #onData(c: Capture, chunk: Buffer): void {
    if (c.done) return;
    const room = Math.min(
      this.#config.capture_bytes - c.kept,
      this.#config.max_buffered_bytes - this.#buffered,
    );
    const take = Math.min(room, chunk.length);
    if (take > 0) {
      // A copy: a slice would keep the socket's whole read buffer alive.
      c.chunks.push(Buffer.from(chunk.subarray(0, take)));
      c.kept += take;
      this.#buffered += take;
      this.#stats.bytesCaptured += take;
    }
    if (take < chunk.length) {
      c.truncated = true;
      this.#stats.bytesDiscarded += chunk.length - take;
      if (c.kept < this.#config.capture_bytes) this.#stats.capturesCutShort++;
    }
    if (c.truncated || c.kept >= this.#config.capture_bytes) this.#finish(c);
  }

  /** Ends a capture once (cap reached, timeout, peer closed, or stop), emits its record and closes the socket. */
  #finish(c: Capture): void {
    if (c.done) return;
    c.done = true;
    clearTimeout(c.timer);
    this.#captures.delete(c);
    c.source.open--;
    this.#buffered -= c.kept;
    // With no room at all in the memory budget nothing was kept: no sample rather than the hash of nothing.
    const payload = c.kept > 0 ? sample(Buffer.concat(c.chunks, c.kept), c.truncated) : null;
    c.chunks = [];
    c.event.payloadSha256 = payload?.sha256 ?? null;
    c.socket.destroy();
    this.#emit(c.event, payload, null);
  }

  #onDatagram(l: Listener, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const now = this.#clock.now();
    const src = this.#canonical(rinfo.address);
    if (src === null) return;
    const key = this.#sourceKey();
    const event = honeypotEvent(now, src, rinfo.port, l.dst, l.port, Proto.udp);
    const source = this.#sources.get(key, now);
    const refused: RefusalReason | null =
      source === null ? 'sourceTable' : source.attempts.take(now) ? null : 'sourceRate';
    if (refused !== null || source === null) {
      this.#stats.refused[refused ?? 'sourceTable']++;
      this.#emit(event, null, refused);
      return;
    }
    this.#stats.udpDatagrams++;
    const take = Math.min(this.#config.capture_bytes, msg.length);
    this.#stats.bytesCaptured += take;
    this.#stats.bytesDiscarded += msg.length - take;
    const payload = msg.length > 0 ? sample(Buffer.from(msg.subarray(0, take)), take < msg.length) : null;
    event.payloadSha256 = payload?.sha256 ?? null;
    this.#emit(event, payload, null);
    if (l.banner.length === 0) return;
    // Never more bytes back than came in: a reflector must not amplify.
    if (l.banner.length <= msg.length && source.replies.take(now) && l.udp !== null) {
      this.#stats.udpReplies++;
      l.udp.send(l.banner, rinfo.port, rinfo.address, (err) => {
        if (err) this.#listenerError(err);
      });
    } else {
      this.#stats.udpRepliesSuppressed++;
    }
  }

  #emit(event: PortentEvent, payload: PayloadSample | null, refused: RefusalReason | null): void {
    if (!this.#events.take(this.#clock.now())) {
      this.#stats.eventsDropped++;
      return;
    }
    this.#stats.eventsEmitted++;
    try {
      this.#onRecord({ event, payload, refused });
    } catch (err) {
      this.#stats.recordErrors++;
      this.#onError(err);
    }
  }

  #listenerError(err: unknown): void {
    this.#stats.listenerErrors++;
    this.#onError(err);
  }

  #sweep(): void {
    const now = this.#clock.now();
    for (const l of this.#listeners.values()) {
      if (l.until === null || l.until > now) continue;
      const closing = this.#close(l)
        .catch((err: unknown) => this.#listenerError(err))
        .finally(() => this.#expiring.delete(closing));
      this.#expiring.add(closing);
    }
    this.#sources.sweep(now);
  }

  /** Canonical text of an address (IPv4-mapped as a dotted quad), leaving it parsed in the scratch limbs. */
  #canonical(address: string | undefined): string | null {
    if (address === undefined || !parseAddress(address, this.#scratch, 0)) return null;
    return formatAddress(this.#scratch, 0);
  }

  /**
   * The per-source key of the address last given to #canonical: the address for IPv4, its /64 for IPv6,
   * because one IPv6 host can use every address of its /64.
   */
  #sourceKey(): string {
    const s = this.#scratch;
    if (isV4(s, 0)) return formatAddress(s, 0);
    s[0] = 0;
    s[1] = 0;
    return `${formatAddress(s, 0)}/64`;
  }
}

function sample(bytes: Buffer, truncated: boolean): PayloadSample {
  return { sha256: createHash('sha256').update(bytes).digest('hex'), bytes, truncated };
}

function honeypotEvent(
  time: number,
  src: string,
  srcPort: number,
  dst: string | null,
  dstPort: number,
  proto: number,
): PortentEvent {
  return {
    time,
    src,
    srcPort,
    dst,
    dstPort,
    proto,
    // A TCP connection that reached the listener began with a SYN; the handshake's other flags are ours.
    tcpFlags: proto === Proto.tcp ? TcpFlag.SYN : 0,
    action: 'honeypot',
    origin: 'honeypot',
    ipId: null,
    ttl: null,
    window: null,
    seq: null,
    payloadSha256: null,
    count: 1,
    sampling: 1,
  };
}
