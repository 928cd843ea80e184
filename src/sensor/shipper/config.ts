// The `shipper` configuration section: where the sensor sends its batches, as whom, how big, and how it retries.

import { readFileSync } from 'node:fs';
import Type, { type StaticDecode } from 'typebox';
import type { Clock } from '../../core/clock.ts';
import { PortentError } from '../../core/errors.ts';
import { Duration, FIELD_META, Section, parseDuration, type FieldMeta } from '../../config/types.ts';
import type { ShipperOptions } from './shipper.ts';

const secret: FieldMeta = { secret: true };

function urlProblem(v: string): string | undefined {
  if (v === '') return undefined;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return `must be an http or https URL such as "https://portent.example.org:8470", or "" to not ship; got ${JSON.stringify(v)}`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `must be an http or https URL; got the scheme "${url.protocol.slice(0, -1)}"`;
  return undefined;
}

const BATCH_EVENTS = { minimum: 1, maximum: 1_000_000 };

/** Schema of the `shipper` section. */
export const ShipperConfigSchema = Type.Refine(
  Section(
    'How the sensor sends spooled events to the collector: signed, gzipped binary batches, retried until acknowledged. See docs/sensor.md.',
    {
      url: Type.Refine(
        Type.String({
          default: '',
          description:
            'Base URL of the collector, e.g. "https://portent.example.org:8470". Empty: events are spooled but not sent.',
        }),
        (v) => urlProblem(v) === undefined,
        (v) => urlProblem(v) ?? '',
      ),
      sensor_id: Type.String({
        default: '',
        description:
          'The id the collector gave this sensor when it was enrolled (`portent sensors add NAME`).',
      }),
      sensor_secret: Type.String({
        default: '',
        description:
          'The secret shown once at enrolment; every request is signed with it. Prefer the environment variable over the file.',
        [FIELD_META]: secret,
      }),
      ca_file: Type.String({
        default: '',
        description:
          "PEM file of the CA (or the self-signed certificate) to trust for an https url, instead of the system's CAs. Empty: the system's CAs.",
      }),
      min_batch_events: Type.Integer({
        ...BATCH_EVENTS,
        default: 1000,
        description:
          'Fewer spooled events than this wait up to batch_linger for more before they are sent as a smaller batch.',
      }),
      max_batch_events: Type.Integer({
        ...BATCH_EVENTS,
        default: 10000,
        description:
          "Most events in one batch; keep it at or below the collector's collector.max_batch_events (a batch over it is split in halves).",
      }),
      batch_linger: Duration({
        default: '1s',
        minimum: '0s',
        maximum: '1m',
        description: 'How long the oldest unsent event may wait for a batch to fill up to min_batch_events.',
      }),
      retry_base: Duration({
        default: '500ms',
        minimum: '1ms',
        maximum: '1m',
        description:
          'Backoff after a failed attempt: a random wait of up to retry_base, doubling with each failure of the same batch, up to retry_max (full jitter). A 429 or 503 with Retry-After waits as long as the collector asks.',
      }),
      retry_max: Duration({
        default: '1m',
        minimum: '1ms',
        maximum: '1h',
        description:
          'The longest backoff window; the shipper never gives up on a batch, it keeps trying at this pace.',
      }),
      request_timeout: Duration({
        default: '30s',
        minimum: '1s',
        maximum: '10m',
        description: 'A request whose connection is silent this long fails and is retried.',
      }),
    },
  ),
  (v) => crossProblem(v) === undefined,
  (v) => crossProblem(v) ?? '',
);

/** Rules between keys, checked once each key is valid on its own; absent keys take their defaults. */
function crossProblem(v: Record<string, unknown>): string | undefined {
  const min = (v.min_batch_events as number | undefined) ?? 1000;
  const max = (v.max_batch_events as number | undefined) ?? 10000;
  if (min > max) return `min_batch_events (${min}) must not exceed max_batch_events (${max})`;
  const ms = (x: unknown, d: string) =>
    typeof x === 'number' ? x : parseDuration((x as string | undefined) ?? d);
  if (ms(v.retry_base, '500ms') > ms(v.retry_max, '1m'))
    return `retry_base (${String(v.retry_base)}) must not exceed retry_max (${String(v.retry_max ?? '1m')})`;
  if (
    v.url !== undefined &&
    v.url !== '' &&
    (v.sensor_id === undefined || v.sensor_id === '' || !v.sensor_secret)
  )
    return 'sensor_id and sensor_secret must be set when url is: enrol the sensor with `portent sensors add NAME`';
  return undefined;
}

/** The loaded `shipper` section: durations in milliseconds. */
export type ShipperConfig = StaticDecode<typeof ShipperConfigSchema>;

/**
 * Shipper options from the loaded section, reading `ca_file`; null when `url` is empty. Throws
 * CONFIG_INVALID when the CA file cannot be read.
 */
export function shipperOptionsFrom(config: ShipperConfig, clock?: Clock): ShipperOptions | null {
  if (config.url === '') return null;
  let ca: Buffer | undefined;
  if (config.ca_file !== '') {
    try {
      ca = readFileSync(config.ca_file);
    } catch (err) {
      throw new PortentError('CONFIG_INVALID', {
        details: [{ path: 'shipper.ca_file', message: `cannot be read: ${(err as Error).message}` }],
        cause: err,
      });
    }
  }
  return {
    url: config.url,
    credentials: { id: config.sensor_id, secret: config.sensor_secret },
    ca,
    minBatchEvents: config.min_batch_events,
    maxBatchEvents: config.max_batch_events,
    lingerMs: config.batch_linger,
    retryBaseMs: config.retry_base,
    retryMaxMs: config.retry_max,
    requestTimeoutMs: config.request_timeout,
    clock,
  };
}
