// The privacy filter end to end: policies on source and destination, admin exclusion, counters, key files, config.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatAddress, isV4, parseAddress, v4ToText } from '../../core/address.ts';
import type { PortentEvent } from '../../core/event.ts';
import { asNode } from '../../config/types.ts';
import { checkConfigValue } from '../../config/validate.ts';
import { decodePrivacyConfig, PRIVACY_DEFAULTS, PrivacyConfigSchema } from './config.ts';
import {
  networkContains,
  parseNetwork,
  HASHED_V4_NETWORK,
  HASHED_V6_NETWORK,
  type Network,
} from './network.ts';
import { detectOwnAddresses, loadHashKey, PrivacyFilter } from './privacy.ts';

const KEY = Buffer.alloc(32, 1);

function event(src: string, dst: string | null): PortentEvent {
  return {
    time: Date.UTC(2026, 0, 1),
    src,
    srcPort: 40000,
    dst,
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
  };
}

function filter(config: unknown, detectedAddresses: string[] = []): PrivacyFilter {
  return new PrivacyFilter(decodePrivacyConfig(config), { key: KEY, detectedAddresses });
}

function inNetwork(address: string, cidr: string): boolean {
  const limbs = new Uint32Array(4);
  assert.ok(parseAddress(address, limbs, 0), address);
  return networkContains(parseNetwork(cidr) as Network, limbs, 0);
}

test('an event that matches no rule is returned as it is, not copied', () => {
  const f = filter({ own_addresses: ['198.51.100.10'], internal_networks: [{ networks: ['10.0.0.0/8'] }] });
  const e = event('203.0.113.5', '192.0.2.1');
  assert.equal(f.apply(e), e);
  const v6 = event('2001:db8::5', '2001:db8:1::1');
  assert.equal(f.apply(v6), v6);
  assert.deepEqual(f.stats(), {
    seen: 2,
    passed: 2,
    droppedAdmin: 0,
    droppedSource: 0,
    droppedUnreadableSource: 0,
    masked: 0,
    destinationWithheld: 0,
  });
});

test('own addresses are hashed by default, in source and destination, without touching the input', () => {
  const f = filter({ own_addresses: ['198.51.100.10', '2001:db8:5::10'] });
  const e = event('203.0.113.5', '198.51.100.10');
  const out = f.apply(e)!;
  assert.notEqual(out, e);
  assert.equal(e.dst, '198.51.100.10', 'the input event is not changed');
  assert.equal(out.src, '203.0.113.5');
  assert.ok(inNetwork(out.dst!, HASHED_V4_NETWORK), out.dst!);
  assert.equal(f.apply(event('1.1.1.1', '198.51.100.10'))!.dst, out.dst, 'stable');
  // Outbound traffic from the sensor: the source is masked the same way.
  assert.equal(f.apply(event('198.51.100.10', '203.0.113.5'))!.src, out.dst);
  const v6 = f.apply(event('2001:db8::5', '2001:db8:5::10'))!;
  assert.ok(inNetwork(v6.dst!, HASHED_V6_NETWORK), v6.dst!);
  assert.equal(f.stats().masked, 4);
});

test('truncate, keep and drop rules, the longest network winning', () => {
  const f = filter({
    internal_networks: [
      { networks: ['10.0.0.0/8', 'fd00::/8'], policy: 'truncate' },
      { networks: ['10.9.0.0/16'], policy: 'keep' },
      { networks: ['10.66.0.0/16', 'fd66::/16'], policy: 'drop' },
      { networks: ['10.77.0.0/16'], policy: 'truncate', truncate_ipv4_prefix: 16 },
    ],
  });
  assert.equal(f.apply(event('203.0.113.5', '10.1.2.3'))!.dst, '10.1.2.0');
  assert.equal(f.apply(event('203.0.113.5', 'fd00:1:2:3::4'))!.dst, 'fd00:1:2::');
  assert.equal(f.apply(event('203.0.113.5', '10.9.2.3'))!.dst, '10.9.2.3');
  assert.equal(f.apply(event('203.0.113.5', '10.77.2.3'))!.dst, '10.77.0.0');
  // drop: a destination becomes null; a source drops the event.
  const withheld = f.apply(event('203.0.113.5', '10.66.2.3'))!;
  assert.equal(withheld.dst, null);
  assert.equal(f.apply(event('10.66.2.3', '203.0.113.5')), null);
  assert.equal(f.apply(event('fd66::1', '203.0.113.5')), null);
  const stats = f.stats();
  assert.equal(stats.destinationWithheld, 1);
  assert.equal(stats.droppedSource, 2);
  assert.equal(stats.seen, 7);
  assert.equal(stats.passed, 5);
});

