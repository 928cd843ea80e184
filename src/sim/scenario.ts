// Scenario files (scenarios/*.yaml): a named simulation, checked against a schema, turned into a SimulationConfig.
//
// Times inside a scenario are offsets from its `start` written as durations ("3d", "90m"), so a scenario
// reads like its story ("the server went down a day in") and can be moved in time by changing one line.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Type, { type Static } from 'typebox';
import Value from 'typebox/value';
import { parse } from 'yaml';
import { parseDuration } from '../config/types.ts';
import { TOOL_NAMES, type ToolName } from './events.ts';
import { IPV4_SPACE } from './internet.ts';
import { RESEARCH_SCANNERS } from './noise.ts';
import type { SimulationConfig } from './run.ts';
import type { Strategy, WormConfig } from './worm.ts';

/** The repository's scenarios folder. */
export const SCENARIO_DIR = resolve(import.meta.dirname, '../../scenarios');

const Strict = { additionalProperties: false } as const;
const Dur = Type.String({ description: 'a duration such as "90s", "2h" or "3d"' });
const Tool = Type.Union(TOOL_NAMES.map((t) => Type.Literal(t)));
const Window = Type.Object({ from: Dur, to: Dur }, Strict);

const StrategySchema = Type.Union([
  Type.Object({ kind: Type.Literal('random') }, Strict),
  Type.Object(
    {
      kind: Type.Literal('sequential'),
      start: Type.Union([Type.Literal('bottom'), Type.Literal('own'), Type.Literal('random')]),
      threads: Type.Integer({ minimum: 1 }),
      wrap: Type.Optional(Type.Boolean()),
      restart_each_window: Type.Optional(Type.Boolean()),
    },
    Strict,
  ),
  Type.Object(
    {
      kind: Type.Literal('local'),
      prefer: Type.Array(
        Type.Object(
          { prefix: Type.Integer({ minimum: 1, maximum: 31 }), p: Type.Number({ minimum: 0, maximum: 1 }) },
          Strict,
        ),
      ),
    },
    Strict,
  ),
  Type.Object({ kind: Type.Literal('permutation') }, Strict),
]);

const WormSchema = Type.Object(
  {
    name: Type.String(),
    port: Type.Integer({ minimum: 0, maximum: 65535 }),
    proto: Type.Union([Type.Literal('tcp'), Type.Literal('udp')]),
    strategy: StrategySchema,
    scan_rate: Type.Number({
      exclusiveMinimum: 0,
      description: 'probes a second per host (per thread when sequential)',
    }),
    population: Type.Object(
      {
        hosts: Type.Integer({ minimum: 1 }),
        networks: Type.Optional(Type.Integer({ minimum: 1 })),
        per_subnet: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
      },
      Strict,
    ),
    onset: Dur,
    initial: Type.Optional(Type.Integer({ minimum: 1 })),
    hit_list: Type.Optional(Type.Integer({ minimum: 0 })),
    patch_per_hour: Type.Optional(Type.Number({ minimum: 0 })),
    patch_from: Type.Optional(Dur),
    c2_down: Type.Optional(Type.Array(Window)),
    scan_windows: Type.Optional(Type.Array(Window)),
    tool: Tool,
  },
  Strict,
);

const CampaignSchema = Type.Object(
  {
    name: Type.String(),
    port: Type.Integer({ minimum: 0, maximum: 65535 }),
    proto: Type.Union([Type.Literal('tcp'), Type.Literal('udp')]),
    sources: Type.Integer({ minimum: 1 }),
    peak_rate: Type.Number({ exclusiveMinimum: 0, description: 'probes a second per source at the peak' }),
    start: Dur,
    ramp: Dur,
    half_life: Dur,
    end: Dur,
    tool: Tool,
    payload: Type.Optional(
      Type.String({ description: 'the exploit a honeypot captures; events carry its SHA-256' }),
    ),
  },
  Strict,
);

export const ScenarioSchema = Type.Object(
  {
    name: Type.String(),
    description: Type.String(),
    seed: Type.Integer({ minimum: 0, maximum: 0xffffffff }),
    start: Type.String({ format: 'date-time' }),
    duration: Dur,
    step: Dur,
    sensors: Type.Object(
      {
        count: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
        mean_addresses: Type.Number({
          minimum: 1,
          maximum: 256,
          description: 'monitored addresses per sensor on average',
        }),
        honeypot_share: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
      },
      Strict,
    ),
    background: Type.Union([
      Type.Literal(false),
      Type.Object(
        {
          per_address_hour: Type.Optional(Type.Number({ minimum: 0 })),
          sources: Type.Optional(Type.Integer({ minimum: 1 })),
          churn_per_day: Type.Optional(Type.Number({ minimum: 0, maximum: 10 })),
        },
        Strict,
      ),
    ]),
    research_scanners: Type.Boolean(),
    misconfiguration: Type.Boolean(),
    network: Type.Optional(
      Type.Object(
        {
          loss: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
          outages_per_sensor_day: Type.Optional(Type.Number({ minimum: 0 })),
          outage_mean: Type.Optional(Dur),
          clock_skew_sd: Type.Optional(Dur),
        },
        Strict,
      ),
    ),
    worms: Type.Optional(Type.Array(WormSchema)),
    campaigns: Type.Optional(Type.Array(CampaignSchema)),
    truth: Type.Optional(
      Type.Object({ disclosure: Type.Optional(Dur), notes: Type.Optional(Type.String()) }, Strict),
    ),
  },
  Strict,
);

