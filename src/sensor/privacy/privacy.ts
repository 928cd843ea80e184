// The privacy filter: masks the sensor's own and internal addresses and drops administrative sources, on every event before it leaves the host.

import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { formatAddress, isV4, parseAddress } from '../../core/address.ts';
import type { PortentEvent } from '../../core/event.ts';
import type { PrivacyConfig, PrivacyPolicy } from './config.ts';
import { hashAddress, parseNetwork, truncateAddress, type Network } from './network.ts';
import { PrefixTable, type PrefixEntry } from './prefix-table.ts';

/** Counters since the filter was made; each event is counted once under `passed` or one drop reason. */
export interface PrivacyStats {
  /** Events handed to `apply`. */
  seen: number;
  /** Events returned, masked or not. */
  passed: number;
  /** Events whose source is an administrative source. */
  droppedAdmin: number;
  /** Events whose source matched a `drop` rule (or truncated to the unspecified address ::). */
  droppedSource: number;
  /** Events whose source is not an address, so no rule could be checked; dropped to be safe. */
  droppedUnreadableSource: number;
  /** Passed events whose source or destination was truncated or hashed. */
  masked: number;
  /** Passed events whose destination became null: a `drop` rule, an unreadable address, or truncation to ::. */
  destinationWithheld: number;
}

/** What the filter needs besides its configuration. */
export interface PrivacyFilterOptions {
  /** The hash policy's key (see `loadHashKey`); at least 16 bytes. */
  key: Buffer;
  /** Addresses found on the host's interfaces, used when `detect_own_addresses` is on (`detectOwnAddresses`). */
  detectedAddresses?: readonly string[];
}

interface Rule {
  policy: PrivacyPolicy;
  v4Prefix: number;
  v6Prefix: number;
}

/** Masked results by input text; bounded because internal networks can hold many addresses. */
const CACHE_LIMIT = 65536;

/**
 * Compiled privacy rules. Addresses are parsed once into the 128-bit form and looked up in prefix tables
 * (see prefix-table.ts), so an event that matches no rule costs two parses and two or three table reads.
 */
