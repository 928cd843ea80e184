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
  /** Insertion order is arrival order, so expiry looks only at the front. */
  readonly #held = new Map<string, { event: PortentEvent; until: number }>();
  #joined = 0;

  constructor(opts: ProbeJoinerOptions) {
    this.#opts = opts;
  }

  /** A packet the capture saw. */
  capture(e: PortentEvent): void {
    const syn = e.proto === 6 && (e.tcpFlags & 0x12) === 0x02;
    const k = key(e.src, e.srcPort, e.dstPort);
    if (
      !syn ||
      !this.#opts.isListened('tcp', e.dstPort) ||
      this.#held.has(k) ||
      this.#held.size >= (this.#opts.maxHeld ?? 100_000)
    ) {
      this.#opts.emit(e);
      return;
    }
    this.#held.set(k, { event: e, until: this.#opts.clock.now() + this.#opts.holdMs });
  }

  /** A TCP connection the honeypot accepted: takes the fingerprints of its SYN, if it was captured. */
  connection(e: PortentEvent): void {
    const k = key(e.src, e.srcPort, e.dstPort);
    const syn = this.#held.get(k);
    if (syn) {
      this.#held.delete(k);
      this.#joined++;
      const s = syn.event;
      this.#opts.emit({
        ...e,
        time: Math.min(e.time, s.time),
        ipId: s.ipId,
        ttl: s.ttl,
        window: s.window,
        seq: s.seq,
      });
    } else this.#opts.emit(e);
  }

  /** Lets through SYNs whose hold time is up. */
  expire(): void {
    const now = this.#opts.clock.now();
    for (const [k, h] of this.#held) {
      if (h.until > now) break;
      this.#held.delete(k);
      this.#opts.emit(h.event);
    }
  }

  /** Lets everything held through (at shutdown). */
  flush(): void {
    for (const h of this.#held.values()) this.#opts.emit(h.event);
    this.#held.clear();
  }

  stats(): { held: number; joined: number } {
    return { held: this.#held.size, joined: this.#joined };
  }
}
