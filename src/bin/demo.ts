// `portent demo`: the two seed incidents from the simulator replayed, in compressed time, through a real
// server: sensors enrolled over its admin API submit signed batches to its collector, and the terminal shows
// what the server's API reports about each incident's port while the scenario's ground truth unfolds.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import type { Incident, ThreatLevel } from '../analysis/incidents/incident.ts';
import { decodeJson, SUBJECTS } from '../bus/bus.ts';
import { FakeClock } from '../core/clock.ts';
import { allocColumns, protoName, selectRows, type EventColumns } from '../core/event.ts';
import { loadConfig } from '../config/load.ts';
import { Simulation } from '../sim/run.ts';
import { loadScenario } from '../sim/scenario.ts';
import { collectorAgent, newBatch, submitBatch, type SensorCredentials } from '../sensor/shipper/submit.ts';
import { SensorKind } from '../sim/internet.ts';
import { LiveSensors } from './demo-live.ts';
import { VERSION, startEmbeddedServer, type RunningServer } from './embedded.ts';

export interface DemoOptions {
  dataDir?: string;
  exitWhenDone: boolean;
  /** Simulated seconds per real second; 0 replays as fast as the server takes it. */
  speed?: number;
  /** Simulated time replayed per incident, from its start; the whole incident when absent. */
  durationMs?: number;
  /** Real time between live port reports. */
  reportEveryMs?: number;
  /** Real sensor processes that stand in for simulated honeypots (`--live`); 0 for none. */
  liveSensors?: number;
  out: (line: string) => void;
}

const HOUR = 3_600_000;

/** The seed incidents, each replayed over the window that holds its story. */
const INCIDENTS = [
  { scenario: 'serverprotect-5168', proto: 'tcp', port: 5168, from: 70 * HOUR, to: 116 * HOUR },
  { scenario: 'sagevo-2967', proto: 'tcp', port: 2967, from: 22 * HOUR, to: 166 * HOUR },
] as const;

/** Both windows (190 simulated hours) in about two minutes. */
export const DEFAULT_SPEED = 6000;
/** Simulated sensors share this many enrolled ones (simulated sensor i submits as enrolled i mod N). */
const ENROLLED = 32;
const BATCH_EVENTS = 10_000;
/** Marks a row that goes to a real sensor instead of a batch. */
const NOT_BATCHED = 0xffffffff;
/**
 * A sensor's queued events are sent after this much simulated time even when its batch is not full, as a
 * shipper's batch delay would: detection judges a minute only once every event of it is stored.
 */
const MAX_BATCH_DELAY_MS = 15 * 60_000;
/** Background radiation per monitored address and hour in the demo: 1% of the scenarios' rate. */
const DEMO_BACKGROUND_PER_ADDRESS_HOUR = 0.2;

interface Milestone {
  at: number;
  text: string;
}

/** The scenario's ground-truth milestones in time order. */
function milestones(sim: Simulation): Milestone[] {
  const list: Milestone[] = [];
  for (const c of sim.campaigns) {
    const cfg = c.config;
    list.push({ at: cfg.start, text: `onset: ${cfg.name} starts probing from ${cfg.sources} sources` });
    list.push({ at: cfg.start + cfg.rampMs, text: `peak: ${cfg.name} at its highest rate` });
    list.push({ at: cfg.end, text: `end: ${cfg.name} stops` });
  }
  for (const w of sim.worms) {
    const cfg = w.config;
    list.push({ at: cfg.onset, text: `onset: ${cfg.name} infects its first hosts` });
    for (const [from, to] of cfg.c2Down ?? []) {
      list.push({ at: from, text: `C2 server down: ${cfg.name} cannot replicate` });
      list.push({ at: to, text: `C2 server back up` });
    }
    (cfg.scanWindows ?? []).forEach(([from, to], i) => {
      list.push({ at: from, text: `wave ${i + 1} starts: infected hosts scan again` });
      list.push({ at: to, text: `wave ${i + 1} ends` });
    });
  }
  return list.sort((a, b) => a.at - b.at);
}

