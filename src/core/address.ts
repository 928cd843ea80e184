// IP address text <-> the 4-limb form of EventColumns (four little-endian uint32 limbs, limb 0 least significant).
//
// IPv4 a.b.c.d is held as the IPv4-mapped address ::ffff:a.b.c.d, i.e. limbs [a.b.c.d, 0xffff, 0, 0], so
// one 128-bit column holds both families and sorts/compares as DuckDB's UHUGEINT does. All-zero ("::")
// means "withheld". Parsing runs once per event on the ingest path, so both parsers are hand-written
// character loops: no regular expressions, no splitting, no allocation.

/** Limb 1 of every IPv4-mapped address (bits 32..63 of ::ffff:a.b.c.d). */
const MAPPED = 0x0000ffff;

/** Scratch for the eight 16-bit groups of an IPv6 address; module-level so parsing allocates nothing. */
const groups = new Uint16Array(8);

/**
 * Parses an IPv4 dotted quad in text[start, end) to its uint32 value, or -1. Strict: exactly four
 * decimal octets 0..255 without leading zeros ("01" is refused because some tools read it as octal).
 */
function parseV4(text: string, start: number, end: number): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      if (digits === 1 && octet === 0) return -1; // leading zero
      octet = octet * 10 + (c - 0x30);
      if (octet > 255) return -1;
      digits++;
    } else if (c === 0x2e) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else {
      return -1;
    }
  }
  if (digits === 0 || dots !== 3) return -1;
  // Multiplication rather than shifts keeps the value a non-negative number up to 2^32 - 1.
  return value * 256 + octet;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/**
 * Parses any RFC 4291 section 2.2 text form (hex groups, one "::", a trailing embedded dotted quad)
 * into `groups`; returns false on anything else, including zone ids ("%eth0") and brackets.
 */
function parseV6(text: string): boolean {
  const len = text.length;
  if (len < 2 || len > 45) return false; // 45 = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
  let n = 0; // groups parsed
  let gap = -1; // index in groups where "::" stands
  let i = 0;
  if (text.charCodeAt(0) === 0x3a) {
    if (text.charCodeAt(1) !== 0x3a) return false;
    gap = 0;
    i = 2;
    if (i === len) {
      groups.fill(0);
      return true;
    }
  }
  for (;;) {
    // One group: 1..4 hex digits, or the embedded IPv4 tail.
    const groupStart = i;
    let v = 0;
    while (i < len && i - groupStart < 5) {
      const h = hexValue(text.charCodeAt(i));
      if (h < 0) break;
      v = v * 16 + h;
      i++;
    }
    const digits = i - groupStart;
    if (i < len && text.charCodeAt(i) === 0x2e) {
      // Dotted quad: must be the last thing and fill the last two groups.
      if (n > 6) return false;
      const v4 = parseV4(text, groupStart, len);
      if (v4 < 0) return false;
      groups[n++] = v4 >>> 16;
      groups[n++] = v4 & 0xffff;
      break;
    }
    if (digits === 0 || digits > 4 || n === 8) return false;
    groups[n++] = v;
    if (i === len) break;
    if (text.charCodeAt(i) !== 0x3a) return false;
    i++;
    if (i === len) return false; // trailing single ":"
    if (text.charCodeAt(i) === 0x3a) {
      if (gap >= 0) return false; // a second "::"
      gap = n;
      i++;
      if (i === len) break;
    }
  }
  if (gap < 0) return n === 8;
  if (n > 7) return false; // "::" stands for at least one zero group
  // Move the groups after the gap to the end and zero the gap.
  const tail = n - gap;
  for (let k = 0; k < tail; k++) groups[7 - k] = groups[n - 1 - k];
  for (let k = gap; k < 8 - tail; k++) groups[k] = 0;
  return true;
}

/**
 * Parses IPv4 or IPv6 text into limbs out[offset..offset+3]. Returns false (leaving `out` in an
 * unspecified state) for anything that is not exactly one address.
 */
export function parseAddress(text: string, out: Uint32Array, offset: number): boolean {
  // IPv4 first and without a scan for ":", since IPv4 is nearly all of the traffic.
  const len = text.length;
  if (len >= 7 && len <= 15) {
    const v4 = parseV4(text, 0, len);
    if (v4 >= 0) {
      out[offset] = v4;
      out[offset + 1] = MAPPED;
      out[offset + 2] = 0;
      out[offset + 3] = 0;
      return true;
    }
  }
  if (!parseV6(text)) return false;
  out[offset] = groups[6] * 0x10000 + groups[7];
  out[offset + 1] = groups[4] * 0x10000 + groups[5];
  out[offset + 2] = groups[2] * 0x10000 + groups[3];
  out[offset + 3] = groups[0] * 0x10000 + groups[1];
  return true;
}

