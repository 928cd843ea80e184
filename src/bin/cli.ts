// The `portent` command line: parses arguments, runs one command, and maps failures to exit codes.

import { parseArgs } from 'node:util';
import { PortentError } from '../core/errors.ts';
import { configCheck, formatConfigProblems, loadConfig } from '../config/load.ts';
import type { PortentConfig } from '../config/schema.ts';
import type { SensorsCommand } from './sensors.ts';
import { VERSION } from './version.ts';
import { LINE_FORMATS } from '../sensor/parsers/index.ts';
import type { FormatName } from '../sensor/parsers/types.ts';

/** Exit codes, documented in docs/operations.md. */
export const EXIT = { ok: 0, failed: 1, usage: 2, config: 3, storeLocked: 4 } as const;

interface Command {
  summary: string;
  usage: string;
  options?: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>;
  run(args: { values: Record<string, unknown>; positionals: string[] }): Promise<number>;
}

const configOption = { config: { type: 'string' as const, short: 'c' } };

function config(values: Record<string, unknown>): PortentConfig {
  return loadConfig({
    file: (values.config as string | undefined) ?? process.env.PORTENT_CONFIG,
    env: process.env,
  });
}

const out = (line = ''): void => void process.stdout.write(`${line}\n`);

const COMMANDS: Record<string, Command> = {
  server: {
    summary: 'Run the collector, the read API and the store in one process (embedded profile).',
    usage: `portent server [--config FILE]

Listens on server.listen_host:server.listen_port and stores into storage.path. Stops cleanly on
Ctrl-C or SIGTERM: queued batches are made durable and rollups written before it exits.`,
    options: configOption,
    async run({ values }) {
      const cfg = config(values);
      const { startEmbeddedServer } = await import('./embedded.ts');
      const server = await startEmbeddedServer(cfg);
      server.app.log.info(
        { url: server.url, store: cfg.storage.path, version: VERSION },
        'Portent server is listening.',
      );
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          server.app.log.info({ signal }, 'Stopping: writing queued batches and rollups.');
          // A stop that takes longer than server.shutdown_timeout is abandoned: what was
          // acknowledged is durable already, and the rest is replayed at the next start.
          const timer = setTimeout(() => {
            server.app.log.error(
              { timeout_ms: cfg.server.shutdown_timeout },
              'Stopping took too long; exiting now.',
            );
            process.exit(EXIT.failed);
          }, cfg.server.shutdown_timeout);
          timer.unref();
          void server.stop().then(resolve);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      return EXIT.ok;
    },
  },

  demo: {
    summary: 'Replay the seed incidents (TCP 5168, TCP 2967) from the simulator through a real server.',
    usage: `portent demo [--data DIR] [--speed N] [--duration D | --quick] [--live [--live-sensors K]] [--exit]

Starts an embedded server on a free loopback port with its store in a temporary directory (or
DIR), enrols 32 sensors through the admin API, and replays the two seed incidents from the
simulator (scenarios/serverprotect-5168.yaml, then scenarios/sagevo-2967.yaml): the simulated
sensors' events go as signed, gzipped batches through the real HTTP collector, with the
incidents' own dates. Every few seconds it prints what the server's API reports for the
incident's port over the last simulated hour, and the scenario's ground-truth milestones as they
pass. It keeps serving the API until Ctrl-C, or exits when the replay ends with --exit.

  --speed N      simulated seconds per real second (default 6000: both incidents in about two
                 minutes); 0 replays as fast as the server takes it
  --duration D   replay only the first D of each incident (e.g. 6h)
  --quick        --duration 6h --speed 0, for tests
  --live         also start 3 real sensor processes (portent sensor run) with honeypot listeners
                 on free loopback ports standing for TCP 5168 and 2967; simulated honeypots hit on
                 the incident's port are mapped onto them, and their probes become real TCP
                 connections from 127.0.0.1 (at most 50/s; the rest go in batches)
  --live-sensors K  how many real sensors --live starts (default 3)`,
    options: {
      data: { type: 'string' },
      live: { type: 'boolean' },
      'live-sensors': { type: 'string' },
      exit: { type: 'boolean' },
      speed: { type: 'string' },
      duration: { type: 'string' },
      quick: { type: 'boolean' },
    },
    async run({ values }) {
      const { runDemo, DEFAULT_SPEED } = await import('./demo.ts');
      const { parseDuration } = await import('../config/types.ts');
      const quick = values.quick === true;
      const speed = values.speed === undefined ? (quick ? 0 : DEFAULT_SPEED) : Number(values.speed);
      if (!Number.isFinite(speed) || speed < 0)
        throw new PortentError('USAGE', { message: '--speed must be a number, 0 or more' });
      const duration = (values.duration as string | undefined) ?? (quick ? '6h' : undefined);
      const liveSensors = Number(values['live-sensors'] ?? 3);
      if (!Number.isInteger(liveSensors) || liveSensors < 1 || liveSensors > 16)
        throw new PortentError('USAGE', { message: '--live-sensors must be a whole number from 1 to 16' });
      return runDemo({
        dataDir: values.data as string | undefined,
        exitWhenDone: values.exit === true,
        speed,
        durationMs: duration === undefined ? undefined : parseDuration(duration),
        reportEveryMs: quick ? 1000 : undefined,
        liveSensors: values.live === true ? liveSensors : 0,
        out,
      });
    },
  },

  sensors: {
    summary:
      'Enrol, list, revoke and re-task sensors: sensors add NAME | list | revoke ID|NAME | retask ID|NAME.',
    usage: `portent sensors add NAME [--json]     enrol a sensor; prints its id and secret (shown once)
portent sensors list [--json]         list sensors with their status and health
portent sensors revoke ID|NAME        revoke a sensor: its batches are refused from then on
portent sensors retask ID|NAME --ports tcp/5168,udp/1434 [--for SECONDS] [--reason TEXT]
                                      ask a honeypot sensor to listen on these ports for a while

Works on the store file named by storage.path. While a server holds that file (DuckDB allows one
process per file), it goes through the server's admin routes with server.admin_token instead;
--server URL asks for that explicitly. A sensor is "stale" when nothing was heard from it for
collector.sensor_stale_after.`,
    options: {
      ...configOption,
      json: { type: 'boolean' },
      server: { type: 'string' },
      ports: { type: 'string' },
      for: { type: 'string' },
      reason: { type: 'string' },
    },
    async run({ values, positionals }) {
      const [action, arg] = positionals;
      const usage =
        'Usage: portent sensors add NAME | list | revoke ID|NAME | retask ID|NAME --ports tcp/PORT,...';
      if (!['add', 'list', 'revoke', 'retask'].includes(action ?? '') || (action !== 'list' && !arg))
        throw new PortentError('USAGE', { message: usage });
      if (action === 'retask' && typeof values.ports !== 'string')
        throw new PortentError('USAGE', { message: usage });
      const durationS = values.for === undefined ? undefined : Number(values.for);
      if (
        durationS !== undefined &&
        !(Number.isInteger(durationS) && durationS >= 60 && durationS <= 7 * 86400)
      )
        throw new PortentError('USAGE', { message: '--for takes whole seconds from 60 to 604800.' });
      const { runSensors } = await import('./sensors.ts');
      await runSensors(
        config(values),
        {
          action: action as SensorsCommand['action'],
          arg,
          ports: values.ports as string | undefined,
          durationS,
          reason: values.reason as string | undefined,
          server: values.server as string | undefined,
          json: values.json === true,
        },
        out,
      );
      return EXIT.ok;
    },
  },

  sensor: {
    summary: 'Run a sensor, or set one up: sensor run | init FILE | doctor | import FILE...',
    usage: `portent sensor run [--config FILE]        follow logs, capture, run honeypot listeners; spool and ship
portent sensor init FILE                   write a commented sensor configuration to FILE
portent sensor doctor [--config FILE]      check sources, capture, honeypot ports, spool, server and clock
portent sensor import [--format NAME] FILE...
                                           read files once (plain or gzip, logs or pcap) into the spool
                                           and ship them; prints the format chosen and counts per file

The sensor reads the sensor, shipper, spool, honeypot and privacy sections of the configuration
(docs/sensor.md). Formats: ${['auto', 'pcap', ...LINE_FORMATS.map((f) => f.name)].join(', ')}.`,
    options: { ...configOption, format: { type: 'string' } },
    async run({ values, positionals }) {
      const [action, ...rest] = positionals;
      const software = `portent-sensor/${VERSION}`;
      // Loaded here, not at the top: a sensor process should not map the server's DuckDB library.
      const { doctor, importFiles, initSensorConfig, runSensor } = await import('./sensor.ts');
      if (action === 'init') {
        if (rest.length !== 1)
          throw new PortentError('USAGE', { message: 'Usage: portent sensor init FILE' });
        initSensorConfig(rest[0], out);
        return EXIT.ok;
      }
      if (action === 'run') {
        await runSensor(config(values), software);
        return EXIT.ok;
      }
      if (action === 'doctor') {
        const checks = await doctor(config(values), software);
        for (const c of checks) {
          out(`${c.ok ? 'ok  ' : 'FAIL'} ${c.what}`);
          if (c.fix && !c.ok) out(`     fix: ${c.fix}`);
        }
        const failed = checks.filter((c) => !c.ok).length;
        out(failed === 0 ? 'Everything looks right.' : `${failed} problem${failed === 1 ? '' : 's'} found.`);
        return failed === 0 ? EXIT.ok : EXIT.failed;
      }
      if (action === 'import') {
        const format = (values.format as string | undefined) ?? 'auto';
        if (!['auto', 'pcap', ...LINE_FORMATS.map((f) => f.name)].includes(format))
          throw new PortentError('USAGE', { message: `Unknown format "${format}".` });
        if (rest.length === 0)
          throw new PortentError('USAGE', { message: 'Usage: portent sensor import FILE...' });
        const summaries = await importFiles(
          config(values),
          rest,
          format as FormatName | 'auto',
          software,
          out,
        );
        return summaries.some((s) => s.events === 0 && s.errors > 0) ? EXIT.failed : EXIT.ok;
      }
      throw new PortentError('USAGE', {
        message: 'Usage: portent sensor run | init FILE | doctor | import FILE...',
      });
    },
  },

  simulate: {
    summary:
      'Run a scenario in accelerated time and compare with its ground truth: simulate --scenario NAME.',
    usage: `portent simulate --scenario NAME [--runs N] [--seed S] [--json]

Runs the scenario (scenarios/NAME.yaml) N times (default 1) with seeds S, S+1, ... (default: the
scenario's own) in accelerated time, straight through the simulator, and prints per run and
summarised when sensors first saw each scanner and how much of the vulnerable population was infected
then, with the ground truth. The same seed gives the same result. --json prints the whole result,
ground truth included. Scenarios: docs/simulator.md.`,
    options: {
      scenario: { type: 'string' },
      runs: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean' },
    },
    async run({ values }) {
      const { scenarioNames } = await import('../sim/scenario.ts');
      const names = scenarioNames();
      const name = values.scenario as string | undefined;
      if (!name || !names.includes(name))
        throw new PortentError('USAGE', {
          message: `${name ? `There is no scenario "${name}"` : '--scenario is required'}; the scenarios are ${names.join(', ')}.`,
        });
      const whole = (v: unknown, what: string, min: number): number | undefined => {
        if (v === undefined) return undefined;
        const n = Number(v);
        if (!Number.isInteger(n) || n < min)
          throw new PortentError('USAGE', {
            message: `${what} takes a whole number of at least ${min}; got "${String(v)}".`,
          });
        return n;
      };
      const runs = whole(values.runs, '--runs', 1);
      const seed = whole(values.seed, '--seed', 0);
      const { formatExperiment, runExperiment } = await import('../sim/experiment.ts');
      const { detectWithPipeline } = await import('../analysis/replay.ts');
      const result = runExperiment(name, { runs, seed, detect: detectWithPipeline });
      if (values.json === true) out(JSON.stringify(result));
      else for (const line of formatExperiment(result)) out(line);
      return EXIT.ok;
    },
  },

  score: {
    summary: 'Score a timestamp,value CSV for spikes: score --input FILE --output FILE.',
    usage: `portent score --input series.csv --output scores.csv [--season day|week|none] [--warmup N]

Reads a timestamp,value CSV (header optional; ISO 8601 or epoch seconds/ms; in time order) and
writes timestamp,value,anomaly_score with one row per input row. Each row is judged only on the
rows before it: a robust baseline for its hour of day (--season day, the default), hour of week, or
no season, and the negative-binomial probability of a count at least as high; the score is
-log10(p)/10, so 0.5 means p = 1e-5 and 1 means p <= 1e-10. The first N rows (default 24) score 0.
A bad row refuses the whole file. See docs/detection.md.`,
    options: {
      input: { type: 'string' },
      output: { type: 'string' },
      season: { type: 'string' },
      warmup: { type: 'string' },
    },
    async run({ values }) {
      const input = values.input as string | undefined;
      const output = values.output as string | undefined;
      if (!input || !output)
        throw new PortentError('USAGE', { message: 'Usage: portent score --input FILE --output FILE' });
      const season = (values.season as string | undefined) ?? 'day';
      if (season !== 'day' && season !== 'week' && season !== 'none')
        throw new PortentError('USAGE', { message: '--season takes day, week or none.' });
      const warmup = Number(values.warmup ?? 24);
      if (!Number.isInteger(warmup) || warmup < 1)
        throw new PortentError('USAGE', { message: '--warmup takes a whole number of rows, 1 or more.' });
      const { runScore, SCORE_DECADES } = await import('../analysis/score.ts');
      const { rows, scores } = runScore(input, output, { season, warmup });
      const flagged = scores.filter((s) => s >= 0.5).length;
      out(
        `Scored ${rows.length} rows into ${output}; ${flagged} scored 0.5 or more (p <= 1e-${SCORE_DECADES / 2}).`,
      );
      const top = rows
        .map((r, i) => ({ r, s: scores[i] }))
        .filter((x) => x.s >= 0.5)
        .sort((a, b) => b.s - a.s)
        .slice(0, 5);
      for (const { r, s } of top) out(`  ${r.timestamp}  ${r.value}  ${s.toFixed(3)}`);
      return EXIT.ok;
    },
  },

  config: {
    summary: 'Check a configuration file: config check FILE.',
    usage: `portent config check FILE

Loads FILE with the PORTENT_* environment overrides applied, and prints every problem with its
key path, or "FILE is valid". Exit code 0 when valid, 3 when not.`,
    async run({ positionals }) {
      const [action, file] = positionals;
      if (action !== 'check' || !file)
        throw new PortentError('USAGE', { message: 'Usage: portent config check FILE' });
      const result = configCheck(file, process.env);
      out(result.text);
      return result.ok ? EXIT.ok : EXIT.config;
    },
  },

  import: {
    summary: 'Bulk-load event files through the same validation as the collector.',
    usage: `portent import --format ndjson [--sensor NAME] FILE...

Reads NDJSON event lines (one event per line, as in docs/formats.md; .gz files are decompressed),
validates them in chunks of 10,000 and stores each chunk as one batch from sensor NAME (default
"import", enrolled if missing). Batch ids derive from the content, so importing the same file
twice stores it once. On the first invalid chunk it stops and prints file:line and field paths;
chunks before it are stored.`,
    options: { ...configOption, format: { type: 'string' }, sensor: { type: 'string' } },
    async run({ values, positionals }) {
      if (values.format !== 'ndjson')
        throw new PortentError('USAGE', { message: 'Give --format ndjson (the only bulk format so far).' });
      if (positionals.length === 0)
        throw new PortentError('USAGE', { message: 'Name at least one file to import.' });
      const { runImport } = await import('./import.ts');
      return runImport({
        config: config(values),
        files: positionals,
        sensorName: (values.sensor as string | undefined) ?? 'import',
        out,
      });
    },
  },

  version: {
    summary: 'Print the version.',
    usage: 'portent version',
    async run() {
      out(`portent ${VERSION} (node ${process.versions.node})`);
      return EXIT.ok;
    },
  },
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    'portent: early warning for Internet scanning and worm outbreaks',
    '',
    'Usage: portent COMMAND [options]    (portent COMMAND --help for more)',
    '',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Configuration: --config FILE or PORTENT_CONFIG, then PORTENT_<SECTION>_<KEY> variables (docs/configuration.md).',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    out(help());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version') return COMMANDS.version.run({ values: {}, positionals: [] });
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`portent: unknown command "${name}".\n\n${help()}\n`);
    return EXIT.usage;
  }
  try {
    const parsed = parseArgs({
      args: rest,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
    });
    if (parsed.values.help) {
      out(`Usage: ${command.usage}`);
      return EXIT.ok;
    }
    return await command.run(parsed);
  } catch (err) {
    return reportFailure(name, err);
  }
}

