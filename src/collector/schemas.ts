// JSON schemas of the collector's responses: Fastify serialises with them and docs/api.md cites them.

import Type from 'typebox';

// ---------------------------------------------------------------------------------------------------------
// Heartbeats, samples and re-tasking

/** Text a sensor reports about itself: shown to operators, so no control characters. */
const Text = (maxLength: number) => Type.String({ maxLength, pattern: '^[^\\u0000-\\u001f\\u007f]*$' });
const Count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
// Null first in every union a body may hold: Fastify's Ajv coerces types, and would turn a null into
// "" or 0 if a string or number branch came first.
const MsOrNull = Type.Union([Type.Null(), Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })]);
const ProtoText = Type.Union([Type.Literal('tcp'), Type.Literal('udp')]);
const Port = Type.Integer({ minimum: 0, maximum: 65535 });

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

export const retaskRequestSchema = Type.Object(
  {
    ports: Type.Array(Type.Object({ proto: ProtoText, port: Port }, { additionalProperties: false }), {
      minItems: 1,
      maxItems: 64,
    }),
    duration_s: Type.Integer({ minimum: 60, maximum: 7 * 86400 }),
    reason: Text(200),
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

export const sampleSchema = Type.Object(
  {
    sha256: Type.String(),
    size: Type.Integer(),
    truncated: Type.Boolean(),
    first_seen: Type.String({ format: 'date-time' }),
    last_seen: Type.String({ format: 'date-time' }),
    seen: Type.Integer(),
    proto: Type.String(),
    port: Type.Integer(),
    base64: Type.String({ description: 'The captured bytes.' }),
    preview: Type.String({
      description:
        'Printable ASCII kept, every other byte as \\xNN: safe to show as text, never to be rendered as HTML.',
    }),
  },
  { additionalProperties: false },
);

export const batchAckSchema = Type.Object(
  {
    status: Type.Union([Type.Literal('stored'), Type.Literal('duplicate')], {
      description: '"duplicate": this batch id was stored before and is not stored again.',
    }),
    batch_id: Type.String({ format: 'uuid' }),
    events: Type.Integer({ minimum: 0 }),
    ingest_seq: Type.Integer({
      minimum: 1,
      description: 'The server-wide sequence number the batch was stored under.',
    }),
  },
  { additionalProperties: false },
);

export const sensorSchema = Type.Object(
  {
    id: Type.String(),
    number: Type.Integer({
      minimum: 1,
      description:
        'The sensor number; DShield clients use it as their userid (docs/api.md, DShield compatibility).',
    }),
    name: Type.String(),
    created: Type.String({ format: 'date-time' }),
    revoked: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    status: Type.Optional(
      Type.Union(
        [Type.Literal('active'), Type.Literal('stale'), Type.Literal('never-seen'), Type.Literal('revoked')],
        {
          description: '"stale": nothing heard for longer than collector.sensor_stale_after.',
        },
      ),
    ),
    last_seen: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
    last_batch: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
    clock_offset_ms: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
    health: Type.Optional(Type.Union([healthSchema, Type.Null()])),
  },
  { additionalProperties: false },
);

export const sensorCreatedSchema = Type.Object(
  {
    id: Type.String(),
    number: Type.Integer({
      minimum: 1,
      description:
        'The sensor number; DShield clients use it as their userid (docs/api.md, DShield compatibility).',
    }),
    name: Type.String(),
    secret: Type.String({ description: 'The HMAC key; shown only once.' }),
    dshield_apikey: Type.String({
      description:
        'The apikey for DShield clients, derived from the secret (docs/api.md, DShield compatibility).',
    }),
    created: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

export const sensorListSchema = Type.Object(
  { sensors: Type.Array(sensorSchema) },
  { additionalProperties: false },
);
