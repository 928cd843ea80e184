// Tailer durability: a tailer in a child process is killed with SIGKILL twice while a writer appends and rotates;
// every line must reach the spool at least once, and no line confirmed before a kill may be delivered again.
// The file is rotated twice while the tailer is down, and a slow writer adds lines to each renamed file.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

const child = new URL('./tail-child.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'portent-tail-crash-'));
after(() => process.env.KEEP_TAIL_CRASH_DIR === undefined && rmSync(dir, { recursive: true, force: true }));

const TOTAL_LINES = 6000;
const ROTATE_EVERY = 500;
/** Lines the writer adds to the renamed file before reopening, as a writer does until logrotate's HUP. */
const LATE_LINES = 5;
const lineText = (n: number) => `W${String(n).padStart(6, '0')} ${'x'.repeat(n % 40)}`;
const lineNumber = (text: string) => Number(text.slice(1, 7));

interface Run {
  proc: ChildProcess;
  /** Line numbers of each "confirmed" report, in order. */
  confirmed: number[];
  ready: boolean;
}

function startRun(log: string, state: string, spool: string, run: number): Run {
  const proc = spawn(process.execPath, [child, log, state, spool, String(run)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const r: Run = { proc, confirmed: [], ready: false };
  let buffered = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const p of parts) {
      if (p === 'ready') r.ready = true;
      if (p.startsWith('confirmed ')) r.confirmed.push(lineNumber(p.slice(10)));
    }
  });
  return r;
}

const exited = (proc: ChildProcess) =>
  new Promise((resolve) =>
    proc.exitCode !== null || proc.signalCode !== null ? resolve(null) : proc.once('exit', resolve),
  );

async function until(what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Appends numbered lines in small bursts, rotating by rename every ROTATE_EVERY lines. */
class Writer {
  readonly log: string;
  written = 0;
  rotations = 0;
  #fd: number;

  constructor(log: string) {
    this.log = log;
    this.#fd = openSync(log, 'a');
  }

  /** Writes on to line `last`, paced so a running tailer reads while the lines are written. */
  async writeUpTo(last: number): Promise<void> {
    while (this.written < last) {
      writeSync(this.#fd, `${lineText(++this.written)}\n`);
      if (this.written % ROTATE_EVERY === 0 && this.written < TOTAL_LINES) {
        renameSync(this.log, `${this.log}.${++this.rotations}`);
        // Until logrotate's signal reaches it, the writer still appends to the renamed file.
        for (let late = 0; late < LATE_LINES; late++) writeSync(this.#fd, `${lineText(++this.written)}\n`);
        closeSync(this.#fd);
        this.#fd = openSync(this.log, 'a');
      }
      if (this.written % 20 === 0) await new Promise((r) => setTimeout(r, 4));
    }
  }

  close(): void {
    closeSync(this.#fd);
  }
}

test(
  'a tailer killed with SIGKILL twice during appends and rotations loses nothing confirmed',
  { timeout: 120_000 },
  async () => {
    mkdirSync(join(dir, 'logs'));
    const log = join(dir, 'logs', 'app.log');
    const state = join(dir, 'app.state');
    const spool = join(dir, 'spool.txt');
    closeSync(openSync(log, 'a'));

    const runs: Run[] = [startRun(log, state, spool, 0)];
    // The first run starts at the beginning of the file at the path; the writer must not rotate it first.
    await until('the first tailer to start', () => runs[0].ready);
    const writer = new Writer(log);
    // Each phase: write while the tailer runs and kill it mid-way (away from a rotation, where it would be
    // idle in its rotate wait), then write across two rotations while it is down, then restart it.
    for (const [killAt, writeTo, downTo] of [
      [1730, 2000, 3000],
      [3730, 4000, 5000],
    ]) {
      const run = runs.at(-1)!;
      const writing = writer.writeUpTo(writeTo);
      await until(`confirmations past line ${killAt}`, () => (run.confirmed.at(-1) ?? 0) >= killAt);
      run.proc.kill('SIGKILL');
      await exited(run.proc);
      await writing;
      await writer.writeUpTo(downTo);
      runs.push(startRun(log, state, spool, runs.length));
    }
    await writer.writeUpTo(TOTAL_LINES);
    writer.close();
    const last = runs.at(-1)!;
    await until('the last line confirmed', () => last.confirmed.at(-1) === TOTAL_LINES);
    last.proc.kill('SIGKILL');
    await exited(last.proc);

    const spooled = readFileSync(spool, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        const space = l.indexOf(' ');
        return { run: Number(l.slice(0, space)), text: l.slice(space + 1) };
      });
    const byRun = runs.map((_, i) => spooled.filter((s) => s.run === i).map((s) => lineNumber(s.text)));

    // Every line written was delivered, whole, at least once.
    const delivered = new Set(spooled.map((s) => s.text));
    const missing = Array.from({ length: TOTAL_LINES }, (_, i) => i + 1).filter(
      (n) => !delivered.has(lineText(n)),
    );
    assert.deepEqual(missing, [], 'lines never delivered');
    assert.equal(delivered.size, TOTAL_LINES, 'no line arrived cut or mangled');

    // Within a run, lines arrive in the order written, across rotations.
    for (const [i, numbers] of byRun.entries()) {
      for (let k = 1; k < numbers.length; k++) {
        assert.ok(
          numbers[k] === numbers[k - 1] + 1,
          `run ${i}: line ${numbers[k]} followed ${numbers[k - 1]}`,
        );
      }
    }
    // After a kill, reading resumes just after the last confirmed line: at most unconfirmed lines come again.
    for (let i = 0; i + 1 < runs.length; i++) {
      // A kill can fall between a confirmation and its report, so the reported one may lag the saved one.
      const lastConfirmed = runs[i].confirmed.at(-1)!;
      const lastSpooled = byRun[i].at(-1)!;
      const resumedAt = byRun[i + 1][0];
      assert.ok(resumedAt <= lastSpooled + 1, `run ${i + 1} skipped from ${lastSpooled} to ${resumedAt}`);
      assert.ok(resumedAt > lastConfirmed, `run ${i + 1} re-read line ${resumedAt}, confirmed in run ${i}`);
      assert.ok(byRun[i].includes(lastConfirmed), 'a confirmed line is in the spool');
    }
    const repeated = spooled.length - TOTAL_LINES;
    console.log(
      `# ${TOTAL_LINES} lines, ${writer.rotations} rotations, 2 kills, ${repeated} lines delivered twice`,
    );
  },
);