function reportFailure(name: string, err: unknown): number {
  const say = (line: string) => process.stderr.write(`${line}\n`);
  if (err instanceof PortentError) {
    if (err.code === 'CONFIG_INVALID' || err.code === 'CONFIG_UNREADABLE') {
      say(formatConfigProblems(err));
      return EXIT.config;
    }
    say(`portent ${name}: ${err.message} [${err.code}]`);
    for (const d of err.details) say(`  ${d.path}: ${d.message}`);
    say(`  ${err.hint}`);
    return err.code === 'USAGE' ? EXIT.usage : err.code === 'STORE_LOCKED' ? EXIT.storeLocked : EXIT.failed;
  }
  const code = (err as { code?: string }).code;
  if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
    const { address, port } = err as { address?: string; port?: number };
    say(`portent ${name}: cannot listen on ${address}:${port} (${code}).`);
    say(
      '  Stop the process using that address, or set server.listen_host / server.listen_port (PORTENT_SERVER_LISTEN_PORT).',
    );
    return EXIT.failed;
  }
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
    say(`portent ${name}: ${(err as Error).message}\n  Run: portent ${name} --help`);
    return EXIT.usage;
  }
  say(`portent ${name}: unexpected error: ${(err as Error)?.stack ?? String(err)}`);
  return EXIT.failed;
}
