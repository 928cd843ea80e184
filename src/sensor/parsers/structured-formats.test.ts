// Golden, detection and fuzz tests of the structured-log parsers: Zeek conn (TSV, JSON), Suricata EVE, Cowrie, Dionaea, OpenCanary.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { assertCollectorAccepts } from '../../../test/helpers/collector-accepts.ts';
import { assertGolden } from '../../../test/helpers/golden-json.ts';
import { cowrie, MAX_COWRIE_SESSIONS } from './cowrie.ts';
import { dionaea } from './dionaea.ts';
import { detectFormat, LINE_FORMATS } from './index.ts';
import { opencanary } from './opencanary.ts';
import { isoTimeMs, epochSecondsMs } from './record-fields.ts';
import { suricataEve } from './suricata-eve.ts';
import type { FormatName, LineFormat, ParseResult } from './types.ts';
import { zeekAction, zeekConn, zeekConnJson, zeekHistoryFlags } from './zeek-conn.ts';

const NOW = Date.UTC(2026, 0, 1);
const ctx = { now: NOW, timeZone: 'UTC' };
const FIXTURES = new URL('../../../test/fixtures/formats/', import.meta.url).pathname;
const GOLDEN = new URL('../../../test/golden/formats/', import.meta.url).pathname;

const FORMATS: LineFormat[] = [zeekConn, zeekConnJson, suricataEve, cowrie, dionaea, opencanary];

function fixtureFiles(format: FormatName): string[] {
  return readdirSync(`${FIXTURES}${format}`).sort();
}

function fixtureLines(format: FormatName, file: string): string[] {
  const text = readFileSync(`${FIXTURES}${format}/${file}`, 'utf8');
  return text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
}

function parseAll(format: LineFormat, lines: readonly string[]): ParseResult[] {
  const parser = format.create(ctx);
  return lines.map((l) => parser.parse(l));
}

function checkResults(results: readonly ParseResult[]): void {
  for (const r of results) {
    assert.ok(
      r.kind === 'event' || r.kind === 'skip' || r.kind === 'error',
      `unknown result ${JSON.stringify(r)}`,
    );
    if (r.kind === 'event') assertCollectorAccepts(r.event, NOW);
    else if (r.kind === 'skip') assert.ok(r.reason.length > 0 && r.reason.length <= 200);
    else assert.ok(r.message.length > 0 && r.message.length <= 600);
  }
}

for (const format of FORMATS) {
  test(`golden: ${format.name} fixtures parse to the committed results`, () => {
    const files = fixtureFiles(format.name).map((file) => {
      const results = parseAll(format, fixtureLines(format.name, file));
      checkResults(results);
      return { file, results: results.map((r, i) => ({ line: i + 1, ...r })) };
    });
    assert.ok(files.length > 0);
    assertGolden(`${GOLDEN}${format.name}.json`, files);
  });
}

test('every structured format is registered and each fixture is detected as its own format', () => {
  for (const f of FORMATS) assert.ok(LINE_FORMATS.includes(f), `${f.name} is in LINE_FORMATS`);
  for (const f of FORMATS) {
    for (const file of fixtureFiles(f.name)) {
      const d = detectFormat(fixtureLines(f.name, file).slice(0, 50));
      if (file === 'notice.log') {
        assert.notEqual(d.format, 'zeek-conn', `${file}: a notice log is not conn`);
        continue;
      }
      assert.equal(d.format, f.name, `${f.name}/${file}: detected as ${d.format} (${d.reason})`);
    }
  }
});

test('OpenCanary lines behind a logging timestamp are still detected', () => {
  const prefixed = fixtureLines('opencanary', 'opencanary.log')
    .filter((l) => l.startsWith('{'))
    .map((l) => `2024-05-01 17:00:00,000 ${l}`);
  assert.equal(detectFormat(prefixed).format, 'opencanary');
});

test('detection does not claim plain text or another JSON format', () => {
  const text = ['Jan  1 00:00:00 host kernel: hello', 'just words'];
  for (const f of FORMATS) assert.ok(f.detect(text).score < 0.5, `${f.name} on plain text`);
  const eve = fixtureLines('suricata-eve', 'eve.log').slice(0, 10);
  for (const f of [zeekConnJson, cowrie, dionaea, opencanary])
    assert.ok(f.detect(eve).score < 0.5, `${f.name} on EVE`);
  const canary = fixtureLines('opencanary', 'opencanary.log').slice(0, 10);
  for (const f of [zeekConnJson, cowrie, dionaea, suricataEve])
    assert.ok(f.detect(canary).score < 0.5, `${f.name} on OpenCanary`);
});

