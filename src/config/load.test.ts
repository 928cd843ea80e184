// Tests of the configuration loader: a table of config files and environments with the exact messages.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MAX_REPORTED_PROBLEMS, PortentError } from '../core/errors.ts';
import { configCheck, formatConfigProblems, loadConfig, resolveConfig } from './load.ts';
import type { PortentConfig } from './schema.ts';

const dir = mkdtempSync(join(tmpdir(), 'portent-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
function writeConfig(yaml: string): string {
  const file = join(dir, `config-${++fileCount}.yaml`);
  writeFileSync(file, yaml);
  return file;
}

/** The defaults exactly as the brief and docs/configuration.md state them, in ms and bytes. */
const DEFAULTS: PortentConfig = {
  server: {
    listen_host: '127.0.0.1',
    listen_port: 8470,
    admin_token: '',
    log_level: 'info',
    shutdown_timeout: 10_000,
    trust_proxy: false,
  },
  collector: {
    max_batch_bytes: 16 * 1024 * 1024,
    max_decompressed_bytes: 64 * 1024 * 1024,
    max_batch_events: 100_000,
    max_clock_skew: 5 * 60_000,
    sensor_events_per_s: 2_000_000,
    sensor_burst_events: 4_000_000,
    sensor_stale_after: 10 * 60_000,
    max_pending_batches: 256,
  },
  storage: {
    path: './data/portent.duckdb',
    raw_retention: 30 * 86_400_000,
    retention_check_interval: 3_600_000,
    rollup_flush_interval: 2000,
    sources_flush_interval: 10_000,
    compaction_interval: 60_000,
    duckdb_threads: 0,
    duckdb_memory_limit: 512 * 1024 ** 2,
  },
  analysis: {
    enabled: true,
    tick: 5000,
    grace: 30_000,
    anomalous: 6,
    min_sensors: 3,
    min_subnets: 3,
    warmup: 3_600_000,
    confirm: 9,
    confirm_run: 3,
    sustain: 3,
    end_after: 30 * 60_000,
    reopen_within: 24 * 3_600_000,
    lower_after: 30 * 60_000,
    min_hold: 3_600_000,
  },
  dshield: {
    enabled: false,
    max_body_bytes: 16 * 1024 * 1024,
    max_records: 100_000,
    nonce_memory: 86_400_000,
    max_remembered_nonces: 200_000,
  },
  hpfeeds: {
    enabled: false,
    listen_host: '127.0.0.1',
    listen_port: 10000,
    broker_name: 'portent',
    max_connections: 64,
    max_message_bytes: 1024 * 1024,
    max_messages_per_s: 1000,
    batch_max_events: 1000,
    batch_max_delay: 1000,
    auth_timeout: 10_000,
    idle_timeout: 3_600_000,
  },
  sensor: {
    state_dir: './data/sensor',
    time_zone: '',
    sources: [],
    captures: [],
    heartbeat_interval: 60_000,
    retaskable: false,
    append_interval: 200,
  },
  spool: {
    path: './data/spool',
    max_bytes: 1024 ** 3,
    segment_bytes: 64 * 1024 ** 2,
    fsync: 1000,
    sampling_adjust_interval: 1000,
  },
  shipper: {
    url: '',
    sensor_id: '',
    sensor_secret: '',
    ca_file: '',
    min_batch_events: 1000,
    max_batch_events: 10_000,
    batch_linger: 1000,
    retry_base: 500,
    retry_max: 60_000,
    request_timeout: 30_000,
  },
  honeypot: {
    bind_address: '0.0.0.0',
    tcp_ports: [],
    udp_ports: [],
    capture_bytes: 4096,
    capture_timeout: 5000,
    max_connections: 256,
    max_connections_per_source: 8,
    source_attempts_per_s: 5,
    source_attempt_burst: 20,
    udp_replies_per_source_per_s: 1,
    udp_reply_burst: 3,
    max_buffered_bytes: 4 * 1024 ** 2,
    max_events_per_s: 1000,
    max_tracked_sources: 65_536,
    max_retasked_ports: 16,
    max_retask_duration: 86_400_000,
  },
  privacy: {
    detect_own_addresses: true,
    own_addresses: [],
    own_address_policy: 'hash',
    internal_networks: [],
    admin_sources: [],
    truncate_ipv4_prefix: 24,
    truncate_ipv6_prefix: 48,
    hash_key_file: './data/sensor/privacy.key',
  },
};

/** DEFAULTS with some keys changed: { 'server.listen_port': 0 }. */
function defaultsWith(changes: Record<string, unknown>): PortentConfig {
  const config = structuredClone(DEFAULTS) as unknown as Record<string, Record<string, unknown>>;
  for (const [path, value] of Object.entries(changes)) {
    const [section, key] = path.split('.');
    config[section][key] = value;
  }
  return config as unknown as PortentConfig;
}

const TOKEN = 'x'.repeat(32);

interface Case {
  name: string;
  /** File contents; no file at all when undefined. */
  yaml?: string;
  env?: Record<string, string | undefined>;
  /** The whole loaded config... */
  config?: PortentConfig;
  /** ...or the error: its code and its problems as formatConfigProblems prints them, FILE for the path. */
  code?: 'CONFIG_INVALID' | 'CONFIG_UNREADABLE';
  problems?: string[];
}

const cases: Case[] = [
  { name: 'empty file gives defaults', yaml: '', config: DEFAULTS },
  { name: 'file of comments gives defaults', yaml: '# nothing here\n\n# at all\n', config: DEFAULTS },
  {
    name: 'sections with every key commented out give defaults',
    yaml: 'server:\n  # listen_port: 1\ncollector:\nstorage: {}\n',
    config: DEFAULTS,
  },
  { name: 'no file and no environment gives defaults', config: DEFAULTS },
  {
    name: 'values in a file are loaded and converted',
    yaml: [
      'server:',
      '  listen_host: "::"',
      '  listen_port: 0',
      `  admin_token: ${TOKEN}`,
      '  log_level: debug',
      '  shutdown_timeout: 250ms',
      '  trust_proxy: true',
      'collector:',
      '  max_batch_bytes: 512KiB',
      '  max_decompressed_bytes: 1048576',
      '  max_clock_skew: 30s',
      'storage:',
      '  raw_retention: 7d',
      '  duckdb_memory_limit: 1GiB',
      '',
    ].join('\n'),
    config: defaultsWith({
      'server.listen_host': '::',
      'server.listen_port': 0,
      'server.admin_token': TOKEN,
      'server.log_level': 'debug',
      'server.shutdown_timeout': 250,
      'server.trust_proxy': true,
      'collector.max_batch_bytes': 512 * 1024,
      'collector.max_decompressed_bytes': 1048576,
      'collector.max_clock_skew': 30_000,
      'storage.raw_retention': 7 * 86_400_000,
      'storage.duckdb_memory_limit': 1024 ** 3,
    }),
  },
  {
    name: 'unknown top-level section',
    yaml: 'collecter:\n  max_batch_events: 10\n',
    code: 'CONFIG_INVALID',
    problems: ['FILE:1:1: collecter: unknown section "collecter" — did you mean "collector"?'],
  },
  {
    name: 'list items take their defaults, and a bad item is named by its position and line',
    yaml: 'sensor:\n  sources:\n    - path: /var/log/ufw.log\n    - path: /x\n      fromat: zeek-conn\n',
    code: 'CONFIG_INVALID',
    problems: ['FILE:5:7: sensor.sources.2.fromat: unknown key "fromat" — did you mean "format"?'],
  },
  {
    name: 'a list item with only its required key gets every default',
    yaml: 'honeypot:\n  tcp_ports:\n    - port: 2222\n',
    config: defaultsWith({ 'honeypot.tcp_ports': [{ port: 2222, banner: '', banner_hex: '' }] }),
  },
  {
    name: 'unknown top-level section with nothing close',
    yaml: 'metrics: {}\n',
    code: 'CONFIG_INVALID',
    problems: [
      'FILE:1:1: metrics: unknown section "metrics"; the sections here are server, collector, storage, analysis, dshield, hpfeeds, sensor, spool, shipper, honeypot, privacy',
    ],
  },
  {
    name: 'key written at the top level instead of in its section',
    yaml: 'listen_port: 8470\n',
    code: 'CONFIG_INVALID',
    problems: [
      'FILE:1:1: listen_port: unknown section "listen_port" — it is a key of the server and hpfeeds sections; put it under "server:" or "hpfeeds:"',
    ],
  },
  {
    name: 'unknown nested key with suggestion',
    yaml: 'server:\n  listen_prot: 8471\n',
    code: 'CONFIG_INVALID',
    problems: ['FILE:2:3: server.listen_prot: unknown key "listen_prot" — did you mean "listen_port"?'],
  },
  {
    name: 'unknown nested key suggested from its last word',
    yaml: 'server:\n  port: 8471\n',
    code: 'CONFIG_INVALID',
    problems: ['FILE:2:3: server.port: unknown key "port" — did you mean "listen_port"?'],
  },
  {
    name: 'key in the wrong section',
    yaml: 'server:\n  max_clock_skew: 1m\n',
    code: 'CONFIG_INVALID',
    problems: [
      'FILE:2:3: server.max_clock_skew: unknown key "max_clock_skew" — it belongs in the collector section; move it under "collector:"',
    ],
  },
  {
    name: 'wrong type',
    yaml: 'server:\n  listen_port: "8470"\n  trust_proxy: yes\n  log_level: verbose\n',
    code: 'CONFIG_INVALID',
    problems: [
      'FILE:2:16: server.listen_port: must be an integer from 0 to 65535; got "8470"',
      'FILE:3:16: server.trust_proxy: must be true or false; got "yes"',
      'FILE:4:14: server.log_level: must be one of "fatal", "error", "warn", "info", "debug", "trace"; got "verbose"',
    ],
  },
  {
    name: 'section that is not a mapping',
    yaml: 'server: 8470\n',
    code: 'CONFIG_INVALID',
    problems: [
      'FILE:1:9: server: must be a mapping with the keys listen_host, listen_port, admin_token, log_level, shutdown_timeout, trust_proxy; got 8470',
    ],
  },
  {
    name: 'file that is not a mapping',
    yaml: '- server\n- storage\n',
    code: 'CONFIG_INVALID',
    problems: [
      'FILE:1:1: the configuration must be a mapping of sections (server, collector, storage, analysis, dshield, hpfeeds, sensor, spool, shipper, honeypot, privacy); got a list',
    ],
  },
  {
    name: 'out-of-range port',
    yaml: 'server:\n  listen_port: 70000\n',
    code: 'CONFIG_INVALID',
    problems: ['FILE:2:16: server.listen_port: must be an integer from 0 to 65535; got 70000'],
  },
  {
    name: 'key with an empty value',
    yaml: 'server:\n  listen_port:\n',
    code: 'CONFIG_INVALID',
    problems: ['FILE:2:15: server.listen_port: must be an integer from 0 to 65535; got an empty value'],
  },
  {
    name: 'bad duration',
    yaml: 'collector:\n  max_clock_skew: 5 minutes\n',
    code: 'CONFIG_INVALID',
    problems: [
      'FILE:2:19: collector.max_clock_skew: must be a duration such as "30s", "5m" or "1h"; got "5 minutes"',
    ],
  },
  {
    name: 'duration without a unit',
    yaml: 'server:\n  shutdown_timeout: 30\n',
    code: 'CONFIG_INVALID',
    problems: [
      'FILE:2:21: server.shutdown_timeout: must be a duration such as "30s", "5m" or "1h"; got 30 (a number needs a unit: ms, s, m, h or d)',
    ],
  },
  {
    name: 'duration out of range',
    yaml: 'collector:\n  max_clock_skew: 2h\n',
    code: 'CONFIG_INVALID',
    problems: ['FILE:2:19: collector.max_clock_skew: must be a duration from 1s to 1h; got "2h"'],
  },
  {
    name: 'bad size',
    yaml: 'collector:\n  max_batch_bytes: 16MB\n',
    code: 'CONFIG_INVALID',
    problems: [
      'FILE:2:20: collector.max_batch_bytes: must be a size such as "512KiB", "16MiB" or "1GiB", or a whole number of bytes; got "16MB" — did you mean "16MiB"?',
    ],
  },
  {
    name: 'size out of range',
    yaml: 'collector:\n  max_decompressed_bytes: 2GiB\n',
    code: 'CONFIG_INVALID',
    problems: ['FILE:2:27: collector.max_decompressed_bytes: must be a size from 1KiB to 1GiB; got "2GiB"'],
  },
  {
    name: 'size that may be empty',
    yaml: 'storage:\n  duckdb_memory_limit: lots\n',
    code: 'CONFIG_INVALID',
    problems: [
      `FILE:2:24: storage.duckdb_memory_limit: must be a size such as "512KiB", "16MiB" or "1GiB", or a whole number of bytes, or "" for DuckDB's default; got "lots"`,
    ],
  },
  {
    name: 'short admin token, not echoed',
    yaml: 'server:\n  admin_token: hunter2\n',
    code: 'CONFIG_INVALID',
    problems: [
      'FILE:2:16: server.admin_token: must be at least 32 characters when set (or "" to disable admin routes); got 7 characters',
    ],
  },
  {
    name: 'admin token of the wrong type, not echoed',
    yaml: 'server:\n  admin_token: 1234567\n',
    code: 'CONFIG_INVALID',
    problems: ['FILE:2:16: server.admin_token: must be a string; got a number'],
  },
  {
    name: 'every problem is reported, in file order',
    yaml: 'storage:\n  raw_retention: 1m\nserver:\n  listen_port: -1\n  listen_hots: x\n',
    code: 'CONFIG_INVALID',
    problems: [
      'FILE:2:18: storage.raw_retention: must be a duration of at least 1h; got "1m"',
      'FILE:4:16: server.listen_port: must be an integer from 0 to 65535; got -1',
      'FILE:5:3: server.listen_hots: unknown key "listen_hots" — did you mean "listen_host"?',
    ],
  },
  {
    name: 'YAML syntax error with line',
    yaml: 'server:\n  listen_port: 8470\n log_level: info\n',
    code: 'CONFIG_UNREADABLE',
    problems: ['FILE:3:1: not valid YAML: All mapping items must start at the same column'],
  },
  {
    name: 'duplicate key is a YAML error',
    yaml: 'server:\n  listen_port: 1\n  listen_port: 2\n',
    code: 'CONFIG_UNREADABLE',
    problems: ['FILE:3:3: not valid YAML: Map keys must be unique'],
  },
  {
    name: 'env override applied over the file',
    yaml: 'server:\n  listen_port: 9000\n',
    env: {
      PORTENT_SERVER_LISTEN_PORT: '0',
      PORTENT_STORAGE_PATH: '/var/lib/portent/p.duckdb',
      PORTENT_COLLECTOR_MAX_CLOCK_SKEW: '2m',
      PORTENT_COLLECTOR_MAX_BATCH_BYTES: '1048576',
      PORTENT_SERVER_TRUST_PROXY: 'true',
      PORTENT_STORAGE_DUCKDB_MEMORY_LIMIT: '',
      PORTENT_SERVER_ADMIN_TOKEN: TOKEN,
    },
    config: defaultsWith({
      'server.listen_port': 0,
      'server.trust_proxy': true,
      'server.admin_token': TOKEN,
      'storage.path': '/var/lib/portent/p.duckdb',
      'collector.max_clock_skew': 120_000,
      'collector.max_batch_bytes': 1048576,
      'storage.duckdb_memory_limit': null,
    }),
  },
  {
    name: 'env override fixes nothing it does not name',
    yaml: 'server:\n  listen_port: 70000\n',
    env: { PORTENT_SERVER_LOG_LEVEL: 'warn' },
    code: 'CONFIG_INVALID',
    problems: ['FILE:2:16: server.listen_port: must be an integer from 0 to 65535; got 70000'],
  },
  {
    name: 'env override bad value',
    yaml: 'server:\n  listen_port: 8471\n',
    env: {
      PORTENT_SERVER_LISTEN_PORT: 'http',
      PORTENT_SERVER_TRUST_PROXY: 'yes',
      PORTENT_COLLECTOR_MAX_CLOCK_SKEW: '2 min',
    },
    code: 'CONFIG_INVALID',
    problems: [
      'env PORTENT_COLLECTOR_MAX_CLOCK_SKEW: must be a duration such as "30s", "5m" or "1h"; got "2 min"',
      'env PORTENT_SERVER_LISTEN_PORT: must be an integer from 0 to 65535; got "http"',
      'env PORTENT_SERVER_TRUST_PROXY: must be true or false; got "yes"',
    ],
  },
  {
    name: 'unknown PORTENT_ variable',
    env: { PORTENT_SERVER_LISTEN_PROT: '1', PORTENT_LOG_LEVEL: 'debug', PORTENT_COLOUR: 'red' },
    code: 'CONFIG_INVALID',
    problems: [
      'env PORTENT_COLOUR: unknown variable "PORTENT_COLOUR": no configuration key has this name (the keys are in docs/configuration.md); variables for other uses must start with PORTENT_TEST_ or PORTENT_BENCH_',
      'env PORTENT_LOG_LEVEL: unknown variable "PORTENT_LOG_LEVEL" — did you mean "PORTENT_SERVER_LOG_LEVEL"?',
      'env PORTENT_SERVER_LISTEN_PROT: unknown variable "PORTENT_SERVER_LISTEN_PROT" — did you mean "PORTENT_SERVER_LISTEN_PORT"?',
    ],
  },
  {
    name: 'allow-listed and non-Portent variables are ignored',
    env: {
      PORTENT_CORPUS: '/corpus',
      PORTENT_DATA: '/data',
      PORTENT_TEST_SEED: '1',
      PORTENT_BENCH_EVENTS: 'many',
      HOME: '/root',
      portent_server_listen_port: 'lower case is not ours',
      PORTENT_SERVER_LOG_LEVEL: undefined,
    },
    config: DEFAULTS,
  },
  {
    name: 'file and environment problems together',
    yaml: 'server:\n  listen_prot: 1\n',
    env: { PORTENT_STORAGE_RAW_RETENTION: 'forever' },
    code: 'CONFIG_INVALID',
    problems: [
      'FILE:2:3: server.listen_prot: unknown key "listen_prot" — did you mean "listen_port"?',
      'env PORTENT_STORAGE_RAW_RETENTION: must be a duration such as "30s", "5m" or "1h"; got "forever"',
    ],
  },
];

describe('loadConfig', () => {
  for (const c of cases) {
    it(c.name, () => {
      const file = c.yaml === undefined ? undefined : writeConfig(c.yaml);
      const load = () => loadConfig({ file, env: c.env ?? {} });
      if (c.config !== undefined) {
        assert.deepEqual(load(), c.config);
        return;
      }
      assert.throws(load, (err) => {
        assert.ok(err instanceof PortentError);
        assert.equal(err.code, c.code);
        const text = formatConfigProblems(err).replaceAll(file ?? '\0', 'FILE');
        assert.deepEqual(text.split('\n'), c.problems);
        return true;
      });
    });
  }

  it('gives each problem as path, message and position in the file', () => {
    const file = writeConfig('collector:\n  max_clock_skew: 5 minutes\n');
    assert.throws(
      () => loadConfig({ file, env: { PORTENT_SERVER_LISTEN_PORT: 'x' } }),
      (err) => {
        assert.ok(err instanceof PortentError);
        assert.equal(err.code, 'CONFIG_INVALID');
        assert.equal(err.message, 'The configuration is not valid.');
        assert.deepEqual(err.details, [
          {
            path: 'collector.max_clock_skew',
            message: 'must be a duration such as "30s", "5m" or "1h"; got "5 minutes"',
            file,
            line: 2,
            column: 19,
          },
          { path: 'env PORTENT_SERVER_LISTEN_PORT', message: 'must be an integer from 0 to 65535; got "x"' },
        ]);
        return true;
      },
    );
  });

  it('reports a missing file with its path and the OS reason', () => {
    const file = join(dir, 'absent.yaml');
    assert.throws(
      () => loadConfig({ file, env: {} }),
      (err) => {
        assert.ok(err instanceof PortentError);
        assert.equal(err.code, 'CONFIG_UNREADABLE');
        assert.deepEqual(err.details, [{ path: file, message: 'no such file or directory (ENOENT)' }]);
        return true;
      },
    );
  });

  it('reads the file named by PORTENT_CONFIG when none is given', () => {
    const file = writeConfig('server:\n  listen_port: 9001\n');
    assert.equal(loadConfig({ env: { PORTENT_CONFIG: file } }).server.listen_port, 9001);
    assert.throws(() => loadConfig({ env: { PORTENT_CONFIG: join(dir, 'absent.yaml') } }), {
      code: 'CONFIG_UNREADABLE',
    });
  });

  it(`lists at most ${MAX_REPORTED_PROBLEMS} problems and says how many there were`, () => {
    const keys = Array.from({ length: 25 }, (_, i) => `  unknown_${i}: 1`);
    const file = writeConfig(`server:\n${keys.join('\n')}\n`);
    assert.throws(
      () => loadConfig({ file, env: {} }),
      (err) => {
        assert.ok(err instanceof PortentError);
        assert.equal(err.details.length, MAX_REPORTED_PROBLEMS);
        assert.equal(err.message, 'The configuration is not valid; the first 20 of 25 problems are listed.');
        assert.equal(err.details[0].path, 'server.unknown_0');
        return true;
      },
    );
  });

  it('returns a frozen config', () => {
    const config = loadConfig({ env: {} });
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.server));
    assert.throws(() => {
      (config.server as { listen_port: number }).listen_port = 1;
    }, TypeError);
  });
});

