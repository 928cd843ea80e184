// `portent sensor run|init|doctor|import`: the sensor's composition root and its operator commands.

import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { pino } from 'pino';
import { PortentError } from '../core/errors.ts';
import type { PortentEvent } from '../core/event.ts';
import { eventsToColumns } from '../core/wire/ndjson.ts';
import { renderExampleConfig } from '../config/docs.ts';
import type { PortentConfig } from '../config/schema.ts';
import { findExecutable, processMayCapture } from '../sensor/capture/live.ts';
import { decodeCapture, looksLikeCapture } from '../sensor/capture/reader.ts';
import { sensorTimeZone } from '../sensor/config.ts';
import { detectFormat, LINE_FORMATS } from '../sensor/parsers/index.ts';
import type { FormatName, LineParser, ParseResult } from '../sensor/parsers/types.ts';
import { privacyFilterFrom, SensorRuntime } from '../sensor/runtime.ts';
import { sendHeartbeat } from '../sensor/server-link.ts';
import { shipperOptionsFrom } from '../sensor/shipper/config.ts';
import { Shipper } from '../sensor/shipper/shipper.ts';
import { spoolOptionsFrom } from '../sensor/spool/config.ts';
import { Spool } from '../sensor/spool/spool.ts';
import { readFileOnce } from '../sensor/sources/once.ts';
import { readFile, stat } from 'node:fs/promises';
import { Progress } from './progress.ts';

export const SENSOR_SECTIONS = ['sensor', 'shipper', 'spool', 'honeypot', 'privacy'];

