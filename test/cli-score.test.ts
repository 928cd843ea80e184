// `portent score` as a user runs it: a child process reading a CSV and writing scores, and its exit codes.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const root = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'portent-cli-score-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function portent(args: string[]) {
  const r = spawnSync(process.execPath, [join(root, 'src/bin/portent.ts'), ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('portent score', () => {
  it('scores a CSV into one output row per input row and names the spike', () => {
    const input = join(root, 'test/fixtures/score/hourly-spike.csv');
    const output = join(dir, 'scores.csv');
    const r = portent(['score', '--input', input, '--output', output]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Scored 240 rows .* 1 scored 0\.5 or more/);
    assert.match(r.out, /2026-01-10T12:00:00Z {2}120 {2}1\.000/);
    const inputRows = readFileSync(input, 'utf8').trim().split('\n').length - 1;
    const outputRows = readFileSync(output, 'utf8').trim().split('\n').length - 1;
    assert.equal(outputRows, inputRows);
  });

  it('refuses a bad file with exit code 1, naming the line, and writes nothing', () => {
    const input = join(dir, 'bad.csv');
    writeFileSync(input, 'timestamp,value\n2026-01-01T00:00:00Z,3\n2026-01-01T01:00:00Z,three\n');
    const output = join(dir, 'bad.out.csv');
    const r = portent(['score', '--input', input, '--output', output]);
    assert.equal(r.code, 1);
    assert.match(r.err, /\[SCORE_INPUT_INVALID\]/);
    assert.match(r.err, /bad\.csv:3: "three" is not a number/);
    assert.equal(existsSync(output), false);
  });

  it('exits 2 without --input or with an unknown --season', () => {
    assert.equal(portent(['score', '--output', join(dir, 'x.csv')]).code, 2);
    const r = portent(['score', '--input', 'a', '--output', 'b', '--season', 'month']);
    assert.equal(r.code, 2);
    assert.match(r.err, /--season takes day, week or none/);
  });
});
