// `portent demo`: a real server, sensors enrolled over its admin API, signed traffic, the port report.
// Until the outbreak simulator lands, the traffic is background radiation plus a TCP 5168 burst.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import {
  allocColumns,
  concatColumns,
  Action,
  Origin,
  Proto,
  protoName,
  type EventColumns,
} from '../core/event.ts';
import { loadConfig } from '../config/load.ts';
import { BackgroundTraffic, rng } from '../sim/background.ts';
import { newBatch, submitBatch, type SensorCredentials } from '../sensor/shipper/submit.ts';
import { VERSION, startEmbeddedServer } from './embedded.ts';

export interface DemoOptions {
  dataDir?: string;
  exitWhenDone: boolean;
  out: (line: string) => void;
}

const SENSORS = 8;
const MINUTES = 120;
const EVENTS_PER_SENSOR_MINUTE = 150;

/** A burst of TCP 5168 probing, as DeepSight saw in August 2007: ~300 sources, ~1,000 targets. */
const BURST_SOURCES = Uint32Array.from(
  { length: 320 },
  (_, i) => ((60 + ((i * 37) % 150)) * 2 ** 24 + i * 104_729) >>> 0,
);

function serverProtectBurst(sensorNet: number, t0: number, t1: number, seed: number): EventColumns {
  const r = rng(seed);
  const n = 40;
  const c = allocColumns(n);
  for (let i = 0; i < n; i++) {
    c.time[i] = Math.floor(t0 + ((t1 - t0) * i) / n);
    c.src[4 * i] = BURST_SOURCES[Math.floor(r() * BURST_SOURCES.length)];
    c.src[4 * i + 1] = 0xffff;
    c.dst[4 * i] = (sensorNet | Math.floor(r() * 170)) >>> 0;
    c.dst[4 * i + 1] = 0xffff;
    c.srcPort[i] = 1024 + Math.floor(r() * 60000);
    c.dstPort[i] = 5168;
    c.proto[i] = Proto.tcp;
    c.tcpFlags[i] = 2;
    c.action[i] = Action.blocked;
    c.origin[i] = Origin.firewall;
  }
  return c;
}

const SPARK = '▁▂▃▄▅▆▇█';
function sparkline(values: number[]): string {
  const max = Math.max(1, ...values);
  return values.map((v) => SPARK[Math.min(7, Math.floor((v / max) * 7.999))]).join('');
}

export async function runDemo(opts: DemoOptions): Promise<number> {
  const { out } = opts;
  const dir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'portent-demo-'));
  const adminToken = randomBytes(24).toString('hex');
  const config = loadConfig({
    env: {
      PORTENT_STORAGE_PATH: join(dir, 'portent.duckdb'),
      PORTENT_SERVER_LISTEN_PORT: '0',
      PORTENT_SERVER_ADMIN_TOKEN: adminToken,
    },
  });
  const server = await startEmbeddedServer(config, { logger: pino({ level: 'warn' }) });
  out(`Portent ${VERSION} demo`);
  out(`  server  ${server.url}`);
  out(`  store   ${config.storage.path}`);
  try {
    const sensors: (SensorCredentials & { net: number })[] = [];
    for (let i = 0; i < SENSORS; i++) {
      const res = await fetch(new URL('/api/v1/sensors', server.url), {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `demo-sensor-${i + 1}` }),
      });
      const body = (await res.json()) as { id: string; secret: string };
      // Each sensor watches a /24 in a different network.
      sensors.push({
        id: body.id,
        secret: body.secret,
        net: ((20 + i * 23) * 2 ** 24 + (i * 37 + 5) * 2 ** 16 + 7 * 256) >>> 0,
      });
    }
    out(`  enrolled ${SENSORS} sensors through the admin API`);

    const now = Date.now();
    const start = now - MINUTES * 60_000;
    const background = new BackgroundTraffic({ seed: 7, sources: 20_000 });
    let events = 0;
    let batches = 0;
    for (let m = 0; m < MINUTES; m++) {
      const t0 = start + m * 60_000;
      await Promise.all(
        sensors.map(async (s, i) => {
          let c = background.generate(EVENTS_PER_SENSOR_MINUTE, s.net, t0, t0 + 60_000);
          // The 5168 burst: the last 40 minutes, seen by six of the eight sensors.
          if (m >= MINUTES - 40 && i < 6)
            c = concatColumns(c, serverProtectBurst(s.net, t0, t0 + 60_000, m * 100 + i));
          const res = await submitBatch(server.url, s, newBatch(c, m, now, `portent-demo/${VERSION}`), now);
          if (res.status !== 200)
            throw new Error(`The collector refused a demo batch: ${res.status} ${JSON.stringify(res.body)}`);
          events += c.length;
          batches++;
        }),
      );
    }
    out(`  sent ${events} events in ${batches} signed, gzipped batches over the last ${MINUTES} minutes\n`);

    const api = async (path: string) => (await fetch(new URL(path, server.url))).json();
    const top = (await api('/api/v1/ports/top?window=24h&by=sources&limit=10')) as {
      ports: {
        proto: string;
        port: number;
        events: number;
        sources: number;
        targets: number;
        sensors: number;
      }[];
    };
    out('Top ports by distinct sources, last 24 hours');
    out(
      `  ${'PORT'.padEnd(11)}${'SOURCES'.padStart(8)}${'TARGETS'.padStart(9)}${'SENSORS'.padStart(9)}${'EVENTS'.padStart(9)}`,
    );
    for (const p of top.ports) {
      out(
        `  ${`${p.proto}/${p.port}`.padEnd(11)}${String(p.sources).padStart(8)}${String(p.targets).padStart(9)}${String(p.sensors).padStart(9)}${String(p.events).padStart(9)}`,
      );
    }
    for (const [proto, port] of [
      [Proto.tcp, 5168],
      [Proto.tcp, 23],
    ] as const) {
      const series = (await api(
        `/api/v1/ports/${protoName(proto)}/${port}/series?from=${start}&to=${now}&step=5m`,
      )) as { points: { sources: number }[] };
      const sources = series.points.map((p) => p.sources);
      out(
        `\n${protoName(proto)}/${port}, distinct sources per 5 minutes over ${MINUTES} minutes (peak ${Math.max(...sources)}):`,
      );
      out(`  ${sparkline(sources)}`);
    }
    out(`\nThe API is live: curl ${server.url}/api/v1/ports/top?by=sources  ·  ${server.url}/metrics`);
    if (!opts.exitWhenDone) {
      out('Press Ctrl-C to stop.');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
    }
    return 0;
  } finally {
    await server.stop();
    if (opts.dataDir === undefined) rmSync(dir, { recursive: true, force: true });
  }
}