describe('resolveConfig', () => {
  it('resolves an object like a file, defaults filled in', () => {
    const config = resolveConfig({ collector: { max_batch_events: 10, max_clock_skew: '1s' } });
    assert.deepEqual(
      config,
      defaultsWith({ 'collector.max_batch_events': 10, 'collector.max_clock_skew': 1000 }),
    );
  });

  it('rejects what a file would', () => {
    assert.throws(() => resolveConfig({ server: { listen_prot: 1 } }), {
      code: 'CONFIG_INVALID',
      details: [
        { path: 'server.listen_prot', message: 'unknown key "listen_prot" — did you mean "listen_port"?' },
      ],
    });
  });
});

describe('configCheck', () => {
  it('says a good file is valid, naming environment overrides', () => {
    const file = writeConfig('server:\n  listen_port: 8470\n');
    assert.deepEqual(configCheck(file, {}), { ok: true, text: `${file}: the configuration is valid.` });
    assert.deepEqual(configCheck(file, { PORTENT_SERVER_LISTEN_PORT: '0', PORTENT_CORPUS: 'x' }), {
      ok: true,
      text: `${file}: the configuration is valid, with PORTENT_SERVER_LISTEN_PORT from the environment.`,
    });
  });

  it('lists the problems of a bad file, one per line, then the hint', () => {
    const file = writeConfig('server:\n  listen_prot: 1\n  log_level: loud\n');
    assert.deepEqual(configCheck(file, {}), {
      ok: false,
      text: [
        `${file}: The configuration is not valid.`,
        `  ${file}:2:3: server.listen_prot: unknown key "listen_prot" — did you mean "listen_port"?`,
        `  ${file}:3:14: server.log_level: must be one of "fatal", "error", "warn", "info", "debug", "trace"; got "loud"`,
        'Fix the keys listed; every key and its default is in docs/configuration.md.',
      ].join('\n'),
    });
  });

  it('reports an unreadable file', () => {
    const file = join(dir, 'absent.yaml');
    assert.deepEqual(configCheck(file, {}), {
      ok: false,
      text: [
        `${file}: The configuration file could not be read or is not YAML.`,
        `  ${file}: no such file or directory (ENOENT)`,
        'Check the path and the YAML syntax at the line given.',
      ].join('\n'),
    });
  });
});
