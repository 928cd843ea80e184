// Tests of the shared config field types: duration and size parsing, formatting and schema limits.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Value from 'typebox/value';
import { closestName, editDistance } from './suggest.ts';
import {
  ByteSize,
  ByteSizeOrEmpty,
  Duration,
  formatByteSize,
  formatDuration,
  parseByteSize,
  parseDuration,
} from './types.ts';

describe('parseDuration', () => {
  it('reads every unit', () => {
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('30d'), 2_592_000_000);
    assert.equal(parseDuration('0s'), 0);
  });

  it('says what was wrong', () => {
    const cases: [string, string][] = [
      ['5 minutes', 'must be a duration such as "30s", "5m" or "1h"; got "5 minutes"'],
      [
        '30',
        'must be a duration such as "30s", "5m" or "1h"; got "30" (a number needs a unit: ms, s, m, h or d)',
      ],
      ['1.5h', 'must be a duration such as "30s", "5m" or "1h"; got "1.5h"'],
      ['-1s', 'must be a duration such as "30s", "5m" or "1h"; got "-1s"'],
      ['', 'must be a duration such as "30s", "5m" or "1h"; got ""'],
      ['30 S', 'must be a duration such as "30s", "5m" or "1h"; got "30 S" — did you mean "30s"?'],
      ['99999999999999999d', 'is too long a duration; got "99999999999999999d"'],
    ];
    for (const [text, message] of cases)
      assert.throws(() => parseDuration(text), { name: 'RangeError', message });
  });

  it('round-trips through formatDuration', () => {
    for (const text of ['250ms', '1500ms', '30s', '90s', '5m', '1h', '36h', '30d', '0s']) {
      assert.equal(formatDuration(parseDuration(text)), text);
    }
    assert.equal(formatDuration(60_000), '1m');
    assert.equal(formatDuration(86_400_000 * 2), '2d');
  });
});

describe('parseByteSize', () => {
  it('reads bytes and binary units', () => {
    assert.equal(parseByteSize(1024), 1024);
    assert.equal(parseByteSize('1024'), 1024);
    assert.equal(parseByteSize('100B'), 100);
    assert.equal(parseByteSize('512KiB'), 524_288);
    assert.equal(parseByteSize('16MiB'), 16_777_216);
    assert.equal(parseByteSize('1GiB'), 1_073_741_824);
    assert.equal(parseByteSize('2TiB'), 2 * 1024 ** 4);
  });

  it('says what was wrong', () => {
    const expected = 'must be a size such as "512KiB", "16MiB" or "1GiB", or a whole number of bytes';
    const cases: [string | number, string][] = [
      ['16MB', `${expected}; got "16MB" — did you mean "16MiB"?`],
      ['16 mib', `${expected}; got "16 mib" — did you mean "16MiB"?`],
      ['1g', `${expected}; got "1g" — did you mean "1GiB"?`],
      ['1.5GiB', `${expected}; got "1.5GiB"`],
      ['lots', `${expected}; got "lots"`],
      [-1, `${expected}; got -1`],
      [1.5, `${expected}; got 1.5`],
      ['', `${expected}; got ""`],
      ['99999999999TiB', 'is too large a size; got "99999999999TiB"'],
    ];
    for (const [text, message] of cases)
      assert.throws(() => parseByteSize(text), { name: 'RangeError', message });
  });

  it('round-trips through formatByteSize', () => {
    for (const text of ['1000B', '512KiB', '16MiB', '1GiB', '3TiB', '0B']) {
      assert.equal(formatByteSize(parseByteSize(text)), text);
    }
    assert.equal(formatByteSize(1536), '1536B');
  });
});

describe('Duration and ByteSize schemas', () => {
  const d = Duration({ default: '5m', minimum: '1s', maximum: '1h', description: 'd' });
  const b = ByteSize({ default: '16MiB', minimum: '1KiB', maximum: '1GiB', description: 'b' });
  const e = ByteSizeOrEmpty({ default: '', emptyMeans: 'the default', description: 'e' });

  it('check the text form and the limits', () => {
    assert.ok(Value.Check(d, '30s'));
    assert.ok(!Value.Check(d, '2h'));
    assert.ok(!Value.Check(d, '500ms'));
    assert.ok(!Value.Check(d, 30));
    assert.ok(Value.Check(b, '1GiB'));
    assert.ok(Value.Check(b, 4096));
    assert.ok(!Value.Check(b, '2GiB'));
    assert.ok(!Value.Check(b, 1023));
    assert.ok(!Value.Check(b, ''));
    assert.ok(Value.Check(e, ''));
    assert.ok(Value.Check(e, '1MiB'));
  });

  it('decode to ms, bytes or null', () => {
    assert.equal(Value.Decode(d, '2m'), 120_000);
    assert.equal(Value.Decode(b, '1KiB'), 1024);
    assert.equal(Value.Decode(e, ''), null);
    assert.equal(Value.Decode(e, '1KiB'), 1024);
  });

  it('refuse a default outside their own limits', () => {
    assert.throws(() => Duration({ default: '2h', maximum: '1h', description: '' }), {
      message: 'invalid default "2h": must be a duration of at most 1h; got "2h"',
    });
    assert.throws(() => ByteSize({ default: '1MB', description: '' }), /invalid default "1MB"/);
  });
});

describe('closestName', () => {
  const keys = ['listen_host', 'listen_port', 'admin_token', 'log_level', 'shutdown_timeout', 'trust_proxy'];
  it('suggests close or partial names, and nothing when unsure', () => {
    assert.equal(closestName('listen_prot', keys), 'listen_port');
    assert.equal(closestName('Listen-Port', keys), 'listen_port');
    assert.equal(closestName('loglevel', keys), 'log_level');
    assert.equal(closestName('token', keys), 'admin_token');
    assert.equal(closestName('listen', keys), undefined);
    assert.equal(closestName('colour', keys), undefined);
  });

  it('counts a swap of neighbours as one edit', () => {
    assert.equal(editDistance('prot', 'port'), 1);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('', 'abc'), 3);
  });
});
