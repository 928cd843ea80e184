// Joins a captured SYN with the honeypot connection it opened, so one attempt is one event with its fingerprints.
//
// With live capture and honeypot listeners on the same ports, a full connection is seen twice: as a
// SYN by the capture (which knows IP ID, TTL, window, sequence) and as a connection by the listener
// (which knows the payload). A SYN to a listened port is held until the listener reports the
// connection with the same source address and ports, then the two become one event; a SYN that no
// connection follows (a half-open SYN scan) is let through on its own when its hold time is up.

import type { Clock } from '../core/clock.ts';
import type { PortentEvent } from '../core/event.ts';

export interface ProbeJoinerOptions {
  /** How long a SYN waits for its connection: the listener reports a connection when it closes. */
  holdMs: number;
  clock: Clock;
  emit(event: PortentEvent): void;
  isListened(proto: 'tcp' | 'udp', port: number): boolean;
  /** Most SYNs held at once; beyond it they go through unjoined rather than grow memory. */
  maxHeld?: number;
}

const key = (src: string, srcPort: number, dstPort: number) => `${src}|${srcPort}|${dstPort}`;

export class ProbeJoiner {
  readonly #opts: ProbeJoinerOptions;
  /** Held SYNs and held connections; insertion order is arrival order, so expiry looks only at the front. */
  readonly #syns = new Map<string, { event: PortentEvent; until: number }>();
  readonly #connections = new Map<string, { event: PortentEvent; until: number }>();
  #joined = 0;

  constructor(opts: ProbeJoinerOptions) {
    this.#opts = opts;
  }

  /** A packet the capture saw. */
  capture(e: PortentEvent): void {
    const syn = e.proto === 6 && (e.tcpFlags & 0x12) === 0x02;
    if (!syn || !this.#opts.isListened('tcp', e.dstPort)) return this.#opts.emit(e);
    const k = key(e.src, e.srcPort, e.dstPort);
    const conn = this.#connections.get(k);
    if (conn) {
      this.#connections.delete(k);
      return this.#join(e, conn.event);
    }
    this.#hold(this.#syns, k, e);
  }

  /**
   * A TCP connection the honeypot accepted. The capture may report its SYN before or after (tcpdump
   * writes through a pipe), so whichever comes first waits for the other.
   */
  connection(e: PortentEvent): void {
    const k = key(e.src, e.srcPort, e.dstPort);
    const syn = this.#syns.get(k);
    if (syn) {
      this.#syns.delete(k);
      return this.#join(syn.event, e);
    }
    this.#hold(this.#connections, k, e);
  }

  #hold(map: Map<string, { event: PortentEvent; until: number }>, k: string, e: PortentEvent): void {
    if (map.has(k) || map.size >= (this.#opts.maxHeld ?? 100_000)) return this.#opts.emit(e);
    map.set(k, { event: e, until: this.#opts.clock.now() + this.#opts.holdMs });
  }

  #join(syn: PortentEvent, conn: PortentEvent): void {
    this.#joined++;
    this.#opts.emit({
      ...conn,
      time: Math.min(conn.time, syn.time),
      ipId: syn.ipId,
      ttl: syn.ttl,
      window: syn.window,
      seq: syn.seq,
    });
  }

  /** Lets through what waited its full hold time alone: half-open SYN scans, connections whose SYN was not captured. */
  expire(): void {
    const now = this.#opts.clock.now();
    for (const map of [this.#syns, this.#connections]) {
      for (const [k, h] of map) {
        if (h.until > now) break;
        map.delete(k);
        this.#opts.emit(h.event);
      }
    }
  }

  /** Lets everything held through (at shutdown). */
  flush(): void {
    for (const map of [this.#syns, this.#connections]) {
      for (const h of map.values()) this.#opts.emit(h.event);
      map.clear();
    }
  }

  stats(): { held: number; joined: number } {
    return { held: this.#syns.size + this.#connections.size, joined: this.#joined };
  }
}
