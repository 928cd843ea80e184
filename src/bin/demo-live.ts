// `portent demo --live`: real `portent sensor run` processes with honeypot listeners on loopback, enrolled with the
// demo's server, that stand in for a few of the simulator's honeypots: their probes become real TCP connections.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { RunningServer } from './embedded.ts';

const PORTENT_JS = fileURLToPath(new URL('../../bin/portent.js', import.meta.url));
/** Connections to the real sensors per second, all of them together; probes past it go in batches. */
const CONNECTIONS_PER_S = 50;
/** Longest a sensor may take to start and report its listeners in a heartbeat. */
const START_TIMEOUT_MS = 30_000;
/** What goes down a connection when the scenario has no payload for the port. */
const DEFAULT_PAYLOAD = Buffer.from('portent demo probe\r\n');

interface LiveSensor {
  name: string;
  id: string;
  child: ChildProcess;
  /** Scenario port → the loopback port this sensor's honeypot listens on for it. */
  listeners: Map<number, number>;
  log: string;
}

interface SensorHealthListing {
  id: string;
  name: string;
  number: number;
  health: { honeypot: { listening: { proto: string; port: number }[]; connections: number } | null } | null;
}

/** A free TCP port on loopback, as the OS hands it out (released before the sensor binds it). */
async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as { port: number };
  srv.close();
  await once(srv, 'close');
  return port;
}

export class LiveSensors {
  readonly #server: RunningServer;
  readonly #adminToken: string;
  readonly #sensors: LiveSensor[] = [];
  /** Simulated honeypot → real sensor, for the incident being replayed. */
  #mapping = new Map<number, LiveSensor>();
  #payloads = new Map<number, Buffer>();
  #tokens = CONNECTIONS_PER_S;
  #refilled = Date.now();
  readonly #open = new Set<Promise<void>>();
  /** Connections made to the real sensors (opened and closed after sending their payload). */
  connections = 0;
  /** Connections that failed to open. */
  failed = 0;
  /** Probes for mapped honeypots that the rate limit sent through batches instead. */
  overLimit = 0;

  private constructor(server: RunningServer, adminToken: string) {
    this.#server = server;
    this.#adminToken = adminToken;
  }

  /**
   * Enrols `count` sensors and starts each as a child `portent sensor run` with its own configuration in
   * `dir`: one honeypot listener per scenario port on a free loopback port, shipping to the server.
   */
  static async start(
    server: RunningServer,
    adminToken: string,
    dir: string,
    count: number,
    ports: readonly number[],
  ): Promise<LiveSensors> {
    const live = new LiveSensors(server, adminToken);
    try {
      for (let i = 0; i < count; i++) await live.#startOne(dir, `demo-live-${i + 1}`, ports);
      await live.#waitListening();
    } catch (err) {
      await live.stop();
      throw err;
    }
    return live;
  }

  get sensors(): readonly { name: string; listeners: ReadonlyMap<number, number> }[] {
    return this.#sensors;
  }

