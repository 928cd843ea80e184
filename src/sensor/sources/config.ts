// Configuration of one followed log file (an item of `sensor.sources`): schema, defaults and tailer options.

import { createHash } from 'node:crypto';
import { join } from 'node:path';
import Type, { type StaticDecode } from 'typebox';
import Value, { DecodeUnsafe } from 'typebox/value';
import type { Clock } from '../../core/clock.ts';
import { ByteSize, Duration } from '../../config/types.ts';
import { LINE_FORMATS } from '../parsers/index.ts';
import type { TailOptions } from './tail.ts';

/** Format names a file source may name: every registered line format. */
export const FILE_SOURCE_FORMATS = LINE_FORMATS.map((f) => f.name);

/** Schema of one followed file. */
export const FileSourceConfigSchema = Type.Object(
  {
    path: Type.String({
      minLength: 1,
      description:
        'The log file to follow, best given as an absolute path; it need not exist yet. Rotated files beside it (same name plus a suffix) are found by inode.',
    }),
    format: Type.Enum(['auto', ...FILE_SOURCE_FORMATS], {
      default: 'auto',
      description: '"auto" detects the format from the first lines and says what it chose and why.',
    }),
    start_at: Type.Enum(['end', 'beginning'], {
      default: 'end',
      description:
        'Where to start in a file that exists when the path is followed for the first time; afterwards the saved position is used, and files that appear later are read from their start.',
    }),
    poll_interval: Duration({
      default: '1s',
      minimum: '10ms',
      maximum: '1h',
      description:
        'How often the file is looked at when no file-system event says it changed (always, where events do not work, such as NFS).',
    }),
    watch: Type.Boolean({
      default: true,
      description:
        "Watch the file's directory for changes (inotify) to read new lines at once; polling runs either way.",
    }),
    max_line_bytes: ByteSize({
      default: '64KiB',
      minimum: '256B',
      maximum: '16MiB',
      description:
        'Longer lines are cut to this many bytes and counted; the rest is skipped, never buffered.',
    }),
    rotate_wait: Duration({
      default: '5s',
      minimum: '0s',
      maximum: '1h',
      description:
        'How long a file renamed away by rotation (or deleted) is still read after it went quiet, for writers that write to it until told to reopen; the new file is read after.',
    }),
    partial_line_timeout: Duration({
      default: '0s',
      maximum: '1h',
      description:
        'After how long without new bytes a last line with no newline is passed on anyway; "0s" holds it until its newline arrives.',
    }),
  },
  { additionalProperties: false },
);

/** A loaded file source: durations in ms, `max_line_bytes` in bytes. */
export type FileSourceConfig = StaticDecode<typeof FileSourceConfigSchema>;

/**
 * Checks one source as written and returns it with defaults filled in and durations and sizes decoded;
 * throws a RangeError listing the problems. The top-level loader does this with friendlier messages once
 * the schema is part of the `sensor` section.
 */
export function decodeFileSourceConfig(input: unknown): FileSourceConfig {
  const filled = Value.Default(FileSourceConfigSchema, structuredClone(input ?? {}));
  if (!Value.Check(FileSourceConfigSchema, filled)) {
    const problems = Value.Errors(FileSourceConfigSchema, filled).map(
      (e) => `source${e.instancePath.replaceAll('/', '.')}: ${e.message}`,
    );
    throw new RangeError(problems.join('; '));
  }
  return DecodeUnsafe({}, FileSourceConfigSchema, filled) as FileSourceConfig;
}

/** The state file of a followed path in the sensor's state directory: one per path, named by its hash. */
export function tailStatePath(stateDir: string, path: string): string {
  return join(stateDir, `tail-${createHash('sha256').update(path).digest('hex').slice(0, 16)}.json`);
}

/** Tailer options for a loaded source. */
export function tailOptionsFrom(source: FileSourceConfig, stateDir: string, clock?: Clock): TailOptions {
  return {
    path: source.path,
    statePath: tailStatePath(stateDir, source.path),
    startAt: source.start_at,
    pollIntervalMs: source.poll_interval,
    watch: source.watch,
    maxLineBytes: source.max_line_bytes,
    rotateWaitMs: source.rotate_wait,
    partialLineTimeoutMs: source.partial_line_timeout,
    clock,
  };
}