test('administrative sources are dropped and counted, whatever other rule matches', () => {
  const f = filter({
    admin_sources: ['192.0.2.0/28', '2001:db8:ad::/48'],
    own_addresses: ['192.0.2.5'],
    own_address_policy: 'keep',
  });
  assert.equal(f.apply(event('192.0.2.5', '203.0.113.1')), null);
  assert.equal(f.apply(event('::ffff:192.0.2.9', '203.0.113.1')), null, 'the IPv4-mapped form too');
  assert.equal(f.apply(event('2001:db8:ad:1::1', '203.0.113.1')), null);
  // Only sources: traffic to an admin host is not excluded by this rule.
  assert.ok(f.apply(event('203.0.113.1', '192.0.2.5')) !== null);
  assert.ok(f.apply(event('192.0.2.16', '203.0.113.1')) !== null);
  assert.equal(f.stats().droppedAdmin, 3);
});

test('IPv4-mapped and non-canonical IPv6 text match like the plain address', () => {
  const f = filter({
    internal_networks: [{ networks: ['10.0.0.0/8', '2001:db8::/32'], policy: 'truncate' }],
  });
  assert.equal(f.apply(event('203.0.113.5', '::ffff:10.1.2.3'))!.dst, '10.1.2.0');
  assert.equal(f.apply(event('203.0.113.5', '::FFFF:0a01:0203'))!.dst, '10.1.2.0');
  assert.equal(f.apply(event('203.0.113.5', '2001:0DB8:0000:0001::9'))!.dst, '2001:db8::');
  // Mapped-form networks in the config are IPv4 networks.
  const g = filter({ internal_networks: [{ networks: ['::ffff:10.0.0.0/104'], policy: 'drop' }] });
  assert.equal(g.apply(event('10.5.5.5', '203.0.113.5')), null);
});

test('detected addresses are own addresses when detection is on, and ignored when it is off', () => {
  const on = filter({}, ['127.0.0.1', '198.51.100.7']);
  assert.ok(inNetwork(on.apply(event('203.0.113.5', '198.51.100.7'))!.dst!, HASHED_V4_NETWORK));
  const off = filter({ detect_own_addresses: false }, ['198.51.100.7']);
  assert.equal(off.apply(event('203.0.113.5', '198.51.100.7'))!.dst, '198.51.100.7');
  // An explicit rule for the same address beats detection.
  const keep = filter({ internal_networks: [{ networks: ['198.51.100.7'], policy: 'keep' }] }, [
    '198.51.100.7',
  ]);
  assert.equal(keep.apply(event('203.0.113.5', '198.51.100.7'))!.dst, '198.51.100.7');
});

test('detectOwnAddresses lists the loopback address without zone ids', () => {
  const found = detectOwnAddresses();
  assert.ok(found.includes('127.0.0.1'), found.join(', '));
  for (const a of found) assert.ok(!a.includes('%'), a);
});

test('unreadable addresses: the source drops the event, the destination is withheld', () => {
  const f = filter({});
  assert.equal(f.apply(event('not-an-address', '203.0.113.5')), null);
  assert.equal(f.apply(event('203.0.113.5', 'fe80::1%eth0'))!.dst, null);
  const stats = f.stats();
  assert.equal(stats.droppedUnreadableSource, 1);
  assert.equal(stats.destinationWithheld, 1);
});

test('truncation that would leave :: withholds the destination and drops a source', () => {
  const f = filter({ internal_networks: [{ networks: ['::/16'], policy: 'truncate' }] });
  assert.equal(f.apply(event('203.0.113.5', '::1'))!.dst, null);
  assert.equal(f.apply(event('::1', '203.0.113.5')), null);
});

