// The bus contract: every Bus adapter (in-process now, NATS JetStream later) must pass these.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeJson, publishJson, type Bus } from '../../src/bus/bus.ts';

/** Opens a fresh bus that reports handler failures to `onError`. */
export type BusFactory = (opts: { onError: (err: unknown, subject: string) => void }) => Promise<Bus>;

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

/** Resolves when `check` holds, polling; fails after `ms`. */
async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting for deliveries');
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function busContract(name: string, open: BusFactory): void {
  /** A bus whose handler errors are collected, closed after `body`. */
  async function withBus(body: (bus: Bus, errors: unknown[]) => Promise<void>): Promise<void> {
    const errors: unknown[] = [];
    const bus = await open({ onError: (err) => errors.push(err) });
    try {
      await body(bus, errors);
    } finally {
      await bus.close().catch(() => undefined);
    }
  }

  describe(`Bus contract: ${name}`, () => {
    it('delivers each message to every subscriber of its subject, in publish order', async () => {
      await withBus(async (bus) => {
        const a: string[] = [];
        const b: string[] = [];
        const other: string[] = [];
        bus.subscribe('t.one', (d) => void a.push(text(d)));
        bus.subscribe('t.one', async (d) => {
          // A slow handler still sees its messages in order, one at a time.
          await new Promise((r) => setTimeout(r, Math.random() * 3));
          b.push(text(d));
        });
        bus.subscribe('t.other', (d) => void other.push(text(d)));
        const sent = Array.from({ length: 200 }, (_, i) => `m${i}`);
        for (const m of sent) await bus.publish('t.one', bytes(m));
        await until(() => a.length === 200 && b.length === 200);
        assert.deepEqual(a, sent);
        assert.deepEqual(b, sent);
        assert.deepEqual(other, []);
      });
    });

    it('keeps order for messages published without waiting', async () => {
      await withBus(async (bus) => {
        const got: string[] = [];
        bus.subscribe('t.burst', (d) => void got.push(text(d)));
        const sent = Array.from({ length: 500 }, (_, i) => `m${i}`);
        await Promise.all(sent.map((m) => bus.publish('t.burst', bytes(m))));
        await until(() => got.length === 500);
        assert.deepEqual(got, sent);
      });
    });

    it("never runs a handler inside the publisher's call stack", async () => {
      await withBus(async (bus) => {
        let publishing = false;
        let ranDuringPublish = false;
        let delivered = false;
        bus.subscribe('t.async', () => {
          ranDuringPublish ||= publishing;
          delivered = true;
        });
        publishing = true;
        const p = bus.publish('t.async', bytes('x'));
        publishing = false;
        await p;
        await until(() => delivered);
        assert.equal(ranDuringPublish, false);
      });
    });

    it('goes on after a handler throws or rejects, and reports the error', async () => {
      await withBus(async (bus, errors) => {
        const good: string[] = [];
        const flaky: string[] = [];
        bus.subscribe('t.err', (d) => {
          if (text(d) === 'bad') throw new Error('sync failure');
          flaky.push(text(d));
        });
        bus.subscribe('t.err', async (d) => {
          if (text(d) === 'bad') throw new Error('async failure');
          good.push(text(d));
        });
        bus.subscribe('t.err', (d) => void good.push(`second:${text(d)}`));
        for (const m of ['a', 'bad', 'b']) await bus.publish('t.err', bytes(m));
        await until(() => good.length === 5 && flaky.length === 2 && errors.length === 2);
        assert.deepEqual(flaky, ['a', 'b']);
        assert.deepEqual(
          good.filter((g) => !g.startsWith('second:')),
          ['a', 'b'],
        );
        assert.deepEqual(errors.map((e) => (e as Error).message).sort(), ['async failure', 'sync failure']);
      });
    });

    it('delivers a copy: changing the published bytes afterwards changes nothing', async () => {
      await withBus(async (bus) => {
        const got: string[] = [];
        bus.subscribe('t.copy', (d) => {
          got.push(text(d));
          d.fill(0x41);
        });
        bus.subscribe('t.copy', (d) => void got.push(text(d)));
        const data = bytes('original');
        await bus.publish('t.copy', data);
        data.fill(0x5a);
        await until(() => got.length === 2);
        assert.deepEqual(got, ['original', 'original']);
      });
    });

    it('stops delivering to a handler once it unsubscribes', async () => {
      await withBus(async (bus) => {
        const kept: string[] = [];
        const dropped: string[] = [];
        const sub = bus.subscribe('t.unsub', (d) => void dropped.push(text(d)));
        bus.subscribe('t.unsub', (d) => void kept.push(text(d)));
        await bus.publish('t.unsub', bytes('1'));
        await until(() => dropped.length === 1 && kept.length === 1);
        sub.unsubscribe();
        await bus.publish('t.unsub', bytes('2'));
        await until(() => kept.length === 2);
        assert.deepEqual(dropped, ['1']);
      });
    });

    it('close waits for the deliveries already under way, then refuses new messages', async () => {
      const errors: unknown[] = [];
      const bus = await open({ onError: (err) => errors.push(err) });
      const done: string[] = [];
      bus.subscribe('t.close', async (d) => {
        await new Promise((r) => setTimeout(r, 20));
        done.push(text(d));
      });
      for (const m of ['a', 'b', 'c']) await bus.publish('t.close', bytes(m));
      await bus.close();
      assert.deepEqual(done, ['a', 'b', 'c']);
      await assert.rejects(bus.publish('t.close', bytes('late')), { code: 'BUS_CLOSED' });
      assert.deepEqual(errors, []);
    });

    it('carries JSON documents both ways', async () => {
      await withBus(async (bus) => {
        const got: unknown[] = [];
        bus.subscribe('t.json', (d) => void got.push(decodeJson(d)));
        const doc = { id: 'inc_6_445_x', reasons: ['a "quoted" <b>'], n: 1.5, none: null };
        await publishJson(bus, 't.json', doc);
        await until(() => got.length === 1);
        assert.deepEqual(got, [doc]);
      });
    });
  });
}
