// Tests of the on-disk spool: round trips, torn tails, acknowledged positions across crashes, segments, sampling, locks.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { FakeClock } from '../../core/clock.ts';
import { batchIdProblem, type EventColumns, type PortentEvent } from '../../core/event.ts';
import { ARB_NOW, arbEvents } from '../../core/wire/arbitrary.ts';
import { columnsToEvents, eventsToColumns } from '../../core/wire/ndjson.ts';
import { BackgroundTraffic } from '../../sim/background.ts';
import { batchIdOf, type SpoolRange } from './range.ts';
import { RECORD_MAX_EVENTS, Spool, type SpoolOptions } from './spool.ts';

const root = mkdtempSync(join(tmpdir(), 'portent-spool-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => join(root, `spool-${++dirs}`);

function options(dir: string, over: Partial<SpoolOptions> = {}): SpoolOptions {
  return {
    dir,
    maxBytes: 64 * 1024 * 1024,
    segmentBytes: 1024 * 1024,
    fsync: 'never',
    samplingAdjustMs: 1000,
    clock: new FakeClock(ARB_NOW),
    ...over,
  };
}

const traffic = new BackgroundTraffic({ seed: 7, sources: 2000 });
const chunk = (n: number): EventColumns => traffic.generate(n, 10 * 2 ** 24, ARB_NOW - 60_000, ARB_NOW);

/** Sends nothing: reads, schedules and acknowledges every range, as a shipper whose batches all succeed. */
async function drain(spool: Spool, maxEvents = 1_000_000): Promise<PortentEvent[]> {
  const out: PortentEvent[] = [];
  for (let plan = await spool.plan(maxEvents); plan !== null; plan = await spool.plan(maxEvents)) {
    await spool.schedule(plan.range);
    out.push(...columnsToEvents(await spool.read(plan.range)));
    await spool.ack(plan.range);
  }
  return out;
}

/** The directory as kill -9 would leave it: the files as they are now, the lock still naming this process. */
function crashCopy(dir: string): string {
  const copy = freshDir();
  cpSync(dir, copy, { recursive: true });
  return copy;
}

const segmentFiles = (dir: string): string[] => readdirSync(dir).filter((n) => n.endsWith('.seg'));

describe('Spool', () => {
  it('reads back what was appended, in order, across records and segments', async () => {
    const dir = freshDir();
    const spool = await Spool.open(options(dir, { segmentBytes: 64 * 1024, fsync: 'always' }));
    const written = [chunk(25_000), chunk(1), chunk(3000)];
    for (const c of written) await spool.append(c);
    assert.ok(segmentFiles(dir).length > 1, 'small segments roll');
    assert.equal(spool.health().appendedEvents, 28_001);
    const read = await drain(spool, 4000);
    assert.deepEqual(read, written.flatMap(columnsToEvents));
    const h = spool.health();
    assert.equal(h.unshippedEvents, 0);
    assert.equal(h.ackedEvents, 28_001);
    assert.equal(h.oldestUnshippedAgeMs, null);
    assert.equal(h.segments, 1, 'acknowledged segments are removed');
    assert.equal(segmentFiles(dir).length, 1);
    await spool.close();
  });

  it('cuts appends into records of at most RECORD_MAX_EVENTS events, and plans ranges of whole records', async () => {
    const spool = await Spool.open(options(freshDir()));
    await spool.append(chunk(2 * RECORD_MAX_EVENTS + 5));
    // One record more than half full: the range stops at its end.
    let plan = await spool.plan(RECORD_MAX_EVENTS + 1);
    assert.deepEqual(plan?.range.end, { offset: plan?.range.end.offset, index: 0 });
    assert.equal(plan?.range.events, RECORD_MAX_EVENTS);
    // Records larger than the batch: cut inside one.
    plan = await spool.plan(2500);
    assert.ok(plan);
    assert.deepEqual([plan.range.events, plan.range.end.index], [2500, 2500]);
    await spool.schedule(plan.range);
    await spool.ack(plan.range);
    // Whole records would give less than half a batch (7500 of 16000): cut inside the next.
    plan = await spool.plan(16_000);
    assert.deepEqual([plan?.range.events, plan?.range.end.index], [16_000, 8500]);
    await spool.close();
  });

  it('after a torn or damaged segment tail, reopens to exactly a prefix of whole records', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbEvents({ minEvents: 1, maxEvents: 25 }), { minLength: 1, maxLength: 8 }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 7 })),
        async (chunks, where, bit) => {
          const dir = freshDir();
          let spool = await Spool.open(options(dir));
          const ends: number[] = [];
          for (const events of chunks) {
            await spool.append(eventsToColumns(events));
            ends.push(spool.health().diskBytes);
          }
          await spool.close();
          const file = join(dir, segmentFiles(dir)[0]);
          const bytes = readFileSync(file);
          const at = Math.floor(where * bytes.length);
          if (bit < 0) writeFileSync(file, bytes.subarray(0, at));
          else {
            bytes[at] ^= 1 << bit;
            writeFileSync(file, bytes);
          }
          const whole = bit < 0 ? ends.filter((e) => e <= at).length : ends.findIndex((e) => e > at);
          spool = await Spool.open(options(dir));
          const kept = whole === 0 ? 0 : ends[whole - 1];
          assert.equal(spool.health().truncatedBytes, (bit < 0 ? at : bytes.length) - kept);
          assert.equal(statSync(file).size, kept, 'the damaged tail is cut from the file');
          // New records go after the surviving prefix and read back as well.
          const more = chunks[0];
          await spool.append(eventsToColumns(more));
          const read = await drain(spool);
          assert.deepEqual(read, [...chunks.slice(0, whole).flat(), ...more]);
          await spool.close();
          rmSync(dir, { recursive: true });
        },
      ),
      { numRuns: 40 },
    );
  });

  it('persists the acknowledged position, and only on acknowledgement', async () => {
    const dir = freshDir();
    const spool = await Spool.open(options(dir, { fsync: 500 }));
    const written: EventColumns[] = [];
    for (let i = 0; i < 4; i++) written.push(chunk(500));
    for (const c of written) await spool.append(c);
    const first = (await spool.plan(1200))!.range;
    await spool.schedule(first);
    await spool.ack(first);
    const next = (await spool.plan(1000))!.range;
    assert.deepEqual(next.start, first.end);

    // Crash before the next range is even recorded: it is planned again from the same place.
    let copy = await Spool.open(options(crashCopy(dir)));
    assert.equal(copy.ackedEvents, 1000, 'the range of 1200 stopped at the record boundary');
    assert.deepEqual(copy.pending(), []);
    assert.deepEqual((await copy.plan(1000))!.range, next);
    await copy.close();

    // Crash while it is in flight: the same range comes back, with the same batch id.
    await spool.schedule(next);
    copy = await Spool.open(options(crashCopy(dir)));
    assert.deepEqual(copy.pending(), [next]);
    assert.equal(batchIdOf('s', copy.id, copy.pending()[0]), batchIdOf('s', spool.id, next));
    assert.equal(copy.health().unshippedEvents, 1000);
    await copy.close();

    // Events appended meanwhile do not change what is pending.
    written.push(chunk(100));
    await spool.append(written[4]);
    assert.deepEqual(spool.pending(), [next]);
    await spool.ack(next);
    assert.deepEqual(await drain(spool), written.flatMap(columnsToEvents).slice(2000));
    await spool.close();
  });

  it('records halves before they are sent, so a crash mid-split resends the same halves', async () => {
    const dir = freshDir();
    const spool = await Spool.open(options(dir));
    await spool.append(chunk(7));
    await spool.append(chunk(3));
    const whole = (await spool.plan(100))!.range;
    await spool.schedule(whole);
    const [a, b] = await spool.split(whole);
    assert.equal(a.events + b.events, 10);
    assert.equal(a.events, 5);
    assert.deepEqual(a.end, b.start);
    assert.deepEqual(spool.pending(), [a, b]);
    const [a1, a2] = await spool.split(a);
    await spool.ack(a1);

    const copy = await Spool.open(options(crashCopy(dir)));
    assert.deepEqual(copy.pending(), [a2, b]);
    assert.equal(copy.ackedEvents, a1.events);
    const events = columnsToEvents(await copy.read(a2)).concat(columnsToEvents(await copy.read(b)));
    const all = columnsToEvents(await spool.read(whole));
    assert.deepEqual(events, all.slice(a1.events));
    await copy.close();
    await spool.close();
  });

  it('quarantines a range in rejected/ and moves past it', async () => {
    const dir = freshDir();
    const spool = await Spool.open(options(dir));
    await spool.append(chunk(10));
    const range = (await spool.plan(100))!.range;
    await spool.schedule(range);
    const id = batchIdOf('sensor', spool.id, range);
    await spool.quarantine(range, id, new Uint8Array([1, 2, 3]), { status: 400, code: 'BATCH_INVALID' });
    assert.equal(spool.health().quarantinedBatches, 1);
    assert.equal(spool.health().unshippedEvents, 0);
    const note = JSON.parse(readFileSync(join(dir, 'rejected', `${id}.json`), 'utf8'));
    assert.equal(note.code, 'BATCH_INVALID');
    assert.equal(note.events, 10);
    assert.deepEqual([...readFileSync(join(dir, 'rejected', `${id}.batch`))], [1, 2, 3]);
    await spool.close();
    const again = await Spool.open(options(dir));
    assert.equal(again.health().quarantinedBatches, 1, 'counted from the directory after a restart');
    await again.close();
  });

  it('refuses events a collector could never accept, writing nothing', async () => {
    const spool = await Spool.open(options(freshDir()));
    const bad = chunk(3);
    bad.time[1] = Date.UTC(1980, 0, 1);
    await assert.rejects(spool.append(bad), { code: 'BATCH_INVALID' });
    assert.equal(spool.health().appendedEvents, 0);
    assert.equal(spool.health().diskBytes, 0);
    await spool.close();
  });

  it('samples 1 in k over the cap, doubling k while over and halving it once there is room', async () => {
    const clock = new FakeClock(ARB_NOW);
    const spool = await Spool.open(options(freshDir(), { maxBytes: 40 * 1024, clock }));
    const rates: number[] = [];
    let seen = 0;
    let weight = 0;
    let chunkBytes = 0;
    for (let i = 0; i < 40; i++) {
      const before = spool.health().appendedEvents;
      const r = await spool.append(chunk(400));
      seen += 400;
      weight += r.kept * r.rate;
      rates.push(r.rate);
      if (i === 0) chunkBytes = spool.health().bytes;
      assert.equal(r.kept + r.sampledAway, 400);
      assert.equal(spool.health().appendedEvents - before, r.kept);
      // 1 in k of a running stream: exactly 400 / k per append when k divides 400.
      if (400 % r.rate === 0) assert.equal(r.kept, 400 / r.rate);
      clock.advance(i % 2 === 0 ? 400 : 600); // one step per second at most
    }
    const h = spool.health();
    // Past the cap by what one interval's appends add at k = 1, then half that, a quarter...: here two
    // appends a second, so at most four appends' worth.
    assert.ok(h.bytes < 40 * 1024 + 4 * chunkBytes, `the spool stays near its cap (${h.bytes} bytes)`);
    assert.equal(h.samplingRate, rates[rates.length - 1]);
    assert.equal(h.sampledAwayEvents, seen - h.appendedEvents);
    // Under the cap every event is kept; then k doubles, one step per second, never skipping.
    const firstSampled = rates.findIndex((k) => k > 1);
    assert.ok(firstSampled > 0);
    for (let i = firstSampled + 1; i < rates.length; i++)
      assert.ok(
        rates[i] === rates[i - 1] || rates[i] === 2 * rates[i - 1],
        `k ${rates[i - 1]} -> ${rates[i]}`,
      );
    assert.ok(rates[rates.length - 1] >= 2 ** 8, 'k kept growing while the spool stayed over its cap');

    // Each kept event carries the k it was kept at (the generated events all have sampling 1).
    const kept = await drain(spool);
    assert.equal(
      kept.reduce((sum, e) => sum + e.sampling, 0),
      weight,
    );
    assert.ok(new Set(kept.map((e) => e.sampling)).size > 4);

    // Room again (everything acknowledged): k halves each second back to 1.
    const after: number[] = [];
    while (spool.health().samplingRate > 1) {
      clock.advance(1000);
      after.push((await spool.append(chunk(10))).rate);
      await drain(spool);
    }
    assert.equal(after.length, Math.log2(rates[rates.length - 1]));
    const r = await spool.append(chunk(50));
    assert.deepEqual([r.kept, r.sampledAway], [50, 0]);
    await spool.close();
  });

  it('does not step k twice within the adjustment interval', async () => {
    const clock = new FakeClock(ARB_NOW);
    const spool = await Spool.open(options(freshDir(), { maxBytes: 4096, clock }));
    for (let i = 0; i < 30; i++) await spool.append(chunk(100));
    assert.equal(spool.health().samplingRate, 2);
    await spool.close();
  });

  it('is held by one process at a time; a dead holder’s lock is taken over', async () => {
    const dir = freshDir();
    const spool = await Spool.open(options(dir));
    await assert.rejects(Spool.open(options(dir)), { code: 'SPOOL_LOCKED' });
    await spool.close();
    const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid;
    writeFileSync(join(dir, 'lock'), `${dead}\n`);
    const again = await Spool.open(options(dir));
    assert.equal(readFileSync(join(dir, 'lock'), 'utf8'), `${process.pid}\n`);
    await again.close();
    // A live process holding it: the parent of this test runner is as good as any.
    writeFileSync(join(dir, 'lock'), `${process.ppid}\n`);
    await assert.rejects(Spool.open(options(dir)), {
      code: 'SPOOL_LOCKED',
      message: new RegExp(`${process.ppid}`),
    });
  });

  it('refuses a directory whose files are not a spool it can trust', async () => {
    const dir = freshDir();
    mkdirSync(dir);
    writeFileSync(join(dir, '00000000000000000001.seg'), '');
    await assert.rejects(Spool.open(options(dir)), { code: 'SPOOL_INVALID' });
    const other = freshDir();
    await (await Spool.open(options(other))).close();
    writeFileSync(join(other, 'ack.json'), '{"segment": 1');
    await assert.rejects(Spool.open(options(other)), { code: 'SPOOL_INVALID' });
  });
});

describe('batchIdOf', () => {
  const range: SpoolRange = {
    segment: 3,
    start: { offset: 0, index: 0 },
    end: { offset: 4096, index: 7 },
    events: 99,
  };

  it('is a well-formed UUID, the same for the same range', () => {
    const id = batchIdOf('sensor-a', 'spool-1', range);
    assert.equal(batchIdProblem(id), null);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(batchIdOf('sensor-a', 'spool-1', { ...range }), id);
  });

  it('differs for another sensor, another spool or another range', () => {
    const id = batchIdOf('sensor-a', 'spool-1', range);
    const others = [
      batchIdOf('sensor-b', 'spool-1', range),
      batchIdOf('sensor-a', 'spool-2', range),
      batchIdOf('sensor-a', 'spool-1', { ...range, segment: 4 }),
      batchIdOf('sensor-a', 'spool-1', { ...range, end: { offset: 4096, index: 8 } }),
      batchIdOf('sensor-a', 'spool-1', { ...range, start: { offset: 0, index: 1 } }),
    ];
    assert.equal(new Set([id, ...others]).size, 6);
  });
});
