// Tests of the file tailer on real files: appends, rotation, copytruncate, deletion, restarts, long and bad lines.
//
// Most tests turn fs.watch off, set a long poll interval and drive time with a FakeClock, reading with
// readAvailable(), so nothing waits on real time; the watch and polling tests wait on conditions.

import assert from 'node:assert/strict';
import {
  appendFileSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FakeClock } from '../../core/clock.ts';
import { FileTailer, type TailOptions } from './tail.ts';

const root = mkdtempSync(join(tmpdir(), 'portent-tail-'));
after(() => rmSync(root, { recursive: true, force: true }));
let caseNo = 0;

/** A fresh directory with a log path and a state path beside it (not in it: see the name check). */
function place() {
  const dir = join(root, `case${++caseNo}`);
  mkdirSync(join(dir, 'logs'), { recursive: true });
  return { dir, path: join(dir, 'logs', 'fw.log'), statePath: join(dir, 'fw.state') };
}

function tailer(where: { path: string; statePath: string }, opts: Partial<TailOptions> = {}) {
  return new FileTailer({
    path: where.path,
    statePath: where.statePath,
    startAt: 'beginning',
    watch: false,
    pollIntervalMs: 3_600_000,
    clock: opts.clock ?? new FakeClock(),
    ...opts,
  });
}

const texts = async (t: FileTailer, max = Infinity) => (await t.readAvailable(max)).map((l) => l.text);
const lines = (from: number, to: number, tag = 'L') =>
  Array.from({ length: to - from + 1 }, (_, i) => `${tag}${from + i}`);
const asFile = (ls: string[]) => ls.map((l) => `${l}\n`).join('');

/** Waits for a condition with a short poll: for tests where real file-system events must arrive. */
async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('FileTailer: appends and partial lines', () => {
  it('reads appended lines as they arrive, and holds a partial line until its newline', async () => {
    const p = place();
    writeFileSync(p.path, asFile(lines(1, 3)));
    const t = tailer(p);
    assert.deepEqual(await texts(t), lines(1, 3));
    assert.deepEqual(await texts(t), []);
    appendFileSync(p.path, 'L4\nL5 start');
    assert.deepEqual(await texts(t), ['L4']);
    appendFileSync(p.path, ' and end\r\n');
    assert.deepEqual(await texts(t), ['L5 start and end']);
    assert.equal(t.stats().linesRead, 5);
    await t.close();
  });

  it('starts at the end of an existing file when told to, and reads what comes after', async () => {
    const p = place();
    writeFileSync(p.path, asFile(lines(1, 3)));
    const t = tailer(p, { startAt: 'end' });
    assert.deepEqual(await texts(t), []);
    appendFileSync(p.path, asFile(lines(4, 5)));
    assert.deepEqual(await texts(t), lines(4, 5));
    await t.close();
  });

  it('emits an unterminated line after partialLineTimeoutMs of quiet, by the clock', async () => {
    const p = place();
    const clock = new FakeClock();
    writeFileSync(p.path, 'L1\nno newline yet');
    const t = tailer(p, { clock, partialLineTimeoutMs: 2000 });
    assert.deepEqual(await texts(t), ['L1']);
    clock.advance(1999);
    assert.deepEqual(await texts(t), []);
    clock.advance(1);
    assert.deepEqual(await texts(t), ['no newline yet']);
    assert.equal(t.stats().partialLinesFlushed, 1);
    appendFileSync(p.path, ' - late\nL3\n');
    assert.deepEqual(await texts(t), [' - late', 'L3'], 'the late rest is a line of its own');
    await t.close();
  });

  it('cuts a 1 MB line to maxLineBytes, counts it, and reads on without holding the rest', async () => {
    const p = place();
    writeFileSync(p.path, `a\n${'y'.repeat(1024 * 1024)}\nb\n`);
    const t = tailer(p, { maxLineBytes: 64 * 1024 });
    const got = await t.readAvailable(Infinity);
    assert.deepEqual(
      got.map((l) => [l.text.length, l.truncated, l.bytes]),
      [
        [1, false, 1],
        [65536, true, 1024 * 1024],
        [1, false, 1],
      ],
    );
    assert.equal(got[1].position.offset, 2 + 1024 * 1024 + 1, 'the cut line still ends after its newline');
    assert.equal(t.stats().truncatedLines, 1);
    await t.close();
  });

  it('replaces invalid UTF-8 with U+FFFD instead of throwing', async () => {
    const p = place();
    writeFileSync(
      p.path,
      Buffer.from([0x61, 0xc0, 0x80, 0x62, 0x0a, 0xff, 0x0a, 0xf0, 0x9f, 0x98, 0x80, 0x0a]),
    );
    const t = tailer(p);
    assert.deepEqual(await texts(t), ['a\ufffd\ufffdb', '\ufffd', '😀']);
    await t.close();
  });

  it('reads only as far as the consumer asks (backpressure), however large the file', async () => {
    const p = place();
    writeFileSync(p.path, asFile(lines(1, 200_000))); // about 1.5 MB
    const t = tailer(p, { readChunkBytes: 16 * 1024 });
    assert.deepEqual(await texts(t, 5), lines(1, 5));
    assert.equal(t.stats().bytesRead, 16 * 1024, 'one chunk read, not the file');
    assert.deepEqual(await texts(t, 3), lines(6, 8));
    assert.equal(t.stats().bytesRead, 16 * 1024);
    await t.close();
  });
});

