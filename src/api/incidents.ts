// The incident and threat-level routes: read incidents and the level, and (admin) notes and overrides.
// Handlers see only the StateStore interface, a Clock and an optional Bus; the analyzer writes incidents.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Static } from 'typebox';
import type {
  Incident,
  IncidentOverride,
  IncidentState,
  Measures,
  ThreatLevel,
} from '../analysis/incidents/incident.ts';
import { publishJson, SUBJECTS, type Bus } from '../bus/bus.ts';
import type { Clock } from '../core/clock.ts';
import { PortentError } from '../core/errors.ts';
import { Proto, protoName, type ProtoName } from '../core/event.ts';
import { parseDuration } from '../config/types.ts';
import type { StateStore, ThreatOverride } from '../storage/state-store.ts';
import { adminOnly } from './admin.ts';
import {
  historyQuerySchema,
  incidentListQuerySchema,
  incidentListSchema,
  incidentOverrideBodySchema,
  incidentParamsSchema,
  incidentSchema,
  noteBodySchema,
  threatHistorySchema,
  threatLevelQuerySchema,
  threatLevelSchema,
  threatOverrideBodySchema,
} from './incident-schemas.ts';
import { parseTime } from './routes.ts';

export interface IncidentRouteDeps {
  state: StateStore;
  clock: Clock;
  /** Empty disables the admin routes. */
  adminToken: string;
  /** Shown as `since` while no threat level has been computed. */
  startedAt: number;
  /** Hears of analysts' changes, so alerting and the analyzer react; absent in tests that need none. */
  bus?: Bus;
}

/** The longest a threat-level override may last: a forgotten one must not hide real alarms for long. */
export const MAX_THREAT_OVERRIDE_MS = 7 * 86_400_000;
const DEFAULT_LIMIT = 100;

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

/** Controls, line and paragraph separators, and bidi overrides (which make text read differently than it is). */
const UNSAFE = /[\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069]/u;
const UNSAFE_EXCEPT_TAB_NEWLINE = /[^\P{Cc}\t\n]|[\u2028\u2029\u202A-\u202E\u2066-\u2069]/u;

/** Refuses analyst text that is not printable: it is shown in dashboards, logs and e-mail. */
function checkText(value: string, path: string, multiline: boolean): string {
  const bad = multiline ? UNSAFE_EXCEPT_TAB_NEWLINE : UNSAFE;
  let problem: string | undefined;
  if (!value.isWellFormed()) problem = 'must be valid Unicode text';
  else if (bad.test(value))
    problem = multiline
      ? 'must be printable text: no control characters other than newline and tab'
      : 'must be printable text on one line: no control characters';
  else if (value.trim() === '') problem = 'must not be blank';
  if (problem !== undefined)
    throw new PortentError('BODY_INVALID', { details: [{ path, message: problem }] });
  return value;
}

/** When an override ends: a duration from now ("2h") or a time (ISO 8601 or epoch ms), in the future. */
function parseExpires(text: string, now: number, maxAheadMs: number | null): number {
  let at: number;
  try {
    at = now + parseDuration(text);
  } catch {
    try {
      at = parseTime(text, 'expires');
    } catch {
      throw expiresError(`must be a duration such as "2h" or an ISO 8601 time with a zone; got "${text}"`);
    }
  }
  if (at <= now) throw expiresError('must be in the future');
  if (maxAheadMs !== null && at - now > maxAheadMs)
    throw expiresError(`must be at most ${maxAheadMs / 86_400_000} days ahead`);
  return at;
}

const expiresError = (message: string) =>
  new PortentError('BODY_INVALID', { details: [{ path: '/expires', message }] });

const measuresJson = (m: Measures) => ({
  events: m.events,
  sources: m.sources,
  targets: m.targets,
  sensors: m.sensors,
  subnets: m.subnets,
  new_sources: m.newSources,
  networks: m.networks,
  countries: m.countries,
});

