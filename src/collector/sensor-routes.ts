// The signed JSON routes a sensor calls besides batches: heartbeats (health in, re-tasking out) and payload samples.

import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Static } from 'typebox';
import type { Clock } from '../core/clock.ts';
import { PortentError } from '../core/errors.ts';
import { Proto } from '../core/event.ts';
import type { StateStore } from '../storage/state-store.ts';
import { healthSchema, heartbeatAckSchema, samplesUploadSchema } from './schemas.ts';

export type SensorHealth = Static<typeof healthSchema>;

export interface SensorRouteDeps {
  state: StateStore;
  clock: Clock;
  /** Checks the request signature over the raw body; returns the sensor. */
  authenticate: (req: FastifyRequest, raw: Buffer) => Promise<{ id: string; num: number }>;
  /** When each sensor's newest batch was stored, kept by the batch route. */
  lastBatch: Map<number, number>;
}

/** Largest heartbeat or sample upload accepted: 64 samples of 64 KiB in base64, with room. */
const SIGNED_JSON_LIMIT = 6 * 1024 * 1024;

export const protoNumber = (p: 'tcp' | 'udp'): number => (p === 'tcp' ? Proto.tcp : Proto.udp);
export const protoText = (n: number): 'tcp' | 'udp' => (n === Proto.udp ? 'udp' : 'tcp');

export async function sensorRoutes(app: FastifyInstance, deps: SensorRouteDeps): Promise<void> {
  const { state, clock, authenticate, lastBatch } = deps;
  const raw = new WeakMap<FastifyRequest, Buffer>();
  const sensorOf = new WeakMap<FastifyRequest, { id: string; num: number }>();

  // The signature covers the body as sent, so keep the bytes; authenticate before validating, so a
  // stranger learns nothing from schema errors.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer', bodyLimit: SIGNED_JSON_LIMIT },
    (req, body, done) => {
      raw.set(req, body as Buffer);
      try {
        done(null, JSON.parse((body as Buffer).toString('utf8')));
      } catch (err) {
        done(
          new PortentError('BODY_INVALID', {
            message: `The body is not valid JSON: ${(err as Error).message}`,
          }),
        );
      }
    },
  );
  app.addHook('preValidation', async (req) => {
    sensorOf.set(req, await authenticate(req, raw.get(req) ?? Buffer.alloc(0)));
  });

  app.post(
    '/api/v1/heartbeat',
    { schema: { body: healthSchema, response: { 200: heartbeatAckSchema } } },
    async (req) => {
      const sensor = sensorOf.get(req)!;
      const health = req.body as SensorHealth;
      const now = clock.now();
      const clockOffsetMs = Math.round(health.time - now);
      await state.recordHeartbeat(sensor.num, {
        lastHeartbeat: now,
        lastBatch: lastBatch.get(sensor.num) ?? null,
        clockOffsetMs,
        health: JSON.stringify(health),
      });
      const retask = health.retaskable ? await state.retasks(sensor.num, now) : [];
      return {
        server_time: new Date(now).toISOString(),
        clock_offset_ms: clockOffsetMs,
        retask: retask.map((r) => ({
          proto: protoText(r.proto),
          port: r.port,
          until: new Date(r.until).toISOString(),
          reason: r.reason,
        })),
      };
    },
  );

  app.post('/api/v1/samples', { schema: { body: samplesUploadSchema } }, async (req, reply) => {
    const sensor = sensorOf.get(req)!;
    const { samples } = req.body as Static<typeof samplesUploadSchema>;
    const decoded = samples.map((s, i) => {
      const bytes = Buffer.from(s.bytes, 'base64');
      if (createHash('sha256').update(bytes).digest('hex') !== s.sha256) {
        throw new PortentError('BODY_INVALID', {
          message: 'A sample does not match its digest; nothing from this upload was stored.',
          details: [{ path: `body/samples/${i}/sha256`, message: 'is not the SHA-256 of bytes' }],
        });
      }
      return {
        sha256: s.sha256,
        bytes,
        truncated: s.truncated,
        firstSeen: s.time,
        proto: protoNumber(s.proto),
        port: s.port,
      };
    });
    await state.addSamples(sensor.num, decoded);
    reply.code(200);
    return { stored: decoded.length };
  });
}

/** Printable ASCII as is, every other byte as \xNN: attacker bytes made safe to show as text. */
export function samplePreview(bytes: Buffer, max = 4096): string {
  let out = '';
  for (let i = 0; i < Math.min(bytes.length, max); i++) {
    const b = bytes[i];
    out +=
      b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return out;
}