export class PrivacyFilter {
  readonly #rules: Rule[] = [{ policy: 'keep', v4Prefix: 32, v6Prefix: 128 }]; // index 0: no match
  readonly #table: PrefixTable;
  readonly #admin: PrefixTable | null;
  readonly #key: Buffer;
  readonly #cache = new Map<string, string | null>();
  readonly #scratch = new Uint32Array(4);
  /** Set by #mask when it truncated or hashed, for the `masked` counter. */
  #maskedAny = false;
  readonly #stats: PrivacyStats = {
    seen: 0,
    passed: 0,
    droppedAdmin: 0,
    droppedSource: 0,
    droppedUnreadableSource: 0,
    masked: 0,
    destinationWithheld: 0,
  };

  constructor(config: PrivacyConfig, options: PrivacyFilterOptions) {
    if (options.key.length < 16) throw new RangeError('the privacy hash key must be at least 16 bytes');
    this.#key = options.key;
    const entries: PrefixEntry[] = [];
    const add = (networks: readonly string[], rule: Rule, what: string) => {
      const value = this.#rules.push(rule) - 1;
      for (const text of networks) entries.push({ ...network(text, what), value });
    };
    const defaults = { v4Prefix: config.truncate_ipv4_prefix, v6Prefix: config.truncate_ipv6_prefix };
    // Order matters only between equal networks, where the later entry wins: configured beats detected,
    // and an explicit internal-network rule beats both.
    const own = { policy: config.own_address_policy, ...defaults };
    if (config.detect_own_addresses) add(options.detectedAddresses ?? [], own, 'a detected own address');
    add(config.own_addresses, own, 'privacy.own_addresses');
    config.internal_networks.forEach((r, i) =>
      add(
        r.networks,
        {
          policy: r.policy,
          v4Prefix: r.truncate_ipv4_prefix ?? defaults.v4Prefix,
          v6Prefix: r.truncate_ipv6_prefix ?? defaults.v6Prefix,
        },
        `privacy.internal_networks[${i}]`,
      ),
    );
    this.#table = new PrefixTable(entries);
    this.#admin =
      config.admin_sources.length === 0
        ? null
        : new PrefixTable(
            config.admin_sources.map((t) => ({ ...network(t, 'privacy.admin_sources'), value: 1 })),
          );
  }

  /**
   * The event as it may leave the host: the same object when no rule changed it, a copy with masked
   * addresses when one did, or null when it must not leave at all (counted in `stats()`).
   */
  apply(event: PortentEvent): PortentEvent | null {
    const stats = this.#stats;
    const s = this.#scratch;
    stats.seen++;
    if (!parseAddress(event.src, s, 0)) {
      stats.droppedUnreadableSource++;
      return null;
    }
    const srcV4 = isV4(s, 0);
    if (this.#admin !== null && (srcV4 ? this.#admin.lookupV4(s[0]) : this.#admin.lookupV6(s, 0)) !== 0) {
      stats.droppedAdmin++;
      return null;
    }
    let src: string | null = event.src;
    const srcRule = srcV4 ? this.#table.lookupV4(s[0]) : this.#table.lookupV6(s, 0);
    if (srcRule !== 0) src = this.#mask(event.src, srcRule);
    if (src === null) {
      stats.droppedSource++;
      this.#maskedAny = false;
      return null;
    }
    let dst = event.dst;
    if (dst !== null) {
      if (!parseAddress(dst, s, 0)) dst = null;
      else {
        const dstRule = isV4(s, 0) ? this.#table.lookupV4(s[0]) : this.#table.lookupV6(s, 0);
        if (dstRule !== 0) dst = this.#mask(dst, dstRule);
      }
      if (dst === null) stats.destinationWithheld++;
    }
    stats.passed++;
    if (this.#maskedAny) {
      stats.masked++;
      this.#maskedAny = false;
    }
    if (src === event.src && dst === event.dst) return event;
    return { ...event, src, dst };
  }

  /** A snapshot of the counters. */
  stats(): PrivacyStats {
    return { ...this.#stats };
  }

  /** The masked text of `text` (already parsed into the scratch limbs) under rule `ruleIndex`, or null. */
  #mask(text: string, ruleIndex: number): string | null {
    const rule = this.#rules[ruleIndex];
    if (rule.policy === 'keep') return text;
    if (rule.policy === 'drop') return null;
    this.#maskedAny = true;
    const cached = this.#cache.get(text);
    if (cached !== undefined) return cached;
    const s = this.#scratch;
    if (rule.policy === 'truncate') truncateAddress(s, 0, rule.v4Prefix, rule.v6Prefix);
    else hashAddress(s, 0, this.#key);
    // Truncating an IPv6 address near :: can leave ::, which is not an address an event may carry.
    const masked = (s[0] | s[1] | s[2] | s[3]) === 0 ? null : formatAddress(s, 0);
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(text, masked);
    return masked;
  }
}

function network(text: string, what: string): Network {
  const n = parseNetwork(text);
  if (typeof n === 'string') throw new RangeError(`${what}: ${n}`);
  return n;
}

/** Every address on this host's interfaces, loopback and link-local included, without zone ids. */
export function detectOwnAddresses(): string[] {
  const found = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) found.add(info.address.split('%')[0]);
  }
  return [...found];
}

/** Bytes of a new hash key. */
export const HASH_KEY_BYTES = 32;

/**
 * The hash policy's key from `file`, made (32 random bytes, mode 0600) if the file does not exist.
 * An empty name gives a fresh random key that lasts as long as the process.
 */
export function loadHashKey(file: string): Buffer {
  if (file === '') return randomBytes(HASH_KEY_BYTES);
  let key: Buffer;
  try {
    key = readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(`cannot read privacy.hash_key_file ${file}: ${(err as Error).message}`, { cause: err });
    }
    key = randomBytes(HASH_KEY_BYTES);
    try {
      // "wx": if another process made the file first, its key is the one to use.
      writeFileSync(file, key, { mode: 0o600, flag: 'wx' });
    } catch (writeErr) {
      if ((writeErr as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new Error(
          `cannot create privacy.hash_key_file ${file}: ${(writeErr as Error).message}; create its directory or point the setting elsewhere`,
          { cause: writeErr },
        );
      }
      key = readFileSync(file);
    }
  }
  if (key.length < 16) {
    throw new Error(
      `privacy.hash_key_file ${file} holds ${key.length} bytes; a key needs at least 16 random bytes. ` +
        `Write a new one with "head -c 32 /dev/urandom > ${file}" (every hashed address will change).`,
    );
  }
  return key;
}
