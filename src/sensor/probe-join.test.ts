// ProbeJoiner: a captured SYN and the honeypot connection it opened become one event, in either arrival order.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../core/clock.ts';
import type { PortentEvent } from '../core/event.ts';
import { ProbeJoiner } from './probe-join.ts';

const base: PortentEvent = {
  time: 1_000,
  src: '198.51.100.7',
  srcPort: 40000,
  dst: '192.0.2.1',
  dstPort: 2222,
  proto: 6,
  tcpFlags: 2,
  action: 'unknown',
  origin: 'capture',
  ipId: 54321,
  ttl: 51,
  window: 65535,
  seq: 123456,
  payloadSha256: null,
  count: 1,
  sampling: 1,
};
const syn = (over: Partial<PortentEvent> = {}): PortentEvent => ({ ...base, ...over });
const conn = (over: Partial<PortentEvent> = {}): PortentEvent => ({
  ...base,
  time: 1_050,
  action: 'honeypot',
  origin: 'honeypot',
  ipId: null,
  ttl: null,
  window: null,
  seq: null,
  payloadSha256: 'ab'.repeat(32),
  ...over,
});

function joiner() {
  const clock = new FakeClock(1_000);
  const out: PortentEvent[] = [];
  const j = new ProbeJoiner({
    holdMs: 3000,
    clock,
    emit: (e) => out.push(e),
    isListened: (_p, port) => port === 2222,
  });
  return { clock, out, j };
}

describe('ProbeJoiner', () => {
  it('joins a SYN that comes first with its connection', () => {
    const { out, j } = joiner();
    j.capture(syn());
    assert.equal(out.length, 0);
    j.connection(conn());
    assert.equal(out.length, 1);
    assert.deepEqual(
      { ...out[0] },
      { ...conn(), time: 1_000, ipId: 54321, ttl: 51, window: 65535, seq: 123456 },
    );
  });

  it('joins a connection reported before its SYN (tcpdump writes through a pipe)', () => {
    const { out, j } = joiner();
    j.connection(conn());
    j.capture(syn());
    assert.equal(out.length, 1);
    assert.equal(out[0].origin, 'honeypot');
    assert.equal(out[0].ttl, 51);
  });

  it('lets a half-open SYN and an uncaptured connection through alone when their time is up', () => {
    const { clock, out, j } = joiner();
    j.capture(syn({ srcPort: 1 }));
    j.connection(conn({ srcPort: 2 }));
    clock.advance(2999);
    j.expire();
    assert.equal(out.length, 0);
    clock.advance(1);
    j.expire();
    assert.deepEqual(
      out.map((e) => [e.origin, e.srcPort]),
      [
        ['capture', 1],
        ['honeypot', 2],
      ],
    );
  });

  it('passes through at once what cannot be joined: other ports, non-SYN packets, UDP', () => {
    const { out, j } = joiner();
    j.capture(syn({ dstPort: 80 }));
    j.capture(syn({ tcpFlags: 0x12 }));
    j.capture(syn({ proto: 17, tcpFlags: 0 }));
    assert.equal(out.length, 3);
    j.flush();
    assert.equal(out.length, 3);
  });
});
