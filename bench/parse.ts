// bench/parse: sensor parser speed per core, for every line format and for pcap, beside a naive split-only baseline.
//
// Lines come from the real corpus (PORTENT_CORPUS, default ../shared/data) where it has the format,
// else from our fixtures; each set is repeated to BENCH_LINES lines and parsed for about a second,
// best of three. The baseline does the least any key=value parser must: split the netfilter line on
// spaces and each field on "=". Then the sensor process: its peak RSS while a file it follows grows by
// 50,000 netfilter lines a second, shipped to a real server. Last line of output: one JSON object.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  globSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LINE_FORMATS } from '../src/sensor/parsers/index.ts';
import type { FormatName } from '../src/sensor/parsers/types.ts';
import { decodeCapture } from '../src/sensor/capture/reader.ts';
import { readLines } from '../src/sensor/sources/read-lines.ts';

const root = new URL('..', import.meta.url).pathname;
const corpus = process.env.PORTENT_CORPUS ?? join(root, '../shared/data');
const LINES = Number(process.env.PORTENT_BENCH_LINES ?? 200_000);
const now = Date.UTC(2026, 10, 23);

/** Where real lines of each format are; the rest use test/fixtures/formats/<format>/. */
const CORPUS_FILES: Partial<Record<FormatName, string>> = {
  netfilter: 'rafmio-ufw/**/*',
  'zeek-conn': 'rita-zeek-conn-3days/**/*conn*',
  cowrie: 'kareiva-cowrie-logs/**/*.json*',
  pfirewall: 'windows-pfirewall/**/*.log',
};

async function sampleLines(format: FormatName): Promise<string[]> {
  const pattern = CORPUS_FILES[format];
  const files =
    pattern && existsSync(corpus)
      ? globSync(join(corpus, pattern)).filter((f) => statSync(f).isFile() && !/SOURCES|manifest/.test(f))
      : globSync(join(root, 'test/fixtures/formats', format, '*'));
  const lines: string[] = [];
  for (const f of files.sort()) {
    for await (const line of readLines(f)) {
      lines.push(line);
      if (lines.length >= LINES) return lines;
    }
  }
  return lines;
}

/** Repeats `sample` to `n` lines, each a fresh string as readline would hand them out. */
function fill(sample: string[], n: number): string[] {
  return Array.from({ length: n }, (_, i) => (' ' + sample[i % sample.length]).slice(1));
}

/** Best of three passes of about a second: units per second. */
function rate(units: number, pass: () => number): number {
  let best = 0;
  for (let round = 0; round < 3; round++) {
    let done = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < 1000) done += pass();
    best = Math.max(best, done / ((performance.now() - t0) / 1000));
  }
  return best * (units > 0 ? 1 : 0);
}

const results: Record<string, { lines_per_s: number; events_fraction: number; source: string }> = {};
let netfilterLines: string[] = [];
for (const format of LINE_FORMATS) {
  const sample = await sampleLines(format.name);
  if (sample.length === 0) continue;
  const lines = fill(sample, LINES);
  if (format.name === 'netfilter') netfilterLines = lines;
  let events = 0;
  const probe = format.create({ now, timeZone: 'UTC' });
  for (const l of lines.slice(0, 10_000)) if (probe.parse(l).kind === 'event') events++;
  const perS = rate(lines.length, () => {
    // Header-driven formats (Zeek, W3C) need their headers: a fresh parser sees the sample from the top.
    const parser = format.create({ now, timeZone: 'UTC' });
    let sink = 0;
    for (let i = 0; i < lines.length; i++) sink += parser.parse(lines[i]).kind.length;
    if (sink < 0) throw new Error('unreachable');
    return lines.length;
  });
  results[format.name] = {
    lines_per_s: Math.round(perS),
    events_fraction: Number((events / Math.min(10_000, lines.length)).toFixed(3)),
    source:
      CORPUS_FILES[format.name] && existsSync(corpus) ? `corpus ${CORPUS_FILES[format.name]}` : 'fixtures',
  };
}

