// Shared configuration field types: durations and byte sizes written as text and read as numbers, and sections.
//
// A field is a TypeBox schema that carries everything about it: JSON type, default, description, limits
// and, for durations and sizes, a codec from the text people write ("5m", "16MiB") to the number code
// uses (ms, bytes). The loader, the docs generator and the example config all read the same schemas.

import Type, { type TProperties, type TRefinement } from 'typebox';

/** Schema keyword holding Portent's own field metadata, which JSON Schema has no words for. */
export const FIELD_META = 'x-portent';

/** What `FIELD_META` holds on a field. */
export interface FieldMeta {
  /** Fields written as text with a unit; the loaded value is a number (ms or bytes). */
  kind?: 'duration' | 'bytesize';
  /** Inclusive limits as written in a config file ("1s", "1GiB", 1024). */
  minimum?: string | number;
  maximum?: string | number;
  /** For sizes that may be "": what the empty string means (it loads as null). */
  emptyMeans?: string;
  /** Never echo the value in messages (tokens, passwords). */
  secret?: boolean;
}

/**
 * The JSON-Schema view of a field or section that the loader and docs generator walk. TypeBox schemas are
 * plain JSON Schema objects, so this is a typed window on them, not a conversion.
 */
export interface SchemaNode {
  type?: string;
  description?: string;
  default?: unknown;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  additionalProperties?: unknown;
  enum?: unknown[];
  anyOf?: SchemaNode[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  [FIELD_META]?: FieldMeta;
  '~refine'?: TRefinement[];
}

/** Views any TypeBox schema as a `SchemaNode`. */
export function asNode(schema: unknown): SchemaNode {
  return schema as SchemaNode;
}

/** True for a schema that describes a mapping of named keys (a section or the whole config). */
export function isObjectNode(
  node: SchemaNode,
): node is SchemaNode & { properties: Record<string, SchemaNode> } {
  return node.type === 'object' && node.properties !== undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Durations

const DURATION_UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION_RE = /^([0-9]+)(ms|s|m|h|d)$/;
/** The same grammar for JSON Schema consumers; `durationProblem` is the authority. */
const DURATION_PATTERN = '^[0-9]+(ms|s|m|h|d)$';
const DURATION_EXAMPLES = 'such as "30s", "5m" or "1h"';

/** Reads "250ms", "30s", "5m", "1h", "30d"; a message in "must be …; got …" form when it cannot. */
function readDuration(value: unknown): number | { problem: string } {
  const expected = `must be a duration ${DURATION_EXAMPLES}`;
  if (typeof value === 'number') {
    // A bare number is the commonest mistake and the fix is always the same.
    return { problem: `${expected}; got ${describeValue(value)} (a number needs a unit: ms, s, m, h or d)` };
  }
  if (typeof value !== 'string') return { problem: `${expected}; got ${describeValue(value)}` };
  const m = DURATION_RE.exec(value);
  if (m === null) {
    if (/^[0-9]+$/.test(value)) {
      return {
        problem: `${expected}; got ${describeValue(value)} (a number needs a unit: ms, s, m, h or d)`,
      };
    }
    // Only case and spacing slips get a suggestion: anything else could mean more than one thing.
    const squeezed = value.replace(/\s+/g, '').toLowerCase();
    const hint = DURATION_RE.test(squeezed) ? ` — did you mean "${squeezed}"?` : '';
    return { problem: `${expected}; got ${describeValue(value)}${hint}` };
  }
  const ms = Number(m[1]) * DURATION_UNITS[m[2] as keyof typeof DURATION_UNITS];
  if (!Number.isSafeInteger(ms)) return { problem: `is too long a duration; got ${describeValue(value)}` };
  return ms;
}

/**
 * Parses a duration ("250ms", "30s", "5m", "1h", "30d": a whole number and one unit) into milliseconds.
 * Throws a `RangeError` whose message says what was expected and what was given, in "must be …; got …" form,
 * so a caller can prefix it with the name of what it parsed.
 */
export function parseDuration(text: string): number {
  const r = readDuration(text);
  if (typeof r !== 'number') throw new RangeError(r.problem);
  return r;
}

/** Formats milliseconds in the largest unit that keeps it exact: 90000 → "90s", 3600000 → "1h". */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new RangeError(`not a duration in ms: ${ms}`);
  if (ms === 0) return '0s';
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms % DURATION_UNITS[unit] === 0) return `${ms / DURATION_UNITS[unit]}${unit}`;
  }
  return `${ms}ms`;
}

