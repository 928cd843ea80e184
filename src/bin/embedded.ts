// Composition root of the embedded profile: one DuckDB file holds events, rollups and state.

import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { systemClock, type Clock } from '../core/clock.ts';
import type { PortentConfig } from '../config/schema.ts';
import { HpfeedsBroker } from '../collector/compat/hpfeeds.ts';
import { Analyzer, pipelineOptions } from '../analysis/analyzer.ts';
import { THREAT_COLOURS, INCIDENT_STATES } from '../analysis/incidents/incident.ts';
import { MemoryBus } from '../bus/memory.ts';
import { buildApp, type PortentApp } from '../server/app.ts';
import { DuckDBDatabase } from '../storage/duckdb/database.ts';
import { DuckDBEventStore } from '../storage/duckdb/event-store.ts';
import { DuckDBStateStore } from '../storage/duckdb/state-store.ts';

import { VERSION } from './version.ts';

export { VERSION };

export interface EmbeddedStores {
  db: DuckDBDatabase;
  events: DuckDBEventStore;
  state: DuckDBStateStore;
  close(): Promise<void>;
}

/** Opens (creating and migrating as needed) the store file named by the config. */
export async function openEmbeddedStores(config: PortentConfig): Promise<EmbeddedStores> {
  const s = config.storage;
  const db = await DuckDBDatabase.open({
    path: s.path,
    threads: s.duckdb_threads || undefined,
    memoryLimitBytes: s.duckdb_memory_limit || undefined,
  });
  const events = await DuckDBEventStore.open(db);
  const state = await DuckDBStateStore.open(db);
  return {
    db,
    events,
    state,
    async close() {
      await events.close();
      await state.close();
      db.close();
    },
  };
}

export interface RunningServer extends PortentApp {
  url: string;
  stores: EmbeddedStores;
  /** The hpfeeds broker and its address, when hpfeeds.enabled. */
  hpfeeds: { broker: HpfeedsBroker; host: string; port: number } | null;
  /** The in-process bus incidents and threat-level changes are published on. */
  bus: MemoryBus;
  /** Live detection, or null when analysis.enabled is false. */
  readonly analyzer: Analyzer | null;
  /**
   * Replaces the analyzer with a fresh one that resumes nothing: for a replay that goes back in time (the demo's
   * incidents are a year apart), whose minutes an analyzer that judged later ones would count as late.
   * Incidents the old one left open stay as stored.
   */
  restartAnalyzer(): Promise<void>;
  /** Stops detection and accepting, waits for queued batches to become durable, flushes rollups, closes the file. */
  stop(): Promise<void>;
}

