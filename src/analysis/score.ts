// `portent score`: reads a timestamp,value CSV, scores each row against what came before it, and writes the scores.

import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { MAX_REPORTED_PROBLEMS, PortentError, type FieldProblem } from '../core/errors.ts';
import {
  MIN_SLOT_SAMPLES,
  negBinomialUpperTail,
  robustCountStats,
  seasonSlot,
  type Season,
} from './counts.ts';

export interface SeriesRow {
  /** The timestamp and value fields exactly as given, echoed in the output. */
  timestamp: string;
  value: string;
  atMs: number;
  count: number;
  /** 1-based line in the input file. */
  line: number;
}

export interface ScoreOptions {
  /** Seasonal slot of the baseline: none, hour of day, or hour of week (UTC). */
  season: Season;
  /** The first rows score 0: too little history to judge them. */
  warmup: number;
}

export const DEFAULT_SCORE_OPTIONS: ScoreOptions = { season: 'day', warmup: 24 };

/** Each slot remembers this many recent values: enough for stable robust statistics, bounded work per row. */
export const HISTORY_PER_SLOT = 256;

/** A score of 1 means a tail probability of 1e-10 or less; the score is −log10(p) / SCORE_DECADES. */
export const SCORE_DECADES = 10;

const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;
const EPOCH = /^\d{1,16}(\.\d+)?$/;
const NUMBER = /^\+?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/**
 * Milliseconds since the epoch for an ISO 8601 date-time (a missing zone means UTC) or epoch
 * seconds or milliseconds (numbers below 1e11 are seconds: 1e11 s is the year 5138), or undefined.
 */
export function parseTimestamp(text: string): number | undefined {
  if (EPOCH.test(text)) {
    const n = Number(text);
    return n < 1e11 ? n * 1000 : n;
  }
  const m = ISO_8601.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone = 'Z'] = m;
  const fields = [Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s)];
  if (fields[1] < 1 || fields[1] > 12 || fields[2] < 1 || fields[3] > 23 || fields[4] > 59 || fields[5] > 60)
    return undefined;
  const local = Date.UTC(fields[0], fields[1] - 1, fields[2], fields[3], fields[4], fields[5]);
  // Date.UTC rolls 31 February over into March; a date that does not exist is refused instead.
  if (new Date(local).getUTCDate() !== fields[2]) return undefined;
  const offsetMin =
    zone.toUpperCase() === 'Z'
      ? 0
      : (zone[0] === '-' ? -1 : 1) *
        (Number(zone.slice(1, 3)) * 60 + (zone.length > 3 ? Number(zone.slice(-2)) : 0));
  return local + (frac ? Number(frac) * 1000 : 0) - offsetMin * 60_000;
}

function unquote(field: string): string {
  const t = field.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1).trim() : t;
}

/**
 * The rows of a timestamp,value CSV: an optional header line, then one row per non-blank line, in
 * time order. Any bad row refuses the whole file, naming up to MAX_REPORTED_PROBLEMS lines.
 */
