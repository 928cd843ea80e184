// A sensor stand-in for the tail crash test: tails a log, "spools" each batch of lines to a file, then confirms it.
//
// Run as a child process (see tail-crash.test.ts): `node tail-child.ts LOG STATE SPOOL RUN`. Each spooled line
// is written as "RUN TEXT" and fsynced before the batch is confirmed; after each confirmation it prints
// "confirmed TEXT" (the batch's last line) on stdout, and "ready" once the tailer has started.

import { fsyncSync, openSync, writeSync } from 'node:fs';
import { FileTailer } from '../../src/sensor/sources/tail.ts';

const [path, statePath, spoolPath, run] = process.argv.slice(2);
const tailer = new FileTailer({
  path,
  statePath,
  startAt: 'beginning',
  pollIntervalMs: 50,
  rotateWaitMs: 30,
});
const spool = openSync(spoolPath, 'a');
await tailer.readAvailable(0); // starts: restores or saves the position
process.stdout.write('ready\n');

for (;;) {
  let batch = await tailer.readAvailable(200);
  if (batch.length === 0) {
    const r = await tailer.next();
    if (r.done) break;
    batch = [r.value];
  }
  writeSync(spool, batch.map((l) => `${run} ${l.text}\n`).join(''));
  fsyncSync(spool);
  // A slow spool: most kills then land between spooling a batch and confirming it.
  await new Promise((r) => setTimeout(r, 15));
  const last = batch[batch.length - 1];
  await tailer.confirm(last.position);
  process.stdout.write(`confirmed ${last.text}\n`);
}
