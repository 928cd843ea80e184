// The HTTP application factory: one Fastify instance with the collector, the read API, incidents and /metrics.
// Built from interfaces and options only, so tests inject requests without sockets or files.

import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
} from 'fastify';
import type { Clock } from '../core/clock.ts';
import { PortentError, MAX_REPORTED_PROBLEMS, type ErrorCode } from '../core/errors.ts';
import { apiRoutes } from '../api/routes.ts';
import { incidentRoutes } from '../api/incidents.ts';
import { referenceRoutes } from '../api/reference.ts';
import type { Bus } from '../bus/bus.ts';
import { collectorRoutes, type CollectorOptions } from '../collector/routes.ts';
import { GroupWriter, type GroupWriterOptions } from '../collector/group-writer.ts';
import { dshieldRoutes, type DShieldOptions } from '../collector/compat/dshield.ts';
import type { EventStore } from '../storage/event-store.ts';
import type { StateStore } from '../storage/state-store.ts';
import { ServerMetrics } from './metrics.ts';

export interface AppOptions {
  events: EventStore;
  state: StateStore;
  clock: Clock;
  collector: CollectorOptions;
  /** The DShield-compatible /submitapi/ route; absent, it is not served. */
  dshield?: DShieldOptions;
  /** Batches accepted but not yet durable before the collector answers 503. */
  maxPendingBatches: number;
  version: string;
  /** A pino logger, or false for none (tests). */
  logger: FastifyBaseLogger | false;
  trustProxy?: boolean;
  /** Process metrics (CPU, memory, event loop) in /metrics; off in tests that build many apps. */
  processMetrics?: boolean;
  /** Where analysts' notes and overrides are published (SUBJECTS.incidents, SUBJECTS.threatLevel). */
  bus?: Bus;
  /** Told of the batches each commit stored (GroupWriterOptions.onStored): the embedded analyzer's feed. */
  onStored?: GroupWriterOptions['onStored'];
}

export interface PortentApp {
  app: FastifyInstance;
  writer: GroupWriter;
  metrics: ServerMetrics;
}

/** Fastify's own error codes, translated into the catalog. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BATCH_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BATCH_MALFORMED',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'BODY_INVALID',
  FST_ERR_CTP_INVALID_JSON_BODY: 'BODY_INVALID',
};

/** Turns any error into a catalog error, so every response has the same shape. */
function toPortentError(err: FastifyError | PortentError | Error): PortentError {
  if (err instanceof PortentError) return err;
  const fe = err as FastifyError;
  if (fe.validation) {
    const where = fe.validationContext ?? 'request';
    return new PortentError(where === 'body' ? 'BODY_INVALID' : 'QUERY_INVALID', {
      details: fe.validation.slice(0, MAX_REPORTED_PROBLEMS).map((v) => ({
        path: `${where}${v.instancePath || ''}${v.params && 'additionalProperty' in v.params ? `/${String(v.params.additionalProperty)}` : ''}`,
        message: v.message ?? 'is not valid',
      })),
    });
  }
  const code = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (code)
    return new PortentError(code, {
      message:
        code === 'BATCH_TOO_LARGE' ? `The request body is larger than the limit: ${fe.message}` : undefined,
      cause: err,
    });
  if (fe.statusCode === 400 && fe.code === 'FST_ERR_VALIDATION')
    return new PortentError('QUERY_INVALID', { cause: err });
  return new PortentError('INTERNAL', { cause: err });
}

export async function buildApp(opts: AppOptions): Promise<PortentApp> {
  const app = Fastify({
    loggerInstance: opts.logger === false ? undefined : opts.logger,
    logger: opts.logger === false ? false : undefined,
    trustProxy: opts.trustProxy ?? false,
    // Batch bodies have their own limit in the collector; everything else is small.
    bodyLimit: 64 * 1024,
    // One line per request would drown the log at ingest rates; failures are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    // Unknown parameters and body fields are refused (schemas say additionalProperties: false), not
    // silently dropped, so a typo like "stpe" is reported instead of ignored.
    ajv: { customOptions: { removeAdditional: false } },
  } as never) as unknown as FastifyInstance;
  const metrics = new ServerMetrics(opts.processMetrics ?? true);
  const writer = new GroupWriter(opts.events, {
    maxPending: opts.maxPendingBatches,
    observe: (s) => metrics.storeCommitSeconds.observe(s),
    onStored: opts.onStored,
  });

  app.setErrorHandler((err, req, reply) => {
    const e = toPortentError(err as Error);
    metrics.rejects.inc({ code: e.code });
    if (e.code === 'INTERNAL' || e.code === 'STORE_UNAVAILABLE')
      req.log.error({ err, code: e.code }, 'Request failed.');
    else req.log.info({ code: e.code, url: req.url }, 'Request refused.');
    return reply.code(e.status).type('application/json').send(JSON.stringify(e.toJSON()));
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new PortentError('NOT_FOUND', {
      message: `There is no ${req.method} ${req.url.split('?')[0].slice(0, 200)}.`,
    });
    metrics.rejects.inc({ code: e.code });
    return reply.code(404).type('application/json').send(JSON.stringify(e.toJSON()));
  });

  await collectorRoutes(app, {
    state: opts.state,
    writer,
    clock: opts.clock,
    metrics,
    options: opts.collector,
  });
  if (opts.dshield !== undefined)
    await dshieldRoutes(app, {
      state: opts.state,
      writer,
      clock: opts.clock,
      metrics,
      options: opts.dshield,
    });
  const startedAt = opts.clock.now();
  await apiRoutes(app, {
    events: opts.events,
    clock: opts.clock,
    version: opts.version,
    startedAt,
    pendingBatches: () => writer.pending,
    failing: () => metrics.failing,
  });
  await incidentRoutes(app, {
    state: opts.state,
    clock: opts.clock,
    adminToken: opts.collector.adminToken,
    startedAt,
    bus: opts.bus,
  });
  await referenceRoutes(app, { state: opts.state, events: opts.events });
  app.get('/metrics', async (_req, reply) => {
    metrics.storeMemory.reset();
    for (const [component, bytes] of Object.entries(await opts.events.memory()))
      metrics.storeMemory.set({ component }, bytes);
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  return { app, writer, metrics };
}