/** True when the address is IPv4-mapped (::ffff:0:0/96), i.e. an IPv4 address. */
export function isV4(limbs: Uint32Array, offset: number): boolean {
  return limbs[offset + 1] === MAPPED && limbs[offset + 2] === 0 && limbs[offset + 3] === 0;
}

/** Dotted quad of a uint32 IPv4 value. */
export function v4ToText(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

/**
 * Text of an address: IPv4-mapped addresses as a plain dotted quad (that is what they are to a
 * person), everything else in RFC 5952 canonical form: lower-case hex, no leading zeros, the first
 * longest run of two or more zero groups shortened to "::". All-zero prints as "::"; callers decide
 * whether that means "withheld".
 */
export function formatAddress(limbs: Uint32Array, offset: number): string {
  if (isV4(limbs, offset)) return v4ToText(limbs[offset]);
  for (let k = 0; k < 4; k++) {
    const limb = limbs[offset + 3 - k];
    groups[2 * k] = limb >>> 16;
    groups[2 * k + 1] = limb & 0xffff;
  }
  let bestStart = -1;
  let bestLen = 1; // RFC 5952 4.2.2: a single zero group is not shortened
  for (let k = 0; k < 8;) {
    if (groups[k] !== 0) {
      k++;
      continue;
    }
    let e = k;
    while (e < 8 && groups[e] === 0) e++;
    if (e - k > bestLen) {
      bestStart = k;
      bestLen = e - k;
    }
    k = e;
  }
  let s = '';
  for (let k = 0; k < 8; k++) {
    if (k === bestStart) {
      s += '::';
      k += bestLen - 1;
      continue;
    }
    if (s.length > 0 && !s.endsWith(':')) s += ':';
    s += groups[k].toString(16);
  }
  return s;
}

/** The address as an unsigned 128-bit integer (DuckDB UHUGEINT). */
export function addressToBigInt(limbs: Uint32Array, offset: number): bigint {
  return (
    (BigInt(limbs[offset + 3]) << 96n) |
    (BigInt(limbs[offset + 2]) << 64n) |
    (BigInt(limbs[offset + 1]) << 32n) |
    BigInt(limbs[offset])
  );
}

const MAX_U128 = (1n << 128n) - 1n;

/** Writes an unsigned 128-bit integer as limbs; throws RangeError outside 0..2^128-1. */
export function bigIntToLimbs(v: bigint, out: Uint32Array, offset: number): void {
  if (v < 0n || v > MAX_U128) throw new RangeError(`address value ${v} is outside 0..2^128-1`);
  out[offset] = Number(v & 0xffffffffn);
  out[offset + 1] = Number((v >> 32n) & 0xffffffffn);
  out[offset + 2] = Number((v >> 64n) & 0xffffffffn);
  out[offset + 3] = Number(v >> 96n);
}

/** Smallest key an IPv6 prefix can get; IPv4 /24 keys are the 24-bit values below it. */
const V6_KEY_BASE = 0x01000000;

/**
 * A 32-bit key for the source network an address belongs to: its /24 for IPv4, its /48 for IPv6.
 *
 * Why these prefixes: a /24 is the smallest IPv4 block routed on the Internet, and a /48 is the
 * standard IPv6 end-site assignment and the smallest routinely announced. Whoever holds an IPv6 /48
 * can source from 2^80 addresses, so counting IPv6 sources per address would let a single scanner
 * look like a botnet; grouping at /48 makes "distinct source networks" mean the same thing in both
 * families.
 *
 * IPv4 keys are exact: the /24 itself, 0..2^24-1. A /48 has 48 bits, so IPv6 keys are a hash into
 * 2^24..2^32-1, which keeps them apart from IPv4 keys. The hash is fixed (not seeded) so keys are
 * stable across processes and can be stored. Collisions between /48s are possible (about n^2/2^33
 * expected pairs among n networks, i.e. rare below ~10^4 networks); the key is for counting and
 * grouping, never for identifying a network.
 */
export function prefixKey24(limbs: Uint32Array, offset: number): number {
  if (isV4(limbs, offset)) return limbs[offset] >>> 8;
  // The /48 is limb 3 (bits 96..127) and the top half of limb 2 (bits 80..95): murmur3-style mix.
  let h = Math.imul(limbs[offset + 3] ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h ^ (limbs[offset + 2] >>> 16), 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  // Map the 32-bit hash into [2^24, 2^32) without favouring any part of the range noticeably.
  return V6_KEY_BASE + ((h >>> 0) % (0x100000000 - V6_KEY_BASE));
}
