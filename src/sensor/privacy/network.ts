// Networks written as CIDR text, and the two address transformations privacy rules apply: truncation and keyed hashing.

import { createHmac } from 'node:crypto';
import { formatAddress, isV4, parseAddress, v4ToText } from '../../core/address.ts';

/** A parsed network: IPv4 networks are held as a uint32 in limbs[0] with a prefix of 0..32. */
export interface Network {
  v4: boolean;
  limbs: Uint32Array;
  prefix: number;
}

/** Where keyed hashes of IPv4 addresses land: 240.0.0.0/4, reserved ("future use") and never routed. */
export const HASHED_V4_NETWORK = '240.0.0.0/4';
/** Where keyed hashes of IPv6 addresses land: fd00::/8, unique local addresses, never routed. */
export const HASHED_V6_NETWORK = 'fd00::/8';

const V4_HASH_BASE = 0xf0000000;
const V4_HASH_BITS = 0x0fffffff;

/** Bit mask of the top `prefix` bits of a uint32, as a uint32 (0 for prefix 0). */
function mask32(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Zeroes every bit after the first `prefix` of the 128-bit address in limbs[offset..offset+3]. */
function zeroHostBits128(limbs: Uint32Array, offset: number, prefix: number): void {
  for (let k = 0; k < 4; k++) {
    const limbTop = 32 * k; // bits from the top where limb 3-k starts
    const keep = Math.min(32, Math.max(0, prefix - limbTop));
    limbs[offset + 3 - k] &= mask32(keep);
  }
}

/**
 * Parses "10.0.0.0/8", "fd00::/8", a bare address (a /32 or /128), or an IPv6 network inside
 * ::ffff:0:0/96 (an IPv4 network in mapped form, e.g. "::ffff:10.0.0.0/104"). Returns the reason it cannot,
 * in "must be …; got …" form, for anything else, including host bits set after the prefix ("10.1.2.3/8"):
 * that is nearly always a typo, and reading it silently as 10.0.0.0/8 would mask more than was meant.
 */
export function parseNetwork(text: string): Network | string {
  const expected = 'must be a network such as "10.0.0.0/8" or "fd00::/8", or a single address';
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const limbs = new Uint32Array(4);
  if (!parseAddress(addressText, limbs, 0)) return `${expected}; got ${JSON.stringify(text)}`;
  const mappedForm = isV4(limbs, 0) && addressText.includes(':');
  const bits = isV4(limbs, 0) && !mappedForm ? 32 : 128;
  let prefix = bits;
  if (slash >= 0) {
    const lengthText = text.slice(slash + 1);
    prefix = /^(0|[1-9][0-9]{0,2})$/.test(lengthText) ? Number(lengthText) : -1;
    if (prefix < 0 || prefix > bits) {
      return `${expected}, with a prefix length from 0 to ${bits}; got ${JSON.stringify(text)}`;
    }
  }
  const v4 = isV4(limbs, 0) && (!mappedForm || prefix >= 96);
  if (mappedForm && v4) prefix -= 96;
  const network: Network = { v4, limbs: v4 ? Uint32Array.of(limbs[0], 0, 0, 0) : limbs, prefix };
  const masked = v4 ? Uint32Array.of(limbs[0] & mask32(prefix), 0, 0, 0) : limbs.slice();
  if (!v4) zeroHostBits128(masked, 0, prefix);
  if (masked.some((limb, i) => limb !== network.limbs[i])) {
    return `must be a network address with no bits set after the prefix; got ${JSON.stringify(text)} — did you mean "${formatNetwork({ v4, limbs: masked, prefix })}"?`;
  }
  return network;
}

/** CIDR text of a network: "10.0.0.0/8", "fd00::/8". */
export function formatNetwork(n: Network): string {
  return `${n.v4 ? v4ToText(n.limbs[0]) : formatAddress(n.limbs, 0)}/${n.prefix}`;
}

/** True when the address in limbs[offset..offset+3] is inside the network. */
export function networkContains(n: Network, limbs: Uint32Array, offset: number): boolean {
  if (n.v4 !== isV4(limbs, offset)) return false;
  if (n.v4) return (limbs[offset] & mask32(n.prefix)) >>> 0 === n.limbs[0];
  const scratch = limbs.slice(offset, offset + 4);
  zeroHostBits128(scratch, 0, n.prefix);
  return scratch.every((limb, i) => limb === n.limbs[i]);
}

/**
 * Truncates the address in place to its first `v4Prefix` (IPv4) or `v6Prefix` (IPv6) bits, host bits
 * zeroed. IPv4 stays IPv4-mapped, so formatting still gives a dotted quad.
 */
export function truncateAddress(
  limbs: Uint32Array,
  offset: number,
  v4Prefix: number,
  v6Prefix: number,
): void {
  if (isV4(limbs, offset)) limbs[offset] = (limbs[offset] & mask32(v4Prefix)) >>> 0;
  else zeroHostBits128(limbs, offset, v6Prefix);
}

/**
 * Replaces the address in place with its keyed hash: HMAC-SHA256 under `key` of the address's 16 bytes
 * (network order, IPv4 in mapped form, so the two families never share an input), then 28 bits of the
 * digest into 240.0.0.0/4 for IPv4 or 120 bits into fd00::/8 for IPv6. The result still parses as an
 * address of the same family, is the same for the same key and address, and cannot be reversed without
 * the key. Distinct addresses can collide: with 28 bits a collision becomes likely (50 %) among about
 * 19,000 distinct IPv4 addresses, far more than a sensor's own addresses.
 */
export function hashAddress(limbs: Uint32Array, offset: number, key: Buffer): void {
  const input = Buffer.alloc(16);
  for (let k = 0; k < 4; k++) input.writeUInt32BE(limbs[offset + 3 - k], 4 * k);
  const digest = createHmac('sha256', key).update(input).digest();
  if (isV4(limbs, offset)) {
    limbs[offset] = (V4_HASH_BASE | (digest.readUInt32BE(0) & V4_HASH_BITS)) >>> 0;
    return;
  }
  digest[0] = 0xfd; // the prefix byte; digest bytes 1..15 are the 120 hash bits
  for (let k = 0; k < 4; k++) limbs[offset + 3 - k] = digest.readUInt32BE(4 * k);
}