  async #admin(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(new URL(path, this.#server.url), {
      ...init,
      headers: { authorization: `Bearer ${this.#adminToken}`, 'content-type': 'application/json' },
    });
  }

  async #startOne(dir: string, name: string, ports: readonly number[]): Promise<void> {
    const res = await this.#admin('/api/v1/sensors', { method: 'POST', body: JSON.stringify({ name }) });
    if (res.status !== 201 && res.status !== 200)
      throw new Error(`Enrolling ${name} failed: ${res.status} ${await res.text()}`);
    const { id, secret } = (await res.json()) as { id: string; secret: string };
    const home = join(dir, name);
    mkdirSync(home, { recursive: true });
    const listeners = new Map<number, number>();
    for (const p of ports) listeners.set(p, await freePort());
    const config = {
      sensor: { state_dir: join(home, 'state'), heartbeat_interval: '1s' },
      spool: { path: join(home, 'spool') },
      shipper: { url: this.#server.url, sensor_id: id, sensor_secret: secret, batch_linger: '200ms' },
      honeypot: {
        bind_address: '127.0.0.1',
        tcp_ports: [...listeners.values()].map((port) => ({ port })),
        capture_timeout: '1s',
        // Every connection comes from 127.0.0.1: the per-source limits must not stand in the way.
        source_attempts_per_s: CONNECTIONS_PER_S * 2,
        source_attempt_burst: CONNECTIONS_PER_S * 2,
        max_connections_per_source: 256,
      },
      privacy: { detect_own_addresses: false, hash_key_file: join(home, 'privacy.key') },
    };
    const file = join(home, 'portent.yaml');
    // JSON is YAML: the configuration loader reads it as written.
    writeFileSync(file, JSON.stringify(config, null, 2));
    const child = spawn(process.execPath, [PORTENT_JS, 'sensor', 'run', '--config', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const sensor: LiveSensor = { name, id, child, listeners, log: '' };
    const keep = (s: string) => (sensor.log = (sensor.log + s).slice(-4000));
    child.stdout?.setEncoding('utf8').on('data', keep);
    child.stderr?.setEncoding('utf8').on('data', keep);
    this.#sensors.push(sensor);
  }

  async #listing(): Promise<SensorHealthListing[]> {
    const res = await this.#admin('/api/v1/sensors');
    const body = (await res.json()) as { sensors: SensorHealthListing[] };
    return body.sensors.filter((s) => this.#sensors.some((l) => l.id === s.id));
  }

  /** Until every sensor's heartbeat says its listeners are open. */
  async #waitListening(): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const dead = this.#sensors.find((s) => s.child.exitCode !== null || s.child.signalCode !== null);
      if (dead) throw new Error(`Live sensor ${dead.name} exited at start:\n${dead.log}`);
      const listing = await this.#listing();
      const ready = this.#sensors.every((s) => {
        const open = listing.find((l) => l.id === s.id)?.health?.honeypot?.listening ?? [];
        return [...s.listeners.values()].every((p) => open.some((l) => l.proto === 'tcp' && l.port === p));
      });
      if (ready) return;
      if (Date.now() > deadline)
        throw new Error(
          `Live sensors did not report their listeners within ${START_TIMEOUT_MS / 1000} s:\n` +
            this.#sensors.map((s) => `${s.name}: ${s.log}`).join('\n'),
        );
      await sleep(250);
    }
  }

  /** A new incident: no simulated honeypot is mapped yet, and this is what its probes carry on each port. */
  beginIncident(payloads: Map<number, Buffer>): void {
    this.#mapping = new Map();
    this.#payloads = payloads;
  }

  /**
   * Plays a probe to simulated honeypot `simSensor` on `port` as a real connection, if that honeypot is (or can
   * now become) one of the real sensors and the rate limit allows; false leaves the probe to the batches.
   * Honeypots are mapped as their first probe on the incident's port arrives, because a fixed few would
   * rarely see one.
   */
  take(simSensor: number, port: number): boolean {
    let sensor = this.#mapping.get(simSensor);
    if (sensor === undefined) {
      if (this.#mapping.size >= this.#sensors.length) return false;
      sensor = this.#sensors[this.#mapping.size];
      this.#mapping.set(simSensor, sensor);
    }
    const target = sensor.listeners.get(port);
    if (target === undefined) return false;
    const now = Date.now();
    this.#tokens = Math.min(
      CONNECTIONS_PER_S,
      this.#tokens + ((now - this.#refilled) / 1000) * CONNECTIONS_PER_S,
    );
    this.#refilled = now;
    if (this.#tokens < 1) {
      this.overLimit++;
      return false;
    }
    this.#tokens -= 1;
    const p = this.#probe(target, this.#payloads.get(port) ?? DEFAULT_PAYLOAD).finally(() =>
      this.#open.delete(p),
    );
    this.#open.add(p);
    return true;
  }

  /** Connects from 127.0.0.1, sends the payload, and closes. */
  async #probe(port: number, payload: Buffer): Promise<void> {
    const socket = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.1' });
    socket.on('data', () => {}); // a banner, if any, is read and dropped
    try {
      await once(socket, 'connect');
      socket.end(payload);
      await once(socket, 'close');
      this.connections++;
    } catch {
      this.failed++;
      socket.destroy();
    }
  }

  /** Waits for every connection to finish. */
  async settle(): Promise<void> {
    await Promise.all(this.#open);
  }

  /**
   * What the system says about the real sensors, once their events had time to arrive (up to `waitMs`):
   * connections their heartbeats report, and events with action honeypot the server stored from them.
   */
  async counts(
    waitMs: number,
  ): Promise<{ heartbeatConnections: number; storedHoneypotEvents: number; samples: number }> {
    await this.settle();
    const deadline = Date.now() + waitMs;
    for (;;) {
      const listing = await this.#listing();
      const heartbeatConnections = listing.reduce((n, s) => n + (s.health?.honeypot?.connections ?? 0), 0);
      const nums = listing.map((s) => s.number).join(',');
      const rows = (
        await this.#server.stores.db.reader.runAndReadAll(
          `SELECT count(*), count(DISTINCT payload_sha256) FROM events WHERE action = 3 AND sensor IN (${nums})`,
        )
      ).getRows();
      const storedHoneypotEvents = Number(rows[0][0]);
      const samples = Number(rows[0][1]);
      if (
        (storedHoneypotEvents >= this.connections && heartbeatConnections >= this.connections) ||
        Date.now() > deadline
      )
        return { heartbeatConnections, storedHoneypotEvents, samples };
      await sleep(500);
    }
  }

  /** Stops every sensor with SIGTERM (it spools and exits), and kills those still running after 10 s. */
  async stop(): Promise<void> {
    await Promise.allSettled(this.#open);
    await Promise.all(
      this.#sensors.map(async ({ child }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
