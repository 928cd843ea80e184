// Longest-prefix match of an address against many networks in at most a few array reads: a multibit trie.
//
// The privacy rules run on every event, and nearly every address matches nothing, so the miss has to be
// as cheap as it can be: one read of a 65536-entry table indexed by the address's top 16 bits. Below that
// each level is a 256-entry table for the next 8 bits (16-8-8 for IPv4, 16-8-...-8 for IPv6), so a hit
// costs at most 3 reads for IPv4 and 15 for IPv6, whatever the number of networks.

/** A network and the value a lookup returns for addresses inside it (the longest matching prefix wins). */
export interface PrefixEntry {
  /** IPv4 (`v4`) as a uint32, or IPv6 as the four little-endian limbs of src/core/address.ts. */
  v4: boolean;
  limbs: Uint32Array;
  prefix: number;
  /** Positive; 0 is what a lookup returns for "no network matched". */
  value: number;
}

const ROOT_BITS = 16;
const STEP_BITS = 8;

/**
 * Entry encoding inside the tables: 0 = no match, v > 0 = the value of the longest prefix ending here,
 * -n = "look in node n" (node 0 is the root, which nothing points to).
 */
type Nodes = Int32Array[];

/** The `k`-th 8-bit step below the root (k = 0 is bits 16..23 from the top) of a 32- or 128-bit key. */
function stepByte(key: Uint32Array, v4: boolean, k: number): number {
  if (v4) return (key[0] >>> (ROOT_BITS - STEP_BITS * (k + 1))) & 0xff;
  const bit = ROOT_BITS + STEP_BITS * k; // bits from the top
  return (key[3 - (bit >>> 5)] >>> (24 - (bit & 31))) & 0xff;
}

function rootIndex(key: Uint32Array, v4: boolean): number {
  return (v4 ? key[0] : key[3]) >>> 16;
}

function build(entries: readonly PrefixEntry[], v4: boolean): Nodes {
  const nodes: Nodes = [new Int32Array(1 << ROOT_BITS)];
  // Shorter prefixes first, so a longer one always overwrites and a new child inherits what it splits.
  const sorted = entries.filter((e) => e.v4 === v4).sort((a, b) => a.prefix - b.prefix);
  const key = new Uint32Array(4);
  for (const e of sorted) {
    if (!(e.value > 0)) throw new RangeError(`prefix table values must be positive; got ${e.value}`);
    key.set(v4 ? [e.limbs[0], 0, 0, 0] : e.limbs);
    let node = nodes[0];
    let index = rootIndex(key, v4);
    let bitsAfter = ROOT_BITS; // bits of the key resolved once `index` is chosen
    let step = 0;
    while (e.prefix > bitsAfter) {
      let child = node[index];
      if (child >= 0) {
        nodes.push(new Int32Array(1 << STEP_BITS).fill(child));
        child = -(nodes.length - 1);
        node[index] = child;
      }
      node = nodes[-child];
      index = stepByte(key, v4, step++);
      bitsAfter += STEP_BITS;
    }
    // The prefix ends inside this table: it covers a block of 2^(bitsAfter - prefix) entries.
    const span = 2 ** (bitsAfter - e.prefix);
    const first = index - (index % span);
    for (let i = first; i < first + span; i++) node[i] = e.value;
  }
  return nodes;
}

/** An immutable longest-prefix-match table over IPv4 and IPv6 networks. */
export class PrefixTable {
  readonly #v4: Nodes;
  readonly #v6: Nodes;
  readonly #v4Root: Int32Array;
  readonly #v6Root: Int32Array;

  constructor(entries: readonly PrefixEntry[]) {
    this.#v4 = build(entries, true);
    this.#v6 = build(entries, false);
    this.#v4Root = this.#v4[0];
    this.#v6Root = this.#v6[0];
  }

  /** Value of the longest IPv4 network holding the uint32 address `a`, or 0. */
  lookupV4(a: number): number {
    let e = this.#v4Root[a >>> 16];
    if (e >= 0) return e;
    e = this.#v4[-e][(a >>> 8) & 0xff];
    if (e >= 0) return e;
    return this.#v4[-e][a & 0xff];
  }

  /** Value of the longest IPv6 network holding the address in limbs[offset..offset+3], or 0. */
  lookupV6(limbs: Uint32Array, offset: number): number {
    let e = this.#v6Root[limbs[offset + 3] >>> 16];
    for (let bit = ROOT_BITS; e < 0; bit += STEP_BITS) {
      const byte = (limbs[offset + 3 - (bit >>> 5)] >>> (24 - (bit & 31))) & 0xff;
      e = this.#v6[-e][byte];
    }
    return e;
  }

  /** How many tables the trie holds (memory is about 256 KiB per root plus 1 KiB per other table). */
  get tableCount(): number {
    return this.#v4.length + this.#v6.length;
  }
}
