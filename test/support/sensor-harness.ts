// A real embedded server and a real sensor runtime enrolled with it, in a temporary directory: the setup of the sensor tests.

import { join } from 'node:path';
import { pino } from 'pino';
import { startEmbeddedServer, VERSION, type RunningServer } from '../../src/bin/embedded.ts';
import { resolveConfig } from '../../src/config/load.ts';
import type { PortentConfig } from '../../src/config/schema.ts';
import { SensorRuntime } from '../../src/sensor/runtime.ts';

export const HARNESS_ADMIN_TOKEN = 'sensor-harness-admin-token-0123456789abcdef';

export interface SensorHarness {
  server: RunningServer;
  sensor: SensorRuntime;
  config: PortentConfig;
  /** An admin API call on the server. */
  admin(path: string, init?: RequestInit): Promise<Response>;
  /** Rows of a query on the server's store. */
  query(sql: string): Promise<unknown[][]>;
  stop(): Promise<void>;
}

/**
 * Starts the server, enrols a sensor named `name`, and starts the sensor with `sections` (sensor,
 * honeypot, privacy...) over a spool, state directory, privacy key and shipper made for the test:
 * batches go out at once, heartbeats every second.
 */
export async function startSensorHarness(
  dir: string,
  name: string,
  sections: Record<string, Record<string, unknown>>,
): Promise<SensorHarness> {
  const server = await startEmbeddedServer(
    resolveConfig({
      server: { listen_port: 0, admin_token: HARNESS_ADMIN_TOKEN, log_level: 'warn' },
      storage: { path: join(dir, 'portent.duckdb'), rollup_flush_interval: '100ms' },
    }),
  );
  const admin = (path: string, init: RequestInit = {}) =>
    fetch(`${server.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${HARNESS_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    });
  try {
    const enrolled = (await (
      await admin('/api/v1/sensors', { method: 'POST', body: JSON.stringify({ name }) })
    ).json()) as {
      id: string;
      secret: string;
    };
    const config = resolveConfig({
      ...sections,
      sensor: { state_dir: join(dir, 'state'), heartbeat_interval: '1s', ...sections.sensor },
      spool: { path: join(dir, 'spool'), ...sections.spool },
      shipper: {
        url: server.url,
        sensor_id: enrolled.id,
        sensor_secret: enrolled.secret,
        batch_linger: '100ms',
        min_batch_events: 1,
      },
      privacy: { hash_key_file: join(dir, 'privacy.key'), ...sections.privacy },
    });
    const sensor = await SensorRuntime.start({
      config,
      software: `portent-sensor/${VERSION}`,
      log: pino({ level: 'warn' }),
    });
    return {
      server,
      sensor,
      config,
      admin,
      query: async (sql) => (await server.stores.db.reader.runAndReadAll(sql)).getRows(),
      async stop() {
        await sensor.stop();
        await server.stop();
      },
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}