/** An incident as the API shows it: snake_case names, ISO times, the protocol by name. */
export function incidentJson(i: Incident): Static<typeof incidentSchema> {
  const o = i.override;
  return {
    id: i.id,
    proto: protoName(i.proto),
    port: i.port,
    group: i.group,
    state: i.state,
    surge: i.surge,
    previous: i.previous,
    onset: iso(i.onset),
    confirmed: isoOrNull(i.confirmed),
    peak_at: iso(i.peakAt),
    peak: measuresJson(i.peak),
    baseline: measuresJson(i.baseline),
    xfold: i.xfold,
    significance: i.significance,
    rank: {
      largest_since: isoOrNull(i.rank.largestSince),
      most_significant_since: isoOrNull(i.rank.mostSignificantSince),
      first_seen: isoOrNull(i.rank.firstSeen),
      text: i.rank.text,
    },
    confidence: i.confidence,
    severity: i.severity,
    summary: i.summary,
    reasons: i.reasons,
    last_anomalous: iso(i.lastAnomalous),
    ended: isoOrNull(i.ended),
    updated: iso(i.updated),
    notes: i.notes.map((n) => ({ at: iso(n.at), author: n.author, text: n.text })),
    override:
      o === null
        ? null
        : {
            at: iso(o.at),
            author: o.author,
            reason: o.reason,
            ...(o.severity !== undefined && { severity: o.severity }),
            ...(o.close !== undefined && { close: o.close }),
            ...(o.expires !== undefined && { expires: iso(o.expires) }),
          },
  };
}

/**
 * The level to show now: the analyzer's last level with the analyst's override applied at once (the
 * analyzer applies it too on its next run), or green "no incidents analysed yet" before the first.
 */
export function viewThreatLevel(
  stored: ThreatLevel | null,
  o: ThreatOverride | null,
  now: number,
  startedAt: number,
): ThreatLevel {
  const base: ThreatLevel = stored ?? {
    level: 'green',
    since: startedAt,
    computed: 'green',
    reason: 'no incidents analysed yet',
    incidents: [],
    override: null,
  };
  if (o !== null && o.expires > now) {
    return {
      ...base,
      level: o.level,
      since: base.level === o.level ? base.since : o.at,
      reason: `set by ${o.author}: ${o.reason}`,
      override: o,
    };
  }
  // An override the analyzer applied has since been cleared or has expired: back to the computed level.
  if (base.override !== null)
    return {
      ...base,
      level: base.computed,
      since: base.level === base.computed ? base.since : Math.min(now, base.override.expires),
      override: null,
    };
  return base;
}

const threatJson = (t: ThreatLevel): Static<typeof threatLevelSchema> => ({
  level: t.level,
  since: iso(t.since),
  computed: t.computed,
  reason: t.reason,
  incidents: t.incidents,
  override:
    t.override === null ? null : { ...t.override, at: iso(t.override.at), expires: iso(t.override.expires) },
});

/** One line for terminals and status bars; every control character becomes a space. */
export function threatText(t: ThreatLevel): string {
  const since = iso(t.since).replace(/\.\d{3}Z$/, 'Z');
  return `${t.level} since ${since}: ${t.reason.replace(new RegExp(UNSAFE.source, 'gu'), ' ')}\n`;
}

/** Text when asked by ?format=text, or when Accept names text/plain before any JSON type. */
function wantsText(req: FastifyRequest, format: 'json' | 'text' | undefined): boolean {
  if (format !== undefined) return format === 'text';
  for (const part of (req.headers.accept ?? '').split(',')) {
    const type = part.split(';')[0].trim().toLowerCase();
    if (type === 'text/plain') return true;
    if (type === 'application/json' || type === '*/*') return false;
  }
  return false;
}

