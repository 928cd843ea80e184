// Tests for the NDJSON codec: round trips, field rules with their exact messages, and hostile input.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FakeClock } from '../clock.ts';
import { MAX_REPORTED_PROBLEMS, PortentError, type FieldProblem } from '../errors.ts';
import { EVENT_LIMITS } from '../event.ts';
import { ARB_NOW, arbEnvelope, arbEvent, arbEventBatch, arbEvents } from './arbitrary.ts';
import {
  MAX_LINE_LENGTH,
  columnsToEvents,
  decodeNdjsonBatch,
  encodeNdjsonBatch,
  eventFromJson,
  eventToJson,
  eventsToColumns,
  parseEnvelopeObject,
  parseEventObject,
  parseIsoTime,
  parseNdjsonEvents,
} from './ndjson.ts';

const limits = { maxEvents: 10_000, clock: new FakeClock(ARB_NOW) };
const ENVELOPE =
  '{"batch_id":"3f2b8c1e-0d4a-4e6b-9a7c-5e1f2d3c4b5a","seq":7,"created":"2025-12-31T23:59:00Z","software":"t/1"}';
const EVENT = {
  time: '2025-12-31T23:58:00.250Z',
  src: '198.51.100.7',
  src_port: 51234,
  dst: '192.0.2.10',
  dst_port: 23,
  proto: 'tcp',
  tcp_flags: 'S',
  action: 'blocked',
  origin: 'firewall',
};

function body(...events: unknown[]): string {
  return [ENVELOPE, ...events.map((e) => (typeof e === 'string' ? e : JSON.stringify(e)))].join('\n') + '\n';
}

function expectError(fn: () => unknown, code: string, message?: string | RegExp): PortentError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof PortentError, `expected a PortentError, got ${String(err)}`);
    assert.equal(err.code, code, `${err.message} ${JSON.stringify(err.details)}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else if (message) assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected ${code}`);
}

function problemsOf(...events: unknown[]): FieldProblem[] {
  return expectError(() => decodeNdjsonBatch(body(...events), limits), 'BATCH_INVALID').details;
}

test('batch round trip over the full range', () => {
  fc.assert(
    fc.property(arbEventBatch(), (batch) => {
      const text = encodeNdjsonBatch(batch);
      assert.deepStrictEqual(decodeNdjsonBatch(text, limits), batch);
      assert.deepStrictEqual(decodeNdjsonBatch(new TextEncoder().encode(text), limits), batch);
    }),
    { numRuns: 300 },
  );
});

