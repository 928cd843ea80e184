// Tests that every line parser follows the sensor's clock through setNow: a sensor tails logs for months, so "now" moves.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { assertCollectorAccepts } from '../../../test/helpers/collector-accepts.ts';
import { LINE_FORMATS } from './index.ts';
import type { LineFormat, ParseContext, ParseResult } from './types.ts';

const DAY = 86_400_000;
const HOUR = 3_600_000;
/** When the fixtures were written: their year-less stamps ("Jan 14") belong to January 2026. */
const FIXTURE_NOW = Date.UTC(2026, 0, 15, 12);
/** A zone with DST, so that local stamps and "now" in wall time are converted. */
const ZONE = 'Europe/Berlin';
const FIXTURES = new URL('../../../test/fixtures/formats/', import.meta.url).pathname;

interface Sample {
  file: string;
  /** The fixture's lines before the sample (headers, session starts), fed first. */
  before: string[];
  line: string;
  /** The event's time when the line is read at FIXTURE_NOW. */
  time: number;
}

function fixtureFiles(format: LineFormat): { file: string; lines: string[] }[] {
  return readdirSync(`${FIXTURES}${format.name}`)
    .sort()
    .map((file) => {
      const text = readFileSync(`${FIXTURES}${format.name}/${file}`, 'utf8');
      return { file, lines: (text.endsWith('\n') ? text.slice(0, -1) : text).split('\n') };
    });
}

/** Every fixture line read once at FIXTURE_NOW, each file by its own parser (headers carry state). */
function readAtFixtureNow(format: LineFormat): { file: string; lines: string[]; results: ParseResult[] }[] {
  return fixtureFiles(format).map(({ file, lines }) => {
    const parser = format.create({ now: FIXTURE_NOW, timeZone: ZONE });
    return { file, lines, results: lines.map((l) => parser.parse(l)) };
  });
}

/** The first fixture line of a format that is an event with a stamp of its own (not "now"). */
function stampedSample(format: LineFormat): Sample {
  for (const { file, lines, results } of readAtFixtureNow(format)) {
    const i = results.findIndex((r) => r.kind === 'event' && r.event.time !== FIXTURE_NOW);
    const r = results[i];
    if (r?.kind === 'event') return { file, before: lines.slice(0, i), line: lines[i], time: r.event.time };
  }
  throw new Error(`${format.name}: no fixture line is an event with its own stamp`);
}

function parseAfter(format: LineFormat, ctx: ParseContext, before: readonly string[], moveTo: number | null) {
  const parser = format.create(ctx);
  for (const l of before) parser.parse(l);
  if (moveTo !== null) parser.setNow(moveTo);
  return parser;
}

for (const format of LINE_FORMATS) {
  test(`${format.name}: a parser created 40 days ago reads today's line after setNow`, () => {
    const sample = stampedSample(format);
    // The sensor's clock reads an hour after the line was written; the parser was created 40 days before.
    const today = sample.time + HOUR;
    const created = today - 40 * DAY;
    const ctx = { now: created, timeZone: ZONE };

    // Headers and earlier lines go in before the clock moves: setNow must keep their state.
    const r = parseAfter(format, ctx, sample.before, today).parse(sample.line);
    assert.equal(r.kind, 'event', `${sample.file}: ${sample.line.slice(0, 120)} → ${JSON.stringify(r)}`);
    assert.equal(r.event.time, sample.time, `${sample.file}: the line's own time, in the right year`);
    assertCollectorAccepts(r.event, today);

    // Without setNow the same parser is wrong: a future-time error, or a year-less stamp put in last year.
    const stale = parseAfter(format, ctx, sample.before, null).parse(sample.line);
    assert.ok(
      stale.kind !== 'event' || stale.event.time !== sample.time,
      `${format.name}: the line reads the same without setNow, so this test shows nothing`,
    );
  });
}

test('lines without a stamp take the time of the last setNow', () => {
  const checked: string[] = [];
  for (const format of LINE_FORMATS) {
    for (const { lines, results } of readAtFixtureNow(format)) {
      const i = results.findIndex((r) => r.kind === 'event' && r.event.time === FIXTURE_NOW);
      if (i < 0) continue;
      const later = FIXTURE_NOW + 40 * DAY + 1234;
      const r = parseAfter(format, { now: FIXTURE_NOW, timeZone: ZONE }, lines.slice(0, i), later).parse(
        lines[i],
      );
      assert.equal(r.kind === 'event' && r.event.time, later, `${format.name}: ${lines[i].slice(0, 120)}`);
      checked.push(format.name);
      break;
    }
  }
  // Cisco ASA lines straight from the device and pfSense's bare "filterlog: …" messages, at least.
  assert.ok(checked.length >= 2, `only ${checked.join(', ')} have stamp-less fixture lines`);
});