describe('FileTailer: rotation, truncation, deletion', () => {
  it('drains a file renamed by rotation, including lines a slow writer adds after the rename', async () => {
    const p = place();
    const clock = new FakeClock();
    const oldFd = openSync(p.path, 'a');
    writeSync(oldFd, asFile(lines(1, 3)));
    const t = tailer(p, { clock, rotateWaitMs: 5000 });
    assert.deepEqual(await texts(t), lines(1, 3));

    renameSync(p.path, `${p.path}.1`); // logrotate renames...
    writeSync(oldFd, asFile(lines(4, 5))); // ...the writer has not reopened yet
    writeFileSync(p.path, asFile(lines(1, 2, 'N')));
    assert.deepEqual(await texts(t), lines(4, 5), 'the old file first');
    clock.advance(3000);
    writeSync(oldFd, 'L6 half');
    assert.deepEqual(await texts(t), []);
    writeSync(oldFd, ' done\n');
    closeSync(oldFd); // the writer reopens (postrotate)
    assert.deepEqual(await texts(t), ['L6 half done']);
    clock.advance(4999);
    assert.deepEqual(await texts(t), [], 'still within rotateWaitMs of the last growth');
    clock.advance(1);
    appendFileSync(p.path, 'N3\n');
    assert.deepEqual(await texts(t), lines(1, 3, 'N'));
    assert.equal(t.stats().rotations, 1);
    assert.equal(t.stats().openFiles, 1);
    await t.close();
  });

  it('switches at once when rotateWaitMs is 0, and follows several rotations in order', async () => {
    const p = place();
    const t = tailer(p, { rotateWaitMs: 0 });
    const all: string[] = [];
    for (let r = 0; r < 5; r++) {
      writeFileSync(p.path, asFile(lines(1, 3, `R${r}-`)));
      all.push(...(await texts(t)));
      renameSync(p.path, `${p.path}.${r}`);
    }
    assert.deepEqual(
      all,
      [0, 1, 2, 3, 4].flatMap((r) => lines(1, 3, `R${r}-`)),
    );
    assert.equal(t.stats().rotations, 4);
    await t.close();
  });

  it('finds a file rotated in and out again between two looks, by its birth time', async () => {
    const p = place();
    writeFileSync(p.path, asFile(lines(1, 2, 'A')));
    const t = tailer(p, { rotateWaitMs: 0 });
    assert.deepEqual(await texts(t), lines(1, 2, 'A'));
    renameSync(p.path, `${p.path}.2`);
    writeFileSync(p.path, asFile(lines(1, 2, 'B')));
    renameSync(p.path, `${p.path}.1`);
    writeFileSync(p.path, asFile(lines(1, 2, 'C')));
    assert.deepEqual(await texts(t), [...lines(1, 2, 'B'), ...lines(1, 2, 'C')]);
    await t.close();
  });

  it('does not take an old copytruncate copy for a rotated file at the next rotation', async () => {
    const p = place();
    writeFileSync(p.path, asFile(lines(1, 3)));
    const t = tailer(p, { rotateWaitMs: 0 });
    assert.deepEqual(await texts(t), lines(1, 3));
    copyFileSync(p.path, `${p.path}.copy`);
    truncateSync(p.path, 0);
    appendFileSync(p.path, asFile(lines(4, 5)));
    assert.deepEqual(await texts(t), lines(4, 5));
    renameSync(p.path, `${p.path}.old`);
    writeFileSync(p.path, asFile(lines(6, 6)));
    assert.deepEqual(await texts(t), ['L6'], 'the copy, born between the two, is not read again');
    await t.close();
  });

  it('after copytruncate, reads the unread rest from the copy, then the emptied file from 0', async () => {
    const p = place();
    writeFileSync(p.path, asFile(lines(1, 3)));
    const t = tailer(p);
    assert.deepEqual(await texts(t), lines(1, 3));
    appendFileSync(p.path, asFile(lines(4, 5))); // written, not read yet
    copyFileSync(p.path, `${p.path}.1`);
    truncateSync(p.path, 0);
    appendFileSync(p.path, asFile(lines(6, 6)));
    assert.deepEqual(await texts(t), lines(4, 6));
    assert.equal(t.stats().truncations, 1);
    assert.equal(t.stats().copiesRead, 1);
    appendFileSync(p.path, asFile(lines(7, 7)));
    assert.deepEqual(await texts(t), ['L7']);
    await t.close();
  });

  it('starts from 0 when the file shrinks with no copy, or is rewritten longer than before', async () => {
    const p = place();
    writeFileSync(p.path, asFile(lines(1, 3)));
    const t = tailer(p);
    assert.deepEqual(await texts(t), lines(1, 3));
    truncateSync(p.path, 0);
    appendFileSync(p.path, 'short\n');
    assert.deepEqual(await texts(t), ['short']);
    // Truncated and refilled past our offset between two looks: only the head hash tells.
    writeFileSync(p.path, asFile(['rewritten', 'and longer than before']));
    assert.deepEqual(await texts(t), ['rewritten', 'and longer than before']);
    assert.equal(t.stats().truncations, 2);
    assert.equal(t.stats().copiesRead, 0);
    await t.close();
  });

  it('waits for a file that does not exist yet, and reads it from its start when it appears', async () => {
    const p = place();
    const t = tailer(p, { startAt: 'end' });
    assert.deepEqual(await texts(t), []);
    writeFileSync(p.path, asFile(lines(1, 2)));
    assert.deepEqual(await texts(t), lines(1, 2));
    await t.close();
  });

  it('survives the file being deleted for a while and recreated', async () => {
    const p = place();
    const clock = new FakeClock();
    writeFileSync(p.path, asFile(lines(1, 2)) + 'L3 partial');
    const t = tailer(p, { clock, rotateWaitMs: 1000 });
    assert.deepEqual(await texts(t), lines(1, 2));
    unlinkSync(p.path);
    assert.deepEqual(await texts(t), []);
    clock.advance(1000);
    assert.deepEqual(
      await texts(t),
      ['L3 partial'],
      'the deleted file is finished, its partial line flushed',
    );
    assert.equal(t.stats().openFiles, 0);
    clock.advance(60_000);
    assert.deepEqual(await texts(t), []);
    writeFileSync(p.path, asFile(lines(4, 5)));
    assert.deepEqual(await texts(t), lines(4, 5));
    assert.equal(t.stats().rotations, 1);
    await t.close();
  });
});

