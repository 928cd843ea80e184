// The running sensor: log files, live capture and honeypot listeners in; privacy; spool; shipping, heartbeats and samples out.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { systemClock, type Clock } from '../core/clock.ts';
import type { PortentEvent } from '../core/event.ts';
import { eventsToColumns } from '../core/wire/ndjson.ts';
import type { PortentConfig } from '../config/schema.ts';
import { startLiveCapture, type LiveCapture } from './capture/live.ts';
import { sensorTimeZone } from './config.ts';
import { Honeypot, type HoneypotRecord } from './honeypot/honeypot.ts';
import { detectFormat, LINE_FORMATS } from './parsers/index.ts';
import type { LineParser, ParseContext } from './parsers/types.ts';
import { detectOwnAddresses, loadHashKey, PrivacyFilter } from './privacy/privacy.ts';
import { ProbeJoiner } from './probe-join.ts';
import { SampleUploader, sendHeartbeat, type HeartbeatAnswer } from './server-link.ts';
import { shipperOptionsFrom } from './shipper/config.ts';
import { Shipper, type ShipperOptions } from './shipper/shipper.ts';
import { spoolOptionsFrom } from './spool/config.ts';
import { Spool } from './spool/spool.ts';
import { tailOptionsFrom } from './sources/config.ts';
import { FileTailer, type TailLine } from './sources/tail.ts';
import type { Static } from 'typebox';
import type { healthSchema } from '../core/wire/reports.ts';

export type SensorHealthReport = Static<typeof healthSchema>;

/** Per-input counters, reported in heartbeats and by `portent sensor doctor`. */
export interface SourceCounts {
  name: string;
  format: string | null;
  events: number;
  skipped: number;
  errors: number;
  lastError: string | null;
}

export interface SensorRuntimeOptions {
  config: PortentConfig;
  software: string;
  clock?: Clock;
  log: Logger;
}

/** Most events held in memory for the spool; see #accept. */
const MAX_PENDING_EVENTS = 200_000;
/** Lines used to recognise a file's format. */
const DETECT_LINES = 50;

/** The privacy rules of the configuration, with the hash key file (and its directory) created if absent. */
export function privacyFilterFrom(config: PortentConfig): PrivacyFilter {
  const keyFile = config.privacy.hash_key_file;
  if (keyFile !== '') mkdirSync(dirname(keyFile), { recursive: true });
  return new PrivacyFilter(config.privacy, {
    key: loadHashKey(keyFile),
    detectedAddresses: config.privacy.detect_own_addresses ? detectOwnAddresses() : [],
  });
}

export class SensorRuntime {
  readonly #opts: SensorRuntimeOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #started: number;
  #spool!: Spool;
  #shipper: Shipper | null = null;
  #privacy!: PrivacyFilter;
  #honeypot: Honeypot | null = null;
  #joiner: ProbeJoiner | null = null;
  #uploader: SampleUploader | null = null;
  /** Where and as whom to reach the server; null when shipper.url is empty. */
  #link: ShipperOptions | null = null;
  readonly #tailers: FileTailer[] = [];
  readonly #captures: LiveCapture[] = [];
  readonly #loops: Promise<void>[] = [];
  readonly #sources: SourceCounts[] = [];
  #pending: PortentEvent[] = [];
  /** Events left out because the spool could not take them (see #accept). */
  #overflow = 0;
  #writing: Promise<void> = Promise.resolve();
  #timers: NodeJS.Timeout[] = [];
  #stopping = false;
  #lastHeartbeat: HeartbeatAnswer | null = null;

  private constructor(opts: SensorRuntimeOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#log = opts.log;
    this.#started = this.#clock.now();
  }

  /** Opens the spool, starts every configured input and, with a shipper.url, shipping and heartbeats. */
  static async start(opts: SensorRuntimeOptions): Promise<SensorRuntime> {
    const rt = new SensorRuntime(opts);
    try {
      await rt.#start();
    } catch (err) {
      await rt.stop();
      throw err;
    }
    return rt;
  }