const anyV4Text = fc.integer({ min: 0, max: 0xffffffff }).map(v4ToText);

test('property: a truncated destination never carries host bits, and hashed ones stay in range', () => {
  fc.assert(
    fc.property(anyV4Text, fc.integer({ min: 0, max: 32 }), (dst, prefix) => {
      const f = filter({ internal_networks: [{ networks: ['0.0.0.0/0'], truncate_ipv4_prefix: prefix }] });
      const out = f.apply(event('2001:db8::1', dst))!.dst!;
      assert.ok(inNetwork(dst, `${out}/${prefix}`), `${dst} → ${out}/${prefix}`);
      const h = filter({ internal_networks: [{ networks: ['0.0.0.0/0'], policy: 'hash' }] });
      assert.ok(inNetwork(h.apply(event('2001:db8::1', dst))!.dst!, HASHED_V4_NETWORK));
    }),
    { numRuns: 300 },
  );
});

test('property: every event is either passed or counted under one drop reason', () => {
  const f = filter({
    admin_sources: ['10.0.0.0/16'],
    internal_networks: [
      { networks: ['10.0.0.0/8'], policy: 'hash' },
      { networks: ['10.128.0.0/9'], policy: 'drop' },
    ],
  });
  fc.assert(
    fc.property(
      fc.integer({ min: 0x0a000000, max: 0x0affffff }).map(v4ToText),
      fc.oneof(fc.constant(null), fc.integer({ min: 0x0a000000, max: 0x0affffff }).map(v4ToText)),
      (src, dst) => {
        const out = f.apply(event(src, dst));
        if (out !== null) {
          const limbs = new Uint32Array(4);
          assert.ok(parseAddress(out.src, limbs, 0) && isV4(limbs, 0));
          assert.ok(inNetwork(formatAddress(limbs, 0), HASHED_V4_NETWORK));
        }
      },
    ),
    { numRuns: 500 },
  );
  const s = f.stats();
  assert.equal(s.seen, s.passed + s.droppedAdmin + s.droppedSource + s.droppedUnreadableSource);
  assert.ok(s.droppedAdmin > 0 && s.droppedSource > 0 && s.passed > 0, JSON.stringify(s));
});

test('property: the IPv4-mapped form of an address is treated exactly as the address, admin rules included', () => {
  const f = filter({
    admin_sources: ['100.64.0.0/10', '2001:db8:ad::/48'],
    own_addresses: ['198.51.100.0/24'],
    internal_networks: [
      { networks: ['10.0.0.0/8', 'fd00::/8'], policy: 'truncate' },
      { networks: ['172.16.0.0/12', '2001:db8:dd::/48'], policy: 'drop' },
    ],
  });
  // Addresses drawn from the rules' networks and just outside them, so that every rule is exercised.
  const near = fc
    .tuple(
      fc.constantFrom(0x64400000, 0xc6336400, 0x0a000000, 0xac100000, 0x0b000000),
      fc.integer({ min: 0, max: 0x3fffff }),
    )
    .map(([base, offset]) => v4ToText((base + offset) >>> 0));
  fc.assert(
    fc.property(near, near, (src, dst) => {
      const plain = f.apply(event(src, dst));
      const mapped = f.apply(event(`::ffff:${src}`, `::ffff:${dst}`));
      assert.equal(mapped === null, plain === null, `${src} -> ${dst}`);
      if (plain !== null && mapped !== null) {
        // Masked addresses come out canonical; unmasked ones keep the text they came with.
        const canonical = (a: string | null) => (a === null ? null : a.replace(/^::ffff:/, ''));
        assert.equal(canonical(mapped.src), canonical(plain.src));
        assert.equal(canonical(mapped.dst), canonical(plain.dst));
      }
      const inAdmin = inNetwork(src, '100.64.0.0/10');
      if (inAdmin) assert.equal(plain, null);
    }),
    { numRuns: 1000 },
  );
  const s = f.stats();
  assert.ok(
    s.droppedAdmin > 0 && s.droppedSource > 0 && s.masked > 0 && s.destinationWithheld > 0,
    JSON.stringify(s),
  );
});

