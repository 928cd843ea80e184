// Tests for address text <-> limbs: RFC 5952 examples, and properties against Node's own address code.
//
// References: node:net isIP decides which strings are addresses (its grammar is RFC 4291's, with leading
// zeros in dotted quads refused as ours are); the WHATWG URL parser's IPv6 serialiser is RFC 5952 for
// everything but IPv4-mapped addresses (it prints those in hex); node:net BlockList compares values.
// None of them shares code with address.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockList, isIP } from 'node:net';
import fc from 'fast-check';
import {
  addressToBigInt,
  bigIntToLimbs,
  formatAddress,
  isV4,
  parseAddress,
  prefixKey24,
  v4ToText,
} from './address.ts';
import { arbV4Text, arbV6Text } from './wire/arbitrary.ts';

function parse(text: string): Uint32Array | null {
  const out = new Uint32Array(4);
  return parseAddress(text, out, 0) ? out : null;
}

/** Reference value of an address: WHATWG's hex-only canonical form, expanded by hand into a bigint. */
function referenceValue(text: string): bigint {
  const host = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  const [head, tail] = host.includes('::') ? host.split('::') : [host, null];
  const h = head === '' ? [] : head.split(':');
  const t = tail === null || tail === '' ? [] : tail.split(':');
  const all = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return all.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function limbsOf(v: bigint): Uint32Array {
  const out = new Uint32Array(4);
  bigIntToLimbs(v, out, 0);
  return out;
}

test('IPv4 is stored as the IPv4-mapped address', () => {
  assert.deepEqual(parse('1.2.3.4'), new Uint32Array([0x01020304, 0xffff, 0, 0]));
  assert.deepEqual(parse('255.255.255.255'), new Uint32Array([0xffffffff, 0xffff, 0, 0]));
  assert.deepEqual(parse('0.0.0.0'), new Uint32Array([0, 0xffff, 0, 0]));
  assert.deepEqual(parse('::ffff:1.2.3.4'), parse('1.2.3.4'));
  assert.deepEqual(parse('::FFFF:102:304'), parse('1.2.3.4'));
  assert.equal(formatAddress(parse('::ffff:192.0.2.1')!, 0), '192.0.2.1');
  assert.equal(isV4(parse('10.0.0.1')!, 0), true);
  assert.equal(isV4(parse('::1')!, 0), false);
  assert.equal(v4ToText(0xc0000201), '192.0.2.1');
  assert.equal(v4ToText(-1), '255.255.255.255');
});

test('IPv4 parsing is strict', () => {
  for (const bad of [
    '01.2.3.4',
    '1.02.3.4',
    '1.2.3.00',
    '256.1.1.1',
    '1.2.3.256',
    '1.2.3',
    '1.2.3.4.',
    '.1.2.3.4',
    '1..2.3',
    '1.2.3.4.5',
    ' 1.2.3.4',
    '1.2.3.4 ',
    '1.2.3.4\n',
    '1.2.3.-4',
    '1.2.3.+4',
    '0x1.2.3.4',
    '1.2.3.4/24',
    '1234.1.1.1',
    '4294967295',
    '',
    '1.2.3.4%eth0',
    '١.٢.٣.٤',
  ]) {
    assert.equal(parse(bad), null, bad);
    assert.equal(isIP(bad), 0, `node agrees about ${JSON.stringify(bad)}`);
  }
});

test('IPv6 parsing accepts every RFC 4291 form and nothing else', () => {
  const good: [string, string][] = [
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
    ['::1.2.3.4', '::102:304'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ['FE80::ABCD', 'fe80::abcd'],
    ['0000:0000:0000:0000:0000:0000:0000:0001', '::1'],
  ];
  for (const [text, canonical] of good) {
    assert.ok(parse(text), text);
    assert.deepEqual(parse(text), parse(canonical), text);
  }
  for (const bad of [
    ':',
    ':::',
    '1:::2',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '1::2:3:4:5:6:7:8',
    '12345::',
    '::g',
    '1:',
    ':1',
    '::1:',
    '[::1]',
    'fe80::1%eth0',
    'fe80::1%1',
    '::ffff:01.2.3.4',
    '::ffff:1.2.3',
    '::1.2.3.4:5',
    '1:2:3:4:5:6:7:1.2.3.4',
    '1.2.3.4::',
    ':: 1',
    'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.2550',
  ]) {
    assert.equal(parse(bad), null, bad);
  }
});

test('RFC 5952 canonical formatting examples', () => {
  const cases: [string, string][] = [
    // Section 2.1-2.3: all these are the same address.
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8::1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8::0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8::1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:0:1::1', '2001:db8::1:0:0:1'],
    ['2001:db8:0000:0:1::1', '2001:db8::1:0:0:1'],
    ['2001:DB8:0:0:1::1', '2001:db8::1:0:0:1'],
    // 4.1: leading zeros suppressed.
    ['2001:0db8::0001', '2001:db8::1'],
    // 4.2.1: "::" as long as possible.
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
    ['2001:db8::0:1', '2001:db8::1'],
    // 4.2.2: never for a single zero group.
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    // 4.2.3: longest run; the first on ties.
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    // 4.3: lower case.
    ['2001:DB8:AC10:FE01::', '2001:db8:ac10:fe01::'],
    // 5: IPv4-mapped addresses print as the IPv4 address they are.
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['0:1:0:1:0:1:0:1', '0:1:0:1:0:1:0:1'],
  ];
  for (const [input, canonical] of cases) assert.equal(formatAddress(parse(input)!, 0), canonical, input);
});

test('formatting is RFC 5952 (WHATWG URL serialiser) and parses back to the same limbs', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), arbV6Text, (v, v6) => {
      for (const limbs of [limbsOf(v), parse(v6)!]) {
        const text = formatAddress(limbs, 0);
        assert.notEqual(isIP(text), 0, text);
        assert.deepEqual(parse(text), limbs, text);
        if (!isV4(limbs, 0)) assert.equal(text, new URL(`http://[${text}]/`).hostname.slice(1, -1));
        assert.equal(referenceValue(isV4(limbs, 0) ? `::ffff:${text}` : text), addressToBigInt(limbs, 0));
      }
    }),
    { numRuns: 2000 },
  );
});

