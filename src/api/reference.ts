// GET /api/v1/incidents/{id}/reference: the scores other services would have given the incident's port on its onset
// day (ISC's trend, GreyNoise-style thresholds), from the stored daily series, to show beside Portent's own.

import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import { PortentError } from '../core/errors.ts';
import { protoName } from '../core/event.ts';
import {
  DAY_MS,
  GREYNOISE_WINDOW_DAYS,
  ISC_WINDOW_DAYS,
  greyNoiseThresholds,
  iscTrend,
  type DailyCounts,
} from '../analysis/reference-scores.ts';
import type { EventStore } from '../storage/event-store.ts';
import type { StateStore } from '../storage/state-store.ts';

/** JSON cannot carry NaN or Infinity: they are reported as null, with `days` saying how much history there was. */
const num = () => Type.Union([Type.Number(), Type.Null()]);
const finite = (x: number) => (Number.isFinite(x) ? x : null);

export const referenceSchema = Type.Object(
  {
    incident: Type.String(),
    proto: Type.String(),
    port: Type.Integer(),
    day: Type.String({ description: 'The UTC day judged: the incident onset day.' }),
    sources: Type.Number(),
    targets: Type.Number(),
    isc: Type.Object(
      {
        trend: num(),
        sources_ratio: num(),
        targets_ratio: num(),
        mean_sources: num(),
        mean_targets: num(),
        days: Type.Integer(),
      },
      { additionalProperties: false },
    ),
    greynoise: Type.Object(
      {
        iqr_threshold: num(),
        sigma_threshold: num(),
        iqr_flag: Type.Boolean(),
        sigma_flag: Type.Boolean(),
        days: Type.Integer(),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export async function referenceRoutes(
  app: FastifyInstance,
  deps: { state: StateStore; events: EventStore },
): Promise<void> {
  app.get(
    '/api/v1/incidents/:id/reference',
    {
      schema: {
        params: Type.Object({ id: Type.String({ maxLength: 100 }) }, { additionalProperties: false }),
        response: { 200: referenceSchema },
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const incident = await deps.state.incident(id);
      if (incident === null)
        throw new PortentError('INCIDENT_NOT_FOUND', {
          message: `No incident has the id "${id.slice(0, 80)}".`,
        });
      if (incident.port === null)
        throw new PortentError('QUERY_INVALID', {
          message: `Incident ${id} is on the port group "${incident.group}": reference scores are per port.`,
        });
      const day = incident.onset - (incident.onset % DAY_MS);
      const window = Math.max(ISC_WINDOW_DAYS, GREYNOISE_WINDOW_DAYS);
      const series = await deps.events.portSeries(
        incident.proto,
        incident.port,
        day - window * DAY_MS,
        day + DAY_MS,
        DAY_MS,
      );
      // Days before the port's first activity in the window are not history (the network may not have been
      // running); quiet days after it count as zeros, as ISC and GreyNoise count them.
      const first = series.findIndex((p) => p.sources > 0 || p.targets > 0);
      const history: DailyCounts[] = series
        .slice(first < 0 ? series.length : first)
        .map((p) => ({ day: p.t, sources: p.sources, targets: p.targets }));
      const today = history.find((d) => d.day === day) ?? { day, sources: 0, targets: 0 };
      const isc = iscTrend(history, today);
      const gn = greyNoiseThresholds(history, today);
      return {
        incident: id,
        proto: protoName(incident.proto),
        port: incident.port,
        day: new Date(day).toISOString().slice(0, 10),
        sources: today.sources,
        targets: today.targets,
        isc: {
          trend: finite(isc.trend),
          sources_ratio: finite(isc.sourcesRatio),
          targets_ratio: finite(isc.targetsRatio),
          mean_sources: finite(isc.meanSources),
          mean_targets: finite(isc.meanTargets),
          days: isc.days,
        },
        greynoise: {
          iqr_threshold: finite(gn.iqrThreshold),
          sigma_threshold: finite(gn.sigmaThreshold),
          iqr_flag: gn.iqrFlag,
          sigma_flag: gn.sigmaFlag,
          days: gn.days,
        },
      };
    },
  );
}
