// bench/ingest: sustained durable ingest through HTTP, against the raw DuckDB appender ceiling.
//
// Starts `portent server` in its own process on a temporary store, enrols 50 sensors, runs the
// load generator (bench/ingest-load.ts) in another process for BENCH_SECONDS (default 60), samples
// the server's RSS, then appends the same kind of events straight into DuckDB through the
// data-chunk appender on one connection: the ceiling. Last line of output: one JSON object.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBDatabase } from '../src/storage/duckdb/database.ts';
import { EventChunkWriter } from '../src/storage/duckdb/chunk-writer.ts';
import { BackgroundTraffic } from '../src/sim/background.ts';

const SECONDS = Number(process.env.PORTENT_BENCH_SECONDS ?? 60);
const WARMUP = Number(process.env.PORTENT_BENCH_WARMUP ?? 5);
const SENSORS = 50;
const CONCURRENCY = Number(process.env.PORTENT_BENCH_CONCURRENCY ?? 100);
const NODE = process.execPath;
const root = new URL('..', import.meta.url).pathname;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** User plus system CPU seconds a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+) kB`));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function waitForHealth(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`portent server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/api/v1/health`)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('portent server did not become healthy in 20 s');
}

const dir = mkdtempSync(join(tmpdir(), 'portent-bench-ingest-'));
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const adminToken = randomBytes(24).toString('hex');
const profile = process.env.PORTENT_BENCH_PROFILE
  ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PORTENT_BENCH_PROFILE}`]
  : [];
