// JSON schemas of the read API: query validation in, serialisation out, and the contract in docs/api.md.

import Type from 'typebox';

const metricFields = {
  events: Type.Number({ minimum: 0, description: 'Events, weighted by count and sampling.' }),
  sources: Type.Integer({ minimum: 0, description: 'Distinct source addresses.' }),
  targets: Type.Integer({
    minimum: 0,
    description: 'Distinct destination addresses (withheld ones not counted).',
  }),
  sensors: Type.Integer({ minimum: 0, description: 'Distinct sensors.' }),
  subnets: Type.Integer({ minimum: 0, description: 'Distinct source /24 networks (IPv6: /48).' }),
};

export const protoParam = Type.Union([
  Type.Literal('tcp'),
  Type.Literal('udp'),
  Type.Literal('icmp'),
  Type.Literal('icmpv6'),
  Type.Literal('sctp'),
]);

export const seriesParamsSchema = Type.Object(
  { proto: protoParam, port: Type.Integer({ minimum: 0, maximum: 65535 }) },
  { additionalProperties: false },
);

export const seriesQuerySchema = Type.Object(
  {
    from: Type.Optional(
      Type.String({ description: 'ISO 8601 time or epoch ms; default: `to` minus 24 hours.', maxLength: 40 }),
    ),
    to: Type.Optional(
      Type.String({ description: 'ISO 8601 time or epoch ms; default: now.', maxLength: 40 }),
    ),
    step: Type.Optional(
      Type.String({
        description: 'A whole number of minutes, hours or days ("1m", "15m", "1h", "1d"); default "1h".',
        maxLength: 12,
      }),
    ),
  },
  { additionalProperties: false },
);

export const seriesResponseSchema = Type.Object(
  {
    proto: Type.String(),
    port: Type.Integer(),
    from: Type.String({ format: 'date-time' }),
    to: Type.String({ format: 'date-time' }),
    step_s: Type.Integer(),
    points: Type.Array(
      Type.Object(
        { t: Type.String({ format: 'date-time' }), ...metricFields },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const topQuerySchema = Type.Object(
  {
    window: Type.Optional(
      Type.String({ description: 'How far back from now: "1h", "24h", "7d"; default "24h".', maxLength: 12 }),
    ),
    by: Type.Optional(
      Type.Union(
        [
          Type.Literal('events'),
          Type.Literal('sources'),
          Type.Literal('targets'),
          Type.Literal('sensors'),
          Type.Literal('subnets'),
        ],
        {
          description: 'Ranking metric; default "sources".',
        },
      ),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Default 10.' })),
  },
  { additionalProperties: false },
);

export const topResponseSchema = Type.Object(
  {
    from: Type.String({ format: 'date-time' }),
    to: Type.String({ format: 'date-time' }),
    by: Type.String(),
    ports: Type.Array(
      Type.Object(
        {
          proto: Type.String(),
          port: Type.Integer(),
          ...metricFields,
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const sourceParamsSchema = Type.Object(
  { ip: Type.String({ maxLength: 64 }) },
  { additionalProperties: false },
);

export const sourceResponseSchema = Type.Object(
  {
    ip: Type.String(),
    first_seen: Type.String({ format: 'date-time' }),
    last_seen: Type.String({ format: 'date-time' }),
    events: Type.Number({ minimum: 0 }),
    ports: Type.Integer({ minimum: 0, description: 'Distinct destination ports over its whole history.' }),
    targets: Type.Integer({ minimum: 0 }),
    sensors: Type.Integer({ minimum: 0 }),
    top_ports: Type.Array(
      Type.Object(
        { proto: Type.String(), port: Type.Integer(), events: Type.Number() },
        { additionalProperties: false },
      ),
      { description: 'Most-hit ports over the 24 hours before last_seen (from raw events).' },
    ),
  },
  { additionalProperties: false },
);

export const healthResponseSchema = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')], {
      description:
        '"degraded": the server answers and stores, but background work listed in problems is failing.',
    }),
    problems: Type.Array(
      Type.Object({ task: Type.String(), message: Type.String() }, { additionalProperties: false }),
    ),
    version: Type.String(),
    uptime_s: Type.Number(),
    store: Type.Object({ events: Type.Number(), batches: Type.Number() }, { additionalProperties: false }),
    pending_batches: Type.Integer(),
  },
  { additionalProperties: false },
);

export const errorResponseSchema = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.String(),
        message: Type.String(),
        hint: Type.String(),
        details: Type.Array(
          Type.Object({ path: Type.String(), message: Type.String() }, { additionalProperties: false }),
        ),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