/** Rows of `c` whose enrolled sensor is `s`. */
function rowsOf(c: EventColumns, enrolled: Uint32Array, s: number): number[] {
  const rows: number[] = [];
  for (let i = 0; i < c.length; i++) if (enrolled[i] === s) rows.push(i);
  return rows;
}

/** Accumulates each enrolled sensor's rows until a batch is full. */
class SensorQueue {
  parts: EventColumns[] = [];
  size = 0;
  /** Simulated time of the step the oldest queued events came from. */
  oldest = Infinity;
}

function concatAll(parts: EventColumns[], size: number): EventColumns {
  const out = allocColumns(size);
  let at = 0;
  for (const p of parts) {
    for (const key of Object.keys(out) as (keyof EventColumns)[]) {
      const dst = out[key];
      if (typeof dst === 'number' || Array.isArray(dst)) continue;
      (dst as Uint32Array).set(p[key] as Uint32Array, (at * dst.length) / size);
    }
    for (let i = 0; i < p.length; i++) out.payloadSha256[at + i] = p.payloadSha256[i];
    at += p.length;
  }
  return out;
}

export async function runDemo(opts: DemoOptions): Promise<number> {
  const { out } = opts;
  const speed = opts.speed ?? DEFAULT_SPEED;
  const dir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'portent-demo-'));
  const adminToken = randomBytes(24).toString('hex');
  const config = loadConfig({
    env: {
      PORTENT_STORAGE_PATH: join(dir, 'portent.duckdb'),
      PORTENT_SERVER_LISTEN_PORT: '0',
      PORTENT_SERVER_ADMIN_TOKEN: adminToken,
      // The incidents happened in 2006 and 2007 and keep their dates: nothing may age out mid-demo.
      PORTENT_STORAGE_RAW_RETENTION: '36500d',
    },
  });
  let stopped = false;
  let wakeUp = (): void => {};
  const onSignal = (): void => {
    stopped = true;
    wakeUp();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // The collector checks signatures against real time; detection runs on the replay's simulated time, which the
  // replay moves forward as the events before it are stored.
  const analysisClock = new FakeClock(0);
  const server = await startEmbeddedServer(config, { logger: pino({ level: 'warn' }), analysisClock });
  const watch = watchIncidents(server, out);
  let live: LiveSensors | undefined;
  try {
    out(`Portent ${VERSION} demo: the seed incidents replayed through a real server`);
    out(`  API      ${server.url}/api/v1/  (metrics ${server.url}/metrics)`);
    out(`  store    ${config.storage.path}`);
    out(
      `  speed    ${speed === 0 ? 'as fast as the server takes it' : `${speed} simulated seconds per second`}`,
    );
    const sensors = await enrol(server, adminToken, ENROLLED);
    out(`  enrolled ${sensors.length} sensors through the admin API`);
    if ((opts.liveSensors ?? 0) > 0) {
      live = await LiveSensors.start(
        server,
        adminToken,
        join(dir, 'live'),
        opts.liveSensors ?? 0,
        INCIDENTS.map((i) => i.port),
      );
      out(
        `  live     ${live.sensors.length} real sensor processes with honeypot listeners on 127.0.0.1: ` +
          live.sensors
            .map((s) => `${s.name} (${[...s.listeners].map(([p, real]) => `${p}→${real}`).join(', ')})`)
            .join(', '),
      );
    }
    for (const incident of INCIDENTS) {
      if (stopped) break;
      await replay(incident, server, sensors, live, analysisClock, { ...opts, speed }, () => stopped, out);
    }
    if (live && !stopped) {
      const seen = await live.counts(15_000);
      out(
        `\nLive sensors: ${live.connections} real TCP connections made to them` +
          ` (${live.failed} failed, ${live.overLimit} probes over the ${'rate limit'} went in batches);` +
          ` their heartbeats count ${seen.heartbeatConnections} honeypot connections;` +
          ` the server stored ${seen.storedHoneypotEvents} honeypot events from them (${seen.samples} distinct payloads)`,
      );
    }
    if (!stopped) {
      out(
        `\nThe API stays up: curl '${server.url}/api/v1/ports/tcp/5168/series?from=2007-08-22T00:00:00Z&to=2007-08-25T00:00:00Z'`,
      );
      if (!opts.exitWhenDone) {
        out('Press Ctrl-C to stop.');
        await new Promise<void>((resolve) => {
          wakeUp = resolve;
          if (stopped) resolve();
        });
      }
    }
    if (stopped) out('\nStopping: the server writes what it has and the demo store is removed.');
    return 0;
  } finally {
    watch.unsubscribe();
    await live?.stop();
    await server.stop();
    if (opts.dataDir === undefined) rmSync(dir, { recursive: true, force: true });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Prints each incident as it opens, is confirmed, peaks, tapers and ends, and each change of the threat level. */
function watchIncidents(server: RunningServer, out: (line: string) => void): { unsubscribe(): void } {
  const shown = new Map<string, string>();
  const at = (t: number) => `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')}Z`;
  const a = server.bus.subscribe(SUBJECTS.incidents, (data) => {
    const i = decodeJson<Incident>(data);
    const what = `${i.state} ${i.override?.severity ?? i.severity}`;
    if (shown.get(i.id) === what) return;
    shown.set(i.id, what);
    const where = i.port === null ? i.group : `${protoName(i.proto).toUpperCase()} ${i.port}`;
    out(
      `   ${at(i.updated)}  incident: ${where} ${i.state}, ${i.override?.severity ?? i.severity}: ${i.summary}`,
    );
  });
  const b = server.bus.subscribe(SUBJECTS.threatLevel, (data) => {
    const t = decodeJson<ThreatLevel>(data);
    out(`   ${at(t.since)}  threat level: ${t.level} (${t.reason})`);
  });
  return {
    unsubscribe() {
      a.unsubscribe();
      b.unsubscribe();
    },
  };
}

async function enrol(server: RunningServer, adminToken: string, n: number): Promise<SensorCredentials[]> {
  const sensors: SensorCredentials[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(new URL('/api/v1/sensors', server.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `demo-sensor-${i + 1}` }),
    });
    if (res.status !== 201 && res.status !== 200)
      throw new Error(`Enrolling a demo sensor failed: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { id: string; secret: string };
    sensors.push({ id: body.id, secret: body.secret });
  }
  return sensors;
}

interface SeriesPoint {
  events: number;
  sources: number;
  sensors: number;
}

async function replay(
  incident: (typeof INCIDENTS)[number],
  server: RunningServer,
  sensors: SensorCredentials[],
  live: LiveSensors | undefined,
  analysisClock: FakeClock,
  opts: DemoOptions & { speed: number },
  isStopped: () => boolean,
  out: (line: string) => void,
): Promise<void> {
  const scenario = loadScenario(incident.scenario);
  const c = scenario.config;
  const from = c.start + incident.from;
  const durationMs = Math.min(incident.to - incident.from, opts.durationMs ?? Infinity);
  // Thinner background and no research or misconfiguration noise, so that a laptop replays the
  // incident in minutes; the incident's own traffic is untouched.
  // Minutes of an earlier replay (another year) stay where they were judged; this one starts afresh.
  analysisClock.set(from);
  await server.restartAnalyzer();
  const sim = new Simulation({
    ...c,
    start: from,
    durationMs,
    background: { perAddressHour: DEMO_BACKGROUND_PER_ADDRESS_HOUR },
    research: [],
    misconfig: false,
  });
  const hours = (t: number) => `${((t - c.start) / HOUR).toFixed(1).padStart(5)} h`;
  const when = (t: number) => `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')}Z`;
  out(`\n== ${scenario.name}: ${scenario.description}`);
  out(
    `   ${sim.sensors.count} simulated sensors (${sim.sensors.monitored} monitored addresses) submit as the ${sensors.length} enrolled ones;` +
      ` replaying ${when(from)} to ${when(from + durationMs)}` +
      ` (background radiation at ${DEMO_BACKGROUND_PER_ADDRESS_HOUR}/address/hour, research scanners and misconfiguration left out)`,
  );
  const all = milestones(sim);
  // What was already so when the window opens (Sagevo's server went down before its onset).
  for (const m of all.filter((m) => m.at < from)) out(`   ${hours(m.at)}  ${when(m.at)}  truth: ${m.text}`);
  const marks = all.filter((m) => m.at >= from && m.at < from + durationMs);
  if (live) {
    const payloads = new Map<number, Buffer>();
    for (const camp of scenario.file.campaigns ?? [])
      if (camp.payload !== undefined) payloads.set(camp.port, Buffer.from(camp.payload, 'utf8'));
    live.beginIncident(payloads);
  }
  const agent = collectorAgent(server.url);
  const queues = sensors.map(() => new SensorQueue());
  let seq = 0;
  let sent = 0;
  /** Batches being sent, with the simulated time of their oldest events. */
  const inFlight = new Map<Promise<void>, number>();
  const send = async (s: number): Promise<void> => {
    const q = queues[s];
    if (q.size === 0) return;
    const events = concatAll(q.parts, q.size);
    queues[s] = new SensorQueue();
    const batch = newBatch(events, seq++, Date.now(), `portent-demo/${VERSION}`);
    for (;;) {
      const res = await submitBatch(server.url, sensors[s], batch, Date.now(), { agent });
      if (res.status === 200) break;
      if (res.status !== 429 && res.status !== 503)
        throw new Error(`The collector refused a demo batch: ${res.status} ${JSON.stringify(res.body)}`);
      await sleep(1000 * (res.retryAfterS ?? 1));
    }
    sent += events.length;
  };
  const dispatch = async (s: number): Promise<void> => {
    // Two batches in flight keep the collector busy without queueing the whole incident in memory.
    while (inFlight.size >= 2) await Promise.race(inFlight.keys());
    const oldest = queues[s].oldest;
    const p = send(s).finally(() => inFlight.delete(p));
    inFlight.set(p, oldest);
  };
  const flushAll = async () => {
    for (let s = 0; s < queues.length; s++) await dispatch(s);
    await Promise.all(inFlight.keys());
  };
  /** Moves detection's clock to the time before which every event is stored, and judges what closed. */
  const judge = async (stepEnd: number, final = false) => {
    let stored = stepEnd;
    for (const q of queues) stored = Math.min(stored, q.oldest);
    for (const t of inFlight.values()) stored = Math.min(stored, t);
    // Minutes close one at a time: a run per simulated minute is enough, whatever the step.
    if (server.analyzer === null || (!final && stored < analysisClock.now() + 60_000)) return;
    analysisClock.set(stored);
    await server.analyzer.runOnce();
  };
  const report = async (t: number) => {
    const end = t - (t % HOUR);
    const url = new URL(`/api/v1/ports/${incident.proto}/${incident.port}/series`, server.url);
    url.search = new URLSearchParams({
      from: new Date(end - HOUR).toISOString(),
      to: new Date(end).toISOString(),
      step: '1h',
    }).toString();
    const res = await fetch(url);
    const body = (await res.json()) as { points: SeriesPoint[] };
    const p = body.points.reduce(
      (a, b) => ({
        events: a.events + b.events,
        sources: a.sources + b.sources,
        sensors: a.sensors + b.sensors,
      }),
      { events: 0, sources: 0, sensors: 0 },
    );
    out(
      `   ${hours(end)}  ${when(end)}  server: ${incident.proto}/${incident.port} in the hour to ${when(end).slice(11)}: ` +
        `${p.events} events, ${p.sources} sources, ${p.sensors} of ${sensors.length} sensors  (${sent} events submitted so far)`,
    );
  };
  const began = Date.now();
  const reportEvery = opts.reportEveryMs ?? 5000;
  let nextReport = began + reportEvery;
  let last = from;
  let firstSeenShown = false;
  for (const step of sim.run()) {
    if (isStopped()) break;
    const enrolled = new Uint32Array(step.sensor.length);
    for (let i = 0; i < enrolled.length; i++) {
      const simSensor = step.sensor[i];
      const probeToHoneypot =
        live !== undefined &&
        sim.sensors.kinds[simSensor] === SensorKind.honeypot &&
        step.events.proto[i] === 6 &&
        step.events.dstPort[i] === incident.port;
      // A probe a real sensor receives reaches the server through that sensor, not in a batch.
      enrolled[i] =
        probeToHoneypot && live.take(simSensor, incident.port) ? NOT_BATCHED : simSensor % sensors.length;
    }
    for (let s = 0; s < sensors.length; s++) {
      const rows = rowsOf(step.events, enrolled, s);
      if (rows.length === 0) continue;
      const q = queues[s];
      q.parts.push(selectRows(step.events, rows));
      q.size += rows.length;
      q.oldest = Math.min(q.oldest, step.time - sim.stepMs);
      if (q.size >= BATCH_EVENTS) await dispatch(s);
    }
    for (let s = 0; s < sensors.length; s++)
      if (queues[s].size > 0 && step.time - queues[s].oldest >= MAX_BATCH_DELAY_MS) await dispatch(s);
    await judge(step.time);
    while (marks.length > 0 && marks[0].at <= step.time) {
      const m = marks.shift() as Milestone;
      out(`   ${hours(m.at)}  ${when(m.at)}  truth: ${m.text}`);
    }
    const seen = [...sim.campaigns, ...sim.worms].find((x) => x.firstSeen !== null);
    if (!firstSeenShown && seen?.firstSeen) {
      firstSeenShown = true;
      out(`   ${hours(seen.firstSeen)}  ${when(seen.firstSeen)}  truth: a sensor logs its first probe`);
    }
    last = step.time;
    const due = opts.speed > 0 ? began + (step.time - from) / opts.speed : 0;
    const now = Date.now();
    if (now >= nextReport) {
      await flushAll();
      await report(step.time);
      nextReport = Date.now() + reportEvery;
    }
    if (due > now) await sleep(due - now);
  }
  await flushAll();
  await judge(last, true);
  agent.destroy();
  if (isStopped()) return;
  await report(last);
  // The whole window, hour by hour, as the server has it now.
  const url = new URL(`/api/v1/ports/${incident.proto}/${incident.port}/series`, server.url);
  url.search = new URLSearchParams({
    from: new Date(from).toISOString(),
    to: new Date(last).toISOString(),
    step: '1h',
  }).toString();
  const body = (await (await fetch(url)).json()) as { points: SeriesPoint[] };
  const peak = body.points.reduce(
    (a, b) => (b.sources > a.sources || (b.sources === a.sources && b.events > a.events) ? b : a),
    {
      events: 0,
      sources: 0,
      sensors: 0,
    },
  );
  out(
    `   replayed ${(durationMs / HOUR).toFixed(0)} simulated hours in ${((Date.now() - began) / 1000).toFixed(1)} s; ` +
      `${incident.proto}/${incident.port} busiest hour on the server: ${peak.sources} sources, ${peak.sensors} of ${sensors.length} sensors, ${peak.events} events`,
  );
  out(`   distinct sources per hour: ${sparkline(body.points.map((p) => p.sources))}`);
}

const SPARK = '▁▂▃▄▅▆▇█';
function sparkline(values: number[]): string {
  const max = Math.max(1, ...values);
  return values.map((v) => SPARK[Math.min(7, Math.floor((v / max) * 7.999))]).join('');
}
