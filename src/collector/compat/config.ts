// The `dshield` and `hpfeeds` configuration sections: the compatibility entrances for sensors that speak other protocols.

import Type, { type StaticDecode } from 'typebox';
import { ByteSize, Duration, Section } from '../../config/types.ts';

/** Schema of the `dshield` section. */
export const DShieldConfigSchema = Section(
  'The DShield-compatible submission route (POST /submitapi/) for unmodified DShield clients: fwlogparser, the Cowrie dshield output and the DShield web honeypot.',
  {
    enabled: Type.Boolean({
      default: false,
      description:
        "Serve /submitapi/ on the HTTP server. Off by default: DShield's authentication does not cover the body, so serve it over TLS only.",
    }),
    max_body_bytes: ByteSize({
      default: '16MiB',
      minimum: '1KiB',
      maximum: '256MiB',
      description:
        'Largest submission body; larger ones are refused with 413. fwlogparser sends up to 100,000 records, about 11 MiB.',
    }),
    max_records: Type.Integer({
      default: 100000,
      minimum: 1,
      maximum: 1000000,
      description: 'Most records in one submission; more are refused whole with 413.',
    }),
    nonce_memory: Duration({
      default: '24h',
      minimum: '1m',
      maximum: '30d',
      description:
        "How long a used X-ISC-Authorization nonce is remembered and refused if seen again. DShield's header has no timestamp, so this is the only replay guard.",
    }),
    max_remembered_nonces: Type.Integer({
      default: 200000,
      minimum: 1000,
      maximum: 10000000,
      description:
        'Most nonces remembered at once (about 100 bytes each); past it the oldest are forgotten before nonce_memory is up.',
    }),
  },
);

/** The loaded `dshield` section; sizes in bytes, `nonce_memory` in milliseconds. */
export type DShieldConfig = StaticDecode<typeof DShieldConfigSchema>;

/** Schema of the `hpfeeds` section. */
export const HpfeedsConfigSchema = Section(
  'A publish-only hpfeeds broker: a TCP listener for honeypots that report over hpfeeds (Cowrie, Dionaea, Conpot).',
  {
    enabled: Type.Boolean({ default: false, description: 'Listen for hpfeeds connections.' }),
    listen_host: Type.String({
      default: '127.0.0.1',
      minLength: 1,
      description: 'Address to listen on; "0.0.0.0" or "::" to accept honeypots on other machines.',
    }),
    listen_port: Type.Integer({
      default: 10000,
      minimum: 0,
      maximum: 65535,
      description: "TCP port; 10000 is the hpfeeds brokers' usual port. 0 picks a free port.",
    }),
    broker_name: Type.String({
      default: 'portent',
      minLength: 1,
      maxLength: 255,
      pattern: '^[\\x21-\\x7e]+$',
      description: 'Name sent to clients in OP_INFO; printable ASCII without spaces.',
    }),
    max_connections: Type.Integer({
      default: 64,
      minimum: 1,
      maximum: 100000,
      description: 'Open connections at most; one more is sent HPFEEDS_TOO_MANY_CONNECTIONS and closed.',
    }),
    max_message_bytes: ByteSize({
      default: '1MiB',
      minimum: '1KiB',
      maximum: '64MiB',
      description:
        'Largest message after the 5-byte header (1 MiB, as in the reference broker); a longer one closes the connection with HPFEEDS_FRAME_TOO_LARGE.',
    }),
    max_messages_per_s: Type.Integer({
      default: 1000,
      minimum: 1,
      description:
        'Per connection: messages read per second, with bursts of one second. Past it the broker stops reading the socket for a while, so TCP slows the client down; nothing is dropped.',
    }),
    batch_max_events: Type.Integer({
      default: 1000,
      minimum: 1,
      maximum: 100000,
      description: 'Per connection: a batch goes to the store when it has this many events.',
    }),
    batch_max_delay: Duration({
      default: '1s',
      minimum: '10ms',
      maximum: '1m',
      description: 'Per connection: a batch goes to the store at the latest this long after its first event.',
    }),
    auth_timeout: Duration({
      default: '10s',
      minimum: '1s',
      maximum: '5m',
      description: 'A connection that has not sent OP_AUTH this long after connecting is closed.',
    }),
    idle_timeout: Duration({
      default: '1h',
      minimum: '10s',
      maximum: '7d',
      description: 'A connection that sends nothing for this long is closed (its events are stored first).',
    }),
  },
);

/** The loaded `hpfeeds` section; sizes in bytes, durations in milliseconds. */
export type HpfeedsConfig = StaticDecode<typeof HpfeedsConfigSchema>;
