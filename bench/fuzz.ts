// bench/fuzz: fast-check fuzzing of every line parser and the capture decoder: never throws, events the collector accepts, no slow line.
//
// Each line format gets PORTENT_BENCH_FUZZ_RUNS generated lines (100,000 by default): any Unicode,
// bytes read as latin1 and as UTF-8, token soup from the fixtures, and fixture lines mutated (bits
// flipped, cut, fields repeated, huge numbers, IPv6 addresses, stamps at year ends and DST edges,
// now and then a 1 MB line, some a real line with a megabyte run of one character inside), read by
// parsers in eight time zones whose clock is moved with setNow to New Year, DST changes and 2038.
// Then every fixture line is cut at every point. The capture decoder gets the built test captures
// and the start of each real capture in the corpus (first 16 KiB; PORTENT_CORPUS, default
// ../shared/data), cut, bit-flipped, overwritten, spliced, gzipped and cut, fed in chunks of any
// size. A failure is a throw (or a parser's "internal parser error"), a result of the wrong shape,
// an event the collector would refuse (its own validation, as the parser tests use), or one line
// taking over 50 ms, catastrophic regex backtracking (a line over 1 ms of wall time is timed again
// in CPU time, best of 3, so that a GC pause or another process is not pinned on it, and a capture
// is decoded twice more, each step's best of 3; the slowest line reported is that time). Exits 1
// on any failure. Last line: one JSON object.