export type ScenarioFile = Static<typeof ScenarioSchema>;

export interface Scenario {
  name: string;
  description: string;
  file: ScenarioFile;
  config: SimulationConfig;
}

/** Names of the scenarios in `dir` (file names without .yaml). */
export function scenarioNames(dir = SCENARIO_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

/** Reads and checks scenario `name` from `dir`; `seed` replaces the file's. Throws a RangeError naming every problem. */
export function loadScenario(name: string, opts: { dir?: string; seed?: number } = {}): Scenario {
  const path = join(opts.dir ?? SCENARIO_DIR, `${name}.yaml`);
  return scenarioFromYaml(readFileSync(path, 'utf8'), path, opts.seed);
}

export function scenarioFromYaml(text: string, where: string, seed?: number): Scenario {
  const data: unknown = parse(text);
  if (!Value.Check(ScenarioSchema, data)) {
    // TypeBox reports an unknown key twice (the key's schema is `false`, the parent refuses extras): say it once, plainly.
    const problems = Value.Errors(ScenarioSchema, data)
      .filter((e) => !e.message.includes('additional properties'))
      .map((e) => `${e.instancePath || '/'}: ${e.message === 'schema is false' ? 'unknown key' : e.message}`);
    throw new RangeError(`${where}: ${[...new Set(problems)].join('; ')}`);
  }
  return { name: data.name, description: data.description, file: data, config: toConfig(data, where, seed) };
}

function toConfig(f: ScenarioFile, where: string, seed?: number): SimulationConfig {
  const ms = (text: string, field: string): number => {
    try {
      return parseDuration(text);
    } catch (err) {
      throw new RangeError(`${where}: ${field}: ${(err as Error).message}`, { cause: err });
    }
  };
  const start = Date.parse(f.start);
  const at = (text: string, field: string) => start + ms(text, field);
  const windows = (list: { from: string; to: string }[] | undefined, field: string) =>
    list?.map((w, i): [number, number] => [at(w.from, `${field}[${i}].from`), at(w.to, `${field}[${i}].to`)]);
  const worms: WormConfig[] = (f.worms ?? []).map((w, i) => {
    const field = `worms[${i}]`;
    return {
      name: w.name,
      port: w.port,
      proto: w.proto,
      strategy: strategyOf(w.strategy),
      scanRate: w.scan_rate,
      population: {
        hosts: w.population.hosts,
        networks: w.population.networks,
        perSubnet: w.population.per_subnet,
      },
      onset: at(w.onset, `${field}.onset`),
      initial: w.initial,
      hitList: w.hit_list,
      patchPerHour: w.patch_per_hour,
      patchFrom: w.patch_from === undefined ? undefined : at(w.patch_from, `${field}.patch_from`),
      c2Down: windows(w.c2_down, `${field}.c2_down`),
      scanWindows: windows(w.scan_windows, `${field}.scan_windows`),
      tool: w.tool as ToolName,
    };
  });
  const n = f.network;
  return {
    seed: seed ?? f.seed,
    start,
    durationMs: ms(f.duration, 'duration'),
    stepMs: ms(f.step, 'step'),
    sensors: {
      sensors: f.sensors.count,
      coverage: (f.sensors.count * f.sensors.mean_addresses) / IPV4_SPACE,
      honeypotShare: f.sensors.honeypot_share,
    },
    background:
      f.background === false
        ? false
        : {
            perAddressHour: f.background.per_address_hour,
            sources: f.background.sources,
            churnPerDay: f.background.churn_per_day,
          },
    research: f.research_scanners ? RESEARCH_SCANNERS(start - 86_400_000) : [],
    misconfig: f.misconfiguration ? {} : false,
    network: n && {
      loss: n.loss,
      outagesPerSensorDay: n.outages_per_sensor_day,
      outageMeanMs: n.outage_mean === undefined ? undefined : ms(n.outage_mean, 'network.outage_mean'),
      clockSkewSdMs: n.clock_skew_sd === undefined ? undefined : ms(n.clock_skew_sd, 'network.clock_skew_sd'),
    },
    worms,
    campaigns: (f.campaigns ?? []).map((c, i) => ({
      name: c.name,
      port: c.port,
      proto: c.proto,
      sources: c.sources,
      peakRate: c.peak_rate,
      start: at(c.start, `campaigns[${i}].start`),
      rampMs: ms(c.ramp, `campaigns[${i}].ramp`),
      halfLifeMs: ms(c.half_life, `campaigns[${i}].half_life`),
      end: at(c.end, `campaigns[${i}].end`),
      tool: c.tool as ToolName,
      payloadSha256:
        c.payload === undefined ? undefined : createHash('sha256').update(c.payload).digest('hex'),
    })),
  };
}

function strategyOf(s: Static<typeof StrategySchema>): Strategy {
  if (s.kind !== 'sequential') return s;
  return {
    kind: 'sequential',
    start: s.start,
    threads: s.threads,
    wrap: s.wrap,
    restartEachWindow: s.restart_each_window,
  };
}
