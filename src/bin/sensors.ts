// `portent sensors add|list|revoke|retask`: on the store file, or through a running server's admin routes.
//
// DuckDB lets one process open a file, so while `portent server` holds it the command talks to the
// server over HTTP with server.admin_token instead; `--server URL` asks for that explicitly.

import { sensorWithStatus, type SensorListing } from '../collector/routes.ts';
import { PortentError } from '../core/errors.ts';
import type { PortentConfig } from '../config/schema.ts';
import { openEmbeddedStores } from './embedded.ts';
import { dshieldApiKey } from '../collector/compat/dshield-auth.ts';

export interface SensorsCommand {
  action: 'add' | 'list' | 'revoke' | 'retask';
  arg?: string;
  /** For retask: "tcp/5168,udp/1434", a duration in seconds, and a reason. */
  ports?: string;
  durationS?: number;
  reason?: string;
  server?: string;
  json: boolean;
}

/** The operations, whichever way they reach the sensors table. */
interface SensorAdmin {
  add(name: string): Promise<{ id: string; number: number; name: string; secret: string }>;
  list(): Promise<SensorListing[]>;
  revoke(idOrName: string): Promise<{ id: string; name: string }>;
  retask(
    idOrName: string,
    ports: { proto: 'tcp' | 'udp'; port: number }[],
    durationS: number,
    reason: string,
  ): Promise<{ until: string }>;
  close(): Promise<void>;
}

async function fileAdmin(config: PortentConfig): Promise<SensorAdmin> {
  const stores = await openEmbeddedStores(config);
  const staleAfter = config.collector.sensor_stale_after;
  return {
    add: async (name) => {
      const s = await stores.state.addSensor(name, Date.now());
      return { ...s, number: s.num };
    },
    async list() {
      const statuses = await stores.state.sensorStatuses();
      return (await stores.state.listSensors()).map((s) =>
        sensorWithStatus(s, statuses.get(s.num), undefined, Date.now(), staleAfter),
      );
    },
    revoke: (idOrName) => stores.state.revokeSensor(idOrName, Date.now()),
    async retask(idOrName, ports, durationS, reason) {
      const s = await stores.state.findSensor(idOrName);
      if (s === null || s.revoked !== null)
        throw new PortentError('SENSOR_NOT_FOUND', {
          message: `No active sensor has the id or name "${idOrName}".`,
        });
      const now = Date.now();
      const until = now + durationS * 1000;
      for (const p of ports)
        await stores.state.retask(
          s.num,
          { proto: p.proto === 'udp' ? 17 : 6, port: p.port, until, reason },
          now,
        );
      return { until: new Date(until).toISOString() };
    },
    close: () => stores.close(),
  };
}