test('Zeek conn_state and history mapping', () => {
  assert.equal(zeekAction(6, 'SF'), 'accepted');
  assert.equal(zeekAction(6, 'RSTO'), 'accepted');
  assert.equal(zeekAction(6, 'S0'), 'blocked');
  assert.equal(zeekAction(6, 'REJ'), 'blocked');
  assert.equal(zeekAction(6, 'OTH'), 'unknown');
  assert.equal(zeekAction(6, null), 'unknown');
  assert.equal(zeekAction(17, 'S0'), 'unknown');
  assert.equal(zeekAction(17, 'SF'), 'accepted');
  assert.equal(zeekHistoryFlags(6, 'ShADadFf'), 2);
  assert.equal(zeekHistoryFlags(6, '^hA'), 0);
  assert.equal(zeekHistoryFlags(6, 'F'), 1);
  assert.equal(zeekHistoryFlags(17, 'S'), 0);
  assert.equal(zeekHistoryFlags(6, 'constructor'), 0);
});

test('time readers are exact and refuse impossible stamps', () => {
  assert.equal(epochSecondsMs('1713484795.943239'), 1713484795943);
  assert.equal(epochSecondsMs(1713484795.001), 1713484795001);
  assert.equal(epochSecondsMs('1713484795'), 1713484795000);
  assert.equal(epochSecondsMs('17134847a5'), null);
  assert.equal(epochSecondsMs(-1), null);
  assert.equal(isoTimeMs('2022-07-12T06:22:33.415742+0000', false), Date.UTC(2022, 6, 12, 6, 22, 33, 415));
  assert.equal(isoTimeMs('2022-07-12T08:22:33.415+02:00', false), Date.UTC(2022, 6, 12, 6, 22, 33, 415));
  assert.equal(isoTimeMs('2022-07-12 06:22:33', false), null);
  assert.equal(isoTimeMs('2022-07-12 06:22:33', true), Date.UTC(2022, 6, 12, 6, 22, 33));
  assert.equal(isoTimeMs('2023-02-29T00:00:00Z', false), null);
  assert.equal(isoTimeMs('2024-01-01T23:59:60Z', false), null);
  assert.equal(isoTimeMs('0099-01-01T00:00:00Z', false), new Date('0099-01-01T00:00:00Z').getTime()); // not 1999
  assert.equal(isoTimeMs('2024-02-29T12:00:00Z', false), Date.UTC(2024, 1, 29, 12));
});

test('Cowrie forgets the oldest sessions past its bound, keeping memory flat', () => {
  const parser = cowrie.create(ctx);
  const connect = (i: number) =>
    JSON.stringify({
      eventid: 'cowrie.session.connect',
      src_ip: '198.51.100.7',
      src_port: 1000 + (i % 60000),
      dst_ip: '192.0.2.1',
      dst_port: 22,
      session: `s${i}`,
      timestamp: '2024-05-01T00:00:00Z',
    });
  const login = (i: number) =>
    JSON.stringify({
      eventid: 'cowrie.login.failed',
      src_ip: '198.51.100.7',
      session: `s${i}`,
      timestamp: '2024-05-01T00:00:01Z',
    });
  for (let i = 0; i <= MAX_COWRIE_SESSIONS; i++) parser.parse(connect(i));
  assert.equal(parser.parse(login(0)).kind, 'skip', 'the first session was forgotten');
  assert.equal(parser.parse(login(MAX_COWRIE_SESSIONS)).kind, 'event', 'the last one is known');
});

// ---- fuzzing: no input makes a parser throw, and every event it makes is one the collector accepts ----

/** Field names each JSON format reads, so random records hit the interesting paths. */
const KEYS: Record<string, string[]> = {
  'zeek-conn-json': [
    'ts',
    'uid',
    'id.orig_h',
    'id.orig_p',
    'id.resp_h',
    'id.resp_p',
    'id',
    'proto',
    'conn_state',
    'history',
    '_path',
  ],
  'suricata-eve': [
    'timestamp',
    'event_type',
    'src_ip',
    'src_port',
    'dest_ip',
    'dest_port',
    'proto',
    'flow',
    'tcp',
    'alert',
    'icmp_type',
    'icmp_code',
  ],
  cowrie: [
    'eventid',
    'src_ip',
    'src_port',
    'dst_ip',
    'dst_port',
    'session',
    'timestamp',
    'message',
    'shasum',
  ],
  dionaea: ['connection', 'src_ip', 'src_port', 'dst_ip', 'dst_port', 'timestamp'],
  opencanary: [
    'logtype',
    'src_host',
    'src_port',
    'dst_host',
    'dst_port',
    'utc_time',
    'local_time',
    'logdata',
  ],
};