/** Why `value` is not a duration within the limits, or undefined when it is one. */
export function durationProblem(
  value: unknown,
  limits: { minimum?: string; maximum?: string } = {},
): string | undefined {
  const ms = readDuration(value);
  if (typeof ms !== 'number') return ms.problem;
  const min = limits.minimum === undefined ? undefined : parseDuration(limits.minimum);
  const max = limits.maximum === undefined ? undefined : parseDuration(limits.maximum);
  if ((min !== undefined && ms < min) || (max !== undefined && ms > max)) {
    return `must be a duration ${rangeText(limits.minimum, limits.maximum)}; got ${describeValue(value)}`;
  }
  return undefined;
}

/** Options of a `Duration` field; limits are inclusive and written like the value ("1s"). */
export interface DurationOptions {
  default: string;
  description: string;
  minimum?: string;
  maximum?: string;
}

/**
 * A duration field: written as text ("30s"), loaded as a number of milliseconds. The key name says what it
 * times, not the unit, because the unit is part of the value.
 */
export function Duration(opts: DurationOptions) {
  const limits = { minimum: opts.minimum, maximum: opts.maximum };
  // A bad default or limit is a programming error; failing when the schema is built finds it in any test.
  for (const text of [opts.default, opts.minimum, opts.maximum]) if (text !== undefined) parseDuration(text);
  assertDefault(durationProblem(opts.default, limits), opts.default);
  const meta: FieldMeta = { kind: 'duration', minimum: opts.minimum, maximum: opts.maximum };
  const text = Type.String({
    description: opts.description,
    default: opts.default,
    pattern: DURATION_PATTERN,
    [FIELD_META]: meta,
  });
  return Type.Codec(
    Type.Refine(
      text,
      (v) => durationProblem(v, limits) === undefined,
      (v) => durationProblem(v, limits) ?? '',
    ),
  )
    .Decode((v) => parseDuration(v))
    .Encode((ms) => formatDuration(ms));
}

// ---------------------------------------------------------------------------------------------------------
// Byte sizes

const SIZE_UNITS = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 } as const;
const SIZE_RE = /^([0-9]+)(B|KiB|MiB|GiB|TiB)?$/;
const SIZE_PATTERN = '^[0-9]+(B|KiB|MiB|GiB|TiB)?$';
const SIZE_EXAMPLES = 'such as "512KiB", "16MiB" or "1GiB"';

/** Reads "16MiB", "512KiB", "1GiB", "1024" or 1024; a "must be …; got …" message when it cannot. */
function readByteSize(value: unknown, emptyMeans?: string): number | null | { problem: string } {
  const empty = emptyMeans === undefined ? '' : `, or "" for ${emptyMeans}`;
  const expected = `must be a size ${SIZE_EXAMPLES}, or a whole number of bytes${empty}`;
  if (value === '' && emptyMeans !== undefined) return null;
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return value;
    return { problem: `${expected}; got ${describeValue(value)}` };
  }
  if (typeof value !== 'string') return { problem: `${expected}; got ${describeValue(value)}` };
  const m = SIZE_RE.exec(value);
  if (m === null) {
    // "16MB", "16 mib", "16M": people mean binary units here, and the fix is unambiguous enough to offer.
    const d = /^([0-9]+)\s*([kmgt])(i?b)?$/i.exec(value.trim());
    const hint = d !== null ? ` — did you mean "${d[1]}${d[2].toUpperCase()}iB"?` : '';
    return { problem: `${expected}; got ${describeValue(value)}${hint}` };
  }
  const bytes = Number(m[1]) * SIZE_UNITS[(m[2] ?? 'B') as keyof typeof SIZE_UNITS];
  if (!Number.isSafeInteger(bytes)) return { problem: `is too large a size; got ${describeValue(value)}` };
  return bytes;
}

/**
 * Parses a byte size into bytes: a whole number of bytes (1024 or "1024"), or a whole number and a binary
 * unit: B, KiB, MiB, GiB, TiB ("16MiB"). Throws a `RangeError` in "must be …; got …" form.
 */
export function parseByteSize(text: string | number): number {
  const r = readByteSize(text);
  // Without `emptyMeans`, readByteSize never returns null.
  if (typeof r !== 'number') throw new RangeError(r?.problem);
  return r;
}

/** Formats bytes in the largest binary unit that keeps it exact: 16777216 → "16MiB", 1000 → "1000B". */
export function formatByteSize(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`not a size in bytes: ${bytes}`);
  if (bytes === 0) return '0B';
  for (const unit of ['TiB', 'GiB', 'MiB', 'KiB'] as const) {
    if (bytes % SIZE_UNITS[unit] === 0) return `${bytes / SIZE_UNITS[unit]}${unit}`;
  }
  return `${bytes}B`;
}

