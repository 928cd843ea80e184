// Checks configuration values against their schemas and words each problem so a person can fix it.
//
// TypeBox's own error list stops early inside unions and speaks in JSON Schema terms ("must be equal to
// one of the allowed values"). Configuration is read by people, so this walks the schema itself, collects
// every problem, and words each one from the field's type, limits and Portent metadata.

import Value from 'typebox/value';
import type { FieldProblem } from '../core/errors.ts';
import { closestName } from './suggest.ts';
import {
  FIELD_META,
  byteSizeProblem,
  describeValue,
  durationProblem,
  isObjectNode,
  rangeText,
  type SchemaNode,
} from './types.ts';

/** A configuration problem, with its place in the file when it came from one. */
export interface ConfigProblem extends FieldProblem {
  file?: string;
  /** 1-based line and column of the key or value at fault. */
  line?: number;
  column?: number;
}

/** Where a key or value is in the configuration file. */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

/** How the walker names and places what it finds: the loader knows where each value came from. */
export interface CheckContext {
  /** The name a person knows a key by: "server.listen_port", or the environment variable that set it. */
  label(path: string[]): string;
  /** Where the key itself (`part` "key") or its value is written, if it was written in a file. */
  locate(path: string[], part: 'key' | 'value'): SourceLocation | undefined;
}

/** Every problem with `value` as an instance of the configuration schema `root`, in the order found. */
export function checkConfigValue(root: SchemaNode, value: unknown, ctx: CheckContext): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  walk(root, root, value, [], ctx, out);
  return out;
}

function walk(
  root: SchemaNode,
  node: SchemaNode,
  value: unknown,
  path: string[],
  ctx: CheckContext,
  out: ConfigProblem[],
): void {
  const report = (at: string[], message: string, part: 'key' | 'value') =>
    out.push({ path: ctx.label(at), message, ...ctx.locate(at, part) });

  if (isObjectNode(node)) {
    if (!isPlainObject(value)) {
      const keys = Object.keys(node.properties).join(', ');
      report(path, `must be a mapping with the keys ${keys}; got ${describeValue(value)}`, 'value');
      return;
    }
    const before = out.length;
    for (const [key, child] of Object.entries(value)) {
      if (Object.hasOwn(node.properties, key))
        walk(root, node.properties[key], child, [...path, key], ctx, out);
      else if (node.additionalProperties === false)
        report([...path, key], unknownKey(root, node, path, key), 'key');
    }
    for (const key of node.required ?? []) {
      if (value[key] === undefined && node.properties[key].default === undefined) {
        report([...path, key], 'is required and has no default', 'key');
      }
    }
    // Rules across keys only make sense once each key is right on its own.
    if (out.length === before) {
      const message = refinementProblem(node, value);
      if (message !== undefined) report(path, message, 'value');
    }
    return;
  }

  // A list of mappings (honeypot ports, sensor sources): each item is checked like a section, with
  // its own defaults, so `- port: 2222` needs no other keys and a typo names its item.
  const items = (node as { items?: SchemaNode }).items;
  if (
    (node as { type?: unknown }).type === 'array' &&
    items !== undefined &&
    isObjectNode(items) &&
    Array.isArray(value)
  ) {
    const before = out.length;
    value.forEach((item, i) => walk(root, items, item, [...path, String(i + 1)], ctx, out));
    if (out.length > before) return;
    const message = leafProblem(node, Value.Default(node as never, structuredClone(value)));
    if (message !== undefined) report(path, message, 'value');
    return;
  }

  const message = leafProblem(node, value);
  if (message !== undefined) report(path, message, 'value');
}

function unknownKey(
  root: SchemaNode,
  node: SchemaNode & { properties: object },
  path: string[],
  key: string,
): string {
  const what = path.length === 0 ? 'section' : 'key';
  const known = Object.keys(node.properties);
  const guess = closestName(key, known);
  if (guess !== undefined) return `unknown ${what} "${key}" — did you mean "${guess}"?`;

  // A right key in the wrong place is common when copying snippets; say where it goes.
  const sections = isObjectNode(root) ? Object.entries(root.properties) : [];
  const homes = sections
    .filter(([, s]) => isObjectNode(s) && Object.hasOwn(s.properties, key))
    .map(([n]) => n);
  const where = `the ${homes.join(' and ')} section${homes.length > 1 ? 's' : ''}`;
  const under = homes.map((h) => `"${h}:"`).join(' or ');
  if (homes.length > 0 && path.length === 0) {
    return `unknown section "${key}" — it is a key of ${where}; put it under ${under}`;
  }
  if (homes.length > 0 && path.length === 1) {
    return `unknown key "${key}" — it belongs in ${where}; move it under ${under}`;
  }
  return `unknown ${what} "${key}"; the ${what}s here are ${known.join(', ')}`;
}

/** Why a non-mapping value does not fit its field, or undefined when it fits. */
export function leafProblem(node: SchemaNode, value: unknown): string | undefined {
  const meta = node[FIELD_META];
  if (meta?.kind === 'duration')
    return durationProblem(value, meta as { minimum?: string; maximum?: string });
  if (meta?.kind === 'bytesize') return byteSizeProblem(value, meta);

  const expected = expectation(node);
  if (expected !== undefined && !fits(node, value)) {
    return `must be ${expected}; got ${describeValue(value, meta?.secret === true)}`;
  }
  const refined = refinementProblem(node, value);
  if (refined !== undefined) return refined;

  // Schema features this walker has no words for still get checked, in TypeBox's words.
  if (!Value.Check(node as never, value)) {
    const first = Value.Errors(node as never, value)[0];
    return `${first?.message ?? 'is not valid'}; got ${describeValue(value, meta?.secret === true)}`;
  }
  return undefined;
}

function refinementProblem(node: SchemaNode, value: unknown): string | undefined {
  for (const refinement of node['~refine'] ?? []) {
    if (!refinement.check(value)) return refinement.error(value);
  }
  return undefined;
}

/**
 * What a field accepts, as the object of "must be …": "an integer from 0 to 65535", "true or false".
 * Undefined for schemas described elsewhere (durations, sizes) or not described at all.
 */
export function expectation(node: SchemaNode): string | undefined {
  if (node.enum !== undefined) return `one of ${node.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  const range = rangeText(node.minimum, node.maximum);
  switch (node.type) {
    case 'integer':
      return `an integer${range === '' ? '' : ` ${range}`}`;
    case 'number':
      return `a number${range === '' ? '' : ` ${range}`}`;
    case 'boolean':
      return 'true or false';
    case 'string': {
      const length = rangeText(node.minLength, node.maxLength);
      const pattern = node.pattern === undefined ? '' : ` matching /${node.pattern}/`;
      return `a string${length === '' ? '' : ` ${length} characters`}${pattern}`;
    }
    default:
      return undefined;
  }
}

function fits(node: SchemaNode, value: unknown): boolean {
  if (node.enum !== undefined) return node.enum.includes(value);
  const inRange = (n: number) =>
    (node.minimum === undefined || n >= node.minimum) && (node.maximum === undefined || n <= node.maximum);
  switch (node.type) {
    case 'integer':
      return typeof value === 'number' && Number.isSafeInteger(value) && inRange(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) && inRange(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'string':
      return (
        typeof value === 'string' &&
        (node.minLength === undefined || value.length >= node.minLength) &&
        (node.maxLength === undefined || value.length <= node.maxLength) &&
        (node.pattern === undefined || new RegExp(node.pattern, 'u').test(value))
      );
    default:
      return true;
  }
}

/** True for a mapping as YAML and JSON produce it (not a list, not null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
