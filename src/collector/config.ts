// The `collector` configuration section: limits on what sensors may send and how fast.

import Type, { type StaticDecode } from 'typebox';
import { ByteSize, Duration, Section } from '../config/types.ts';

/** Schema of the `collector` section. */
export const CollectorConfigSchema = Section(
  'The HTTP collector that accepts signed event batches from sensors.',
  {
    max_batch_bytes: ByteSize({
      default: '16MiB',
      minimum: '1KiB',
      maximum: '1GiB',
      description:
        'Largest request body accepted, as sent (compressed or not); larger requests are refused with 413.',
    }),
    max_decompressed_bytes: ByteSize({
      default: '64MiB',
      minimum: '1KiB',
      maximum: '1GiB',
      description:
        'Largest body after gzip decompression; decompression stops there and the batch is refused with 413 (the zip-bomb guard).',
    }),
    max_batch_events: Type.Integer({
      default: 100000,
      minimum: 1,
      maximum: 10000000,
      description: 'Most events in one batch; larger batches are refused whole with 413.',
    }),
    max_clock_skew: Duration({
      default: '5m',
      minimum: '1s',
      maximum: '1h',
      description:
        "How far a request's signed timestamp may be from the server's clock; outside it the request is refused (replay protection).",
    }),
    sensor_events_per_s: Type.Integer({
      default: 2000000,
      minimum: 1,
      description:
        "Per-sensor rate limit: events per second added to each sensor's token bucket. Over it, requests get 429 with Retry-After.",
    }),
    sensor_burst_events: Type.Integer({
      default: 4000000,
      minimum: 1,
      description:
        'Per-sensor token-bucket size: how many events a sensor may send at once after a quiet spell.',
    }),
    sensor_stale_after: Duration({
      default: '10m',
      minimum: '1m',
      maximum: '30d',
      description:
        'A sensor heard from neither by heartbeat nor by batch for this long is listed as "stale" (sensors send a heartbeat every minute by default).',
    }),
    max_pending_batches: Type.Integer({
      default: 256,
      minimum: 1,
      maximum: 65536,
      description:
        'Batches accepted but not yet durable; beyond this the collector answers 503 (back-pressure) until the store catches up.',
    }),
  },
);

/** The loaded `collector` section; sizes are in bytes and `max_clock_skew` in milliseconds. */
export type CollectorConfig = StaticDecode<typeof CollectorConfigSchema>;
