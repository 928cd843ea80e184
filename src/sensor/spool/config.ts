// The `spool` configuration section: where the sensor keeps events until the collector has them, and how much.

import Type, { type StaticDecode } from 'typebox';
import type { Clock } from '../../core/clock.ts';
import {
  ByteSize,
  Duration,
  Section,
  describeValue,
  durationProblem,
  formatDuration,
  parseDuration,
} from '../../config/types.ts';
import type { FsyncPolicy, SpoolOptions } from './spool.ts';

const FSYNC_LIMITS = { minimum: '1ms', maximum: '1m' };

function fsyncProblem(value: unknown): string | undefined {
  if (value === 'always' || value === 'never') return undefined;
  if (typeof value === 'string' && durationProblem(value, FSYNC_LIMITS) === undefined) return undefined;
  return `must be "always", "never" or a duration from 1ms to 1m such as "1s"; got ${describeValue(value)}`;
}

/** "always", "never" or a duration, loaded as 'always' | 'never' | milliseconds. */
function FsyncField(opts: { default: string; description: string }) {
  return Type.Codec(
    Type.Refine(
      Type.String(opts),
      (v) => fsyncProblem(v) === undefined,
      (v) => fsyncProblem(v) ?? '',
    ),
  )
    .Decode((v): FsyncPolicy => (v === 'always' || v === 'never' ? v : parseDuration(v)))
    .Encode((p: FsyncPolicy) => (typeof p === 'number' ? formatDuration(p) : p));
}

/** Schema of the `spool` section. */
export const SpoolConfigSchema = Section(
  "The sensor's on-disk spool: events wait there, in append-only segment files, until the collector acknowledges them. See docs/sensor.md.",
  {
    path: Type.Refine(
      Type.String({
        default: './data/spool',
        description:
          'Directory of the spool, relative to the working directory; created if missing. One sensor process at a time.',
      }),
      (v) => v !== '',
      () => 'must not be empty; give a directory such as "./data/spool"',
    ),
    max_bytes: ByteSize({
      default: '1GiB',
      minimum: '1MiB',
      description:
        "Unacknowledged data at which the sensor starts sampling: it keeps 1 event in k (k doubling while over, halving again below 90 %) and multiplies the kept events' `sampling` by k, instead of dropping events or filling the disk.",
    }),
    segment_bytes: ByteSize({
      default: '64MiB',
      minimum: '64KiB',
      maximum: '1GiB',
      description:
        'Size at which a segment file is closed and a new one begun. A segment is deleted once all of it is acknowledged, so disk use can exceed max_bytes by up to one segment.',
    }),
    fsync: FsyncField({
      default: '1s',
      description:
        '"always": every append is on disk before it returns; a duration: appends are synced at least this often; "never": left to the operating system. Only a power cut loses unsynced appends (a killed process does not); records are always synced before they are sent.',
    }),
    sampling_adjust_interval: Duration({
      default: '1s',
      minimum: '10ms',
      maximum: '1h',
      description:
        'Least time between two steps of the sampling rate k, so a burst of appends at the cap does not send k to its maximum at once.',
    }),
  },
);

/** The loaded `spool` section: sizes in bytes, durations in milliseconds. */
export type SpoolConfig = StaticDecode<typeof SpoolConfigSchema>;

/** Spool options from the loaded section. */
export function spoolOptionsFrom(config: SpoolConfig, clock?: Clock): SpoolOptions {
  return {
    dir: config.path,
    maxBytes: config.max_bytes,
    segmentBytes: config.segment_bytes,
    fsync: config.fsync,
    samplingAdjustMs: config.sampling_adjust_interval,
    clock,
  };
}