export function parseSeriesCsv(text: string, file: string): SeriesRow[] {
  const rows: SeriesRow[] = [];
  const problems: FieldProblem[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let seenContent = false;
  for (let i = 0; i < lines.length && problems.length < MAX_REPORTED_PROBLEMS; i++) {
    if (lines[i].trim() === '') continue;
    const line = i + 1;
    const fail = (message: string) => problems.push({ path: `${file}:${line}`, message });
    const fields = lines[i].split(',');
    const first = !seenContent;
    seenContent = true;
    if (fields.length !== 2) {
      fail(`expected 2 fields (timestamp,value), found ${fields.length}`);
      continue;
    }
    const [timestamp, value] = fields.map((f) => f.trim());
    const atMs = parseTimestamp(unquote(timestamp));
    const numeric = NUMBER.test(unquote(value));
    if (first && atMs === undefined && !numeric) continue; // a header line
    if (atMs === undefined || !Number.isFinite(atMs)) {
      fail(`"${timestamp.slice(0, 40)}" is not an ISO 8601 timestamp or epoch seconds/milliseconds`);
      continue;
    }
    const count = Number(unquote(value));
    if (!numeric || !Number.isFinite(count)) {
      fail(`"${value.slice(0, 40)}" is not a number of 0 or more (the model is for counts)`);
      continue;
    }
    const previous = rows.at(-1);
    if (previous && atMs < previous.atMs) {
      fail(`timestamp ${timestamp} is earlier than line ${previous.line}'s; rows must be in time order`);
      continue;
    }
    rows.push({ timestamp, value, atMs, count, line });
  }
  if (problems.length === 0 && rows.length === 0)
    problems.push({ path: file, message: 'no data rows (timestamp,value) in the file' });
  if (problems.length > 0)
    throw new PortentError('SCORE_INPUT_INVALID', {
      message: `${file} has ${problems.length === MAX_REPORTED_PROBLEMS ? 'at least ' : ''}${problems.length} bad row${problems.length === 1 ? '' : 's'}; nothing was scored.`,
      details: problems,
    });
  return rows;
}

/** −log10 of the tail probability, over SCORE_DECADES, in [0, 1]. */
export function scoreFromTail(p: number): number {
  if (!(p < 1)) return 0;
  if (p <= 0) return 1;
  return Math.min(1, -Math.log10(p) / SCORE_DECADES);
}

/** A bounded first-in-first-out list of recent values. */
class Recent {
  readonly values: number[] = [];
  push(v: number): void {
    this.values.push(v);
    if (this.values.length > HISTORY_PER_SLOT) this.values.shift();
  }
}

/**
 * Scores each row in order, using only the rows before it: the robust mean and overdispersion of
 * recent values in the row's seasonal slot (or of all recent values while the slot has fewer than
 * MIN_SLOT_SAMPLES), then the negative-binomial probability of a count at least this high.
 * The mean is floored at 1/(n + 1) so that a first count after n zeros is surprising but not
 * infinitely so.
 */
export function scoreSeries(
  rows: readonly { atMs: number; count: number }[],
  options: ScoreOptions = DEFAULT_SCORE_OPTIONS,
): number[] {
  const slots = new Map<number, Recent>();
  const all = new Recent();
  return rows.map((row, i) => {
    const slot = seasonSlot(row.atMs, options.season);
    let own = slots.get(slot);
    if (!own) slots.set(slot, (own = new Recent()));
    let score = 0;
    if (i >= options.warmup && i > 0) {
      const history = own.values.length >= MIN_SLOT_SAMPLES ? own.values : all.values;
      const stats = robustCountStats(history);
      const mean = Math.max(stats.mean, 1 / (stats.used + 1));
      score = scoreFromTail(negBinomialUpperTail(row.count, mean, stats.r));
    }
    own.push(row.count);
    all.push(row.count);
    return score;
  });
}

/** The output CSV: the input's timestamp and value as given, and the score to 6 decimals. */
export function formatScores(rows: readonly SeriesRow[], scores: readonly number[]): string {
  const lines = rows.map((r, i) => `${r.timestamp},${r.value},${Math.round(scores[i] * 1e6) / 1e6}`);
  return `timestamp,value,anomaly_score\n${lines.join('\n')}\n`;
}

/** Largest series file `portent score` reads. */
export const MAX_SERIES_BYTES = 256 * 2 ** 20;

export interface ScoreRun {
  rows: SeriesRow[];
  scores: number[];
}

/** Reads input, scores it, and writes output whole (through a temporary file, so no half-written result). */
export function runScore(
  input: string,
  output: string,
  options: ScoreOptions = DEFAULT_SCORE_OPTIONS,
  maxBytes = MAX_SERIES_BYTES,
): ScoreRun {
  // The whole series is held in memory: refuse what would not fit rather than run out of memory.
  const size = statSync(input).size;
  if (size > maxBytes)
    throw new PortentError('SCORE_INPUT_INVALID', {
      message: `${input} is ${(size / 2 ** 20).toFixed(0)} MiB; portent score reads at most ${maxBytes / 2 ** 20} MiB (about ten million rows). Split the series, or aggregate it to a coarser step.`,
    });
  const rows = parseSeriesCsv(readFileSync(input, 'utf8'), input);
  const scores = scoreSeries(rows, options);
  const partial = `${output}.partial`;
  writeFileSync(partial, formatScores(rows, scores));
  renameSync(partial, output);
  return { rows, scores };
}