test('fast-check IPv4/IPv6 strings in every notation parse to the values node:net BlockList sees', () => {
  fc.assert(
    fc.property(fc.oneof(fc.ipV4(), fc.ipV6(), arbV4Text), (text) => {
      const limbs = parse(text);
      assert.ok(limbs, text);
      const family = isIP(text) === 4 ? 'ipv4' : 'ipv6';
      assert.notEqual(isIP(text), 0);
      const expected = family === 'ipv4' ? referenceValue(`::ffff:${text}`) : referenceValue(text);
      assert.equal(addressToBigInt(limbs, 0), expected, text);
      const formatted = formatAddress(limbs, 0);
      const list = new BlockList();
      list.addAddress(text, family);
      assert.ok(list.check(formatted, isV4(limbs, 0) ? 'ipv4' : 'ipv6'), `${text} -> ${formatted}`);
    }),
    { numRuns: 3000 },
  );
});

test('parseAddress accepts exactly what node:net isIP accepts (zone ids aside)', () => {
  const alphabet = fc.constantFrom(...'0123456789abcdefABCDEFg:.:. '.split(''));
  const junk = fc.string({ unit: alphabet, maxLength: 46 });
  // Mutations of valid addresses find the interesting boundaries; pure junk finds the rest.
  const mutated = fc
    .tuple(
      fc.oneof(fc.ipV4(), fc.ipV6()),
      fc.nat(),
      fc.constantFrom(...'0:.f1'.split('')),
      fc.constantFrom(0, 1, 2),
    )
    .map(([s, at, ch, op]) => {
      const i = at % (s.length + 1);
      if (op === 0) return s.slice(0, i) + s.slice(i + 1);
      if (op === 1) return s.slice(0, i) + ch + s.slice(i);
      return s.slice(0, i) + ch + s.slice(i + 1);
    });
  fc.assert(
    fc.property(fc.oneof(junk, mutated), (text) => {
      assert.equal(parse(text) !== null, isIP(text) !== 0, JSON.stringify(text));
    }),
    { numRuns: 20000 },
  );
});

test('a parse writes only its four limbs at the offset', () => {
  const out = new Uint32Array(12).fill(7);
  assert.ok(parseAddress('2001:db8::1', out, 4));
  assert.deepEqual(Array.from(out.subarray(0, 4)), [7, 7, 7, 7]);
  assert.deepEqual(Array.from(out.subarray(8)), [7, 7, 7, 7]);
  assert.equal(formatAddress(out, 4), '2001:db8::1');
  assert.ok(parseAddress('10.1.2.3', out, 8));
  assert.equal(formatAddress(out, 8), '10.1.2.3');
});

test('bigint round trips (DuckDB UHUGEINT) and range checks', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), (v) => {
      assert.equal(addressToBigInt(limbsOf(v), 0), v);
    }),
  );
  assert.equal(addressToBigInt(parse('1.2.3.4')!, 0), 0xffff01020304n);
  assert.equal(addressToBigInt(parse('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')!, 0), (1n << 128n) - 1n);
  assert.throws(() => limbsOf(-1n), RangeError);
  assert.throws(() => limbsOf(1n << 128n), RangeError);
});

test('prefixKey24: exact /24 for IPv4, a hashed /48 above 2^24 for IPv6', () => {
  const key = (t: string): number => prefixKey24(parse(t)!, 0);
  assert.equal(key('192.0.2.1'), 0xc00002);
  assert.equal(key('192.0.2.255'), 0xc00002);
  assert.notEqual(key('192.0.3.1'), key('192.0.2.1'));
  assert.equal(key('2001:db8:1::1'), key('2001:db8:1:ffff:ffff:ffff:ffff:ffff'));
  assert.notEqual(key('2001:db8:1::1'), key('2001:db8:2::1'));
  fc.assert(
    fc.property(arbV6Text, arbV4Text, (v6, v4) => {
      const k6 = key(v6);
      const k4 = key(v4);
      if (!isV4(parse(v6)!, 0)) assert.ok(k6 >= 0x1000000 && k6 <= 0xffffffff && Number.isInteger(k6), v6);
      assert.ok(k4 >= 0 && k4 < 0x1000000);
    }),
  );
  // No collisions among 50,000 consecutive /48s (the hash must spread neighbouring prefixes).
  const seen = new Set<number>();
  const limbs = new Uint32Array(4);
  for (let i = 0; i < 50_000; i++) {
    limbs[3] = 0x20010db8;
    limbs[2] = i << 16;
    seen.add(prefixKey24(limbs, 0));
  }
  assert.equal(seen.size, 50_000);
});
