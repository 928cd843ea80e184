// Test helper: fast-check arbitraries for events and batches over their full valid ranges, shared by test suites.
//
// Everything generated is valid at ARB_NOW (decode with `clock: new FakeClock(ARB_NOW)`), and addresses are
// in canonical text, so "decode(encode(x))" can be compared with deepStrictEqual. Batches are built from a
// template event so that whole columns are often constant or all-IPv4: those are the encoder's special
// cases and would almost never arise from independent random rows.

import fc from 'fast-check';
import { formatAddress, v4ToText } from '../address.ts';
import {
  ACTION_NAMES,
  EVENT_LIMITS,
  ORIGIN_NAMES,
  type BatchEnvelope,
  type EventBatch,
  type PortentEvent,
} from '../event.ts';
import { eventsToColumns } from './ndjson.ts';

/** The collector's "now" for generated data: every generated time is valid against it. */
export const ARB_NOW = Date.UTC(2026, 0, 1);

/** Any IPv4 address, including 0.0.0.0 and 255.255.255.255. */
export const arbV4Text: fc.Arbitrary<string> = fc
  .oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(0, 0xffffffff, 0x7f000001))
  .map(v4ToText);

/** Any non-zero IPv6 address in canonical text; groups are often zero so every "::" placement occurs. */
export const arbV6Text: fc.Arbitrary<string> = fc
  .array(fc.oneof(fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff })), {
    minLength: 8,
    maxLength: 8,
  })
  .filter((g) => g.some((x) => x !== 0))
  .map((g) => {
    const limbs = new Uint32Array(4);
    for (let k = 0; k < 4; k++) limbs[3 - k] = g[2 * k] * 0x10000 + g[2 * k + 1];
    return formatAddress(limbs, 0);
  });

export type Family = 'v4' | 'v6' | 'any';

export function arbAddressText(family: Family = 'any'): fc.Arbitrary<string> {
  if (family === 'v4') return arbV4Text;
  if (family === 'v6') return arbV6Text;
  return fc.oneof(arbV4Text, arbV6Text);
}

const arbTime = fc.integer({ min: EVENT_LIMITS.minTime, max: ARB_NOW + EVENT_LIMITS.maxFutureMs });
const arbU32Biased = fc.oneof(
  { weight: 3, arbitrary: fc.constant(1) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 0xffffffff }) },
  { weight: 1, arbitrary: fc.constantFrom(2, 10, 100, 0xffffffff) },
);
const arbSha = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .map((b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(''));

export interface EventArbOptions {
  family?: Family;
  /** No fingerprints, payloads, counts or sampling: what a plain firewall log yields. */
  plain?: boolean;
}

/** One valid event. */
export function arbEvent(opts: EventArbOptions = {}): fc.Arbitrary<PortentEvent> {
  const family = opts.family ?? 'any';
  const plain = opts.plain ?? false;
  const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | null> =>
    plain ? fc.constant(null) : fc.option(a, { nil: null });
  return fc
    .record({
      time: arbTime,
      src: arbAddressText(family),
      srcPort: fc.integer({ min: 0, max: 65535 }),
      dst: fc.option(arbAddressText(family), { nil: null, freq: 4 }),
      dstPort: fc.oneof(fc.constantFrom(22, 23, 80, 443, 445, 3389), fc.integer({ min: 0, max: 65535 })),
      proto: fc.oneof(fc.constantFrom(1, 6, 17, 58, 132), fc.integer({ min: 0, max: 255 })),
      tcpFlags: fc.integer({ min: 0, max: 255 }),
      action: fc.constantFrom(...ACTION_NAMES),
      origin: fc.constantFrom(...ORIGIN_NAMES),
      ipId: opt(fc.integer({ min: 0, max: 0xffff })),
      ttl: opt(fc.integer({ min: 0, max: 0xff })),
      window: opt(fc.integer({ min: 0, max: 0xffff })),
      seq: opt(fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(0, 0xffffffff))),
      payloadSha256: opt(arbSha),
      count: plain ? fc.constant(1) : arbU32Biased,
      sampling: plain ? fc.constant(1) : arbU32Biased,
    })
    .map((e) => ({ ...e })); // fc.record makes null-prototype objects; tests compare with plain ones
}

/** A valid envelope (never the nil UUID; software printable ASCII, 1..64 characters). */
export const arbEnvelope: fc.Arbitrary<BatchEnvelope> = fc
  .record({
    batchId: fc.uuid().filter((u) => u !== '00000000-0000-0000-0000-000000000000'),
    seq: fc.oneof(fc.maxSafeNat(), fc.constantFrom(0, Number.MAX_SAFE_INTEGER)),
    created: fc.integer({ min: EVENT_LIMITS.minTime, max: ARB_NOW }),
    software: fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      minLength: 1,
      maxLength: 64,
    }),
  })
  .map((e) => ({ ...e }));

const FIELDS = Object.keys({
  time: 0,
  src: 0,
  srcPort: 0,
  dst: 0,
  dstPort: 0,
  proto: 0,
  tcpFlags: 0,
  action: 0,
  origin: 0,
  ipId: 0,
  ttl: 0,
  window: 0,
  seq: 0,
  payloadSha256: 0,
  count: 0,
  sampling: 0,
} satisfies Record<keyof PortentEvent, 0>) as (keyof PortentEvent)[];

export interface BatchArbOptions extends EventArbOptions {
  minEvents?: number;
  maxEvents?: number;
}

/**
 * Valid events where each field is, by a coin toss per batch, either random per row or copied from
 * one template row; times are sometimes clustered within seconds as in a live sensor's batch.
 */
export function arbEvents(opts: BatchArbOptions = {}): fc.Arbitrary<PortentEvent[]> {
  const family = opts.family ?? fc.constantFrom<Family>('v4', 'v4', 'any');
  return (typeof family === 'string' ? fc.constant(family) : family).chain((fam) =>
    fc
      .tuple(
        fc.array(arbEvent({ ...opts, family: fam }), {
          minLength: opts.minEvents ?? 0,
          maxLength: opts.maxEvents ?? 40,
        }),
        arbEvent({ ...opts, family: fam }),
        fc.array(fc.boolean(), { minLength: FIELDS.length, maxLength: FIELDS.length }),
        fc.option(fc.integer({ min: 0, max: 60_000 }), { nil: null }),
      )
      .map(([events, template, constant, cluster]) =>
        events.map((e, i) => {
          const out: Record<string, unknown> = { ...e };
          FIELDS.forEach((f, k) => {
            if (constant[k]) out[f] = template[f];
          });
          if (cluster !== null && !constant[0]) out.time = template.time - ((i * 7919) % (cluster + 1));
          if ((out.time as number) < EVENT_LIMITS.minTime) out.time = EVENT_LIMITS.minTime;
          return out as unknown as PortentEvent;
        }),
      ),
  );
}

/** A valid batch in columnar form. */
export function arbEventBatch(opts: BatchArbOptions = {}): fc.Arbitrary<EventBatch> {
  return fc
    .tuple(arbEnvelope, arbEvents(opts))
    .map(([env, events]) => ({ ...env, events: eventsToColumns(events) }));
}