export async function incidentRoutes(app: FastifyInstance, deps: IncidentRouteDeps): Promise<void> {
  const { state, clock, bus } = deps;
  const admin = adminOnly(deps.adminToken);

  const found = async (id: string): Promise<Incident> => {
    const i = await state.incident(id);
    if (i === null)
      throw new PortentError('INCIDENT_NOT_FOUND', {
        message: `No incident has the id "${id.slice(0, 80)}".`,
      });
    return i;
  };

  /** Tells the bus; the change is stored already, so a failed publish is logged, not answered. */
  const tell = async (req: FastifyRequest, subject: string, value: unknown): Promise<void> => {
    if (bus === undefined) return;
    await publishJson(bus, subject, value).catch((err: unknown) =>
      req.log.warn({ err, subject }, 'Could not publish an analyst change on the bus.'),
    );
  };

  const currentLevel = async (): Promise<ThreatLevel> =>
    viewThreatLevel(await state.threatLevel(), await state.threatOverride(), clock.now(), deps.startedAt);

  app.get(
    '/api/v1/incidents',
    { schema: { querystring: incidentListQuerySchema, response: { 200: incidentListSchema } } },
    async (req) => {
      const q = req.query as Static<typeof incidentListQuerySchema>;
      const incidents = await state.incidents({
        open: q.open,
        state: q.state as IncidentState | undefined,
        proto: q.proto === undefined ? undefined : Proto[q.proto as ProtoName],
        port: q.port,
        since: q.since === undefined ? undefined : parseTime(q.since, 'since'),
        limit: q.limit ?? DEFAULT_LIMIT,
      });
      return { incidents: incidents.map(incidentJson) };
    },
  );

  app.get(
    '/api/v1/incidents/:id',
    { schema: { params: incidentParamsSchema, response: { 200: incidentSchema } } },
    async (req) => incidentJson(await found((req.params as { id: string }).id)),
  );

  app.post(
    '/api/v1/incidents/:id/notes',
    {
      onRequest: admin,
      schema: { params: incidentParamsSchema, body: noteBodySchema, response: { 201: incidentSchema } },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      const body = req.body as Static<typeof noteBodySchema>;
      await state.addIncidentNote(id, {
        at: clock.now(),
        author: checkText(body.author, '/author', false),
        text: checkText(body.text, '/text', true),
      });
      const i = await found(id);
      await tell(req, SUBJECTS.incidents, i);
      reply.code(201);
      return incidentJson(i);
    },
  );

  app.post(
    '/api/v1/incidents/:id/override',
    {
      onRequest: admin,
      schema: {
        params: incidentParamsSchema,
        body: incidentOverrideBodySchema,
        response: { 200: incidentSchema },
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const body = req.body as Static<typeof incidentOverrideBodySchema>;
      if (body.severity === undefined && body.close !== true)
        throw new PortentError('BODY_INVALID', {
          message: 'An override must change something: give a severity, or close: true.',
          details: [{ path: '/severity', message: 'is required unless close is true' }],
        });
      const now = clock.now();
      const o: IncidentOverride = {
        at: now,
        author: checkText(body.author, '/author', false),
        reason: checkText(body.reason, '/reason', true),
      };
      if (body.severity !== undefined) o.severity = body.severity;
      if (body.close !== undefined) o.close = body.close;
      if (body.expires !== undefined) o.expires = parseExpires(body.expires, now, null);
      await state.setIncidentOverride(id, o);
      const i = await found(id);
      await tell(req, SUBJECTS.incidents, i);
      return incidentJson(i);
    },
  );

  app.delete(
    '/api/v1/incidents/:id/override',
    { onRequest: admin, schema: { params: incidentParamsSchema, response: { 200: incidentSchema } } },
    async (req) => {
      const { id } = req.params as { id: string };
      await state.setIncidentOverride(id, null);
      const i = await found(id);
      await tell(req, SUBJECTS.incidents, i);
      return incidentJson(i);
    },
  );

  app.get(
    '/api/v1/threatlevel',
    { schema: { querystring: threatLevelQuerySchema, response: { 200: threatLevelSchema } } },
    async (req, reply: FastifyReply) => {
      const level = await currentLevel();
      const { format } = req.query as Static<typeof threatLevelQuerySchema>;
      if (!wantsText(req, format)) return threatJson(level);
      // Reason text is data an analyst typed: plain text only, never to be sniffed as HTML.
      reply.header('x-content-type-options', 'nosniff').type('text/plain; charset=utf-8');
      return threatText(level);
    },
  );

  app.get(
    '/api/v1/threatlevel/history',
    { schema: { querystring: historyQuerySchema, response: { 200: threatHistorySchema } } },
    async (req) => {
      const q = req.query as Static<typeof historyQuerySchema>;
      const from = q.from === undefined ? undefined : parseTime(q.from, 'from');
      const to = q.to === undefined ? undefined : parseTime(q.to, 'to');
      if (from !== undefined && to !== undefined && from >= to)
        throw new PortentError('QUERY_INVALID', {
          details: [{ path: '/from', message: '`from` must be before `to`' }],
        });
      const changes = await state.threatLevelHistory({ from, to, limit: q.limit ?? DEFAULT_LIMIT });
      return { changes: changes.map((c) => ({ ...c, at: iso(c.at) })) };
    },
  );

  app.put(
    '/api/v1/threatlevel/override',
    { onRequest: admin, schema: { body: threatOverrideBodySchema, response: { 200: threatLevelSchema } } },
    async (req) => {
      const body = req.body as Static<typeof threatOverrideBodySchema>;
      const now = clock.now();
      await state.setThreatOverride({
        level: body.level,
        reason: checkText(body.reason, '/reason', true),
        author: checkText(body.author, '/author', false),
        at: now,
        expires: parseExpires(body.expires, now, MAX_THREAT_OVERRIDE_MS),
      });
      const level = await currentLevel();
      await tell(req, SUBJECTS.threatLevel, level);
      return threatJson(level);
    },
  );

  app.delete(
    '/api/v1/threatlevel/override',
    { onRequest: admin, schema: { response: { 200: threatLevelSchema } } },
    async (req) => {
      await state.setThreatOverride(null);
      const level = await currentLevel();
      await tell(req, SUBJECTS.threatLevel, level);
      return threatJson(level);
    },
  );
}