const plausible = fc.constantFrom<unknown>(
  '198.51.100.7',
  '2001:db8::1',
  '::',
  '::ffff:1.2.3.4',
  '0.0.0.0',
  22,
  65535,
  70000,
  -1,
  '443',
  1.5,
  'tcp',
  'TCP',
  'udp',
  'icmp',
  'IPv6-ICMP',
  '47',
  1714564800.123,
  '1714564800.123456',
  '2024-05-01T12:00:00.123456Z',
  '2024-05-01T12:00:00+0000',
  '2024-05-01 12:00:00.5',
  '9999-12-31T23:59:59Z',
  '1969-12-31T23:59:59Z',
  'flow',
  'alert',
  'anomaly',
  'cowrie.session.connect',
  'cowrie.login.failed',
  'cowrie.session.file_download',
  'accept',
  'reject',
  5001,
  2000,
  1001,
  'S0',
  'SF',
  'S',
  '^h',
  { start: '2024-05-01T12:00:00Z' },
  { tcp_flags_ts: '1b', syn: true },
  { action: 'blocked' },
  {
    transport: 'tcp',
    type: 'accept',
    remote: { address: '1.2.3.4', port: 1 },
    local: { address: '5.6.7.8', port: 2 },
  },
  { ID: '1', TTL: '64', WINDOW: '1024', SYN: '' },
  { orig_h: '1.2.3.4', orig_p: 1, resp_h: '5.6.7.8', resp_p: 2 },
  'a'.repeat(70),
);

function jsonRecordLine(keys: string[]): fc.Arbitrary<string> {
  const key = fc.oneof(
    fc.constantFrom(...keys, '__proto__', 'constructor', 'toString', 'hasOwnProperty'),
    fc.string(),
  );
  const value = fc.oneof(plausible, fc.jsonValue({ maxDepth: 2 }));
  return fc
    .array(fc.tuple(key, value), { maxLength: 14 })
    .map(
      (entries) =>
        `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`).join(',')}}`,
    );
}

const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('utf8')), // invalid UTF-8 as a line reader decodes it
  fc.string({ maxLength: 200 }).map((s) => `{${s}`),
);

function fuzz(format: LineFormat, line: fc.Arbitrary<string>, numRuns: number): void {
  fc.assert(
    fc.property(fc.array(line, { minLength: 1, maxLength: 8 }), (lines) => {
      checkResults(parseAll(format, lines));
    }),
    { numRuns },
  );
}

for (const format of [zeekConnJson, suricataEve, cowrie, dionaea, opencanary]) {
  test(`fuzz: ${format.name} never throws on random records and text, and its events are valid`, () => {
    fuzz(format, fc.oneof(jsonRecordLine(KEYS[format.name]), anyText), 800);
  });
}

test('fuzz: zeek-conn (TSV) never throws on random headers and rows', () => {
  const headerLine = fc.oneof(
    fc.constantFrom(
      '#separator \\x09',
      '#separator \\x2c',
      '#separator ',
      '#separator \\xZZ',
      '#path\tconn',
      '#path\tdns',
      '#unset_field\t-',
      '#fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tconn_state\thistory',
      '#fields',
      '#fields\tconstructor\t__proto__',
    ),
    fc.string().map((s) => `#${s}`),
  );
  const cell = fc.oneof(
    plausible.map((v) => String(v)),
    fc.string({ maxLength: 12 }),
    fc.constant('-'),
  );
  const row = fc.array(cell, { maxLength: 24 }).map((cells) => cells.join('\t'));
  fuzz(zeekConn, fc.oneof(headerLine, row, anyText), 1000);
});

test('a long #path or _path makes a short skip reason (found by bench/fuzz)', () => {
  const path = 'notice'.repeat(50);
  checkResults(
    parseAll(zeekConn, [`#path\t${path}`, '1714564800.0\tC1\t198.51.100.7\t1\t192.0.2.1\t2\ttcp']),
  );
  checkResults(parseAll(zeekConnJson, [JSON.stringify({ _path: path, ts: 1714564800 })]));
});

