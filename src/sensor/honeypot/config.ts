// The `honeypot` configuration section: which ports the low-interaction listeners open, and the bounds they keep.

import Type, { type StaticDecode } from 'typebox';
import Value, { DecodeUnsafe } from 'typebox/value';
import { ByteSize, Duration, Section } from '../../config/types.ts';

/** Longest banner, in bytes: a greeting line, not a file. */
export const MAX_BANNER_BYTES = 4096;

/** One listening port and what it says first. */
export const HoneypotPortSchema = Type.Object(
  {
    port: Type.Integer({
      minimum: 0,
      maximum: 65535,
      description:
        'Port to listen on; 0 picks a free one (tests). Ports below 1024 need privilege: see docs/sensor.md.',
    }),
    banner: Type.String({
      default: '',
      maxLength: MAX_BANNER_BYTES,
      description:
        'Text sent as UTF-8 bytes when a TCP connection opens ("SSH-2.0-OpenSSH_9.6\\r\\n"; YAML double quotes understand \\r\\n). For UDP it is sent back only to a request at least as long. "" sends nothing.',
    }),
    banner_hex: Type.String({
      default: '',
      maxLength: 2 * MAX_BANNER_BYTES,
      pattern: '^([0-9a-fA-F]{2})*$',
      description: 'The banner as hex bytes, for binary protocols; set banner or banner_hex, not both.',
    }),
  },
  { additionalProperties: false },
);

/** Why a list of ports is not acceptable ("port 23 is listed twice"), or undefined. */
function portListProblem(list: unknown): string | undefined {
  if (!Array.isArray(list)) return undefined; // the type check reports that
  const seen = new Set<number>();
  for (const [i, item] of list.entries()) {
    const { port, banner, banner_hex } = (item ?? {}) as {
      port?: unknown;
      banner?: unknown;
      banner_hex?: unknown;
    };
    if (typeof port === 'number' && port !== 0) {
      if (seen.has(port)) return `port ${port} is listed twice`;
      seen.add(port);
    }
    if (typeof banner === 'string' && banner !== '' && typeof banner_hex === 'string' && banner_hex !== '') {
      return `item ${i + 1} sets both banner and banner_hex; keep one`;
    }
    if (typeof banner === 'string' && Buffer.byteLength(banner) > MAX_BANNER_BYTES) {
      return `item ${i + 1} has a banner of ${Buffer.byteLength(banner)} bytes; at most ${MAX_BANNER_BYTES}`;
    }
  }
  return undefined;
}

function PortList(description: string) {
  return Type.Refine(
    Type.Array(HoneypotPortSchema, { default: [], description }),
    (v) => portListProblem(v) === undefined,
    (v) => portListProblem(v) ?? '',
  );
}