/** Why `value` is not a size within the limits, or undefined when it is one (or "" where allowed). */
export function byteSizeProblem(
  value: unknown,
  limits: { minimum?: string | number; maximum?: string | number; emptyMeans?: string } = {},
): string | undefined {
  const bytes = readByteSize(value, limits.emptyMeans);
  if (bytes === null) return undefined;
  if (typeof bytes !== 'number') return bytes.problem;
  const min = limits.minimum === undefined ? undefined : parseByteSize(limits.minimum);
  const max = limits.maximum === undefined ? undefined : parseByteSize(limits.maximum);
  if ((min !== undefined && bytes < min) || (max !== undefined && bytes > max)) {
    return `must be a size ${rangeText(limits.minimum, limits.maximum)}; got ${describeValue(value)}`;
  }
  return undefined;
}

/** Options of a `ByteSize` field; limits are inclusive and written like the value ("1KiB" or 1024). */
export interface ByteSizeOptions {
  default: string | number;
  description: string;
  minimum?: string | number;
  maximum?: string | number;
}

function byteSizeSchema(opts: ByteSizeOptions, emptyMeans: string | undefined) {
  const limits = { minimum: opts.minimum, maximum: opts.maximum, emptyMeans };
  for (const v of [opts.minimum, opts.maximum]) if (v !== undefined) parseByteSize(v);
  assertDefault(byteSizeProblem(opts.default, limits), opts.default);
  const meta: FieldMeta = { kind: 'bytesize', minimum: opts.minimum, maximum: opts.maximum, emptyMeans };
  const pattern = emptyMeans === undefined ? SIZE_PATTERN : `^$|${SIZE_PATTERN}`;
  const base = Type.Union([Type.String({ pattern }), Type.Integer({ minimum: 0 })], {
    description: opts.description,
    default: opts.default,
    [FIELD_META]: meta,
  });
  return Type.Refine(
    base,
    (v) => byteSizeProblem(v, limits) === undefined,
    (v) => byteSizeProblem(v, limits) ?? '',
  );
}

/** A size field: written as "16MiB" or a whole number of bytes, loaded as a number of bytes. */
export function ByteSize(opts: ByteSizeOptions) {
  return Type.Codec(byteSizeSchema(opts, undefined))
    .Decode((v) => parseByteSize(v))
    .Encode((bytes) => formatByteSize(bytes));
}

/**
 * A size field that may also be "" to leave the choice to someone else (`emptyMeans` says who, for the
 * docs and messages); loaded as a number of bytes, or null for "".
 */
export function ByteSizeOrEmpty(opts: ByteSizeOptions & { emptyMeans: string }) {
  return Type.Codec(byteSizeSchema(opts, opts.emptyMeans))
    .Decode((v): number | null => (v === '' ? null : parseByteSize(v)))
    .Encode((bytes) => (bytes === null ? '' : formatByteSize(bytes)));
}

// ---------------------------------------------------------------------------------------------------------
// Sections and shared wording

/**
 * A component's section: a mapping that rejects unknown keys and defaults to {} so that every key in it
 * falls back to its own default. Every property must have a `default` and a `description`.
 */
export function Section<Properties extends TProperties>(description: string, properties: Properties) {
  return Type.Object(properties, { description, additionalProperties: false, default: {} });
}

function assertDefault(problem: string | undefined, value: unknown): void {
  if (problem !== undefined) throw new Error(`invalid default ${JSON.stringify(value)}: ${problem}`);
}

/** "from 1s to 1h", "of at least 1", "of at most 65535" or "" for inclusive limits. */
export function rangeText(min: string | number | undefined, max: string | number | undefined): string {
  if (min !== undefined && max !== undefined) return `from ${min} to ${max}`;
  if (min !== undefined) return `of at least ${min}`;
  if (max !== undefined) return `of at most ${max}`;
  return '';
}

/**
 * A value as a person wrote it, for the "got …" half of a message: strings quoted, numbers and booleans
 * bare, structures by kind. Secrets are described without their content.
 */
export function describeValue(value: unknown, secret = false): string {
  if (typeof value === 'string') {
    if (secret) return `a string of ${value.length} characters`;
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  }
  if (typeof value === 'number' || typeof value === 'boolean')
    return secret ? `a ${typeof value}` : String(value);
  if (value === null) return 'an empty value';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}
