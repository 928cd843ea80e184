// JSON schemas of the collector's responses: Fastify serialises with them and docs/api.md cites them.

import Type from 'typebox';

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
    name: Type.String(),
    created: Type.String({ format: 'date-time' }),
    revoked: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { additionalProperties: false },
);

export const sensorCreatedSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    secret: Type.String({ description: 'The HMAC key; shown only once.' }),
    created: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

export const sensorListSchema = Type.Object(
  { sensors: Type.Array(sensorSchema) },
  { additionalProperties: false },
);