test('property: IPv6 admin sources are excluded and IPv6 truncation keeps only the prefix', () => {
  const f = filter({
    admin_sources: ['2001:db8:ad::/48'],
    internal_networks: [{ networks: ['fd00::/8'], policy: 'truncate', truncate_ipv6_prefix: 56 }],
  });
  const group = fc.integer({ min: 0, max: 0xffff }).map((g) => g.toString(16));
  fc.assert(
    fc.property(fc.array(group, { minLength: 5, maxLength: 5 }), ([a, b, c, d, e]) => {
      assert.equal(f.apply(event(`2001:db8:ad:${a}:${b}::${c}`, '203.0.113.1')), null);
      const dst = `fd${(Number.parseInt(a, 16) & 0xff).toString(16).padStart(2, '0')}:${b}:${c}:${d}::${e}`;
      const out = f.apply(event('203.0.113.1', dst))!.dst!;
      assert.ok(inNetwork(dst, `${out}/56`), `${dst} -> ${out}`);
      assert.ok(
        parseNetwork(`${out}/56`) !== null && typeof parseNetwork(`${out}/56`) !== 'string',
        'no host bits',
      );
    }),
    { numRuns: 500 },
  );
});

test('loadHashKey makes a 0600 key file once and reads the same key after', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portent-privacy-'));
  const file = join(dir, 'privacy.key');
  const key = loadHashKey(file);
  assert.equal(key.length, 32);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(loadHashKey(file), key);
  assert.deepEqual(readFileSync(file), key);
  writeFileSync(file, 'short');
  assert.throws(() => loadHashKey(file), /holds 5 bytes; a key needs at least 16 random bytes/);
  assert.throws(() => loadHashKey(join(dir, 'missing-dir', 'k')), /cannot create privacy.hash_key_file/);
  assert.notDeepEqual(loadHashKey(''), loadHashKey(''), 'no file: a fresh key each time');
});

test('config: defaults, and bad values refused with the reason', () => {
  assert.deepEqual(PRIVACY_DEFAULTS, {
    detect_own_addresses: true,
    own_addresses: [],
    own_address_policy: 'hash',
    internal_networks: [],
    admin_sources: [],
    truncate_ipv4_prefix: 24,
    truncate_ipv6_prefix: 48,
    hash_key_file: './data/sensor/privacy.key',
  });
  assert.equal(
    decodePrivacyConfig({ internal_networks: [{ networks: ['10.0.0.0/8'] }] }).internal_networks[0].policy,
    'truncate',
  );
  assert.throws(() => decodePrivacyConfig({ admin_sources: ['10.1.2.3/8'] }), /did you mean "10.0.0.0\/8"/);
  assert.throws(() => decodePrivacyConfig({ own_address_policy: 'mask' }));
  assert.throws(() => decodePrivacyConfig({ internal_networks: [{ networks: [] }] }));
  assert.throws(() =>
    decodePrivacyConfig({ internal_networks: [{ networks: ['10.0.0.0/8'], polcy: 'drop' }] }),
  );
  assert.throws(() => decodePrivacyConfig({ truncate_ipv4_prefix: 33 }));
  // What a person sees once the section is registered: the shared checker's words.
  const problems = checkConfigValue(
    asNode(PrivacyConfigSchema),
    {
      admin_sources: ['10.1.2.3/8'],
      truncate_ipv6_prefix: 129,
      own_address_policy: 'mask',
      internal_networks: [{ networks: ['10.0.0.0/8'] }, { networks: ['fd00::/8', 'fd00::/200'] }],
    },
    { label: (path) => ['privacy', ...path].join('.'), locate: () => undefined },
  );
  assert.deepEqual(
    problems.map((p) => `${p.path}: ${p.message}`),
    [
      'privacy.admin_sources: item 1 must be a network address with no bits set after the prefix; got "10.1.2.3/8" — did you mean "10.0.0.0/8"?',
      'privacy.truncate_ipv6_prefix: must be an integer from 0 to 128; got 129',
      'privacy.own_address_policy: must be one of "keep", "truncate", "hash", "drop"; got "mask"',
      'privacy.internal_networks.2.networks: item 2 must be a network such as "10.0.0.0/8" or "fd00::/8", or a single address, with a prefix length from 0 to 128; got "fd00::/200"',
    ],
  );
});