test('object form: eventToJson / eventFromJson and columns <-> events are inverses', () => {
  fc.assert(
    fc.property(arbEvent(), (e) => {
      assert.deepStrictEqual(eventFromJson(JSON.parse(JSON.stringify(eventToJson(e))), { now: ARB_NOW }), e);
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(arbEvents(), (events) => {
      assert.deepStrictEqual(columnsToEvents(eventsToColumns(events)), events);
    }),
  );
});

test('a minimal event decodes with defaults', () => {
  const b = decodeNdjsonBatch(
    body(EVENT, { ...EVENT, dst: null, proto: 17, tcp_flags: 0, time: 1767225000000 }),
    limits,
  );
  assert.equal(b.batchId, '3f2b8c1e-0d4a-4e6b-9a7c-5e1f2d3c4b5a');
  assert.equal(b.created, Date.UTC(2025, 11, 31, 23, 59));
  const [a, u] = columnsToEvents(b.events);
  assert.deepStrictEqual(a, {
    time: Date.UTC(2025, 11, 31, 23, 58, 0, 250),
    src: '198.51.100.7',
    srcPort: 51234,
    dst: '192.0.2.10',
    dstPort: 23,
    proto: 6,
    tcpFlags: 2,
    action: 'blocked',
    origin: 'firewall',
    ipId: null,
    ttl: null,
    window: null,
    seq: null,
    payloadSha256: null,
    count: 1,
    sampling: 1,
  });
  assert.equal(u.dst, null);
  assert.equal(u.time, 1767225000000);
});

test('eventToJson writes names, flag letters and leaves defaults out', () => {
  const [e] = columnsToEvents(
    decodeNdjsonBatch(body({ ...EVENT, tcp_flags: 18, ttl: 64, count: 1 }), limits).events,
  );
  assert.deepStrictEqual(eventToJson(e), { ...EVENT, tcp_flags: 'SA', ttl: 64 });
  assert.deepStrictEqual(eventToJson({ ...e, proto: 200, tcpFlags: 0 }).proto, 200);
});

test('field problems: paths count events from 0 after the envelope, messages give the line', () => {
  assert.deepEqual(problemsOf(EVENT, EVENT, { ...EVENT, src_port: 70000 }), [
    { path: '/events/2/src_port', message: 'must be an integer from 0 to 65535, not number 70000 (line 4)' },
  ]);
  // Empty lines are skipped but still counted as lines.
  assert.deepEqual(problemsOf(EVENT, '', { ...EVENT, dst_port: '80' }), [
    {
      path: '/events/1/dst_port',
      message: 'must be an integer from 0 to 65535, not the string "80" (line 4)',
    },
  ]);
  assert.deepEqual(problemsOf({ ...EVENT, src_prot: 1 }), [
    { path: '/events/0/src_prot', message: 'unknown field; did you mean "src_port"? (line 2)' },
  ]);
  const missing = { ...EVENT } as Record<string, unknown>;
  delete missing.dst;
  assert.deepEqual(problemsOf(missing), [
    { path: '/events/0/dst', message: 'is required (null when withheld) (line 2)' },
  ]);
});

test('each field rule', () => {
  const one = (over: Record<string, unknown>): string[] =>
    problemsOf({ ...EVENT, ...over }).map((p) => `${p.path} ${p.message.replace(/ \(line \d+\)$/, '')}`);
  assert.deepEqual(one({ src: '01.2.3.4' }), [
    '/events/0/src must be an IPv4 or IPv6 address, not the string "01.2.3.4"',
  ]);
  assert.deepEqual(one({ src: 'fe80::1%eth0' }), [
    '/events/0/src must be an IPv4 or IPv6 address without a zone id, not the string "fe80::1%eth0"',
  ]);
  assert.deepEqual(one({ src: '::' }), ['/events/0/src must not be the unspecified address ::']);
  assert.deepEqual(one({ dst: '::' }), [
    '/events/0/dst must not be the unspecified address ::; use null for a withheld destination',
  ]);
  assert.deepEqual(one({ proto: 'TCP' }), [
    '/events/0/proto must be one of "tcp", "udp", "icmp", "icmpv6", "sctp" or a number 0..255, not the string "TCP"',
  ]);
  assert.deepEqual(one({ proto: 'constructor' }).length, 1);
  assert.deepEqual(one({ proto: 256 }), ['/events/0/proto must be an integer from 0 to 255, not number 256']);
  assert.deepEqual(one({ tcp_flags: 'SS' }).length, 1);
  assert.deepEqual(one({ tcp_flags: 'sa' }).length, 1);
  assert.deepEqual(one({ action: 'toString' }), [
    '/events/0/action must be one of "unknown", "blocked", "accepted", "honeypot", not the string "toString"',
  ]);
  assert.deepEqual(one({ origin: 1 }), [
    '/events/0/origin must be one of "firewall", "honeypot", "ids", "capture", not number 1',
  ]);
  assert.deepEqual(one({ payload_sha256: 'AB'.repeat(32) }), [
    `/events/0/payload_sha256 must be 64 lower-case hex digits, not the string "${'AB'.repeat(20)}..."`,
  ]);
  assert.deepEqual(one({ count: 0 }), [
    '/events/0/count must be an integer from 1 to 4294967295, not number 0',
  ]);
  assert.deepEqual(one({ sampling: 1.5 }), [
    '/events/0/sampling must be an integer from 1 to 4294967295, not number 1.5',
  ]);
  assert.deepEqual(one({ seq: 2 ** 32 }), [
    '/events/0/seq must be an integer from 0 to 4294967295, not number 4294967296',
  ]);
  assert.deepEqual(one({ ttl: -1 }), ['/events/0/ttl must be an integer from 0 to 255, not number -1']);
  assert.deepEqual(one({ window: 65536 }).length, 1);
  assert.deepEqual(one({ ip_id: true }), [
    '/events/0/ip_id must be an integer from 0 to 65535, not boolean true',
  ]);
  assert.deepEqual(one({ time: '2025-12-31 23:58:00Z' }).length, 1);
  assert.deepEqual(one({ time: '2025-12-31T23:58:00' }).length, 1, 'a time without a zone is ambiguous');
  assert.deepEqual(one({ time: 'March 7, 2025' }).length, 1);
  assert.deepEqual(one({ time: '1989-12-31T23:59:59.999Z' }), [
    '/events/0/time 1989-12-31T23:59:59.999Z is before 1990-01-01T00:00:00.000Z',
  ]);
  assert.deepEqual(one({ time: 1767225000 }), [
    '/events/0/time 1970-01-21T10:53:45.000Z is before 1990-01-01T00:00:00.000Z; epoch times are in milliseconds, and this looks like seconds',
  ]);
  assert.deepEqual(one({ time: ARB_NOW + EVENT_LIMITS.maxFutureMs + 1 }), [
    "/events/0/time 2026-01-02T00:00:00.001Z is more than 24 h ahead of the collector's clock (2026-01-01T00:00:00.000Z)",
  ]);
  // Optional fields accept null as "not recorded"; dst accepts null as "withheld".
  assert.deepEqual(
    decodeNdjsonBatch(body({ ...EVENT, ip_id: null, ttl: null, seq: null, payload_sha256: null }), limits)
      .events.ttl[0],
    -1,
  );
});

test('RFC 3339 times: zones, fractions, calendar checks', () => {
  const at = Date.UTC(2025, 1, 28, 12, 0, 0);
  assert.equal(parseIsoTime('2025-02-28T12:00:00Z'), at);
  assert.equal(parseIsoTime('2025-02-28t12:00:00z'), at);
  assert.equal(parseIsoTime('2025-02-28T13:30:00+01:30'), at);
  assert.equal(parseIsoTime('2025-02-28T07:00:00-05:00'), at);
  assert.equal(parseIsoTime('2025-02-28T12:00:00.5Z'), at + 500);
  assert.equal(parseIsoTime('2025-02-28T12:00:00.123456789Z'), at + 123);
  assert.equal(parseIsoTime('2024-02-29T00:00:00Z'), Date.UTC(2024, 1, 29));
  for (const bad of [
    '2025-02-29T00:00:00Z',
    '2025-13-01T00:00:00Z',
    '2025-01-01T24:00:00Z',
    '2025-01-01T00:60:00Z',
    '2025-12-31T23:59:60Z',
    '2025-01-01T00:00:00',
    '2025-01-01T00:00:00+0100',
    '2025-01-01T00:00:00.Z',
    '2025-01-01T00:00:00.1234567890Z',
    '2025-01-01T00:00:00Z ',
    '2025-1-01T00:00:00Z',
    '+2025-01-01T00:00:00Z',
  ])
    assert.ok(Number.isNaN(parseIsoTime(bad)), bad);
  fc.assert(
    fc.property(
      fc.integer({ min: Date.UTC(1000, 0, 1), max: Date.UTC(9999, 11, 31) }),
      fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }),
      (t, offsetMin) => {
        assert.equal(parseIsoTime(new Date(t).toISOString()), t);
        // Same instant written in another zone: compare with Date.parse, which reads this form correctly.
        const local = new Date(t + offsetMin * 60_000).toISOString().slice(0, 23);
        const sign = offsetMin < 0 ? '-' : '+';
        const abs = Math.abs(offsetMin);
        const zoned = `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
        assert.equal(parseIsoTime(zoned), Date.parse(zoned), zoned);
        assert.equal(parseIsoTime(zoned), t, zoned);
      },
    ),
    { numRuns: 2000 },
  );
});

test('tcp_flags letters', () => {
  const flags = (f: unknown): number =>
    decodeNdjsonBatch(body({ ...EVENT, tcp_flags: f }), limits).events.tcpFlags[0];
  assert.equal(flags('SA'), 18);
  assert.equal(flags('AS'), 18);
  assert.equal(flags(''), 0);
  assert.equal(flags('FSRPAUEC'), 255);
  assert.equal(flags(41), 41);
});

test('hostile lines: prototype keys, huge numbers, NaN, nesting, non-objects, long lines', () => {
  const polluted = problemsOf('{"__proto__":{"polluted":1},' + JSON.stringify(EVENT).slice(1));
  assert.deepEqual(polluted, [
    {
      path: '/events/0/__proto__',
      message:
        'unknown field; the fields are time, src, src_port, dst, dst_port, proto, tcp_flags, action, origin, ip_id, ttl, window, seq, payload_sha256, count, sampling (line 2)',
    },
  ]);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.deepEqual(
    problemsOf('{"constructor":{"prototype":{"x":1}},' + JSON.stringify(EVENT).slice(1))[0].path,
    '/events/0/constructor',
  );
  assert.deepEqual(problemsOf(JSON.stringify(EVENT).replace('51234', '1e400')), [
    {
      path: '/events/0/src_port',
      message: 'must be an integer from 0 to 65535, not number Infinity (line 2)',
    },
  ]);
  assert.equal(problemsOf({ ...EVENT, count: 2 ** 53 + 2 }).length, 1);
  assert.equal(problemsOf({ ...EVENT, time: 1e300 }).length, 1);
  expectError(
    () => decodeNdjsonBatch(body(JSON.stringify(EVENT).replace('51234', 'NaN')), limits),
    'BATCH_MALFORMED',
    /^line 2: not valid JSON \(/,
  );
  assert.deepEqual(problemsOf('[1]', 'null', '"x"', '7'), [
    { path: '/events/0', message: 'each event must be a JSON object, not an array (line 2)' },
    { path: '/events/1', message: 'each event must be a JSON object, not null (line 3)' },
    { path: '/events/2', message: 'each event must be a JSON object, not the string "x" (line 4)' },
    { path: '/events/3', message: 'each event must be a JSON object, not number 7 (line 5)' },
  ]);
  assert.deepEqual(
    problemsOf({ ...EVENT, src: { a: [[[[[]]]]] } })[0].message,
    'must be an IPv4 or IPv6 address string, not an object (line 2)',
  );
  const deep = '['.repeat(2000) + ']'.repeat(2000);
  assert.equal(problemsOf(deep)[0].path, '/events/0');
  expectError(
    () => decodeNdjsonBatch(body('['.repeat(MAX_LINE_LENGTH + 1)), limits),
    'BATCH_MALFORMED',
    `line 2: the line is ${MAX_LINE_LENGTH + 1} characters long; a line may be at most ${MAX_LINE_LENGTH}`,
  );
  // A line full of unknown keys reports no more than the cap.
  const many = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, 1]));
  assert.equal(problemsOf({ ...EVENT, ...many }).length, MAX_REPORTED_PROBLEMS);
});

test('malformed bodies', () => {
  expectError(() => decodeNdjsonBatch('', limits), 'BATCH_MALFORMED', /^line 1 is empty/);
  expectError(
    () => decodeNdjsonBatch(JSON.stringify(EVENT), limits),
    'BATCH_MALFORMED',
    /^line 1 looks like an event/,
  );
  expectError(() => decodeNdjsonBatch('{"batch_id": ', limits), 'BATCH_MALFORMED', /^line 1: not valid JSON/);
  expectError(
    () => decodeNdjsonBatch(body(EVENT, '{"src": "1.2.3.4",}'), limits),
    'BATCH_MALFORMED',
    /^line 3: not valid JSON/,
  );
  expectError(
    () => decodeNdjsonBatch(new Uint8Array([0x7b, 0xff, 0x7d]), limits),
    'BATCH_MALFORMED',
    'The NDJSON body is not valid UTF-8.',
  );
  expectError(() => decodeNdjsonBatch(new Uint8Array([0x1f, 0x8b, 8, 0]), limits), 'BATCH_MALFORMED', /gzip/);
  expectError(
    () => decodeNdjsonBatch(new TextEncoder().encode('PTB1\u0001'), limits),
    'BATCH_MALFORMED',
    /application\/vnd\.portent\.batch/,
  );
});

test('CRLF line ends and a missing final newline are fine', () => {
  const crlf = [ENVELOPE, JSON.stringify(EVENT), JSON.stringify(EVENT)].join('\r\n');
  assert.equal(decodeNdjsonBatch(crlf, limits).events.length, 2);
  assert.equal(decodeNdjsonBatch(ENVELOPE, limits).events.length, 0);
});

test('too many events is BATCH_TOO_LARGE', () => {
  expectError(
    () => decodeNdjsonBatch(body(EVENT, EVENT, EVENT), { ...limits, maxEvents: 2 }),
    'BATCH_TOO_LARGE',
    'The batch has 3 events; this collector accepts at most 2 per batch.',
  );
});

test('envelope rules', () => {
  const env = (over: Record<string, unknown>): FieldProblem[] => {
    const e = { ...JSON.parse(ENVELOPE), ...over };
    return expectError(() => decodeNdjsonBatch(JSON.stringify(e), limits), 'BATCH_INVALID').details;
  };
  assert.deepEqual(env({ batch_id: 'x' }), [
    { path: '/batch_id', message: 'must be a UUID such as 3f2b8c1e-0d4a-4e6b-9a7c-5e1f2d3c4b5a (line 1)' },
  ]);
  assert.deepEqual(
    env({ batch_id: '00000000-0000-0000-0000-000000000000' })[0].message,
    'must not be the nil UUID (line 1)',
  );
  assert.deepEqual(env({ seq: -1 })[0].path, '/seq');
  assert.deepEqual(env({ seq: 2 ** 53 })[0].path, '/seq');
  assert.deepEqual(env({ software: 'x'.repeat(65) })[0].message, 'must be at most 64 characters (line 1)');
  assert.deepEqual(
    env({ software: 'a\tb' })[0].message,
    'must be printable ASCII (characters 0x20..0x7e) (line 1)',
  );
  assert.deepEqual(env({ software: 'é' })[0].path, '/software');
  assert.deepEqual(env({ created: 'yesterday' })[0].path, '/created');
  assert.deepEqual(env({ sensor: 'x' })[0], {
    path: '/sensor',
    message: 'unknown field; the fields are batch_id, seq, created, software (line 1)',
  });
  // Upper-case UUIDs are accepted and normalised, so a re-send in other case is the same batch.
  const upper = JSON.stringify({ ...JSON.parse(ENVELOPE), batch_id: '3F2B8C1E-0D4A-4E6B-9A7C-5E1F2D3C4B5A' });
  assert.equal(decodeNdjsonBatch(upper, limits).batchId, '3f2b8c1e-0d4a-4e6b-9a7c-5e1f2d3c4b5a');
  fc.assert(
    fc.property(arbEnvelope, (e) => {
      const json = { batch_id: e.batchId, seq: e.seq, created: e.created, software: e.software };
      assert.deepStrictEqual(parseEnvelopeObject(json, [], { now: ARB_NOW }), e);
    }),
  );
});

test('all problems of a batch are collected, capped, and nothing is returned', () => {
  const bad = Array.from({ length: 50 }, () => ({ ...EVENT, src_port: -1 }));
  const details = problemsOf(...bad);
  assert.equal(details.length, MAX_REPORTED_PROBLEMS);
  assert.equal(details[19].path, '/events/19/src_port');
});

test('parseEventObject reports under the given path and returns canonical text', () => {
  const problems: FieldProblem[] = [];
  const e = parseEventObject({ ...EVENT, src: '2001:DB8:0:0::1', dst: '::ffff:192.0.2.1' }, '/x', problems);
  assert.deepEqual(problems, []);
  assert.equal(e?.src, '2001:db8::1');
  assert.equal(e?.dst, '192.0.2.1');
  assert.equal(parseEventObject({ ...EVENT, ttl: 300 }, '/x', problems, { line: 9 }), null);
  assert.deepEqual(problems, [
    { path: '/x/ttl', message: 'must be an integer from 0 to 255, not number 300 (line 9)' },
  ]);
  assert.throws(
    () => eventFromJson({ ...EVENT, action: 'drop' }),
    (err: unknown) => {
      assert.ok(err instanceof PortentError);
      assert.equal(err.code, 'BATCH_INVALID');
      assert.equal(err.details[0].path, '/event/action');
      return true;
    },
  );
});

test('parseNdjsonEvents (bulk import): no envelope, file line numbers, JSON errors as problems', () => {
  const ok = parseNdjsonEvents([JSON.stringify(EVENT), '', JSON.stringify(EVENT)], { now: ARB_NOW });
  assert.deepEqual(ok.problems, []);
  assert.equal(ok.columns.length, 2);
  const bad = parseNdjsonEvents(['{oops', JSON.stringify({ ...EVENT, dst_port: -5 })], {
    now: ARB_NOW,
    firstLine: 101,
    firstIndex: 40,
  });
  assert.equal(bad.problems.length, 2);
  assert.equal(bad.problems[0].path, '/events/40');
  assert.match(bad.problems[0].message, /^not valid JSON \(.*\) \(line 101\)$/);
  assert.deepEqual(bad.problems[1], {
    path: '/events/41/dst_port',
    message: 'must be an integer from 0 to 65535, not number -5 (line 102)',
  });
});
