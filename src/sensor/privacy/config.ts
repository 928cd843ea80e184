// The `privacy` configuration section: which addresses the sensor masks before events leave the host, and how.

import Type, { type StaticDecode } from 'typebox';
import Value, { DecodeUnsafe } from 'typebox/value';
import { Section } from '../../config/types.ts';
import { parseNetwork } from './network.ts';

/**
 * What a rule does to a matching address. `keep`: nothing. `truncate`: zero the host bits after the
 * prefix. `hash`: keyed hash into 240.0.0.0/4 (IPv4) or fd00::/8 (IPv6). `drop`: a destination becomes
 * null; an event whose source matches is not sent at all (counted).
 */
export const PRIVACY_POLICIES = ['keep', 'truncate', 'hash', 'drop'] as const;
export type PrivacyPolicy = (typeof PRIVACY_POLICIES)[number];

/** Why an item of a list of networks is not one ("item 2 must be …"), or undefined. */
function networkListProblem(list: unknown, what = 'item'): string | undefined {
  if (!Array.isArray(list)) return undefined; // the type check reports that
  for (const [i, text] of list.entries()) {
    const network = typeof text === 'string' ? parseNetwork(text) : undefined;
    if (typeof network === 'string') return `${what} ${i + 1} ${network}`;
  }
  return undefined;
}

/**
 * A list of networks in CIDR text ("10.0.0.0/8", "fd00::/8") or single addresses. The check sits on the
 * list, not on each string, so that the configuration checker reports it in its own words.
 */
function NetworkList(options: { description: string; default?: string[]; minItems?: number }) {
  return Type.Refine(
    Type.Array(Type.String(), options),
    (v) => networkListProblem(v) === undefined,
    (v) => networkListProblem(v) ?? '',
  );
}

function Policy(defaultPolicy: PrivacyPolicy, description: string) {
  return Type.Enum(PRIVACY_POLICIES, { default: defaultPolicy, description });
}

const V4_PREFIX = { minimum: 0, maximum: 32 };
const V6_PREFIX = { minimum: 0, maximum: 128 };

/** One rule for internal networks: these networks, this policy. */
export const InternalNetworkRuleSchema = Type.Object(
  {
    networks: NetworkList({
      minItems: 1,
      description: 'Networks the rule applies to (CIDR form or single addresses), IPv4 and IPv6 alike.',
    }),
    policy: Policy('truncate', 'What to do with an address in these networks.'),
    truncate_ipv4_prefix: Type.Optional(
      Type.Integer({ ...V4_PREFIX, description: 'Overrides privacy.truncate_ipv4_prefix for this rule.' }),
    ),
    truncate_ipv6_prefix: Type.Optional(
      Type.Integer({ ...V6_PREFIX, description: 'Overrides privacy.truncate_ipv6_prefix for this rule.' }),
    ),
  },
  { additionalProperties: false },
);

function internalRulesProblem(rules: unknown): string | undefined {
  if (!Array.isArray(rules)) return undefined;
  for (const [i, rule] of rules.entries()) {
    const networks = (rule as { networks?: unknown } | null)?.networks;
    const problem = networkListProblem(networks, `rule ${i + 1}, network`);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** Schema of the `privacy` section. */
export const PrivacyConfigSchema = Section(
  "What the sensor masks before events leave the host: its own addresses, internal networks and administrative sources. Rules apply to source and destination alike; the longest matching network wins, and an explicit rule wins over the sensor's own addresses for the same network.",
  {
    detect_own_addresses: Type.Boolean({
      default: true,
      description:
        "Add every address of this host's network interfaces (os.networkInterfaces(), loopback included) to own_addresses when the sensor starts.",
    }),
    own_addresses: NetworkList({
      default: [],
      description:
        "The sensor's own addresses, for those detection cannot see: a public address in front of NAT, a VIP, a network of honeypot addresses.",
    }),
    own_address_policy: Policy(
      'hash',
      "What to do with the sensor's own addresses. The default keeps them distinct without revealing them.",
    ),
    internal_networks: Type.Refine(
      Type.Array(InternalNetworkRuleSchema, {
        default: [],
        description:
          'Rules for internal networks, e.g. [{networks: ["10.0.0.0/8", "fd00::/8"], policy: "truncate"}].',
      }),
      (v) => internalRulesProblem(v) === undefined,
      (v) => internalRulesProblem(v) ?? '',
    ),
    admin_sources: NetworkList({
      default: [],
      description:
        'Sources whose events are never sent (counted only): management hosts, monitoring, vulnerability scanners of your own.',
    }),
    truncate_ipv4_prefix: Type.Integer({
      ...V4_PREFIX,
      default: 24,
      description: 'Bits of an IPv4 address the truncate policy keeps (24 keeps the /24).',
    }),
    truncate_ipv6_prefix: Type.Integer({
      ...V6_PREFIX,
      default: 48,
      description: 'Bits of an IPv6 address the truncate policy keeps (48 keeps the /48, one site).',
    }),
    hash_key_file: Type.String({
      default: './data/sensor/privacy.key',
      description:
        'File holding the sensor-local key of the hash policy; created with 32 random bytes (mode 0600) if absent. Keep it: a new key changes every hashed address. "" uses a random key for each run of the sensor, so hashed addresses are stable only within a run.',
    }),
  },
);

/** The loaded `privacy` section. */
export type PrivacyConfig = StaticDecode<typeof PrivacyConfigSchema>;
export type InternalNetworkRule = StaticDecode<typeof InternalNetworkRuleSchema>;

/**
 * Checks `input` (the section as written, or undefined for none) and returns it with defaults filled in;
 * throws a RangeError listing TypeBox's complaints otherwise. The top-level loader does the same with
 * friendlier messages once the section is registered in src/config/schema.ts.
 */
export function decodePrivacyConfig(input: unknown = {}): PrivacyConfig {
  const filled = Value.Default(PrivacyConfigSchema, structuredClone(input ?? {}));
  if (!Value.Check(PrivacyConfigSchema, filled)) {
    const problems = Value.Errors(PrivacyConfigSchema, filled).map(
      (e) => `privacy${e.instancePath.replaceAll('/', '.')}: ${e.message}`,
    );
    throw new RangeError(problems.join('; '));
  }
  return DecodeUnsafe({}, PrivacyConfigSchema, filled) as PrivacyConfig;
}

/** Every key at its default. */
export const PRIVACY_DEFAULTS: PrivacyConfig = decodePrivacyConfig({});