test('JSON -0 in a port, protocol or ICMP field reads as 0 (found by bench/fuzz)', () => {
  const results = parseAll(suricataEve, [
    '{"timestamp":"2024-05-01T12:00:00Z","event_type":"flow","src_ip":"198.51.100.7","src_port":-0,"dest_ip":"192.0.2.1","dest_port":80,"proto":"TCP"}',
    '{"timestamp":"2024-05-01T12:00:00Z","event_type":"flow","src_ip":"2001:db8::7","dest_ip":"2001:db8::1","proto":58,"icmp_type":-0,"icmp_code":-0}',
  ]);
  checkResults(results); // the collector's round trip turns -0 into 0, so an event holding -0 fails it
  assert.deepEqual(
    results.map((r) => r.kind),
    ['event', 'event'],
  );
});

test('long lines nested deeper than any record are refused before JSON.parse (found by bench/fuzz)', () => {
  const deep = `{"a":${'['.repeat(1 << 20)}`;
  const started = performance.now();
  for (const f of [zeekConnJson, suricataEve, cowrie, dionaea, opencanary]) {
    const [r] = parseAll(f, [deep]);
    assert.equal(
      r.kind === 'error' && r.message,
      'not a log record: nested more than 512 levels deep',
      f.name,
    );
  }
  assert.ok(performance.now() - started < 200, 'five 1 MiB lines refused in well under 40 ms each');
  // Brackets inside strings are text, not nesting: a long Suricata payload still reads.
  const payload = `{"timestamp":"2024-05-01T12:00:00Z","event_type":"alert","src_ip":"198.51.100.7","src_port":1,"dest_ip":"192.0.2.1","dest_port":80,"proto":"TCP","payload_printable":${JSON.stringify('[{\\"'.repeat(1 << 17))}}`;
  assert.equal(parseAll(suricataEve, [payload])[0].kind, 'event');
});

test('a header line of a megabyte is an error, read quickly (found by bench/fuzz)', () => {
  const parser = zeekConn.create(ctx);
  const started = performance.now();
  for (const header of ['#fields', '#separator \\x2c', '#types']) {
    const r = parser.parse(`${header}${'\t\\x2c'.repeat(1 << 18)}`);
    assert.equal(r.kind, 'error', header);
  }
  assert.ok(performance.now() - started < 100, 'three megabyte headers in well under the 150 ms one took');
  // They changed nothing: the default columns and tab separator still read a headerless file.
  const results = fixtureLines('zeek-conn', 'conn-headerless.log').map((l) => parser.parse(l));
  checkResults(results);
  assert.ok(results.every((r) => r.kind === 'event'));
});

test('fuzz: mutated fixture lines never make a parser throw', () => {
  const sources = FORMATS.flatMap((f) =>
    fixtureFiles(f.name).flatMap((file) => fixtureLines(f.name, file).map((l) => ({ f, l }))),
  );
  fc.assert(
    fc.property(
      fc.constantFrom(...sources),
      fc.array(fc.tuple(fc.nat(), fc.nat(), fc.string({ maxLength: 3 })), { minLength: 1, maxLength: 5 }),
      ({ f, l }, edits) => {
        let line = l;
        for (const [at, del, ins] of edits) {
          const i = line.length === 0 ? 0 : at % line.length;
          line = line.slice(0, i) + ins + line.slice(i + (del % 4));
        }
        checkResults(parseAll(f, [line]));
      },
    ),
    { numRuns: 1500 },
  );
});

test('one-megabyte lines are errors or skips, not exceptions, and are quick', () => {
  const big = [
    'x'.repeat(1 << 20),
    `{"eventid":"cowrie.session.connect","message":"${'a'.repeat(1 << 20)}"}`,
    `{"event_type":"alert","payload":"${'A'.repeat(1 << 20)}"}`,
    `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
    `1714564800.0\t${'x\t'.repeat(300_000)}`,
    'y'.repeat(5 * 1024 * 1024),
  ];
  const started = performance.now();
  for (const f of FORMATS) checkResults(parseAll(f, big));
  assert.ok(performance.now() - started < 10_000, 'six formats read six huge lines in under 10 s');
});

test('prototype-pollution keys change nothing outside the record', () => {
  const lines = [
    '{"__proto__":{"polluted":"yes"},"eventid":"cowrie.session.connect","src_ip":"198.51.100.7","src_port":1,"dst_port":2,"timestamp":"2024-05-01T00:00:00Z"}',
    '{"constructor":{"prototype":{"polluted":"yes"}},"event_type":"alert","src_ip":"198.51.100.7","dest_ip":"192.0.2.1","proto":"TCP","timestamp":"2024-05-01T00:00:00Z"}',
  ];
  for (const f of FORMATS) parseAll(f, lines);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
});