import { existsSync, globSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { constants, gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { CaptureDecoder, looksLikeCapture } from '../src/sensor/capture/reader.ts';
import { LINE_FORMATS } from '../src/sensor/parsers/index.ts';
import type { LineFormat, LineParser, ParseResult } from '../src/sensor/parsers/types.ts';
import { scenarios } from '../test/helpers/capture-scenarios.ts';
import { assertCollectorAccepts } from '../test/helpers/collector-accepts.ts';

const root = new URL('..', import.meta.url).pathname;
const corpus = process.env.PORTENT_CORPUS ?? join(root, '../shared/data');
const RUNS = Number(process.env.PORTENT_BENCH_FUZZ_RUNS ?? 100_000);
const SEED = Number(process.env.PORTENT_BENCH_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const SLOW_MS = 50;
/** A line slower than this in wall time is timed again in CPU time, so that a pause is not pinned on it. */
const RETIME_MS = 1;
const MB = 1 << 20;
const DAY = 86_400_000;
/** Failing inputs printed per parser; the rest are only counted. */
const SHOWN_FAILURES = 5;

const ZONES = [
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'America/St_Johns', // -03:30
  'Asia/Kathmandu', // +05:45
  'Australia/Lord_Howe', // 30-minute DST
  'Pacific/Kiritimati', // +14:00
  'Pacific/Pago_Pago', // -11:00
];

/**
 * Moments where year inference and zone offsets change: New Year, Feb 29, DST changes, 2038; all
 * after the fixtures were written, so that their lines are events, not future-time errors.
 */
const CLOCK_EDGES = [
  Date.UTC(2026, 0, 15, 12), // when the fixtures were written
  Date.UTC(2026, 0, 1, 0, 0, 1),
  Date.UTC(2026, 11, 31, 23, 59, 59),
  Date.UTC(2027, 0, 1, 0, 0, 1),
  Date.UTC(2028, 1, 29, 12),
  Date.UTC(2026, 2, 29, 1, 0), // Europe: clocks forward
  Date.UTC(2026, 9, 25, 1, 0), // Europe: clocks back
  Date.UTC(2026, 2, 8, 7, 0), // United States
  Date.UTC(2026, 10, 1, 6, 0),
  Date.UTC(2038, 0, 19, 3, 14, 8),
];

const EDGE_STAMPS = [
  'Dec 31 23:59:59',
  'Dec 31 23:59:60',
  'Jan  1 00:00:00',
  'Jan 01 00:00:05',
  'Feb 29 12:00:00',
  'Feb 30 00:00:00',
  'Mar 30 02:30:00',
  'Oct 26 02:30:00',
  'Nov  2 01:30:00',
  'Jan  1 24:00:00',
  'Dec 31 2025 23:59:59',
  '2025-12-31T23:59:59.999999Z',
  '2026-01-01T00:00:00+14:00',
  '2025-12-31T23:59:60-12:00',
  '2025-03-30T02:30:00',
  '2025-03-30 02:30:00',
  '2024-02-29T00:00:00+0545',
  '2038-01-19T03:14:08Z',
  '1989-12-31T23:59:59Z',
  '9999-12-31T23:59:59Z',
  '0000-01-01T00:00:00Z',
  '1767225599.999999',
  '1767225600',
  '0',
  '2147483648',
  '253402300800',
  '-1',
  '1e21',
];

const HUGE_NUMBERS = [
  '4294967296',
  '65536',
  '18446744073709551616',
  '99999999999999999999999999999999',
  '9'.repeat(400),
  `${'0'.repeat(60)}1`,
  '-1',
  '-0',
  '1e308',
  '1.7976931348623157e309',
  'NaN',
  'Infinity',
  '0x7fffffff',
  '2.5',
];

const ODD_ADDRESSES = [
  '::',
  '::1',
  '::ffff:198.51.100.7',
  '::ffff:999.1.1.1',
  'fe80::1%eth0',
  '2001:DB8::A',
  '2001:0db8:0000:0000:0000:0000:0000:0001',
  '[2001:db8::1]',
  '[2001:db8::1]:443',
  '2001:db8::1:2:3:4:5:6:7',
  '1::2::3',
  ':::',
  '0.0.0.0',
  '255.255.255.255',
  '256.1.1.1',
  '1.2.3',
  '01.02.03.004',
];

const SPECIAL_CHARS = [
  '"',
  '\\',
  '\0',
  '\uFFFD',
  '\uD800',
  '\uDC00',
  '=',
  ',',
  '\t',
  '#',
  '{',
  '}',
  '%',
  '\r',
];

const STAMP_PATTERN =
  /[A-Z][a-z]{2} [ \d]\d (?:\d{4} )?\d\d:\d\d:\d\d|\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?|\b1[0-9]{9}(?:\.\d+)?\b/;
const IP_PATTERN = /\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F]{0,4}:[0-9a-fA-F:.]*:[0-9a-fA-F.]+/g;

function fixtureLines(format: string): string[] {
  const dir = join(root, 'test/fixtures/formats', format);
  return readdirSync(dir)
    .sort()
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n'))
    .filter((l) => l.length > 0);
}

/** Replaces the `at`-th match of a global pattern (counted modulo the matches), or returns null. */
function replaceMatch(s: string, pattern: RegExp, at: number, by: string): string | null {
  const matches = [...s.matchAll(pattern)];
  if (matches.length === 0) return null;
  const m = matches[at % matches.length];
  return s.slice(0, m.index) + by + s.slice(m.index + m[0].length);
}

/** One edit of a line; several are applied in a row. */
function mutation(others: readonly string[]): fc.Arbitrary<(s: string) => string> {
  const pos = fc.nat();
  return fc.oneof(
    // Bits flipped in the UTF-8 bytes, read back as UTF-8 (invalid sequences) or latin1.
    fc
      .tuple(fc.array(fc.tuple(pos, fc.nat(7)), { minLength: 1, maxLength: 4 }), fc.boolean())
      .map(([flips, latin1]) => (s: string) => {
        const b = Buffer.from(s, 'utf8');
        if (b.length === 0) return s;
        for (const [at, bit] of flips) b[at % b.length] ^= 1 << bit;
        return b.toString(latin1 ? 'latin1' : 'utf8');
      }),
    pos.map((at) => (s: string) => s.slice(0, at % (s.length + 1))),
    fc.tuple(pos, fc.constantFrom(1, 1, 2, 3, 50)).map(([at, times]) => (s: string) => {
      const fields = s.split(/(?<=[ ,;\t])/);
      const i = at % fields.length;
      fields.splice(i, 0, ...Array<string>(times).fill(fields[i]));
      return fields.join('');
    }),
    fc.tuple(pos, fc.constantFrom(...HUGE_NUMBERS)).map(
      ([at, n]) =>
        (s: string) =>
          replaceMatch(s, /\d+/g, at, n) ?? `${s} ${n}`,
    ),
    fc.tuple(pos, fc.oneof(fc.ipV6(), fc.constantFrom(...ODD_ADDRESSES))).map(
      ([at, a]) =>
        (s: string) =>
          replaceMatch(s, IP_PATTERN, at, a) ?? `${a} ${s}`,
    ),
    fc
      .constantFrom(...EDGE_STAMPS)
      .map(
        (stamp) => (s: string) => (STAMP_PATTERN.test(s) ? s.replace(STAMP_PATTERN, stamp) : `${stamp} ${s}`),
      ),
    fc.tuple(pos, fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom(...SPECIAL_CHARS))).map(
      ([at, text]) =>
        (s: string) =>
          s.slice(0, at % (s.length + 1)) + text + s.slice(at % (s.length + 1)),
    ),
    fc.tuple(pos, fc.integer({ min: 1, max: 40 })).map(([at, n]) => (s: string) => {
      const i = at % (s.length + 1);
      return s.slice(0, i) + s.slice(i + n);
    }),
    fc.tuple(pos, pos, fc.constantFrom(...others)).map(
      ([a, b, other]) =>
        (s: string) =>
          s.slice(0, a % (s.length + 1)) + other.slice(b % (other.length + 1)),
    ),
  );
}

/** Characters whose long runs have made regexes retry from every position. */
const RUN_CHARS = ['A', '0', ' ', '\t', '=', '"', ':', '.', ',', '[', '{', '\\', '/', '-', 'a1', 'a=', ' a'];

/** Lines of about 1 MB: the sensor caps lines at 64 KiB, but a parser must not fall over before that. */
function hugeLine(seeds: readonly string[]): fc.Arbitrary<string> {
  return fc
    .tuple(fc.constantFrom(...seeds), fc.nat(6), fc.nat(), fc.constantFrom(...RUN_CHARS))
    .map(([seed, kind, at, run]) => {
      switch (kind) {
        case 0:
          return 'A'.repeat(MB);
        case 1:
          return seed + ' X'.repeat(MB / 2);
        case 2: {
          const fields = seed.split(' ');
          const field = fields[Math.floor(fields.length / 2)] + ' ';
          return seed + ' ' + field.repeat(Math.ceil(MB / field.length));
        }
        case 3:
          return '['.repeat(MB);
        case 4:
          return '{"a":'.repeat(MB / 5);
        case 5: {
          // A megabyte run of one character inside a real line, where a parser's regex is mid-match.
          const i = at % (seed.length + 1);
          return seed.slice(0, i) + run.repeat(Math.floor(MB / run.length)) + seed.slice(i);
        }
        default:
          return seed.slice(0, 40) + '\uFFFD'.repeat(MB);
      }
    });
}

/** Every kind of hostile line for a format whose own fixture lines are `seeds`. */
function lineArbitrary(seeds: readonly string[], others: readonly string[]): fc.Arbitrary<string> {
  const tokens = [...new Set(seeds.flatMap((l) => l.split(/([\s,;:="{}[\]/]+)/)))].filter(
    (t) => t.length > 0,
  );
  const seed = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...seeds) }, fc.constantFrom(...others));
  const mutated = fc
    .tuple(seed, fc.array(mutation(others), { minLength: 1, maxLength: 4 }))
    .map(([line, edits]) => edits.reduce((s, edit) => edit(s), line));
  const bytes = fc.uint8Array({ maxLength: 400 });
  return fc.oneof(
    { weight: 100, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
    { weight: 40, arbitrary: fc.string({ unit: 'grapheme', maxLength: 100 }) },
    { weight: 50, arbitrary: bytes.map((b) => Buffer.from(b).toString('latin1')) },
    { weight: 50, arbitrary: bytes.map((b) => Buffer.from(b).toString('utf8')) },
    {
      weight: 100,
      arbitrary: fc.array(fc.constantFrom(...tokens), { maxLength: 60 }).map((t) => t.join('')),
    },
    { weight: 100, arbitrary: fc.constantFrom(...seeds) },
    { weight: 558, arbitrary: mutated },
    { weight: 2, arbitrary: hugeLine(seeds) },
  );
}

/** The problem with a result, or null when it is well formed and any event would be accepted. */
function problemWith(r: ParseResult, now: number): string | null {
  switch (r?.kind) {
    case 'event':
      try {
        assertCollectorAccepts(r.event, now);
        return null;
      } catch (e) {
        return `event the collector refuses: ${String(e).split('\n')[0]} ${JSON.stringify(r.event)}`;
      }
    case 'skip':
      return typeof r.reason === 'string' && r.reason.length > 0 && r.reason.length <= 200
        ? null
        : `skip reason not 1..200 characters: ${String(r.reason).slice(0, 80)}`;
    case 'error':
      if (typeof r.message !== 'string' || r.message.length === 0 || r.message.length > 600)
        return `error message not 1..600 characters: ${String(r.message).slice(0, 80)}`;
      return r.message.startsWith('internal parser error') ? r.message : null;
    default:
      return `not an event, skip or error: ${JSON.stringify(r)?.slice(0, 80)}`;
  }
}

interface Stats {
  name: string;
  cases: number;
  /** Extra deterministic cases: every fixture line cut at every point. */
  sweep: number;
  failures: number;
  /** Results that were events: how far past the parsers' first checks the inputs got. */
  events: number;
  shown: string[];
  slowestMs: number;
  slowestInput: string;
  seconds: number;
}

function newStats(name: string): Stats {
  return {
    name,
    cases: 0,
    sweep: 0,
    failures: 0,
    events: 0,
    shown: [],
    slowestMs: 0,
    slowestInput: '',
    seconds: 0,
  };
}

function fail(stats: Stats, problem: string, input: string, where: string): void {
  stats.failures++;
  if (stats.shown.length < SHOWN_FAILURES)
    stats.shown.push(`${problem.slice(0, 300)}\n      ${where} input ${JSON.stringify(input.slice(0, 300))}`);
}

/**
 * CPU milliseconds `work` takes: a line over the limit in wall time is timed again this way, since a
 * GC pause or the other engineers' work on this machine can stop any line, but backtracking is slow
 * every time.
 */
function cpuMs(work: () => void): number {
  const before = process.cpuUsage();
  work();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

/** Parses one line, checks the result and the time it took. */
function runLine(stats: Stats, parser: LineParser, line: string, now: number, where: string): void {
  let r: ParseResult;
  const t0 = performance.now();
  try {
    r = parser.parse(line);
  } catch (e) {
    fail(stats, `threw ${String(e)}`, line, where);
    return;
  }
  let ms = performance.now() - t0;
  if (ms > RETIME_MS) {
    ms = Math.min(
      cpuMs(() => parser.parse(line)),
      cpuMs(() => parser.parse(line)),
      cpuMs(() => parser.parse(line)),
    );
    if (ms > SLOW_MS) fail(stats, `took ${ms.toFixed(1)} ms of CPU (limit ${SLOW_MS})`, line, where);
  }
  if (ms > stats.slowestMs) {
    stats.slowestMs = ms;
    stats.slowestInput = `${line.length} characters: ${JSON.stringify(line.slice(0, 60))}`;
  }
  if (r?.kind === 'event') stats.events++;
  const problem = problemWith(r, now);
  if (problem !== null) fail(stats, problem, line, where);
}

function fuzzFormat(format: LineFormat, allSeeds: Map<string, string[]>): Stats {
  const stats = newStats(format.name);
  const seeds = allSeeds.get(format.name)!;
  const others = [...allSeeds].flatMap(([name, lines]) => (name === format.name ? [] : lines));
  const parsers = new Map<string, LineParser>();
  const started = performance.now();
  const clockCase = fc.record({
    zone: fc.constantFrom(...ZONES),
    now: fc.tuple(fc.constantFrom(...CLOCK_EDGES), fc.integer({ min: -3 * DAY, max: 3 * DAY })),
    fresh: fc.nat(49).map((n) => n === 0),
    line: lineArbitrary(seeds, others),
  });
  const run = fc.check(
    fc.property(clockCase, ({ zone, now: [edge, offset], fresh, line }) => {
      const now = edge + offset;
      // One parser per zone lives across cases, as a sensor's does across lines; its clock moves each case.
      let parser = parsers.get(zone);
      if (parser === undefined || fresh) {
        parser = format.create({ now, timeZone: zone });
        parsers.set(zone, parser);
      } else parser.setNow(now);
      stats.cases++;
      runLine(stats, parser, line, now, `${zone} now=${new Date(now).toISOString()}`);
    }),
    { numRuns: RUNS, seed: SEED },
  );
  if (run.failed) fail(stats, `the fuzz loop itself failed: ${String(run.errorInstance)}`, '', 'harness');
  // Every fixture line cut at every point, in file order so that headers set the state lines need.
  const now = CLOCK_EDGES[0];
  const parser = format.create({ now, timeZone: 'Europe/Berlin' });
  for (const line of seeds) {
    for (let i = 0; i < line.length; i++) {
      stats.sweep++;
      runLine(stats, parser, line.slice(0, i), now, 'truncation sweep');
    }
    runLine(stats, parser, line, now, 'truncation sweep (whole line)');
  }
  stats.seconds = (performance.now() - started) / 1000;
  return stats;
}

/** Built test captures and the first 16 KiB of each real one: small, so that cases stay cheap. */
function captureSeeds(): { seeds: Buffer[]; real: number } {
  const seeds = scenarios().map((s) => s.bytes);
  let real = 0;
  if (existsSync(corpus)) {
    for (const f of globSync(join(corpus, '**/*.{pcap,pcapng,cap}')).sort()) {
      if (!statSync(f).isFile()) continue;
      seeds.push(readFileSync(f).subarray(0, 16 * 1024));
      real++;
    }
  }
  return { seeds, real };
}

const MAGICS = [
  [0xd4, 0xc3, 0xb2, 0xa1],
  [0xa1, 0xb2, 0xc3, 0xd4],
  [0x4d, 0x3c, 0xb2, 0xa1],
  [0x0a, 0x0d, 0x0d, 0x0a],
];

function captureArbitrary(seeds: readonly Buffer[]): fc.Arbitrary<{ bytes: Buffer; chunk: number }> {
  const seed = fc.constantFrom(...seeds);
  const gzipped = seeds.map((s) => gzipSync(s));
  const bytes = fc.oneof(
    { weight: 10, arbitrary: seed },
    { weight: 20, arbitrary: fc.tuple(seed, fc.nat()).map(([s, at]) => s.subarray(0, at % (s.length + 1))) },
    {
      weight: 20,
      arbitrary: fc
        .tuple(seed, fc.array(fc.tuple(fc.nat(), fc.nat(7)), { minLength: 1, maxLength: 16 }))
        .map(([s, flips]) => {
          const b = Buffer.from(s);
          for (const [at, bit] of flips) if (b.length > 0) b[at % b.length] ^= 1 << bit;
          return b;
        }),
    },
    {
      // Length and count fields set to the extremes.
      weight: 10,
      arbitrary: fc
        .tuple(seed, fc.nat(), fc.constantFrom(0x00000000, 0xffffffff, 0x7fffffff, 0x80000000, 0x0000ffff))
        .map(([s, at, v]) => {
          const b = Buffer.from(s);
          if (b.length >= 4) b.writeUInt32LE(v, at % (b.length - 3));
          return b;
        }),
    },
    {
      weight: 5,
      arbitrary: fc
        .tuple(seed, seed, fc.nat(), fc.nat())
        .map(([a, b, x, y]) =>
          Buffer.concat([a.subarray(0, x % (a.length + 1)), b.subarray(y % (b.length + 1))]),
        ),
    },
    {
      // A gzipped capture cut short, decompressed as far as it goes (as `zcat` of a partial download).
      weight: 10,
      arbitrary: fc.tuple(fc.nat(gzipped.length - 1), fc.nat()).map(([i, at]) => {
        const gz = gzipped[i];
        try {
          return gunzipSync(gz.subarray(0, at % (gz.length + 1)), { finishFlush: constants.Z_SYNC_FLUSH });
        } catch {
          return Buffer.alloc(0); // cut inside the gzip header: nothing to decompress
        }
      }),
    },
    {
      weight: 5,
      arbitrary: fc
        .tuple(fc.constantFrom(...MAGICS), fc.uint8Array({ maxLength: 2000 }))
        .map(([m, rest]) => Buffer.concat([Buffer.from(m), rest])),
    },
    { weight: 5, arbitrary: fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b)) },
  );
  const chunk = fc.oneof(
    fc.constant(0),
    fc.integer({ min: 1, max: 64 }),
    fc.integer({ min: 65, max: 65536 }),
  );
  return fc.record({ bytes, chunk });
}

/**
 * Decodes one capture in chunks of `chunk` bytes (0: at once), handing each result to `check`; returns
 * the wall time of each step (a step yields one result, one packet's work, or ends a chunk).
 */
function decodeTimed(bytes: Buffer, chunk: number, now: number, check: (r: ParseResult) => void): number[] {
  looksLikeCapture(bytes);
  const decoder = new CaptureDecoder({ now });
  const size = chunk === 0 ? Math.max(1, bytes.length) : chunk;
  const steps: number[] = [];
  let t = performance.now();
  const lap = (): void => {
    const now = performance.now();
    steps.push(now - t);
    t = now;
  };
  const take = (results: Iterable<ParseResult>): void => {
    for (const r of results) {
      lap();
      check(r);
      t = performance.now();
    }
    lap();
  };
  for (let at = 0; at < bytes.length; at += size) take(decoder.push(bytes.subarray(at, at + size)));
  take(decoder.end());
  return steps;
}

/**
 * The slowest step of a capture whose slowest step took over RETIME_MS: decoded twice more, each
 * step's best of three (decoding is deterministic, so steps line up), so that a GC pause is not
 * pinned on a packet.
 */
function slowestStepRetimed(first: number[], bytes: Buffer, chunk: number, now: number): number {
  const runs = [first, decodeTimed(bytes, chunk, now, () => {}), decodeTimed(bytes, chunk, now, () => {})];
  let slowest = 0;
  for (let i = 0; i < first.length; i++) slowest = Math.max(slowest, Math.min(...runs.map((r) => r[i] ?? 0)));
  return slowest;
}

function fuzzCapture(): Stats & { realCaptures: number } {
  const stats = newStats('pcap');
  const { seeds, real } = captureSeeds();
  const started = performance.now();
  const run = fc.check(
    fc.property(captureArbitrary(seeds), fc.constantFrom(...CLOCK_EDGES), ({ bytes, chunk }, now) => {
      stats.cases++;
      const where = `${bytes.length} bytes in chunks of ${chunk || 'all'}`;
      try {
        const check = (r: ParseResult): void => {
          if (r.kind === 'event') stats.events++;
          const problem = problemWith(r, now);
          if (problem !== null) fail(stats, problem, bytes.toString('hex'), where);
        };
        const steps = decodeTimed(bytes, chunk, now, check);
        let ms = steps.reduce((a, b) => Math.max(a, b), 0);
        if (ms > RETIME_MS) {
          ms = slowestStepRetimed(steps, bytes, chunk, now);
          if (ms > SLOW_MS) fail(stats, `one packet took ${ms.toFixed(1)} ms (limit ${SLOW_MS})`, '', where);
        }
        if (ms > stats.slowestMs) {
          stats.slowestMs = ms;
          stats.slowestInput = where;
        }
      } catch (e) {
        fail(stats, `threw ${String(e)}`, bytes.toString('hex'), where);
      }
    }),
    { numRuns: RUNS, seed: SEED },
  );
  if (run.failed) fail(stats, `the fuzz loop itself failed: ${String(run.errorInstance)}`, '', 'harness');
  stats.seconds = (performance.now() - started) / 1000;
  return { ...stats, realCaptures: real };
}

const allSeeds = new Map(LINE_FORMATS.map((f) => [f.name as string, fixtureLines(f.name)]));
console.log(
  `Fuzzing ${LINE_FORMATS.length} line parsers and the capture decoder, ${RUNS.toLocaleString('en')} cases each (seed ${SEED}; PORTENT_BENCH_FUZZ_SEED=${SEED} repeats this run)`,
);
const all: Stats[] = [];
const report = (s: Stats, note = ''): void => {
  const n = (v: number, width: number) => Math.round(v).toLocaleString('en').padStart(width);
  const cut = s.sweep > 0 ? ` + ${n(s.sweep, 6)} cut` : ' '.repeat(15);
  console.log(
    `  ${s.name.padEnd(15)} ${n(s.cases, 9)} cases${cut}  ${n(s.failures, 3)} failures  ${n((s.cases + s.sweep) / s.seconds, 7)} cases/s  ${n(s.events, 8)} events  slowest ${s.slowestMs.toFixed(2)} ms (${s.slowestInput})${note}`,
  );
  for (const f of s.shown) console.log(`    FAIL ${f}`);
};
for (const format of LINE_FORMATS) {
  const s = fuzzFormat(format, allSeeds);
  all.push(s);
  report(s);
}
const capture = fuzzCapture();
all.push(capture);
report(
  capture,
  `; ${capture.realCaptures} real captures from the corpus${capture.realCaptures === 0 ? ' (not found)' : ''}`,
);

const failures = all.reduce((n, s) => n + s.failures, 0);
const slowest = all.reduce((a, b) => (b.slowestMs > a.slowestMs ? b : a));
console.log(
  failures === 0
    ? 'No failures.'
    : `${failures} failures: rerun with PORTENT_BENCH_FUZZ_SEED=${SEED} to see them again.`,
);
console.log(
  JSON.stringify({
    cases_per_parser: RUNS,
    parsers: all.length,
    failures,
    slowest_line_ms: Number(slowest.slowestMs.toFixed(2)),
    slowest_parser: slowest.name,
    seed: SEED,
  }),
);
process.exitCode = failures === 0 ? 0 : 1;