function httpAdmin(base: string, token: string): SensorAdmin {
  if (token === '')
    throw new PortentError('ADMIN_UNAUTHORIZED', {
      message:
        'The store is in use by a running server, and server.admin_token is not set, so its admin routes cannot be used.',
    });
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(new URL(path, base), {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const parsed = (await res.json().catch(() => null)) as Record<string, unknown> | null;
    if (!res.ok) {
      const err = parsed?.error as { code?: string; message?: string } | undefined;
      throw new PortentError('SERVER_REFUSED', {
        message:
          `The server at ${base} answered ${res.status}: ${err?.code ?? ''} ${err?.message ?? ''}`.trim(),
      });
    }
    return parsed as never;
  };
  return {
    add: (name) => call('POST', '/api/v1/sensors', { name }),
    list: async () => ((await call('GET', '/api/v1/sensors')) as { sensors: SensorListing[] }).sensors,
    revoke: (idOrName) => call('DELETE', `/api/v1/sensors/${encodeURIComponent(idOrName)}`),
    retask: (idOrName, ports, duration_s, reason) =>
      call('POST', `/api/v1/sensors/${encodeURIComponent(idOrName)}/retask`, { ports, duration_s, reason }),
    close: async () => {},
  };
}

async function connect(config: PortentConfig, server: string | undefined): Promise<SensorAdmin> {
  if (server) return httpAdmin(server, config.server.admin_token);
  try {
    return await fileAdmin(config);
  } catch (err) {
    if (!(err instanceof PortentError && err.code === 'STORE_LOCKED')) throw err;
    const host = ['0.0.0.0', '::'].includes(config.server.listen_host)
      ? '127.0.0.1'
      : config.server.listen_host;
    return httpAdmin(
      `http://${host.includes(':') ? `[${host}]` : host}:${config.server.listen_port}`,
      config.server.admin_token,
    );
  }
}

/** "tcp/5168,udp/1434" → port list; refuses anything else with a usage error. */
export function parsePortList(text: string): { proto: 'tcp' | 'udp'; port: number }[] {
  return text.split(',').map((item) => {
    const m = /^(tcp|udp)\/(\d{1,5})$/.exec(item.trim());
    if (!m || Number(m[2]) > 65535)
      throw new PortentError('USAGE', {
        message: `"${item}" is not a port: write tcp/PORT or udp/PORT, e.g. tcp/5168,udp/1434.`,
      });
    return { proto: m[1] as 'tcp' | 'udp', port: Number(m[2]) };
  });
}

const ago = (iso: string | null, now: number): string => {
  if (iso === null) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 120
    ? `${s}s ago`
    : s < 7200
      ? `${Math.round(s / 60)}m ago`
      : s < 172800
        ? `${Math.round(s / 3600)}h ago`
        : `${Math.round(s / 86400)}d ago`;
};

/** One line per sensor, with what an operator looks for first: silence, lag, sampling, errors. */
export function formatSensorTable(list: SensorListing[], now: number): string[] {
  const rows = list.map((s) => {
    const h = s.health;
    const errors = h ? h.sources.reduce((n, x) => n + x.errors, 0) : 0;
    const problems = [
      h && h.spool.sampling > 1 ? `sampling 1/${h.spool.sampling}` : '',
      h && h.spool.quarantined > 0 ? `${h.spool.quarantined} quarantined` : '',
      errors > 0 ? `${errors} parse errors` : '',
      h?.shipper.last_error ? `last error ${h.shipper.last_error.code}` : '',
      s.clock_offset_ms !== null && Math.abs(s.clock_offset_ms) > 2000
        ? `clock ${Math.round(s.clock_offset_ms / 1000)}s off`
        : '',
    ].filter(Boolean);
    return [
      s.id,
      s.name,
      s.status,
      ago(s.last_seen, now),
      h?.lag_ms == null ? '-' : `${(h.lag_ms / 1000).toFixed(1)}s`,
      h ? `${(h.spool.bytes / 1048576).toFixed(1)}MiB` : '-',
      h?.software ?? '-',
      problems.join(', ') || (h ? 'ok' : ''),
    ];
  });
  const head = ['ID', 'NAME', 'STATUS', 'LAST SEEN', 'LAG', 'SPOOL', 'VERSION', 'PROBLEMS'];
  const widths = head.map((t, i) => Math.max(t.length, ...rows.map((r) => r[i].length)));
  return [head, ...rows].map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd(),
  );
}

export async function runSensors(
  config: PortentConfig,
  cmd: SensorsCommand,
  out: (line: string) => void,
): Promise<void> {
  const admin = await connect(config, cmd.server);
  try {
    if (cmd.action === 'add') {
      const s = await admin.add(cmd.arg!);
      const apikey = dshieldApiKey(s.secret);
      if (cmd.json)
        out(
          JSON.stringify({
            id: s.id,
            number: s.number,
            name: s.name,
            secret: s.secret,
            dshield_apikey: apikey,
          }),
        );
      else {
        out(`Enrolled sensor "${s.name}".`);
        out(`  id:     ${s.id}`);
        out(`  secret: ${s.secret}`);
        out('Put both in the sensor config; the secret is not shown again.');
        out(
          `For DShield clients (dshield.ini or Cowrie's [output_dshield]): userid ${s.number}, apikey ${apikey}`,
        );
      }
    } else if (cmd.action === 'list') {
      const list = await admin.list();
      if (cmd.json) out(JSON.stringify(list));
      else if (list.length === 0) out('No sensors are enrolled yet: portent sensors add NAME');
      else for (const line of formatSensorTable(list, Date.now())) out(line);
    } else if (cmd.action === 'revoke') {
      const s = await admin.revoke(cmd.arg!);
      out(`Revoked sensor "${s.name}" (${s.id}).`);
    } else {
      const ports = parsePortList(cmd.ports ?? '');
      const r = await admin.retask(
        cmd.arg!,
        ports,
        cmd.durationS ?? 3600,
        cmd.reason ?? 'requested by an operator',
      );
      out(`Asked sensor "${cmd.arg}" to listen on ${cmd.ports} until ${r.until} (if it accepts re-tasking).`);
    }
  } finally {
    await admin.close();
  }
}