const BSD_STAMP = /^(<\d{1,3}>)?[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d /;

function restamp(line: string, stamp: string): string {
  return line.replace(BSD_STAMP, (_, pri: string | undefined) => `${pri ?? ''}${stamp} `);
}

/**
 * For each format that takes an event's time from a year-less BSD stamp, a fixture line with one
 * (and the lines before it). Cowrie's syslog-wrapped text lines have a BSD stamp too, but their
 * time is Cowrie's own ISO stamp: a restamped line that reads at a new time shows which formats use it.
 */
function bsdSamples(): { format: LineFormat; before: string[]; line: string }[] {
  const out = [];
  for (const format of LINE_FORMATS) {
    for (const { lines, results } of readAtFixtureNow(format)) {
      const i = lines.findIndex((line, j) => results[j].kind === 'event' && BSD_STAMP.test(line));
      if (i < 0) continue;
      const parser = format.create({ now: FIXTURE_NOW, timeZone: 'UTC' });
      for (const l of lines.slice(0, i)) parser.parse(l);
      const r = parser.parse(restamp(lines[i], 'Jan  2 03:04:05'));
      if (r.kind !== 'event' || r.event.time !== Date.UTC(2026, 0, 2, 3, 4, 5)) continue;
      out.push({ format, before: lines.slice(0, i), line: lines[i] });
      break;
    }
  }
  return out;
}

test('year rollover: a parser created on Dec 31 puts "Jan  1 00:00:05" in the new year once the clock passes midnight', () => {
  const samples = bsdSamples();
  assert.ok(samples.length >= 4, `only ${samples.map((s) => s.format.name).join(', ')} have BSD lines`);
  const cases = [
    { timeZone: 'UTC', newYearUtc: Date.UTC(2026, 0, 1) },
    // Midnight in Berlin is 23:00 UTC: the year turns by the stream's wall clock, not by UTC.
    { timeZone: ZONE, newYearUtc: Date.UTC(2025, 11, 31, 23) },
  ];
  for (const { format, before, line } of samples) {
    const rolled = restamp(line, 'Jan  1 00:00:05');
    for (const { timeZone, newYearUtc } of cases) {
      const parser = format.create({ now: newYearUtc - 12 * HOUR, timeZone });
      for (const l of before) parser.parse(l);
      // Read on Dec 31, a Jan 1 line is from the year that is ending (and the parser caches that day).
      const old = parser.parse(rolled);
      assert.equal(
        old.kind === 'event' && old.event.time,
        newYearUtc + 5000 - 365 * DAY,
        `${format.name} ${timeZone}`,
      );
      parser.setNow(newYearUtc + 30_000);
      const r = parser.parse(rolled);
      assert.equal(r.kind, 'event', `${format.name} ${timeZone}: ${rolled} → ${JSON.stringify(r)}`);
      assert.equal(r.event.time, newYearUtc + 5000, `${format.name} ${timeZone}: ${rolled}`);
      assert.equal(new Date(r.event.time + (timeZone === 'UTC' ? 0 : HOUR)).getUTCFullYear(), 2026);
    }
  }
});

test('setNow through a year and back again keeps year inference exact (no stale day cache)', () => {
  const [{ format, before, line }] = bsdSamples();
  const parser = format.create({ now: Date.UTC(2025, 5, 1), timeZone: ZONE });
  for (const l of before) parser.parse(l);
  const dec31 = restamp(line, 'Dec 31 23:59:59');
  const timeOf = (now: number): number | false => {
    parser.setNow(now);
    const r = parser.parse(dec31);
    return r.kind === 'event' && r.event.time;
  };
  // Berlin is UTC+1 in winter: Dec 31 23:59:59 local is 22:59:59 UTC.
  assert.equal(timeOf(Date.UTC(2025, 5, 1)), Date.UTC(2024, 11, 31, 22, 59, 59)); // June: last December
  assert.equal(timeOf(Date.UTC(2025, 11, 31, 23, 30)), Date.UTC(2025, 11, 31, 22, 59, 59)); // 00:30 Jan 1 local
  assert.equal(timeOf(Date.UTC(2026, 0, 20)), Date.UTC(2025, 11, 31, 22, 59, 59));
  assert.equal(timeOf(Date.UTC(2026, 11, 31, 12)), Date.UTC(2026, 11, 31, 22, 59, 59)); // later today: this year
  assert.equal(timeOf(Date.UTC(2025, 5, 1)), Date.UTC(2024, 11, 31, 22, 59, 59)); // the clock set back
});
