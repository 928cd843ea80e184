// The read API, like the ISC port report: per-port series, top ports, per-source summaries, health.

import type { FastifyInstance } from 'fastify';
import type { Clock } from '../core/clock.ts';
import { PortentError } from '../core/errors.ts';
import { Proto, protoName, type ProtoName } from '../core/event.ts';
import { parseDuration } from '../config/types.ts';
import type { EventStore, Metric } from '../storage/event-store.ts';
import {
  healthResponseSchema,
  seriesParamsSchema,
  seriesQuerySchema,
  seriesResponseSchema,
  sourceParamsSchema,
  sourceResponseSchema,
  topQuerySchema,
  topResponseSchema,
} from './schemas.ts';

export interface ApiDeps {
  events: EventStore;
  clock: Clock;
  version: string;
  startedAt: number;
  pendingBatches: () => number;
  /** Background tasks whose last run failed, with the error. */
  failing: () => Map<string, string>;
}

const MINUTE = 60_000;
/** A series longer than this many points is refused: ask for a coarser step. */
const MAX_POINTS = 10_000;

const iso = (ms: number): string => new Date(ms).toISOString();

/** Epoch milliseconds, or an ISO 8601 time with a zone. */
export function parseTime(text: string, name: string): number {
  const ms = /^\d{1,15}$/.test(text)
    ? Number(text)
    : /(Z|[+-]\d\d:?\d\d)$/.test(text)
      ? Date.parse(text)
      : NaN;
  if (!Number.isFinite(ms)) {
    throw new PortentError('QUERY_INVALID', {
      details: [
        {
          path: `/${name}`,
          message: `must be epoch milliseconds or an ISO 8601 time with a zone, such as 2026-11-23T12:00:00Z; got "${text}"`,
        },
      ],
    });
  }
  return ms;
}

function parseStep(text: string, name: string): number {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (err) {
    throw new PortentError('QUERY_INVALID', {
      details: [{ path: `/${name}`, message: (err as Error).message }],
    });
  }
  if (ms < MINUTE || ms % MINUTE !== 0) {
    throw new PortentError('QUERY_INVALID', {
      details: [
        { path: `/${name}`, message: `must be a whole number of minutes (at least "1m"); got "${text}"` },
      ],
    });
  }
  return ms;
}

export async function apiRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const { events, clock } = deps;

  app.get('/api/v1/health', { schema: { response: { 200: healthResponseSchema } } }, async () => ({
    // Still answering and storing, so 200 either way; "degraded" says background work is failing.
    status: deps.failing().size === 0 ? ('ok' as const) : ('degraded' as const),
    problems: [...deps.failing()].map(([task, message]) => ({ task, message })),
    version: deps.version,
    uptime_s: Math.round((clock.now() - deps.startedAt) / 1000),
    store: await events.stats(),
    pending_batches: deps.pendingBatches(),
  }));

  app.get(
    '/api/v1/ports/:proto/:port/series',
    {
      schema: {
        params: seriesParamsSchema,
        querystring: seriesQuerySchema,
        response: { 200: seriesResponseSchema },
      },
    },
    async (req) => {
      const { proto, port } = req.params as { proto: ProtoName; port: number };
      const q = req.query as { from?: string; to?: string; step?: string };
      const to = q.to === undefined ? clock.now() : parseTime(q.to, 'to');
      const from = q.from === undefined ? to - 24 * 3_600_000 : parseTime(q.from, 'from');
      const step = q.step === undefined ? 3_600_000 : parseStep(q.step, 'step');
      if (from >= to)
        throw new PortentError('QUERY_INVALID', {
          details: [{ path: '/from', message: '`from` must be before `to`' }],
        });
      const points = Math.ceil((to - (from - (from % step))) / step);
      if (points > MAX_POINTS) {
        throw new PortentError('QUERY_INVALID', {
          details: [
            {
              path: '/step',
              message: `the range needs ${points} steps of this size; at most ${MAX_POINTS}: use a larger step`,
            },
          ],
        });
      }
      const series = await events.portSeries(Proto[proto], port, from, to, step);
      return {
        proto,
        port,
        from: iso(series.length > 0 ? series[0].t : from),
        to: iso(to),
        step_s: step / 1000,
        points: series.map((p) => ({ ...p, t: iso(p.t) })),
      };
    },
  );

  app.get(
    '/api/v1/ports/top',
    { schema: { querystring: topQuerySchema, response: { 200: topResponseSchema } } },
    async (req) => {
      const q = req.query as { window?: string; by?: Metric; limit?: number };
      const window = q.window === undefined ? 24 * 3_600_000 : parseStep(q.window, 'window');
      const by = q.by ?? 'sources';
      const to = clock.now();
      // Counted in whole minutes, or whole hours from six hours up (the rollup the store reads);
      // the response's `from` says where counting really began.
      const unit = window >= 6 * 3_600_000 ? 3_600_000 : 60_000;
      const from = to - window - ((to - window) % unit);
      const ports = await events.topPorts(from, to, by, q.limit ?? 10);
      return {
        from: iso(from),
        to: iso(to),
        by,
        ports: ports.map((p) => ({ ...p, proto: protoName(p.proto) })),
      };
    },
  );

  app.get(
    '/api/v1/sources/:ip',
    { schema: { params: sourceParamsSchema, response: { 200: sourceResponseSchema } } },
    async (req) => {
      const { ip } = req.params as { ip: string };
      const s = await events.source(ip);
      if (s === null)
        throw new PortentError('NOT_FOUND', {
          message: `No events from ${ip.slice(0, 64)} are stored (or it is not an IP address).`,
        });
      return {
        ip: s.ip,
        first_seen: iso(s.firstSeen),
        last_seen: iso(s.lastSeen),
        events: s.events,
        ports: s.ports,
        targets: s.targets,
        sensors: s.sensors,
        top_ports: s.topPorts.map((p) => ({ ...p, proto: protoName(p.proto) })),
      };
    },
  );
}
