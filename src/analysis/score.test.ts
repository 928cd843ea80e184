// The offline scorer: golden scores for a seasonal series with one spike, one row out per row in, and hostile input refused.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { PortentError } from '../core/errors.ts';
import { negBinomialUpperTail, seasonalBaseline } from './counts.ts';
import {
  DEFAULT_SCORE_OPTIONS,
  parseSeriesCsv,
  parseTimestamp,
  runScore,
  scoreFromTail,
  scoreSeries,
} from './score.ts';

const root = new URL('../..', import.meta.url).pathname;
const fixture = join(root, 'test/fixtures/score/hourly-spike.csv');
const golden = join(root, 'test/golden/score/hourly-spike.scores.csv');
const dir = mkdtempSync(join(tmpdir(), 'portent-score-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function refused(text: string): PortentError {
  try {
    parseSeriesCsv(text, 'in.csv');
  } catch (err) {
    assert.ok(err instanceof PortentError);
    assert.equal(err.code, 'SCORE_INPUT_INVALID');
    return err;
  }
  assert.fail('the input was accepted');
}

describe('portent score', () => {
  it('scores the hourly fixture as the golden file has it: the spike near 1, the rest low', () => {
    const output = join(dir, 'scores.csv');
    const { rows, scores } = runScore(fixture, output);
    const text = readFileSync(output, 'utf8');
    if (process.env.UPDATE_GOLDEN === '1') {
      mkdirSync(dirname(golden), { recursive: true });
      writeFileSync(golden, text);
    }
    assert.ok(existsSync(golden), `${golden} is missing: run with UPDATE_GOLDEN=1`);
    assert.equal(text, readFileSync(golden, 'utf8'), `differs from ${golden} (UPDATE_GOLDEN=1 rewrites it)`);

    const spike = rows.findIndex((r) => r.timestamp === '2026-01-10T12:00:00Z');
    assert.equal(rows[spike].count, 120);
    assert.ok(scores[spike] > 0.95, String(scores[spike]));
    const others = scores.filter((_, i) => i !== spike);
    assert.ok(Math.max(...others) < 0.3, String(Math.max(...others)));
    assert.ok(scores.slice(0, DEFAULT_SCORE_OPTIONS.warmup).every((s) => s === 0));
  });

  it('writes exactly one row per input row, echoing timestamps and values as given', () => {
    const input = join(dir, 'mixed.csv');
    const given = ['1700000000', '1700000060000', '2023-11-14 22:15:00', '"2023-11-14T23:16:00+01:00"'];
    writeFileSync(input, given.map((t, i) => `${t},${i * 2}`).join('\r\n'));
    const output = join(dir, 'mixed.out.csv');
    runScore(input, output, { season: 'none', warmup: 1 });
    const lines = readFileSync(output, 'utf8').trimEnd().split('\n');
    assert.equal(lines[0], 'timestamp,value,anomaly_score');
    assert.deepEqual(
      lines.slice(1).map((l) => l.split(',').slice(0, 2).join(',')),
      given.map((t, i) => `${t},${i * 2}`),
    );
  });

  it('refuses a file larger than it would hold in memory, before reading it, and writes nothing', () => {
    const input = join(dir, 'big.csv');
    writeFileSync(input, '1700000000,1\n'.repeat(100));
    const output = join(dir, 'big.out.csv');
    assert.throws(
      () => runScore(input, output, { season: 'none', warmup: 1 }, 1000),
      (e: unknown) =>
        e instanceof PortentError && e.code === 'SCORE_INPUT_INVALID' && /at most/.test(e.message),
    );
    assert.equal(existsSync(output), false);
  });

  it('gives one score in [0, 1] per row for any count series', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 1_000_000 }), { maxLength: 300 }), (counts) => {
        const rows = counts.map((count, i) => ({ atMs: i * 60_000, count }));
        const scores = scoreSeries(rows);
        assert.equal(scores.length, rows.length);
        assert.ok(scores.every((s) => s >= 0 && s <= 1));
      }),
    );
  });

  it('judges each row only on the rows before it, with the seasonal baseline of counts.ts', () => {
    const rows = parseSeriesCsv(readFileSync(fixture, 'utf8'), fixture);
    const scores = scoreSeries(rows);
    const i = 200;
    const history = rows.slice(0, i).map((r) => ({ atMs: r.atMs, value: r.count }));
    const baseline = seasonalBaseline(history, rows[i].atMs, 'day');
    assert.ok(baseline.seasonal);
    const mean = Math.max(baseline.mean, 1 / (baseline.used + 1));
    assert.equal(scores[i], scoreFromTail(negBinomialUpperTail(rows[i].count, mean, baseline.r)));
    const changedFuture = scoreSeries([...rows.slice(0, i + 1), { atMs: rows[i].atMs, count: 1e9 }]);
    assert.equal(changedFuture[i], scores[i]);
  });

  it('maps tail probabilities onto [0, 1] by decades', () => {
    assert.equal(scoreFromTail(1), 0);
    assert.equal(scoreFromTail(1e-5), 0.5);
    assert.equal(scoreFromTail(1e-10), 1);
    assert.equal(scoreFromTail(0), 1);
  });
});

describe('parseSeriesCsv', () => {
  it('reads ISO 8601 (zone or UTC) and epoch seconds and milliseconds', () => {
    const at = Date.UTC(2023, 10, 14, 22, 13, 20);
    assert.equal(parseTimestamp('1700000000'), at);
    assert.equal(parseTimestamp('1700000000000'), at);
    assert.equal(parseTimestamp('2023-11-14T22:13:20Z'), at);
    assert.equal(parseTimestamp('2023-11-14 22:13:20'), at);
    assert.equal(parseTimestamp('2023-11-14T23:13:20+01:00'), at);
    assert.equal(parseTimestamp('2023-11-14T22:13:20.500Z'), at + 500);
    for (const bad of ['2023-02-30T00:00:00Z', '2023-13-01', 'yesterday', '', '12:00'])
      assert.equal(parseTimestamp(bad), undefined, bad);
  });

  it('skips a header and blank lines, and refuses a file with no rows', () => {
    assert.equal(parseSeriesCsv('timestamp,value\n\n1700000000,3\n\n', 'x').length, 1);
    assert.equal(parseSeriesCsv('1700000000,3\n1700000060,4', 'x').length, 2);
    assert.match(refused('timestamp,value\n').details[0].message, /no data rows/);
  });

  it('refuses the whole file on bad rows, naming each line', () => {
    const err = refused(
      [
        'timestamp,value',
        '1700000000,3',
        '1700000060,-3',
        'not a time,4',
        '1700000120,4,5',
        '1700000180,NaN',
        '1600000000,2',
        '1700000240,',
      ].join('\n'),
    );
    assert.deepEqual(
      err.details.map((d) => d.path),
      ['in.csv:3', 'in.csv:4', 'in.csv:5', 'in.csv:6', 'in.csv:7', 'in.csv:8'],
    );
    assert.match(err.details[0].message, /not a number of 0 or more/);
    assert.match(err.details[2].message, /expected 2 fields/);
    assert.match(err.details[4].message, /earlier than line 2/);
    assert.match(err.message, /6 bad rows; nothing was scored/);
  });

  it('stops listing after 20 problems', () => {
    const err = refused(Array.from({ length: 500 }, (_, i) => `1700000000,x${i}`).join('\n'));
    assert.equal(err.details.length, 20);
    assert.match(err.message, /at least 20 bad rows/);
  });
});
