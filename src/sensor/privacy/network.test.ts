// Network parsing, truncation and keyed hashing: exact cases and properties (no host bits leak, hashes stay in range).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatAddress, isV4, parseAddress } from '../../core/address.ts';
import {
  formatNetwork,
  hashAddress,
  networkContains,
  parseNetwork,
  truncateAddress,
  HASHED_V4_NETWORK,
  HASHED_V6_NETWORK,
  type Network,
} from './network.ts';

const KEY = Buffer.alloc(32, 7);

function limbsOf(address: string): Uint32Array {
  const limbs = new Uint32Array(4);
  assert.ok(parseAddress(address, limbs, 0), address);
  return limbs;
}

function net(text: string): Network {
  const n = parseNetwork(text);
  if (typeof n === 'string') throw new Error(n);
  return n;
}

function truncated(address: string, v4Prefix: number, v6Prefix: number): string {
  const limbs = limbsOf(address);
  truncateAddress(limbs, 0, v4Prefix, v6Prefix);
  return formatAddress(limbs, 0);
}

function hashed(address: string, key = KEY): string {
  const limbs = limbsOf(address);
  hashAddress(limbs, 0, key);
  return formatAddress(limbs, 0);
}

test('parseNetwork reads CIDR text, bare addresses and mapped IPv4 networks', () => {
  assert.equal(formatNetwork(net('10.0.0.0/8')), '10.0.0.0/8');
  assert.equal(formatNetwork(net('192.0.2.7')), '192.0.2.7/32');
  assert.equal(formatNetwork(net('0.0.0.0/0')), '0.0.0.0/0');
  assert.equal(formatNetwork(net('FD00::/8')), 'fd00::/8');
  assert.equal(formatNetwork(net('2001:db8::1')), '2001:db8::1/128');
  // An IPv4 network written in IPv4-mapped form is an IPv4 network.
  assert.deepEqual(net('::ffff:10.0.0.0/104'), net('10.0.0.0/8'));
  assert.deepEqual(net('::ffff:0:0/96'), net('0.0.0.0/0'));
  assert.equal(net('::/64').v4, false, 'a shorter IPv6 network holding ::ffff:0:0/96 stays IPv6');
});

test('parseNetwork refuses what it cannot read, with the reason', () => {
  assert.equal(
    parseNetwork('10.1.2.3/8'),
    'must be a network address with no bits set after the prefix; got "10.1.2.3/8" — did you mean "10.0.0.0/8"?',
  );
  assert.equal(
    parseNetwork('2001:db8::1/32'),
    'must be a network address with no bits set after the prefix; got "2001:db8::1/32" — did you mean "2001:db8::/32"?',
  );
  for (const bad of [
    '10.0.0.0/33',
    '10.0.0.0/',
    '10.0.0.0/08',
    '10.0.0/8',
    'fd00::/129',
    'eth0',
    '',
    '10.0.0.0/8/8',
  ]) {
    const problem = parseNetwork(bad);
    assert.equal(typeof problem, 'string', bad);
    assert.match(problem as string, /^must be a network/, bad);
  }
  assert.equal(
    parseNetwork('10.0.0.0/33'),
    'must be a network such as "10.0.0.0/8" or "fd00::/8", or a single address, with a prefix length from 0 to 32; got "10.0.0.0/33"',
  );
});

test('truncation keeps the configured prefix and zeroes the rest', () => {
  assert.equal(truncated('203.0.113.77', 24, 48), '203.0.113.0');
  assert.equal(truncated('203.0.113.77', 16, 48), '203.0.0.0');
  assert.equal(truncated('203.0.113.77', 0, 48), '0.0.0.0');
  assert.equal(truncated('203.0.113.77', 32, 48), '203.0.113.77');
  assert.equal(truncated('::ffff:203.0.113.77', 24, 48), '203.0.113.0');
  assert.equal(truncated('2001:db8:abcd:12:34::1', 24, 48), '2001:db8:abcd::');
  assert.equal(truncated('2001:db8:abcd:12:34::1', 24, 56), '2001:db8:abcd::');
  assert.equal(truncated('2001:db8:abcd:1234::1', 24, 56), '2001:db8:abcd:1200::');
  assert.equal(truncated('2001:db8:abcd:1234::1', 24, 128), '2001:db8:abcd:1234::1');
});

