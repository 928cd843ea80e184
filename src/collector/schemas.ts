// JSON schemas of the collector's responses: Fastify serialises with them and docs/api.md cites them.

import Type from 'typebox';
import { healthSchema, Port, ProtoText, Text } from '../core/wire/reports.ts';

export { healthSchema, heartbeatAckSchema, retaskSchema, samplesUploadSchema } from '../core/wire/reports.ts';

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