describe('FileTailer: persisted position', () => {
  it('after a crash, resumes just after the last confirmed line (unconfirmed lines come again)', async () => {
    const p = place();
    writeFileSync(p.path, asFile(lines(1, 10)));
    const first = tailer(p);
    const got = await first.readAvailable(Infinity);
    assert.equal(got.length, 10);
    await first.confirm(got[5].position);
    // Crash: the first tailer is dropped without close().
    appendFileSync(p.path, asFile(lines(11, 12)));
    const second = tailer(p);
    assert.deepEqual(await texts(second), lines(7, 12));
    await second.close();
    await first.close(); // only now, to release its file handles; close() saves nothing
  });

  it('keeps the later of two confirmations, and leaves no temporary files', async () => {
    const p = place();
    writeFileSync(p.path, asFile(lines(1, 4)));
    const first = tailer(p);
    const got = await first.readAvailable(Infinity);
    await Promise.all([first.confirm(got[2].position), first.confirm(got[0].position)]);
    const state = JSON.parse(readFileSync(p.statePath, 'utf8'));
    assert.equal(state.file.offset, got[2].position.offset);
    assert.deepEqual(readdirSync(p.dir).sort(), ['fw.state', 'logs']);
    await first.close();
    const second = tailer(p);
    assert.deepEqual(await texts(second), ['L4']);
    await second.close();
  });

  it('with startAt end and nothing confirmed, a restart neither skips nor jumps to the new end', async () => {
    const p = place();
    writeFileSync(p.path, asFile(lines(1, 3)));
    const first = tailer(p, { startAt: 'end' });
    assert.deepEqual(await texts(first), []);
    appendFileSync(p.path, asFile(lines(4, 5)));
    assert.deepEqual(await texts(first), lines(4, 5)); // read, never confirmed; then a crash
    appendFileSync(p.path, asFile(lines(6, 6)));
    const second = tailer(p, { startAt: 'end' });
    assert.deepEqual(await texts(second), lines(4, 6));
    await Promise.all([first.close(), second.close()]);
  });

  it('after a crash during rotation, finishes the renamed file from the saved offset, then the new one', async () => {
    const p = place();
    writeFileSync(p.path, asFile(lines(1, 4)));
    const first = tailer(p);
    const got = await first.readAvailable(Infinity);
    await first.confirm(got[1].position); // L1, L2 handled
    renameSync(p.path, `${p.path}.1`);
    appendFileSync(`${p.path}.1`, asFile(lines(5, 5)));
    writeFileSync(p.path, asFile(lines(1, 2, 'N')));
    const second = tailer(p, { rotateWaitMs: 0 });
    assert.deepEqual(await texts(second), [...lines(3, 5), ...lines(1, 2, 'N')]);
    await Promise.all([first.close(), second.close()]);
  });

  it('reads files rotated more than once while stopped, in the order they were created', async () => {
    const p = place();
    writeFileSync(p.path, asFile(lines(1, 2, 'A')));
    const first = tailer(p);
    const got = await first.readAvailable(Infinity);
    await first.confirm(got[0].position);
    renameSync(p.path, `${p.path}.old-a`);
    writeFileSync(p.path, asFile(lines(1, 2, 'B')));
    renameSync(p.path, `${p.path}.old-b`);
    writeFileSync(p.path, asFile(lines(1, 2, 'C')));
    const second = tailer(p, { rotateWaitMs: 0 });
    assert.deepEqual(await texts(second), ['A2', ...lines(1, 2, 'B'), ...lines(1, 2, 'C')]);
    await Promise.all([first.close(), second.close()]);
  });

  it('after copytruncate while stopped, resumes in the copy, then reads the emptied file', async () => {
    const p = place();
    writeFileSync(p.path, asFile(lines(1, 3)));
    const first = tailer(p);
    const got = await first.readAvailable(Infinity);
    await first.confirm(got[0].position);
    copyFileSync(p.path, `${p.path}.1`);
    truncateSync(p.path, 0);
    appendFileSync(p.path, asFile(lines(4, 4)));
    const second = tailer(p, { rotateWaitMs: 0 });
    assert.deepEqual(await texts(second), lines(2, 4));
    await Promise.all([first.close(), second.close()]);
  });

  it('recognises a file replaced under the same inode by its first bytes, and reads it from 0', async () => {
    const p = place();
    writeFileSync(p.path, asFile(lines(1, 3)));
    const first = tailer(p);
    const got = await first.readAvailable(Infinity);
    await first.confirm(got[0].position);
    // Same inode (rewritten in place), other content, longer than the saved offset.
    writeFileSync(p.path, asFile(['other content', 'entirely']));
    const second = tailer(p);
    assert.deepEqual(await texts(second), ['other content', 'entirely']);
    assert.equal(second.stats().lostFiles, 1);
    await Promise.all([first.close(), second.close()]);
  });

  it('ignores an unreadable state file and reads from the beginning rather than skip', async () => {
    const p = place();
    writeFileSync(p.path, asFile(lines(1, 2)));
    writeFileSync(p.statePath, '{"version": 1, "pa');
    const t = tailer(p, { startAt: 'end' });
    assert.deepEqual(await texts(t), lines(1, 2));
    assert.match(t.stats().lastError ?? '', /state file ignored/);
    await t.close();
  });

  it('refuses a state file named like a rotated copy of the log', () => {
    const p = place();
    assert.throws(() => tailer({ path: p.path, statePath: `${p.path}.state` }), /must not be named like/);
  });
});

