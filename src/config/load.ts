// Loads the configuration: a YAML file, then PORTENT_<SECTION>_<KEY> environment overrides, then defaults.
//
// Every problem is collected before anything is thrown, so one run of `portent config check` lists all
// that needs fixing. Nothing here runs on import: the loader touches the file system and the environment
// only when called.

import { readFileSync } from 'node:fs';
import { getSystemErrorMessage } from 'node:util';
import Value, { DecodeUnsafe } from 'typebox/value';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { MAX_REPORTED_PROBLEMS, PortentError } from '../core/errors.ts';
import { CONFIG_SECTIONS, ConfigSchema, type PortentConfig } from './schema.ts';
import { closestName } from './suggest.ts';
import { asNode, describeValue, FIELD_META, type SchemaNode } from './types.ts';
import { checkConfigValue, isPlainObject, type ConfigProblem, type SourceLocation } from './validate.ts';

/** Where `loadConfig` reads from. */
export interface LoadConfigOptions {
  /**
   * YAML file to read. When absent, `PORTENT_CONFIG` names it; when that is absent too, only defaults and
   * environment overrides apply. A file named either way must exist.
   */
  file?: string;
  /** Environment to read `PORTENT_*` variables from; `process.env` when absent. */
  env?: Record<string, string | undefined>;
}

/** `PORTENT_*` variables that are not configuration keys, and so are not reported as unknown. */
export const NON_CONFIG_VARIABLES: readonly string[] = ['PORTENT_CONFIG', 'PORTENT_CORPUS', 'PORTENT_DATA'];

/** Prefixes of `PORTENT_*` variables left to tests and benchmarks. */
export const NON_CONFIG_PREFIXES: readonly string[] = ['PORTENT_TEST_', 'PORTENT_BENCH_'];

/** True when `name` is a `PORTENT_*` variable that the configuration loader leaves alone. */
export function isNonConfigVariable(name: string): boolean {
  return NON_CONFIG_VARIABLES.includes(name) || NON_CONFIG_PREFIXES.some((p) => name.startsWith(p));
}

/** The environment variable that overrides `section.key`: `PORTENT_SERVER_LISTEN_PORT`. */
export function configEnvName(section: string, key: string): string {
  return `PORTENT_${section}_${key}`.toUpperCase();
}

interface EnvTarget {
  section: string;
  key: string;
  node: SchemaNode;
}

/** Every override variable, computed from the schema so that names never have to be split apart. */
function envTargets(): Map<string, EnvTarget> {
  const targets = new Map<string, EnvTarget>();
  for (const [section, schema] of Object.entries(CONFIG_SECTIONS)) {
    for (const [key, node] of Object.entries(asNode(schema).properties ?? {})) {
      targets.set(configEnvName(section, key), { section, key, node });
    }
  }
  return targets;
}

/**
 * Loads, checks and resolves the configuration (see `LoadConfigOptions` for where from). The result has
 * every key, durations in milliseconds and sizes in bytes, and is frozen.
 *
 * Throws `PortentError` CONFIG_UNREADABLE when the file cannot be read or is not YAML (details give the
 * file, or file:line:column), and CONFIG_INVALID listing every problem found (details are
 * `ConfigProblem`s: key path or "env NAME", a message, and the file position when there is one).
 */
export function loadConfig(options: LoadConfigOptions = {}): PortentConfig {
  return load(options).config;
}

/**
 * Checks and resolves a configuration given as an object instead of a file (as `loadConfig` would after
 * reading YAML); handy for tests that need a config with a few keys changed. `env` defaults to none.
 */
export function resolveConfig(input: unknown, env: Record<string, string | undefined> = {}): PortentConfig {
  return resolve(input, env, undefined).config;
}

function load(options: LoadConfigOptions): { config: PortentConfig; fromEnv: string[] } {
  const env = options.env ?? process.env;
  const file = options.file ?? (env.PORTENT_CONFIG === '' ? undefined : env.PORTENT_CONFIG);
  if (file === undefined) return resolve({}, env, undefined);
  const parsed = readConfigFile(file);
  return resolve(parsed.value, env, parsed);
}

interface ParsedFile {
  value: unknown;
  locate(path: string[], part: 'key' | 'value'): SourceLocation | undefined;
}