// The baseline: split-only, on the same netfilter lines.
const baseline = rate(netfilterLines.length, () => {
  let sink = 0;
  for (let i = 0; i < netfilterLines.length; i++) {
    const fields = netfilterLines[i].split(' ');
    for (let j = 0; j < fields.length; j++) sink += fields[j].split('=').length;
  }
  if (sink < 0) throw new Error('unreachable');
  return netfilterLines.length;
});

// pcap: the largest capture in the corpus, decoded from memory.
let pcapPerS = 0;
let pcapFile = '';
if (existsSync(corpus)) {
  const captures = globSync(join(corpus, '**/*.{pcap,pcapng,cap}')).sort(
    (a, b) => statSync(b).size - statSync(a).size,
  );
  if (captures[0]) {
    pcapFile = captures[0].slice(corpus.length + 1);
    const bytes = readFileSync(captures[0]);
    let packets = 0;
    for (const _ of decodeCapture(bytes, { now })) packets++;
    pcapPerS = rate(packets, () => {
      let n = 0;
      for (const _ of decodeCapture(bytes, { now })) n++;
      return n;
    });
  }
}

// The sensor process while shipping SENSOR_RATE events/s: a real `portent server` and `portent sensor run`
// following a file that this process appends netfilter lines to.
const SENSOR_RATE = 50_000;
const SENSOR_SECONDS = Number(process.env.PORTENT_BENCH_SENSOR_SECONDS ?? 20);
const sensorRun = await measureSensor(netfilterLines, SENSOR_RATE, SENSOR_SECONDS);

console.log(
  `Parser speed on one core (${LINES.toLocaleString('en')} lines per format, best of 3 one-second passes)`,
);
for (const [name, r] of Object.entries(results))
  console.log(
    `  ${name.padEnd(16)} ${Math.round(r.lines_per_s).toLocaleString('en').padStart(12)} lines/s  (${Math.round(r.events_fraction * 100)}% events; ${r.source})`,
  );
console.log(
  `  ${'baseline'.padEnd(16)} ${Math.round(baseline).toLocaleString('en').padStart(12)} lines/s  (split on spaces and "=", netfilter lines)`,
);
if (pcapFile)
  console.log(
    `  ${'pcap'.padEnd(16)} ${Math.round(pcapPerS).toLocaleString('en').padStart(12)} packets/s (${pcapFile})`,
  );
console.log(
  `Sensor shipping ${SENSOR_RATE.toLocaleString('en')} events/s for ${SENSOR_SECONDS} s: RSS peak ${sensorRun.rssMb.toFixed(0)} MiB (anonymous ${sensorRun.anonMb.toFixed(0)} MiB, the rest mostly the node executable's code pages); ` +
    `${sensorRun.stored.toLocaleString('en')} of ${sensorRun.written.toLocaleString('en')} lines stored at the server (${sensorRun.shippedPerS.toLocaleString('en')} events/s), CPU ${sensorRun.cpuS.toFixed(1)} s`,
);
const netfilter = results.netfilter?.lines_per_s ?? 0;
console.log(
  JSON.stringify({
    netfilter_lines_per_s: netfilter,
    baseline_lines_per_s: Math.round(baseline),
    ratio: Number((netfilter / baseline).toFixed(3)),
    pcap_packets_per_s: Math.round(pcapPerS),
    sensor_rss_mb: Math.round(sensorRun.rssMb),
    sensor_rss_anon_mb: Math.round(sensorRun.anonMb),
    sensor_events_per_s: sensorRun.shippedPerS,
    sensor_stored_fraction: Number((sensorRun.stored / Math.max(1, sensorRun.written)).toFixed(4)),
    formats: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v.lines_per_s])),
    target_netfilter_lines_per_s: 1_000_000,
    target_sensor_rss_mb: 100,
  }),
);