describe('FileTailer: waiting', () => {
  it('wakes on fs.watch events and delivers lines through the async iterator', async () => {
    const p = place();
    // A poll interval far longer than the test: only the watch can deliver in time.
    const t = new FileTailer({
      path: p.path,
      statePath: p.statePath,
      startAt: 'beginning',
      pollIntervalMs: 60_000,
    });
    const seen: string[] = [];
    const reading = (async () => {
      for await (const line of t) seen.push(line.text);
    })();
    await until('the tailer to start', () => existsSync(p.statePath));
    writeFileSync(p.path, asFile(lines(1, 2)));
    await until('two lines', () => seen.length === 2);
    renameSync(p.path, `${p.path}.1`);
    appendFileSync(p.path, asFile(lines(3, 3)));
    await t.close();
    await reading;
    assert.deepEqual(seen.slice(0, 2), lines(1, 2));
  });

  it('polls when watching is off', async () => {
    const p = place();
    writeFileSync(p.path, '');
    const t = new FileTailer({
      path: p.path,
      statePath: p.statePath,
      startAt: 'beginning',
      watch: false,
      pollIntervalMs: 20,
    });
    const next = t.next();
    appendFileSync(p.path, 'polled\n');
    const r = await next;
    assert.equal(r.done, false);
    assert.equal(r.value?.text, 'polled');
    await t.close();
  });

  it('close() ends a next() that is waiting', async () => {
    const p = place();
    const t = tailer(p);
    const pending = t.next();
    await until('the state file', () => existsSync(p.statePath));
    await t.close();
    assert.deepEqual(await pending, { done: true, value: undefined });
  });

  it('refuses a second read while one is pending', async () => {
    const p = place();
    const t = tailer(p);
    const pending = t.next();
    await assert.rejects(t.next(), /one consumer/);
    await t.close();
    await pending;
  });
});
