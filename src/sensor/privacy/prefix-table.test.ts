// The prefix table agrees with a plain scan for the longest matching network, on hand-picked and random networks.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isV4, parseAddress } from '../../core/address.ts';
import { networkContains, parseNetwork, type Network } from './network.ts';
import { PrefixTable, type PrefixEntry } from './prefix-table.ts';

function net(text: string): Network {
  const n = parseNetwork(text);
  if (typeof n === 'string') throw new Error(n);
  return n;
}

function lookup(table: PrefixTable, address: string): number {
  const limbs = new Uint32Array(4);
  assert.ok(parseAddress(address, limbs, 0), address);
  return isV4(limbs, 0) ? table.lookupV4(limbs[0]) : table.lookupV6(limbs, 0);
}

/** The answer by definition: the value of the longest containing network, the later one among equals. */
function scan(entries: readonly PrefixEntry[], limbs: Uint32Array): number {
  let best: PrefixEntry | undefined;
  for (const e of entries) {
    if (networkContains(e, limbs, 0) && (best === undefined || e.prefix >= best.prefix)) best = e;
  }
  return best?.value ?? 0;
}

test('longest prefix wins, in both families, at every stride boundary', () => {
  const entries: PrefixEntry[] = [
    { ...net('10.0.0.0/8'), value: 1 },
    { ...net('10.1.0.0/16'), value: 2 },
    { ...net('10.1.2.0/23'), value: 3 },
    { ...net('10.1.2.128/25'), value: 4 },
    { ...net('10.1.2.200'), value: 5 },
    { ...net('2001:db8::/32'), value: 6 },
    { ...net('2001:db8:1::/48'), value: 7 },
    { ...net('2001:db8:1::5'), value: 8 },
    { ...net('0.0.0.0/0'), value: 9 },
  ];
  const table = new PrefixTable(entries);
  const cases: [string, number][] = [
    ['10.200.0.1', 1],
    ['10.1.200.1', 2],
    ['10.1.3.255', 3],
    ['10.1.2.127', 3],
    ['10.1.2.129', 4],
    ['10.1.2.200', 5],
    ['192.0.2.1', 9],
    ['::ffff:10.1.2.200', 5],
    ['2001:db8:2::1', 6],
    ['2001:db8:1:ffff::1', 7],
    ['2001:db8:1::5', 8],
    ['2001:db8:1::4', 7],
    ['2001:db9::1', 0], // ::/0 was not given: IPv4's 0.0.0.0/0 does not cover IPv6
    ['fe80::1', 0],
  ];
  for (const [address, value] of cases) assert.equal(lookup(table, address), value, address);
});

test('an empty table matches nothing', () => {
  const table = new PrefixTable([]);
  assert.equal(lookup(table, '1.2.3.4'), 0);
  assert.equal(lookup(table, '2001:db8::1'), 0);
});

const v4Network = fc
  .tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }))
  .map(([a, p]) => ({
    v4: true,
    limbs: Uint32Array.of(p === 0 ? 0 : (a & (0xffffffff << (32 - p))) >>> 0, 0, 0, 0),
    prefix: p,
  }));

// IPv6 networks drawn near each other (shared top bits) so that nesting actually happens.
const v6Network = fc
  .tuple(
    fc.constantFrom(0x20010db8, 0x20010db9, 0xfd000000),
    fc.integer({ min: 0, max: 3 }),
    fc.integer({ min: 0, max: 0xffffffff }),
    fc.integer({ min: 0, max: 0xffffffff }),
    fc.integer({ min: 0, max: 128 }),
  )
  .map(([top, l2, l1, l0, p]) => {
    const limbs = Uint32Array.of(l0, l1, l2, top);
    for (let k = 0; k < 4; k++) {
      const keep = Math.min(32, Math.max(0, p - 32 * k));
      limbs[3 - k] &= keep === 0 ? 0 : (0xffffffff << (32 - keep)) >>> 0;
    }
    return { v4: false, limbs, prefix: p };
  });

test('property: lookups equal a scan for the longest containing network', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(v4Network, v6Network), { maxLength: 12 }),
      fc.array(
        fc.oneof(
          fc.integer({ min: 0, max: 0xffffffff }).map((a) => Uint32Array.of(a, 0xffff, 0, 0)),
          fc
            .tuple(
              fc.constantFrom(0x20010db8, 0xfd000000),
              fc.integer({ min: 0, max: 3 }),
              fc.integer({ min: 0, max: 0xffffffff }),
              fc.integer({ min: 0, max: 0xffffffff }),
            )
            .map(([top, l2, l1, l0]) => Uint32Array.of(l0, l1, l2, top)),
        ),
        { minLength: 1, maxLength: 20 },
      ),
      (networks, addresses) => {
        const entries = networks.map((n, i) => ({ ...n, value: i + 1 }));
        const table = new PrefixTable(entries);
        // Addresses inside the networks too, or nearly every probe would miss.
        const probes = [
          ...addresses,
          ...entries.map((e) => (e.v4 ? Uint32Array.of(e.limbs[0], 0xffff, 0, 0) : e.limbs)),
        ];
        for (const limbs of probes) {
          const got = isV4(limbs, 0) ? table.lookupV4(limbs[0]) : table.lookupV6(limbs, 0);
          assert.equal(got, scan(entries, limbs));
        }
      },
    ),
    { numRuns: 300 },
  );
});