/** Runs the sensor until SIGINT or SIGTERM; inputs stop first, so what they read is spooled. */
export async function runSensor(config: PortentConfig, software: string): Promise<void> {
  const log = pino({ level: 'info' });
  const rt = await SensorRuntime.start({ config, software, log });
  log.info(
    {
      sources: config.sensor.sources.map((s) => s.path),
      captures: config.sensor.captures.map((c) => c.interface),
      honeypot: rt.health().honeypot?.listening.map((l) => `${l.proto}/${l.port}`) ?? [],
      server: config.shipper.url || '(none: spooling only)',
    },
    'Portent sensor is running.',
  );
  await new Promise<void>((resolve) => {
    const stop = () => {
      log.info('Stopping: spooling what was read.');
      void rt.stop().then(resolve, resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** The example configuration cut down to the sensor's sections. */
export function sensorConfigText(): string {
  const text = renderExampleConfig();
  const [head, ...sections] = text.split(/\n(?=\n# )/);
  const keep = sections.filter((s) => SENSOR_SECTIONS.some((name) => new RegExp(`^${name}:`, 'm').test(s)));
  const intro = head
    .replace('Portent configuration', 'Portent sensor configuration')
    .replace(
      /^# Generated from the schemas.*$/m,
      '# Written by `portent sensor init`; the server needs none of these sections.',
    );
  return `${intro}\n${keep.join('\n')}`;
}

export function initSensorConfig(file: string, out: (line: string) => void): void {
  if (existsSync(file))
    throw new PortentError('USAGE', {
      message: `${file} exists already; choose another name or move it away.`,
    });
  writeFileSync(file, sensorConfigText(), { mode: 0o600 });
  out(`Wrote ${file}: every sensor key at its default, commented.`);
  out(
    'Next: set shipper.url, shipper.sensor_id and shipper.sensor_secret (from `portent sensors add NAME` on the server),',
  );
  out(`list your log files under sensor.sources, then run \`portent sensor doctor --config ${file}\`.`);
}

interface Check {
  ok: boolean;
  what: string;
  fix?: string;
}

/** Checks everything the sensor depends on and says what is wrong and how to fix it. */
export async function doctor(config: PortentConfig, software: string): Promise<Check[]> {
  const checks: Check[] = [];
  const ctx = { now: Date.now(), timeZone: sensorTimeZone(config.sensor) };
  for (const source of config.sensor.sources) {
    if (!existsSync(source.path)) {
      checks.push({
        ok: false,
        what: `${source.path}: does not exist (yet)`,
        fix: 'check the path; the sensor waits for it to appear, so this is fine if the log is not written yet',
      });
      continue;
    }
    const lines: string[] = [];
    try {
      for await (const l of readFileOnce(source.path)) {
        lines.push(l.text);
        if (lines.length >= 200) break;
      }
    } catch (err) {
      checks.push({
        ok: false,
        what: `${source.path}: cannot be read: ${(err as Error).message}`,
        fix: 'give the sensor user read access (e.g. add it to group adm)',
      });
      continue;
    }
    const detected = detectFormat(lines.slice(0, 50));
    const format = source.format === 'auto' ? detected.format : source.format;
    if (format === null) {
      checks.push({
        ok: false,
        what: `${source.path}: format not recognised (${detected.reason})`,
        fix: 'set format for this source in sensor.sources',
      });
      continue;
    }
    const parser = LINE_FORMATS.find((f) => f.name === format)!.create(ctx);
    const counts = countAll(parser, lines);
    const why = source.format === 'auto' ? ` (detected: ${detected.reason})` : '';
    checks.push({
      ok: counts.error === 0 || counts.error < counts.event,
      what: `${source.path}: ${format}${why}; of the first ${lines.length} lines ${counts.event} are events, ${counts.skip} not events, ${counts.error} errors${counts.firstError ? ` (first: ${counts.firstError})` : ''}`,
      fix:
        counts.error > 0
          ? 'if the format is wrong, set it in sensor.sources; otherwise report the lines'
          : undefined,
    });
  }
  for (const c of config.sensor.captures) {
    const tcpdump = findExecutable('tcpdump');
    checks.push(
      tcpdump === null
        ? {
            ok: false,
            what: `capture on ${c.interface}: tcpdump is not installed`,
            fix: 'apt-get install tcpdump',
          }
        : processMayCapture()
          ? { ok: true, what: `capture on ${c.interface}: tcpdump at ${tcpdump}, allowed to capture` }
          : {
              ok: false,
              what: `capture on ${c.interface}: this process may not capture`,
              fix: 'run as root or grant CAP_NET_RAW (systemd AmbientCapabilities=CAP_NET_RAW)',
            },
    );
  }
  for (const [proto, ports] of [
    ['tcp', config.honeypot.tcp_ports],
    ['udp', config.honeypot.udp_ports],
  ] as const) {
    for (const p of ports) checks.push(await canBind(proto, config.honeypot.bind_address, p.port));
  }
  try {
    const spool = await Spool.open(spoolOptionsFrom(config.spool));
    const h = spool.health();
    await spool.close();
    checks.push({
      ok: h.samplingRate === 1,
      what: `spool ${config.spool.path}: ${h.unshippedEvents} events waiting (${(h.bytes / 1048576).toFixed(1)} MiB of ${(config.spool.max_bytes / 1048576).toFixed(0)} MiB)${h.samplingRate > 1 ? `, sampling 1 in ${h.samplingRate}` : ''}`,
      fix:
        h.samplingRate > 1
          ? 'the spool is full: check that shipping works, or raise spool.max_bytes'
          : undefined,
    });
  } catch (err) {
    checks.push({
      ok: false,
      what: `spool ${config.spool.path}: ${(err as Error).message}`,
      fix: (err as PortentError).hint ?? 'check spool.path',
    });
  }
  const link = shipperOptionsFrom(config.shipper);
  if (link === null)
    checks.push({
      ok: false,
      what: 'shipper.url is empty: events are spooled but never sent',
      fix: 'set shipper.url',
    });
  else {
    try {
      const sent = Date.now();
      const answer = await sendHeartbeat(link, emptyHealth(software, sent), sent);
      checks.push({ ok: true, what: `server ${link.url}: reached, credentials accepted` });
      const offset = answer.clock_offset_ms;
      checks.push({
        ok: Math.abs(offset) < 30_000,
        what: `clock: ${Math.abs(offset) < 1000 ? 'in step with the server' : `${(offset / 1000).toFixed(1)} s off the server's`}`,
        fix:
          Math.abs(offset) < 30_000
            ? undefined
            : 'synchronise the clock (systemd-timesyncd, chrony); the server refuses requests more than collector.max_clock_skew off',
      });
    } catch (err) {
      checks.push({
        ok: false,
        what: `server ${link.url}: ${(err as Error).message}`,
        fix: 'check shipper.url, shipper.sensor_id, shipper.sensor_secret, the firewall and shipper.ca_file',
      });
    }
  }
  return checks;
}

function countAll(parser: LineParser, lines: string[]) {
  const counts = { event: 0, skip: 0, error: 0, firstError: '' };
  for (const l of lines) {
    const r = parser.parse(l);
    counts[r.kind]++;
    if (r.kind === 'error' && counts.firstError === '') counts.firstError = r.message.slice(0, 120);
  }
  return counts;
}

async function canBind(proto: 'tcp' | 'udp', host: string, port: number): Promise<Check> {
  const what = `honeypot ${proto}/${port} on ${host}`;
  try {
    await new Promise<void>((resolve, reject) => {
      if (proto === 'tcp') {
        const s = createServer()
          .once('error', reject)
          .listen(port, host, () => s.close(() => resolve()));
      } else {
        const s = createSocket(host.includes(':') ? 'udp6' : 'udp4').once('error', reject);
        s.bind(port, host, () => s.close(() => resolve()));
      }
    });
    return { ok: true, what: `${what}: free` };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return {
      ok: false,
      what: `${what}: cannot listen (${code})`,
      fix:
        code === 'EACCES'
          ? 'ports below 1024 need CAP_NET_BIND_SERVICE, or use a higher port and a redirect rule'
          : code === 'EADDRINUSE'
            ? `another process listens there: ss -ltnup 'sport = :${port}'`
            : 'check honeypot.bind_address',
    };
  }
}

function emptyHealth(software: string, now: number) {
  return {
    time: now,
    software,
    started: now,
    retaskable: false,
    lag_ms: null,
    spool: { bytes: 0, segments: 0, sampling: 1, sampled_away: 0, quarantined: 0 },
    shipper: { batches_sent: 0, events_sent: 0, retries: 0, last_success: null, last_error: null },
    sources: [],
    honeypot: null,
    privacy: { masked: 0, dropped: 0 },
  };
}

export interface ImportSummary {
  file: string;
  format: string;
  events: number;
  skipped: number;
  errors: number;
  firstErrors: string[];
}

/**
 * Reads files once into the spool through the privacy rules, then ships until the spool is empty
 * when shipper.url is set. Per file: the format chosen and why, events, non-event lines, errors.
 */
export async function importFiles(
  config: PortentConfig,
  files: string[],
  format: FormatName | 'auto',
  software: string,
  out: (line: string) => void,
): Promise<ImportSummary[]> {
  const ctx = { now: Date.now(), timeZone: sensorTimeZone(config.sensor) };
  const privacy = privacyFilterFrom(config);
  const spool = await Spool.open(spoolOptionsFrom(config.spool));
  const summaries: ImportSummary[] = [];
  try {
    for (const file of files) {
      const s: ImportSummary = { file, format: '', events: 0, skipped: 0, errors: 0, firstErrors: [] };
      summaries.push(s);
      let pending: PortentEvent[] = [];
      const flush = async () => {
        if (pending.length > 0) await spool.append(eventsToColumns(pending));
        pending = [];
      };
      const take = (r: ParseResult, where: string) => {
        if (r.kind === 'event') {
          s.events++;
          const kept = privacy.apply(r.event);
          if (kept) pending.push(kept);
        } else if (r.kind === 'skip') s.skipped++;
        else {
          s.errors++;
          if (s.firstErrors.length < 3) s.firstErrors.push(`${where}: ${r.message.slice(0, 200)}`);
        }
      };
      const head = Buffer.alloc(8);
      const fh = await import('node:fs/promises').then((m) => m.open(file, 'r'));
      await fh.read(head, 0, 8, 0).finally(() => fh.close());
      if (format === 'pcap' || (format === 'auto' && looksLikeCapture(head))) {
        s.format = 'pcap';
        let n = 0;
        for (const r of decodeCapture(await readFile(file), { now: ctx.now })) {
          take(r, `packet ${++n}`);
          if (pending.length >= 10_000) await flush();
        }
        await flush();
        continue;
      }
      let parser: LineParser | null =
        format === 'auto' ? null : LINE_FORMATS.find((f) => f.name === format)!.create(ctx);
      const progress = new Progress((await stat(file)).size);
      const sample: { text: string; n: number }[] = [];
      let n = 0;
      const parseLine = (text: string, lineNo: number) => take(parser!.parse(text), `line ${lineNo}`);
      try {
        for await (const line of readFileOnce(file, {
          onProgress: (p) => progress.advance(p.bytesRead - progressSeen(progress, p.bytesRead)),
        })) {
          n++;
          if (parser === null) {
            sample.push({ text: line.text, n });
            if (sample.length < 50) continue;
            parser = pick(sample, ctx, s);
            for (const l of sample) parseLine(l.text, l.n);
            continue;
          }
          parseLine(line.text, n);
          if (pending.length >= 10_000) await flush();
        }
        if (parser === null && sample.length > 0) {
          parser = pick(sample, ctx, s);
          for (const l of sample) parseLine(l.text, l.n);
        }
      } catch (err) {
        s.errors++;
        s.firstErrors.push((err as Error).message);
      } finally {
        progress.done();
      }
      await flush();
    }
    for (const s of summaries) {
      const unit = s.format === 'pcap' ? 'packets that are not probes' : 'lines that are not events';
      out(
        `${s.file}: ${s.format || 'unknown format'}: ${s.events} events, ${s.skipped} ${unit}, ${s.errors} errors`,
      );
      for (const e of s.firstErrors) out(`  ${e}`);
    }
    const link = shipperOptionsFrom(config.shipper);
    if (link) {
      out(`Sending ${spool.health().unshippedEvents} spooled events to ${link.url} ...`);
      const shipper = new Shipper(spool, { ...link, software });
      await shipper.run({ untilEmpty: true });
      await shipper.close();
      out(`Sent: ${shipper.health().eventsSent} events in ${shipper.health().batchesSent} batches.`);
    } else out(`Spooled in ${config.spool.path}; \`portent sensor run\` sends them once shipper.url is set.`);
  } finally {
    await spool.close();
  }
  return summaries;
}

const seen = new WeakMap<Progress, number>();
/** Progress is told increments; readFileOnce reports totals. */
function progressSeen(p: Progress, total: number): number {
  const before = seen.get(p) ?? 0;
  seen.set(p, total);
  return before;
}

function pick(
  sample: { text: string }[],
  ctx: { now: number; timeZone: string },
  s: ImportSummary,
): LineParser {
  const d = detectFormat(sample.map((l) => l.text));
  if (d.format === null)
    throw new PortentError('IMPORT_INVALID', {
      message: `${s.file}: format not recognised (${d.reason}); pass --format NAME.`,
    });
  s.format = `${d.format} (${d.reason})`;
  return LINE_FORMATS.find((f) => f.name === d.format)!.create(ctx);
}