/** Schema of the `honeypot` section. */
export const HoneypotConfigSchema = Section(
  'Low-interaction TCP and UDP listeners: accept, optionally greet, record the first bytes, close. Every connection or datagram becomes an event; payloads are kept as bytes and never interpreted.',
  {
    bind_address: Type.Refine(
      Type.String({
        default: '0.0.0.0',
        description:
          'Address the listeners bind to: "0.0.0.0" for all IPv4 addresses, "::" for all IPv6 and IPv4, or one address of this host. UDP events carry a destination only when this is a single address (Node cannot read the destination of a datagram received on a wildcard socket).',
      }),
      (v) => v !== '',
      () => 'must not be empty; use "0.0.0.0" or "::" to listen on all interfaces',
    ),
    tcp_ports: PortList(
      'TCP ports to listen on, e.g. [{port: 2323}, {port: 2222, banner: "SSH-2.0-OpenSSH_9.6\\r\\n"}].',
    ),
    udp_ports: PortList(
      'UDP ports to listen on. By default nothing is ever sent back; a banner is sent only in reply to a datagram at least as long (no amplification), within udp_replies_per_source_per_s.',
    ),
    capture_bytes: ByteSize({
      default: 4096,
      minimum: 1,
      maximum: '1MiB',
      description:
        'Most payload bytes kept per TCP connection or UDP datagram; the rest is discarded and the sample marked truncated.',
    }),
    capture_timeout: Duration({
      default: '5s',
      minimum: '100ms',
      maximum: '5m',
      description: 'How long a TCP connection may stay open, idle or not, before it is closed and recorded.',
    }),
    max_connections: Type.Integer({
      default: 256,
      minimum: 1,
      maximum: 65536,
      description: 'TCP connections open at once, over all ports; more are reset at once and counted.',
    }),
    max_connections_per_source: Type.Integer({
      default: 8,
      minimum: 1,
      maximum: 65536,
      description: 'TCP connections open at once from one source (an IPv4 address or an IPv6 /64).',
    }),
    source_attempts_per_s: Type.Number({
      default: 5,
      minimum: 0.001,
      description:
        'New TCP connections and UDP datagrams accepted per second from one source (token bucket); more are refused and counted, and still recorded as events without payload.',
    }),
    source_attempt_burst: Type.Integer({
      default: 20,
      minimum: 1,
      description: 'How many attempts one source may make at once after a quiet spell (the bucket size).',
    }),
    udp_replies_per_source_per_s: Type.Number({
      default: 1,
      minimum: 0.001,
      description:
        'UDP banner replies per second to one source; a reply is also never longer than its request.',
    }),
    udp_reply_burst: Type.Integer({
      default: 3,
      minimum: 1,
      description: 'UDP banner replies one source may get at once after a quiet spell.',
    }),
    max_buffered_bytes: ByteSize({
      default: '4MiB',
      minimum: '1KiB',
      maximum: '1GiB',
      description:
        'Payload bytes held at once over all open connections; past it, captures are cut short (marked truncated) and counted.',
    }),
    max_events_per_s: Type.Integer({
      default: 1000,
      minimum: 1,
      description:
        'Events the honeypot emits per second (burst of one second); the excess is counted as dropped.',
    }),
    max_tracked_sources: Type.Integer({
      default: 65536,
      minimum: 16,
      maximum: 16777216,
      description:
        'Sources remembered for the per-source limits; when full of active sources, new sources are refused and counted.',
    }),
    max_retasked_ports: Type.Integer({
      default: 16,
      minimum: 0,
      maximum: 1024,
      description:
        'Extra ports the server may ask the honeypot to open for a while (re-tasking); 0 refuses all.',
    }),
    max_retask_duration: Duration({
      default: '24h',
      minimum: '1m',
      maximum: '30d',
      description: 'Longest a re-tasked port stays open; longer requests are cut to this.',
    }),
  },
);

/** The loaded `honeypot` section; `capture_bytes` and `max_buffered_bytes` in bytes, durations in ms. */
export type HoneypotConfig = StaticDecode<typeof HoneypotConfigSchema>;
export type HoneypotPort = StaticDecode<typeof HoneypotPortSchema>;

/**
 * Checks `input` (the section as written) and returns it with defaults filled in and durations and sizes
 * decoded; throws a RangeError listing TypeBox's complaints otherwise. The top-level loader does the same
 * with friendlier messages once the section is registered in src/config/schema.ts.
 */
export function decodeHoneypotConfig(input: unknown = {}): HoneypotConfig {
  const filled = Value.Default(HoneypotConfigSchema, structuredClone(input ?? {}));
  if (!Value.Check(HoneypotConfigSchema, filled)) {
    const problems = Value.Errors(HoneypotConfigSchema, filled).map(
      (e) => `honeypot${e.instancePath.replaceAll('/', '.')}: ${e.message}`,
    );
    throw new RangeError(problems.join('; '));
  }
  return DecodeUnsafe({}, HoneypotConfigSchema, filled) as HoneypotConfig;
}

/** Every key at its default. */
export const HONEYPOT_DEFAULTS: HoneypotConfig = decodeHoneypotConfig({});

/** The bytes a port's banner stands for (empty for none). */
export function bannerBytes(port: HoneypotPort): Buffer {
  return port.banner_hex !== '' ? Buffer.from(port.banner_hex, 'hex') : Buffer.from(port.banner, 'utf8');
}