test('hashes of IPv4 land in 240.0.0.0/4 and of IPv6 in fd00::/8, stable per key', () => {
  const a = hashed('203.0.113.77');
  assert.ok(networkContains(net(HASHED_V4_NETWORK), limbsOf(a), 0), a);
  assert.equal(hashed('203.0.113.77'), a);
  assert.equal(hashed('::ffff:203.0.113.77'), a, 'the mapped form is the same address');
  assert.notEqual(hashed('203.0.113.78'), a);
  assert.notEqual(hashed('203.0.113.77', Buffer.alloc(32, 8)), a, 'another key, another mapping');
  const b = hashed('2001:db8::1');
  assert.ok(networkContains(net(HASHED_V6_NETWORK), limbsOf(b), 0), b);
  assert.equal(hashed('2001:DB8:0::1'), b);
  // Pinned values, worked out independently with Python's hmac and ipaddress modules, so that a change
  // of algorithm (which would change every hashed address a sensor has sent) is noticed.
  assert.equal(hashed('192.0.2.1'), '245.42.255.251');
  assert.equal(hashed('2001:db8::1'), 'fdc4:f8a0:6159:3415:bc3a:85d0:1118:8ffd');
});

const anyV4 = fc.integer({ min: 0, max: 0xffffffff }).map((a) => Uint32Array.of(a, 0xffff, 0, 0));
const anyV6 = fc
  .tuple(...[0, 1, 2, 3].map(() => fc.integer({ min: 0, max: 0xffffffff })))
  .map(([l0, l1, l2, l3]) => Uint32Array.of(l0, l1, l2, l3))
  .filter((l) => !isV4(l, 0));
const anyAddress = fc.oneof(anyV4, anyV6);

test('property: truncation never reveals host bits', () => {
  fc.assert(
    fc.property(
      anyAddress,
      anyAddress,
      fc.integer({ min: 0, max: 32 }),
      fc.integer({ min: 0, max: 128 }),
      (a, noise, p4, p6) => {
        // Another address with the same network bits but other host bits truncates to the same result.
        const v4 = isV4(a, 0);
        const prefix = v4 ? p4 : p6;
        const bits = v4 ? 32 : 128;
        const other = a.slice();
        for (let bit = prefix; bit < bits; bit++) {
          const fromTop = v4 ? 96 + bit : bit;
          const limb = 3 - (fromTop >>> 5);
          const mask = 1 << (31 - (fromTop & 31));
          if (noise[limb] & mask) other[limb] ^= mask;
        }
        const ta = a.slice();
        const to = other.slice();
        truncateAddress(ta, 0, p4, p6);
        truncateAddress(to, 0, p4, p6);
        assert.deepEqual(ta, to);
        // And the result is the network: inside it, with every host bit zero.
        const network = parseNetwork(`${formatAddress(ta, 0)}/${prefix}`);
        assert.notEqual(typeof network, 'string', String(network));
        assert.ok(networkContains(network as Network, a, 0));
        assert.equal(isV4(ta, 0), v4, 'truncation keeps the family');
      },
    ),
    { numRuns: 2000 },
  );
});

test('property: hashes are stable, keep the family, and stay in the reserved ranges', () => {
  const v4Range = net(HASHED_V4_NETWORK);
  const v6Range = net(HASHED_V6_NETWORK);
  fc.assert(
    fc.property(anyAddress, fc.uint8Array({ minLength: 16, maxLength: 64 }), (a, keyBytes) => {
      const key = Buffer.from(keyBytes);
      const h1 = a.slice();
      const h2 = a.slice();
      hashAddress(h1, 0, key);
      hashAddress(h2, 0, key);
      assert.deepEqual(h1, h2);
      assert.equal(isV4(h1, 0), isV4(a, 0));
      assert.ok(networkContains(isV4(a, 0) ? v4Range : v6Range, h1, 0));
      // The text form parses back to the same address.
      const back = limbsOf(formatAddress(h1, 0));
      assert.deepEqual(back, h1);
    }),
    { numRuns: 2000 },
  );
});