function readConfigFile(file: string): ParsedFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PortentError('CONFIG_UNREADABLE', {
      details: [{ path: file, message: osReason(err) }],
      cause: err,
    });
  }

  const lineCounter = new LineCounter();
  // Our own positions replace yaml's "pretty" errors, which add a multi-line excerpt to the message.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line: Math.max(line, 1), column: col };
  };
  if (doc.errors.length > 0) {
    throw new PortentError('CONFIG_UNREADABLE', {
      details: doc.errors.map((e) => {
        const { line, column } = at(e.pos[0]);
        return { path: `${file}:${line}:${column}`, message: `not valid YAML: ${e.message.split('\n')[0]}` };
      }),
    });
  }

  let value: unknown;
  try {
    // yaml's default alias limit stays on: it is what stops a "billion laughs" file.
    value = doc.toJS();
  } catch (err) {
    throw new PortentError('CONFIG_UNREADABLE', {
      details: [{ path: file, message: err instanceof Error ? err.message : String(err) }],
      cause: err,
    });
  }

  return {
    value,
    locate(path, part) {
      const node = findNode(doc, path, part);
      if (node?.range === undefined || node.range === null) return undefined;
      return { file, ...at(node.range[0]) };
    },
  };
}

/** The YAML node of a key or of its value (the key when the value is empty), or the nearest parent. */
function findNode(doc: Document, path: string[], part: 'key' | 'value'): Node | undefined {
  let node: unknown = doc.contents;
  let keyNode: Node | undefined;
  for (const key of path) {
    if (isAlias(node)) node = node.resolve(doc);
    // List items are named by their 1-based position ("sensor.sources.2.path").
    if (isSeq(node) && /^[1-9]\d*$/.test(key) && Number(key) <= node.items.length) {
      node = node.items[Number(key) - 1];
      keyNode = undefined;
      continue;
    }
    if (!isMap(node)) break;
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
    if (pair === undefined) break;
    keyNode = pair.key as Node;
    node = pair.value;
  }
  const valueNode = (node ?? undefined) as Node | undefined;
  return part === 'key' ? (keyNode ?? valueNode) : (valueNode ?? keyNode);
}