const server = spawn(NODE, [...profile, join(root, 'src/bin/portent.ts'), 'server'], {
  env: {
    ...process.env,
    PORTENT_STORAGE_PATH: join(dir, 'portent.duckdb'),
    PORTENT_SERVER_LISTEN_PORT: String(port),
    PORTENT_SERVER_ADMIN_TOKEN: adminToken,
    PORTENT_SERVER_LOG_LEVEL: 'warn',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});

try {
  await waitForHealth(url, server);
  const sensors: { id: string; secret: string }[] = [];
  for (let i = 0; i < SENSORS; i++) {
    const res = await fetch(`${url}/api/v1/sensors`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `bench-${i}` }),
    });
    sensors.push((await res.json()) as { id: string; secret: string });
  }

  const serverCpuBefore = cpuSeconds(server.pid!);
  const rssSamples: { t: number; mb: number }[] = [];
  const sampler = setInterval(
    () => rssSamples.push({ t: Date.now(), mb: rssMb(server.pid!, 'VmRSS') }),
    1000,
  );
  // Where the memory goes: V8 heap, memory outside it (buffers), and the store engine's own account.
  const memSamples: Record<string, number>[] = [];
  const memSampler = setInterval(async () => {
    try {
      const text = await (await fetch(`${url}/metrics`)).text();
      const sample: Record<string, number> = { rss: rssMb(server.pid!, 'VmRSS') };
      for (const [, name, labels, value] of text.matchAll(
        /^(portent_nodejs_heap_size_used_bytes|portent_nodejs_external_memory_bytes|portent_store_memory_bytes)(\{[^}]*\})? (\S+)$/gm,
      )) {
        const key =
          name === 'portent_store_memory_bytes'
            ? `store_${labels.match(/"(.*)"/)![1]}`
            : name.replace(/^portent_nodejs_|_bytes$/g, '');
        sample[key] = Math.round(Number(value) / 2 ** 20);
      }
      memSamples.push(sample);
    } catch {
      // server busy or gone; the next sample will do
    }
  }, 5000);
  const load = spawn(
    NODE,
    [
      join(root, 'bench/ingest-load.ts'),
      JSON.stringify({
        url,
        sensors,
        seconds: SECONDS,
        warmupSeconds: WARMUP,
        concurrency: CONCURRENCY,
        seed: 1,
      }),
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let loadCpu = 0;
  const loadSampler = setInterval(() => {
    try {
      loadCpu = cpuSeconds(load.pid!);
    } catch {
      // exited
    }
  }, 500);
  let loadOut = '';
  load.stdout!.on('data', (d) => (loadOut += d));
  await new Promise((r) => load.on('exit', r));
  clearInterval(sampler);
  clearInterval(memSampler);
  clearInterval(loadSampler);
  const serverCpu = cpuSeconds(server.pid!) - serverCpuBefore;
  const result = JSON.parse(loadOut.trim().split('\n').at(-1)!);
  const rssMax = rssMb(server.pid!, 'VmHWM');
  const half = Math.floor(rssSamples.length / 2);
  const firstHalfMax = Math.max(...rssSamples.slice(0, half).map((s) => s.mb));
  const secondHalfMax = Math.max(...rssSamples.slice(half).map((s) => s.mb));
  const health = (await (await fetch(`${url}/api/v1/health`)).json()) as { store: { events: number } };
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const metric = (name: string) => Number(metrics.match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1] ?? NaN);
  const commits = metric('portent_store_commit_seconds_count');
  const commitMeanMs = (metric('portent_store_commit_seconds_sum') / commits) * 1000;
  const batchesPerCommit = metric('portent_batches_ingested_total{outcome="stored"}') / commits;
  server.kill('SIGTERM');
  await new Promise((r) => server.on('exit', r));

  // The ceiling: the same kind of events, appended straight into a fresh file in 10,000-event batches.
  const ceilingDb = await DuckDBDatabase.open({ path: join(dir, 'ceiling.duckdb') });
  const traffic = new BackgroundTraffic({ seed: 2, sources: 300_000 });
  const batches = Array.from({ length: 20 }, (_, i) =>
    traffic.generate(10_000, (10 + i) * 2 ** 24, Date.now() - 60_000, Date.now()),
  );
  const appender = await (await ceilingDb.connect()).createAppender('events_v4');
  const writer = new EventChunkWriter('v4');
  let rows = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 10_000) {
    for (let i = 0; i < batches.length; i++) writer.append(appender, batches[i], 1, rows + i);
    appender.flushSync();
    rows += batches.length * 10_000;
  }
  const appenderRate = rows / ((performance.now() - t0) / 1000);
  appender.closeSync();
  ceilingDb.close();

  const eventsPerS = result.measuredEvents / result.measuredSeconds;
  console.log(
    `Ingest through HTTP (signed gzip binary batches, ${SENSORS} sensors, ${CONCURRENCY} in flight, ${SECONDS} s measured after ${WARMUP} s warm-up)`,
  );
  console.log(
    `  acknowledged durable:   ${Math.round(eventsPerS).toLocaleString('en')} events/s (${result.ackedBatches} batches, ${result.failures} refused)`,
  );
  if (result.failures > 0) console.log(`  refusals, first ones:   ${result.failureSamples.join(' | ')}`);
  console.log(
    `  stored in the file:     ${health.store.events.toLocaleString('en')} events (acknowledged: ${result.acked.toLocaleString('en')})`,
  );
  console.log(`  wire bytes per event:   ${(result.bytesSent / result.acked).toFixed(1)} (gzip level 1)`);
  console.log(
    `  server RSS:             peak ${rssMax.toFixed(0)} MiB; max in first half ${firstHalfMax.toFixed(0)}, second half ${secondHalfMax.toFixed(0)} MiB`,
  );
  if (memSamples.length > 1) {
    const [first, last] = [memSamples[0], memSamples.at(-1)!];
    const keys = Object.keys(last).sort((a, b) => last[b] - last[a]);
    console.log(
      `  memory, MiB, first → last sample: ${keys.map((k) => `${k} ${first[k] ?? 0}→${last[k]}`).join(', ')}`,
    );
  }
  console.log(
    `  CPU used:               server ${serverCpu.toFixed(1)} s, load generator ${loadCpu.toFixed(1)} s, in ${result.totalSeconds.toFixed(0)} s on ${availableParallelism()} cores`,
  );
  console.log(
    `  group commits:          ${commits} (${batchesPerCommit.toFixed(1)} batches each, ${commitMeanMs.toFixed(1)} ms on average)`,
  );
  console.log(
    `Ceiling: DuckDB data-chunk appender, one connection: ${Math.round(appenderRate).toLocaleString('en')} rows/s`,
  );
  console.log(
    JSON.stringify({
      events_per_s: Math.round(eventsPerS),
      appender_rows_per_s: Math.round(appenderRate),
      ratio: Number((eventsPerS / appenderRate).toFixed(3)),
      rss_mb_max: Math.round(rssMax),
      rss_mb_first_half_max: Math.round(firstHalfMax),
      rss_mb_second_half_max: Math.round(secondHalfMax),
      stored_events: health.store.events,
      acked_events: result.acked,
      refused_batches: result.failures,
      commit_mean_ms: Number(commitMeanMs.toFixed(1)),
      batches_per_commit: Number(batchesPerCommit.toFixed(1)),
      server_cpu_s: Number(serverCpu.toFixed(1)),
      load_cpu_s: Number(loadCpu.toFixed(1)),
      seconds: SECONDS,
      target_events_per_s: 1_000_000,
    }),
  );
} finally {
  if (server.exitCode === null) server.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