async function measureSensor(lines: string[], rate: number, seconds: number) {
  const dir = mkdtempSync(join(tmpdir(), 'portent-bench-sensor-'));
  const node = process.execPath;
  const portent = join(root, 'bin/portent.js');
  const port = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
  const admin = randomBytes(20).toString('hex');
  const url = `http://127.0.0.1:${port}`;
  const server = spawn(node, [portent, 'server'], {
    env: {
      ...process.env,
      PORTENT_STORAGE_PATH: join(dir, 'portent.duckdb'),
      PORTENT_SERVER_LISTEN_PORT: String(port),
      PORTENT_SERVER_ADMIN_TOKEN: admin,
      PORTENT_SERVER_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let sensor: ChildProcess | undefined;
  try {
    let enrolled: { id: string; secret: string } | undefined;
    for (let i = 0; i < 200 && !enrolled; i++) {
      try {
        const res = await fetch(`${url}/api/v1/sensors`, {
          method: 'POST',
          headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'bench-sensor' }),
        });
        if (res.ok) enrolled = (await res.json()) as { id: string; secret: string };
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    if (!enrolled) throw new Error('portent server did not start');
    const log = join(dir, 'fw.log');
    writeFileSync(log, '');
    const config = join(dir, 'sensor.yaml');
    writeFileSync(
      config,
      [
        'sensor:',
        `  state_dir: ${join(dir, 'state')}`,
        '  sources:',
        `    - path: ${log}`,
        '      format: netfilter',
        '      start_at: beginning',
        `spool: { path: ${join(dir, 'spool')} }`,
        `shipper: { url: "${url}", sensor_id: ${enrolled.id}, sensor_secret: "${enrolled.secret}" }`,
        `privacy: { hash_key_file: ${join(dir, 'privacy.key')} }`,
        '',
      ].join('\n'),
    );
    sensor = spawn(
      node,
      [
        ...(process.env.PORTENT_BENCH_SENSOR_NODE_FLAGS ?? '').split(' ').filter(Boolean),
        portent,
        'sensor',
        'run',
        '--config',
        config,
      ],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    const cpu0 = 0;
    let rssMb = 0;
    // RSS counts the pages of the node executable it has touched (file-backed, shared, reclaimable);
    // the anonymous part is the process's own memory.
    let anonMb = 0;
    let written = 0;
    const perTick = rate / 10;
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      const due = Math.round(((performance.now() - t0) / 1000) * rate);
      if (due > written) {
        const n = Math.min(due - written, perTick * 2);
        const chunk: string[] = [];
        for (let i = 0; i < n; i++) chunk.push(lines[(written + i) % lines.length]);
        appendFileSync(log, `${chunk.join('\n')}\n`);
        written += n;
      }
      rssMb = Math.max(rssMb, procRssMb(sensor.pid!));
      anonMb = Math.max(anonMb, procRssMb(sensor.pid!, 'RssAnon'));
      await new Promise((r) => setTimeout(r, 100));
    }
    const writeSeconds = (performance.now() - t0) / 1000;
    // Let the sensor catch up, then count what the server stored.
    let stored = 0;
    const deadline = performance.now() + 60_000;
    while (performance.now() < deadline) {
      rssMb = Math.max(rssMb, procRssMb(sensor.pid!));
      anonMb = Math.max(anonMb, procRssMb(sensor.pid!, 'RssAnon'));
      const health = (await (await fetch(`${url}/api/v1/health`)).json()) as { store: { events: number } };
      stored = health.store.events;
      if (stored >= written) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const cpuS = procCpuSeconds(sensor.pid!) - cpu0;
    return { rssMb, anonMb, written, stored, shippedPerS: Math.round(written / writeSeconds), cpuS };
  } finally {
    sensor?.kill('SIGTERM');
    if (sensor) await new Promise((r) => sensor!.on('exit', r));
    server.kill('SIGTERM');
    await new Promise((r) => server.on('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

function procRssMb(pid: number, field = 'VmHWM'): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+) kB`));
  return m ? Number(m[1]) / 1024 : 0;
}

function procCpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}