/** "no such file or directory (ENOENT)" from a file-system error. */
function osReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.errno === 'number' && typeof e.code === 'string') {
    return `${getSystemErrorMessage(e.errno)} (${e.code})`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** Text of an environment variable as the value the field's type needs, or the text when it is not one. */
function coerceEnvText(node: SchemaNode, text: string): unknown {
  const meta = node[FIELD_META];
  if (meta?.kind === 'bytesize') return /^[0-9]+$/.test(text) ? Number(text) : text;
  if (meta?.kind === 'duration') return text;
  if (node.enum !== undefined) {
    return node.enum.includes(text) ? text : (node.enum.find((v) => String(v) === text) ?? text);
  }
  switch (node.type) {
    case 'integer':
      return /^[+-]?[0-9]+$/.test(text) ? Number(text) : text;
    case 'number':
      return /^[+-]?[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) : text;
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : text;
    default:
      return text;
  }
}

function resolve(
  input: unknown,
  env: Record<string, string | undefined>,
  source: ParsedFile | undefined,
): { config: PortentConfig; fromEnv: string[] } {
  const problems: ConfigProblem[] = [];
  const locate = (path: string[], part: 'key' | 'value') => source?.locate(path, part);

  // An empty file (or one of comments) is YAML null: all defaults.
  let raw: Record<string, unknown> = {};
  if (isPlainObject(input)) raw = structuredClone(input);
  else if (input !== null && input !== undefined) {
    const sections = Object.keys(CONFIG_SECTIONS).join(', ');
    problems.push({
      path: '',
      message: `the configuration must be a mapping of sections (${sections}); got ${describeValue(input)}`,
      ...locate([], 'value'),
    });
  }
  // "server:" with every key under it commented out is null too; it means "all defaults" just the same.
  for (const section of Object.keys(CONFIG_SECTIONS)) if (raw[section] === null) raw[section] = {};

  const origins = new Map<string, string>();
  const targets = envTargets();
  const envProblems: ConfigProblem[] = [];
  for (const name of Object.keys(env).sort()) {
    const text = env[name];
    if (!name.startsWith('PORTENT_') || text === undefined || isNonConfigVariable(name)) continue;
    const target = targets.get(name);
    if (target === undefined) {
      envProblems.push({ path: `env ${name}`, message: unknownVariable(name, [...targets.keys()]) });
      continue;
    }
    const section = (raw[target.section] ??= {});
    // A section that is not a mapping is reported as such; the override waits until it is fixed.
    if (!isPlainObject(section)) continue;
    section[target.key] = coerceEnvText(target.node, text);
    origins.set(`${target.section}.${target.key}`, name);
  }

  problems.push(
    ...checkConfigValue(asNode(ConfigSchema), raw, {
      label: (path) => {
        const name = origins.get(path.join('.'));
        return name === undefined ? path.join('.') : `env ${name}`;
      },
      locate: (path, part) => (origins.has(path.join('.')) ? undefined : locate(path, part)),
    }),
  );
  problems.push(...envProblems);
  if (problems.length > 0) throw invalid(problems);

  const filled = Value.Default(ConfigSchema, inSchemaOrder(asNode(ConfigSchema), raw));
  // The walker above should have caught everything; this is the schema's own word, kept as a backstop.
  if (!Value.Check(ConfigSchema, filled)) {
    throw invalid(
      Value.Errors(ConfigSchema, filled).map((e) => ({
        path: e.instancePath.slice(1).replaceAll('/', '.'),
        message: e.message,
      })),
    );
  }
  const config = deepFreeze(DecodeUnsafe({}, ConfigSchema, filled) as PortentConfig);
  return { config, fromEnv: [...origins.values()] };
}

function unknownVariable(name: string, known: string[]): string {
  // PORTENT_LOG_LEVEL: a key's name without its section is the likeliest slip of all.
  const rest = name.slice('PORTENT_'.length);
  const sectionless = known.filter((k) => k.endsWith(`_${rest}`));
  const guess = sectionless.length === 1 ? sectionless[0] : closestName(name, known);
  if (guess !== undefined) return `unknown variable "${name}" — did you mean "${guess}"?`;
  return (
    `unknown variable "${name}": no configuration key has this name (the keys are in docs/configuration.md); ` +
    `variables for other uses must start with ${NON_CONFIG_PREFIXES.join(' or ')}`
  );
}

/**
 * The CONFIG_INVALID error for `problems`: in file order (then environment variables by name), cut to
 * MAX_REPORTED_PROBLEMS with the message saying so.
 */
function invalid(problems: ConfigProblem[]): PortentError {
  const located = problems.filter((p) => p.line !== undefined);
  located.sort((a, b) => a.line! - b.line! || (a.column ?? 0) - (b.column ?? 0));
  const fromEnv = problems.filter((p) => p.line === undefined && p.path.startsWith('env '));
  fromEnv.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const rest = problems.filter((p) => p.line === undefined && !p.path.startsWith('env '));
  const ordered = [...located, ...rest, ...fromEnv];
  const shown = ordered.slice(0, MAX_REPORTED_PROBLEMS);
  return new PortentError('CONFIG_INVALID', {
    message:
      shown.length < ordered.length
        ? `The configuration is not valid; the first ${shown.length} of ${ordered.length} problems are listed.`
        : undefined,
    details: shown,
  });
}

/** A copy of a checked value with keys in schema order, so a printed config reads like the docs. */
function inSchemaOrder(node: SchemaNode, value: unknown): unknown {
  if (node.properties === undefined || !isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(node.properties)) {
    if (value[key] !== undefined) out[key] = inSchemaOrder(child, value[key]);
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * The problems of a CONFIG_INVALID or CONFIG_UNREADABLE error, one per line, as the CLI prints them:
 * `file:line:column: key.path: message` when the problem is in the file, `key.path: message` otherwise.
 * Any other error gives its message.
 */
export function formatConfigProblems(err: unknown): string {
  if (!(err instanceof PortentError)) return err instanceof Error ? err.message : String(err);
  if (err.details.length === 0) return err.message;
  return err.details
    .map((p: ConfigProblem) => {
      const where =
        p.file !== undefined && p.line !== undefined ? `${p.file}:${p.line}:${p.column ?? 1}: ` : '';
      return `${where}${p.path === '' ? '' : `${p.path}: `}${p.message}`;
    })
    .join('\n');
}

/**
 * What `portent config check FILE` prints and whether it passed: the file (or, with no file, defaults and
 * environment) loaded as `portent server` would load it. Errors other than configuration errors are thrown.
 */
export function configCheck(
  file: string | undefined,
  env: Record<string, string | undefined> = process.env,
): { ok: boolean; text: string } {
  const what = file ?? (env.PORTENT_CONFIG || 'the defaults');
  try {
    const { fromEnv } = load({ file, env });
    const overrides = fromEnv.length === 0 ? '' : `, with ${fromEnv.join(', ')} from the environment`;
    return { ok: true, text: `${what}: the configuration is valid${overrides}.` };
  } catch (err) {
    if (
      !(err instanceof PortentError) ||
      (err.code !== 'CONFIG_INVALID' && err.code !== 'CONFIG_UNREADABLE')
    ) {
      throw err;
    }
    const lines = formatConfigProblems(err)
      .split('\n')
      .map((l) => `  ${l}`);
    return { ok: false, text: [`${what}: ${err.message}`, ...lines, err.hint].join('\n') };
  }
}