  async #start(): Promise<void> {
    const { config } = this.#opts;
    mkdirSync(config.sensor.state_dir, { recursive: true });
    this.#privacy = privacyFilterFrom(config);
    this.#spool = await Spool.open(spoolOptionsFrom(config.spool, this.#clock));
    this.#timers.push(setInterval(() => this.#write().catch(() => {}), config.sensor.append_interval));

    const shipping = shipperOptionsFrom(config.shipper, this.#clock);
    this.#link = shipping;
    if (shipping) {
      this.#shipper = new Shipper(this.#spool, { ...shipping, software: this.#opts.software });
      this.#loops.push(
        this.#shipper
          .run()
          .catch((err: Error) => this.#log.error({ err }, `Shipping stopped: ${err.message}`)),
      );
      this.#uploader = new SampleUploader(shipping, this.#clock, this.#log);
    }

    const hp = config.honeypot;
    const honeypotWanted = hp.tcp_ports.length + hp.udp_ports.length > 0 || config.sensor.retaskable;
    if (honeypotWanted) {
      this.#honeypot = new Honeypot({
        config: hp,
        clock: this.#clock,
        onRecord: (r) => this.#onHoneypot(r),
        onError: (err) => this.#log.warn({ err }, 'Honeypot listener error.'),
      });
      await this.#honeypot.start();
    }

    if (this.#honeypot && config.sensor.captures.length > 0) {
      this.#joiner = new ProbeJoiner({
        // A SYN waits for its connection, reported when the connection closes.
        holdMs: hp.capture_timeout + 2000,
        clock: this.#clock,
        emit: (e) => this.#accept(e),
        isListened: (proto, port) =>
          this.#honeypot!.listening().some((l) => l.port === port && l.proto === proto),
      });
      this.#timers.push(setInterval(() => this.#joiner?.expire(), 500));
    }
    for (const c of config.sensor.captures) {
      const counts = this.#addSource(`capture:${c.interface}`, 'pcap');
      const capture = await startLiveCapture({ iface: c.interface, filter: c.filter });
      this.#captures.push(capture);
      this.#loops.push(this.#captureLoop(capture, counts));
    }

    for (const source of config.sensor.sources) {
      const tailer = new FileTailer(tailOptionsFrom(source, config.sensor.state_dir, this.#clock));
      this.#tailers.push(tailer);
      const counts = this.#addSource(source.path, source.format === 'auto' ? null : source.format);
      this.#loops.push(this.#tailLoop(tailer, counts, source.format));
    }

    if (shipping) {
      const beat = () => void this.#heartbeat();
      this.#timers.push(setInterval(beat, config.sensor.heartbeat_interval));
      beat();
    }
  }

  #addSource(name: string, format: string | null): SourceCounts {
    const counts: SourceCounts = { name, format, events: 0, skipped: 0, errors: 0, lastError: null };
    this.#sources.push(counts);
    return counts;
  }

  /** Every event passes here: the privacy rules, then the batch bound for the spool. */
  #accept(event: PortentEvent): void {
    const kept = this.#privacy.apply(event);
    if (kept === null) return;
    // Log files wait for the spool; capture and listeners cannot. While the spool cannot be written
    // (a full disk), what they see beyond this bound is counted as sampled away, not kept in memory.
    if (this.#pending.length >= MAX_PENDING_EVENTS) {
      if (this.#overflow++ === 0)
        this.#log.warn('The spool is not keeping up: events are being left out and counted.');
      return;
    }
    this.#pending.push(kept);
    if (this.#pending.length >= 10_000) this.#write().catch(() => {}); // logged in #write; retried by the next
  }

  /** Writes what is pending to the spool; resolves once everything accepted so far is spooled. */
  #write(): Promise<void> {
    // A failed write must not fail every later one: each starts afresh after the one before.
    this.#writing = this.#writing
      .catch(() => {})
      .then(async () => {
        if (this.#pending.length === 0) return;
        const events = this.#pending;
        this.#pending = [];
        try {
          await this.#spool.append(eventsToColumns(events));
        } catch (err) {
          // The events go back to the front of the queue: a full disk must not lose them silently.
          this.#pending = events.concat(this.#pending);
          this.#log.error({ err }, `Could not write to the spool: ${(err as Error).message}`);
          throw err;
        }
      });
    return this.#writing;
  }

  /** Follows one file: parse, spool, then confirm the position so a restart resumes after it. */
  async #tailLoop(tailer: FileTailer, counts: SourceCounts, format: string): Promise<void> {
    const ctx: ParseContext = { now: this.#clock.now(), timeZone: sensorTimeZone(this.#opts.config.sensor) };
    let parser: LineParser | null =
      format === 'auto' ? null : LINE_FORMATS.find((f) => f.name === format)!.create(ctx);
    let undetected: TailLine[] = [];
    try {
      for (;;) {
        const first = await tailer.next();
        if (first.done) return;
        let lines = [first.value, ...(await tailer.readAvailable(9_999))];
        if (parser === null) {
          undetected.push(...lines);
          if (undetected.length < DETECT_LINES) {
            // A file that grows slowly: give it a moment, then decide on what there is.
            await new Promise((r) => setTimeout(r, 1000));
            undetected.push(...(await tailer.readAvailable(DETECT_LINES)));
          }
          const d = detectFormat(undetected.slice(0, DETECT_LINES).map((l) => l.text));
          if (d.format === null) {
            counts.errors += undetected.length;
            counts.lastError = `format not recognised: ${d.reason}; set format for ${counts.name} in sensor.sources`;
            this.#log.warn(`${counts.name}: ${counts.lastError}`);
            await tailer.confirm(undetected.at(-1)!.position);
            undetected = [];
            continue;
          }
          this.#log.info(`${counts.name}: reading as ${d.format} (${d.reason}).`);
          counts.format = d.format;
          parser = LINE_FORMATS.find((f) => f.name === d.format)!.create(ctx);
          lines = undetected;
          undetected = [];
        }
        parser.setNow(this.#clock.now());
        for (const line of lines) {
          const r = parser.parse(line.text);
          if (r.kind === 'event') {
            counts.events++;
            this.#accept(r.event);
          } else if (r.kind === 'skip') counts.skipped++;
          else {
            counts.errors++;
            counts.lastError = r.message.slice(0, 500);
          }
        }
        await this.#spooled(counts);
        await tailer.confirm(lines.at(-1)!.position);
      }
    } catch (err) {
      if (this.#stopping) return;
      counts.lastError = `stopped reading: ${(err as Error).message}`.slice(0, 500);
      this.#log.error({ err }, `${counts.name}: ${counts.lastError}`);
    }
  }

  async #captureLoop(capture: LiveCapture, counts: SourceCounts): Promise<void> {
    try {
      for await (const r of capture.results()) {
        if (r.kind === 'event') {
          counts.events++;
          if (this.#joiner) this.#joiner.capture(r.event);
          else this.#accept(r.event);
        } else if (r.kind === 'skip') counts.skipped++;
        else {
          counts.errors++;
          counts.lastError = r.message.slice(0, 500);
        }
      }
    } catch (err) {
      if (!this.#stopping) counts.lastError = `capture stopped: ${(err as Error).message}`.slice(0, 500);
    }
  }

  #onHoneypot(r: HoneypotRecord): void {
    if (this.#joiner && r.event.proto === 6) this.#joiner.connection(r.event);
    else this.#accept(r.event);
    if (r.payload && this.#uploader) this.#uploader.add(r.event, r.payload);
  }

  /**
   * Waits until what a source read is in the spool, retrying while the spool cannot be written (a full
   * disk): the source stops reading meanwhile, so memory stays bounded and nothing is confirmed early.
   */
  async #spooled(counts: SourceCounts): Promise<void> {
    for (;;) {
      try {
        await this.#write();
        return;
      } catch (err) {
        counts.lastError = `waiting for the spool: ${(err as Error).message}`.slice(0, 500);
        if (this.#stopping) throw err;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  async #heartbeat(): Promise<void> {
    const shipping = this.#link;
    if (!shipping || this.#stopping) return;
    try {
      const answer = await sendHeartbeat(shipping, this.health(), this.#clock.now());
      this.#lastHeartbeat = answer;
      if (Math.abs(answer.clock_offset_ms) > 30_000)
        this.#log.warn(
          `This host's clock is ${Math.round(answer.clock_offset_ms / 1000)} s off the server's: synchronise it (NTP).`,
        );
      if (this.#honeypot && this.#opts.config.sensor.retaskable) {
        for (const t of answer.retask) {
          const open = this.#honeypot.listening().some((l) => l.proto === t.proto && l.port === t.port);
          if (!open) {
            await this.#honeypot
              .open(t.port, t.proto, Date.parse(t.until))
              .then(() =>
                this.#log.info(
                  `Re-tasked by the server: listening on ${t.proto}/${t.port} until ${t.until} (${t.reason}).`,
                ),
              )
              .catch((err: Error) =>
                this.#log.warn(`Could not open ${t.proto}/${t.port} as asked: ${err.message}`),
              );
          }
        }
      }
    } catch (err) {
      this.#log.warn(`Heartbeat failed: ${(err as Error).message}`);
    }
  }

  /** The health report heartbeats carry. */
  health(): SensorHealthReport {
    const spool = this.#spool.health();
    const ship = this.#shipper?.health();
    const hp = this.#honeypot?.stats();
    const privacy = this.#privacy.stats();
    return {
      time: this.#clock.now(),
      software: this.#opts.software,
      started: this.#started,
      retaskable: this.#opts.config.sensor.retaskable && this.#honeypot !== null,
      lag_ms: spool.oldestUnshippedAgeMs,
      spool: {
        bytes: spool.bytes,
        segments: spool.segments,
        sampling: spool.samplingRate,
        sampled_away: spool.sampledAwayEvents + this.#overflow,
        quarantined: spool.quarantinedBatches,
      },
      shipper: {
        batches_sent: ship?.batchesSent ?? 0,
        events_sent: ship?.eventsSent ?? 0,
        retries: ship?.retries ?? 0,
        last_success: ship?.lastSuccessAt ?? null,
        last_error: ship?.lastError
          ? {
              code: ship.lastError.code.slice(0, 64),
              message: ship.lastError.message.slice(0, 500),
              at: ship.lastError.at,
            }
          : null,
      },
      sources: this.#sources.map((s) => ({
        name: s.name.slice(0, 256),
        format: s.format,
        events: s.events,
        skipped: s.skipped,
        errors: s.errors,
        last_error: s.lastError,
      })),
      honeypot: hp
        ? {
            listening: this.#honeypot!.listening().map((l) => ({ proto: l.proto, port: l.port })),
            connections: hp.tcpConnections + hp.udpDatagrams,
            refused: Object.values(hp.refused).reduce((a, b) => a + b, 0),
            payloads: this.#uploader?.stats().samples ?? 0,
          }
        : null,
      privacy: {
        masked: privacy.masked,
        dropped: privacy.droppedAdmin + privacy.droppedSource + privacy.droppedUnreadableSource,
      },
    };
  }

  /** The server's last answer to a heartbeat (clock offset, re-tasking), if any. */
  get lastHeartbeat(): HeartbeatAnswer | null {
    return this.#lastHeartbeat;
  }

  /**
   * Waits until everything read so far is spooled and, with a shipper, acknowledged by the server
   * (events held to be joined excepted); rejects after `timeoutMs` saying what is left.
   */
  async drain(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await this.#write();
    while (this.#shipper && this.#spool.health().unshippedEvents > 0) {
      if (Date.now() > deadline)
        throw new Error(
          `not drained after ${timeoutMs} ms: ${this.#spool.health().unshippedEvents} events unshipped; shipper ${JSON.stringify(this.#shipper.health().lastError)}`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
    await this.#uploader?.flush();
  }

  /** Stops inputs first, spools what they read, then stops shipping; nothing read is lost. */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const t of this.#timers) clearInterval(t);
    await this.#honeypot?.stop();
    await Promise.all(this.#captures.map((c) => c.stop()));
    await Promise.all(this.#tailers.map((t) => t.close()));
    this.#joiner?.flush();
    if (this.#spool) {
      await this.#write().catch(() => {});
      await this.#uploader?.flush().catch(() => {});
      this.#uploader?.close();
      await this.#shipper?.stop();
      await Promise.allSettled(this.#loops);
      await this.#shipper?.close();
      await this.#spool.close();
    }
  }
}
