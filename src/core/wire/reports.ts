// What a sensor reports besides events, as JSON schemas shared by the sensor and the collector: heartbeats
// (health out, re-tasking back) and payload sample uploads. docs/api.md documents each field.

import Type from 'typebox';

/** Text a sensor reports about itself: shown to operators, so no control characters. */
export const Text = (maxLength: number) =>
  Type.String({ maxLength, pattern: '^[^\\u0000-\\u001f\\u007f]*$' });
const Count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
// Null first in every union a body may hold: Fastify's Ajv coerces types, and would turn a null into
// "" or 0 if a string or number branch came first.
const MsOrNull = Type.Union([Type.Null(), Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })]);
export const ProtoText = Type.Union([Type.Literal('tcp'), Type.Literal('udp')]);
export const Port = Type.Integer({ minimum: 0, maximum: 65535 });

/** What a sensor says about itself every heartbeat; docs/sensor.md explains each field. */
export const healthSchema = Type.Object(
  {
    time: Type.Integer({
      minimum: 0,
      description: "The sensor's clock when it sent this, ms since the epoch.",
    }),
    software: Text(64),
    started: Type.Integer({ minimum: 0 }),
    retaskable: Type.Boolean({ description: 'The sensor accepts requests to open honeypot ports.' }),
    lag_ms: Type.Union([Type.Null(), Count], {
      description: 'Age of the oldest event not yet acknowledged.',
    }),
    spool: Type.Object(
      {
        bytes: Count,
        segments: Count,
        sampling: Type.Integer({ minimum: 1, description: 'Keeping 1 event in this many (1: no sampling).' }),
        sampled_away: Count,
        quarantined: Count,
      },
      { additionalProperties: false },
    ),
    shipper: Type.Object(
      {
        batches_sent: Count,
        events_sent: Count,
        retries: Count,
        last_success: MsOrNull,
        last_error: Type.Union([
          Type.Null(),
          Type.Object({ code: Text(64), message: Text(500), at: Count }, { additionalProperties: false }),
        ]),
      },
      { additionalProperties: false },
    ),
    sources: Type.Array(
      Type.Object(
        {
          name: Text(256),
          format: Type.Union([Type.Null(), Text(32)]),
          events: Count,
          skipped: Count,
          errors: Count,
          last_error: Type.Union([Type.Null(), Text(500)]),
        },
        { additionalProperties: false },
      ),
      { maxItems: 256 },
    ),
    honeypot: Type.Union([
      Type.Null(),
      Type.Object(
        {
          listening: Type.Array(
            Type.Object({ proto: ProtoText, port: Port }, { additionalProperties: false }),
            {
              maxItems: 1024,
            },
          ),
          connections: Count,
          refused: Count,
          payloads: Count,
        },
        { additionalProperties: false },
      ),
    ]),
    privacy: Type.Object({ masked: Count, dropped: Count }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);

export const retaskSchema = Type.Object(
  {
    proto: ProtoText,
    port: Port,
    until: Type.String({ format: 'date-time' }),
    reason: Type.String(),
  },
  { additionalProperties: false },
);

export const heartbeatAckSchema = Type.Object(
  {
    server_time: Type.String({ format: 'date-time' }),
    clock_offset_ms: Type.Integer({
      description: "The sensor's clock minus the server's, as seen on arrival.",
    }),
    retask: Type.Array(retaskSchema, {
      description: 'Ports to listen on until the given time (retaskable sensors).',
    }),
  },
  { additionalProperties: false },
);

/** Payload samples as a sensor uploads them; the server checks each digest against the bytes. */
export const samplesUploadSchema = Type.Object(
  {
    samples: Type.Array(
      Type.Object(
        {
          sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
          bytes: Type.String({ maxLength: 87384, pattern: '^[A-Za-z0-9+/]*={0,2}$', description: 'Base64.' }),
          truncated: Type.Boolean(),
          time: Type.Integer({ minimum: 0 }),
          proto: ProtoText,
          port: Port,
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 64 },
    ),
  },
  { additionalProperties: false },
);
