// JSON schemas of the incident and threat-level routes: query and body validation in, serialisation out.

import Type from 'typebox';
import { INCIDENT_STATES, SEVERITIES, THREAT_COLOURS } from '../analysis/incidents/incident.ts';
import { protoParam } from './schemas.ts';

/** Limits on analyst text: what a person writes by hand, with room, and no more. */
export const TEXT_LIMITS = { author: 64, reason: 500, note: 4000 } as const;

const time = Type.String({ format: 'date-time' });
const timeOrNull = Type.Union([time, Type.Null()]);
const stateEnum = Type.Enum(INCIDENT_STATES);
const severityEnum = Type.Enum(SEVERITIES);
const colourEnum = Type.Enum(THREAT_COLOURS);
const timeParam = (description: string) => Type.String({ description, maxLength: 40 });
const author = Type.String({
  minLength: 1,
  maxLength: TEXT_LIMITS.author,
  description: 'Who decided; one line.',
});
const reason = Type.String({ minLength: 1, maxLength: TEXT_LIMITS.reason, description: 'Why; plain text.' });
const expires = (description: string) => Type.String({ minLength: 1, maxLength: 40, description });

export const incidentListQuerySchema = Type.Object(
  {
    open: Type.Optional(Type.Boolean({ description: 'true: not ended; false: ended only.' })),
    state: Type.Optional(stateEnum),
    proto: Type.Optional(protoParam),
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    since: Type.Optional(timeParam('Only incidents updated at or after this ISO 8601 time or epoch ms.')),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Default 100.' })),
  },
  { additionalProperties: false },
);

export const incidentParamsSchema = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 128 }) },
  { additionalProperties: false },
);

export const noteBodySchema = Type.Object(
  {
    author,
    text: Type.String({
      minLength: 1,
      maxLength: TEXT_LIMITS.note,
      description: 'Plain text; newlines kept.',
    }),
  },
  { additionalProperties: false },
);

export const incidentOverrideBodySchema = Type.Object(
  {
    author,
    reason,
    severity: Type.Optional(severityEnum),
    close: Type.Optional(Type.Boolean()),
    expires: Type.Optional(expires('A duration from now ("2h") or an ISO 8601 time; absent: until changed.')),
  },
  { additionalProperties: false },
);

export const threatOverrideBodySchema = Type.Object(
  {
    level: colourEnum,
    reason,
    author,
    expires: expires('A duration from now ("2h") or an ISO 8601 time, at most 7 days ahead.'),
  },
  { additionalProperties: false },
);

export const threatLevelQuerySchema = Type.Object(
  { format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('text')])) },
  { additionalProperties: false },
);

export const historyQuerySchema = Type.Object(
  {
    from: Type.Optional(timeParam('Changes at or after this ISO 8601 time or epoch ms.')),
    to: Type.Optional(timeParam('Changes before this ISO 8601 time or epoch ms.')),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Default 100.' })),
  },
  { additionalProperties: false },
);

const measuresSchema = Type.Object(
  {
    events: Type.Number(),
    sources: Type.Number(),
    targets: Type.Number(),
    sensors: Type.Number(),
    subnets: Type.Number(),
    new_sources: Type.Number(),
    networks: Type.Number(),
    countries: Type.Union([Type.Number(), Type.Null()]),
  },
  { additionalProperties: false },
);

export const incidentSchema = Type.Object(
  {
    id: Type.String(),
    proto: Type.String(),
    port: Type.Union([Type.Integer(), Type.Null()]),
    group: Type.Union([Type.String(), Type.Null()]),
    state: stateEnum,
    surge: Type.Integer(),
    previous: Type.Union([Type.String(), Type.Null()]),
    onset: time,
    confirmed: timeOrNull,
    peak_at: time,
    peak: measuresSchema,
    baseline: measuresSchema,
    xfold: Type.Number(),
    significance: Type.Number(),
    rank: Type.Object(
      {
        largest_since: timeOrNull,
        most_significant_since: timeOrNull,
        first_seen: timeOrNull,
        text: Type.String(),
      },
      { additionalProperties: false },
    ),
    confidence: Type.Number(),
    severity: severityEnum,
    summary: Type.String(),
    reasons: Type.Array(Type.String()),
    last_anomalous: time,
    ended: timeOrNull,
    updated: time,
    notes: Type.Array(
      Type.Object({ at: time, author: Type.String(), text: Type.String() }, { additionalProperties: false }),
    ),
    override: Type.Union([
      Type.Object(
        {
          at: time,
          author: Type.String(),
          reason: Type.String(),
          severity: Type.Optional(severityEnum),
          close: Type.Optional(Type.Boolean()),
          expires: Type.Optional(time),
        },
        { additionalProperties: false },
      ),
      Type.Null(),
    ]),
  },
  { additionalProperties: false },
);

export const incidentListSchema = Type.Object(
  { incidents: Type.Array(incidentSchema) },
  { additionalProperties: false },
);

export const threatLevelSchema = Type.Object(
  {
    level: colourEnum,
    since: time,
    computed: colourEnum,
    reason: Type.String(),
    incidents: Type.Array(Type.String()),
    override: Type.Union([
      Type.Object(
        { level: colourEnum, reason: Type.String(), author: Type.String(), at: time, expires: time },
        { additionalProperties: false },
      ),
      Type.Null(),
    ]),
  },
  { additionalProperties: false },
);

export const threatHistorySchema = Type.Object(
  {
    changes: Type.Array(
      Type.Object(
        { at: time, from: colourEnum, to: colourEnum, reason: Type.String() },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