/** Starts `portent server` on the embedded profile and its timers (rollup flush, retention). */
export async function startEmbeddedServer(
  config: PortentConfig,
  opts: {
    clock?: Clock;
    /** The clock detection judges minutes by; the server's clock when absent. An accelerated replay gives its own. */
    analysisClock?: Clock;
    logger?: pino.Logger | false;
  } = {},
): Promise<RunningServer> {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? pino({ level: config.server.log_level });
  const log = logger || pino({ level: 'silent' });
  const stores = await openEmbeddedStores(config);
  const bus = new MemoryBus({
    onError: (err, subject) => log.error({ err, subject }, 'A bus subscriber failed on a message.'),
  });
  // Created once the app (and its metrics) exist, before the server listens: no stored batch is missed.
  let analyzer: Analyzer | null = null;
  const built = await buildApp({
    bus,
    onStored: (items) => {
      if (analyzer === null) return;
      for (const item of items) analyzer.observe(item.sensor, item.batch.events);
    },
    events: stores.events,
    state: stores.state,
    clock,
    logger,
    version: VERSION,
    trustProxy: config.server.trust_proxy,
    maxPendingBatches: config.collector.max_pending_batches,
    collector: {
      maxBatchBytes: config.collector.max_batch_bytes,
      maxDecompressedBytes: config.collector.max_decompressed_bytes,
      maxBatchEvents: config.collector.max_batch_events,
      maxClockSkewMs: config.collector.max_clock_skew,
      sensorEventsPerS: config.collector.sensor_events_per_s,
      sensorBurstEvents: config.collector.sensor_burst_events,
      adminToken: config.server.admin_token,
      sensorStaleAfterMs: config.collector.sensor_stale_after,
    },
    dshield: config.dshield.enabled
      ? {
          maxBodyBytes: config.dshield.max_body_bytes,
          maxRecords: config.dshield.max_records,
          nonceMemoryMs: config.dshield.nonce_memory,
          maxRememberedNonces: config.dshield.max_remembered_nonces,
          sensorEventsPerS: config.collector.sensor_events_per_s,
          sensorBurstEvents: config.collector.sensor_burst_events,
        }
      : undefined,
  });
  const background = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
    try {
      await fn();
      built.metrics.background(what);
    } catch (err) {
      built.metrics.background(what, err);
      log.error({ err }, `${what} failed; it will be tried again.`);
    }
  };
  const h = config.hpfeeds;
  const broker = h.enabled
    ? new HpfeedsBroker({
        state: stores.state,
        writer: built.writer,
        clock,
        metrics: built.metrics,
        log,
        options: {
          host: h.listen_host,
          port: h.listen_port,
          brokerName: h.broker_name,
          maxConnections: h.max_connections,
          maxMessageBytes: h.max_message_bytes,
          maxMessagesPerS: h.max_messages_per_s,
          batchMaxEvents: h.batch_max_events,
          batchMaxDelayMs: h.batch_max_delay,
          authTimeoutMs: h.auth_timeout,
          idleTimeoutMs: h.idle_timeout,
        },
      })
    : null;
  const openAnalyzer = async (resume = true): Promise<Analyzer | null> => {
    const a = config.analysis;
    if (!a.enabled) return null;
    const m = built.metrics;
    return Analyzer.open(
      {
        state: stores.state,
        bus,
        clock: opts.analysisClock ?? clock,
        pipeline: pipelineOptions(a),
        tickMs: a.tick,
        observe: (run) => {
          m.analysisEvalSeconds.observe(run.evalSeconds);
          for (const state of INCIDENT_STATES)
            if (state !== 'ended')
              m.incidentsOpen.set({ state }, run.open.filter((i) => i.state === state).length);
          m.threatLevel.set(THREAT_COLOURS.indexOf(run.threat.level));
        },
        report: (err) => {
          m.background('Analysing incidents', err);
          if (err !== undefined) log.error({ err }, 'Analysing incidents failed; it will be tried again.');
        },
      },
      resume,
    );
  };
  let hpfeeds: RunningServer['hpfeeds'] = null;
  try {
    analyzer = await openAnalyzer();
    await built.app.listen({ host: config.server.listen_host, port: config.server.listen_port });
    if (broker !== null) {
      const a = await broker.listen();
      hpfeeds = { broker, host: a.address, port: a.port };
      log.info({ host: a.address, port: a.port }, 'hpfeeds broker listening.');
    }
  } catch (err) {
    // Nothing else may keep the process (or the store file) alive when a port is taken.
    await broker?.close();
    await built.app.close();
    await bus.close();
    await stores.close();
    throw err;
  }
  analyzer?.start();
  const s = config.storage;
  const timers = [
    setInterval(
      () => void background('Writing rollups', () => stores.events.flushRollups()),
      s.rollup_flush_interval,
    ),
    setInterval(
      () => void background('Writing per-source state', () => stores.events.flushSources()),
      s.sources_flush_interval,
    ),
    setInterval(
      () => void background('Compacting rollups', () => stores.events.compactSome()),
      s.compaction_interval,
    ),
    setInterval(
      () =>
        void background('Pruning raw events', async () => {
          const n = await stores.events.pruneRaw(clock.now() - s.raw_retention);
          if (n > 0) log.info({ rows: n }, 'Pruned raw events past the retention age.');
        }),
      s.retention_check_interval,
    ),
  ];
  const addr = built.app.server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  let stopping: Promise<void> | null = null;
  return {
    ...built,
    url: `http://${host}:${addr.port}`,
    stores,
    hpfeeds,
    bus,
    get analyzer() {
      return analyzer;
    },
    async restartAnalyzer() {
      await analyzer?.stop();
      analyzer = await openAnalyzer(false);
      analyzer?.start();
    },
    stop() {
      stopping ??= (async () => {
        for (const t of timers) clearInterval(t);
        await analyzer?.stop();
        // The broker hands what its connections have read to the writer before the writer closes.
        await broker?.close();
        await built.writer.close();
        await built.app.close();
        await bus.close();
        await stores.close();
      })();
      return stopping;
    },
  };
}
