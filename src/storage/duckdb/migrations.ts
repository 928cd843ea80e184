// Versioned schema migrations for the embedded DuckDB store; append new versions, never edit old ones.

export interface Migration {
  version: number;
  name: string;
  sql: string[];
}

const rollupTable = (name: string, key = true): string => `
  CREATE TABLE ${name} (
    bucket TIMESTAMP_MS NOT NULL,
    proto UTINYINT NOT NULL,
    port USMALLINT NOT NULL,
    events UBIGINT NOT NULL,
    sources UINTEGER NOT NULL,
    targets UINTEGER NOT NULL,
    sensors UINTEGER NOT NULL,
    subnets UINTEGER NOT NULL,
    sources_sketch BLOB NOT NULL,
    targets_sketch BLOB NOT NULL,
    sensors_sketch BLOB NOT NULL,
    subnets_sketch BLOB NOT NULL${key ? ',\n    PRIMARY KEY (bucket, proto, port)' : ''}
  )`;

/** ::ffff:0.0.0.0, the base of IPv4-mapped IPv6 addresses. */
const V4_MAPPED = '281470681743360::UHUGEINT';

const eventsTable = (name: string, address: string): string => `
  CREATE TABLE ${name} (
    time TIMESTAMP_MS NOT NULL,
    sensor UINTEGER NOT NULL,
    ingest UBIGINT NOT NULL,
    src ${address} NOT NULL,
    src_port USMALLINT NOT NULL,
    dst ${address},
    dst_port USMALLINT NOT NULL,
    proto UTINYINT NOT NULL,
    tcp_flags UTINYINT NOT NULL,
    action UTINYINT NOT NULL,
    origin UTINYINT NOT NULL,
    ip_id INTEGER,
    ttl SMALLINT,
    tcp_window INTEGER,
    seq UINTEGER,
    payload_sha256 VARCHAR,
    count UINTEGER NOT NULL,
    sampling UINTEGER NOT NULL
  )`;

const sourcesTable = (name: string, key = true): string => `
  CREATE TABLE ${name} (
    addr UHUGEINT NOT NULL${key ? ' PRIMARY KEY' : ''},
    first_seen TIMESTAMP_MS NOT NULL,
    last_seen TIMESTAMP_MS NOT NULL,
    events UBIGINT NOT NULL,
    ports UINTEGER NOT NULL,
    targets UINTEGER NOT NULL,
    sensors UINTEGER NOT NULL,
    ports_sketch BLOB NOT NULL,
    targets_sketch BLOB NOT NULL,
    sensors_sketch BLOB NOT NULL
  )`;

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'sensors, batches, raw events, rollups and per-source state',
    sql: [
      `CREATE TABLE sensors (
        num UINTEGER PRIMARY KEY,
        id VARCHAR NOT NULL UNIQUE,
        name VARCHAR NOT NULL,
        secret VARCHAR NOT NULL,
        created TIMESTAMP_MS NOT NULL,
        revoked TIMESTAMP_MS
      )`,
      // One row per stored batch: the idempotency record and the commit marker for its events.
      `CREATE TABLE batches (
        sensor UINTEGER NOT NULL,
        batch_id UUID NOT NULL,
        ingest UBIGINT NOT NULL,
        sensor_seq UBIGINT NOT NULL,
        created TIMESTAMP_MS NOT NULL,
        received TIMESTAMP_MS NOT NULL,
        events UINTEGER NOT NULL,
        software VARCHAR NOT NULL,
        PRIMARY KEY (sensor, batch_id)
      )`,
      // Raw events, in two tables: rows whose addresses are all IPv4 keep them as UINTEGER, which
      // DuckDB stores and compresses at a fraction of the cost of UHUGEINT (bench/README.md); rows
      // with an IPv6 address keep 128-bit ones. The view `events` shows both with 128-bit addresses
      // (IPv4 as ::ffff:a.b.c.d). Column order is the appender's: keep it in step with chunk-writer.ts.
      eventsTable('events_v4', 'UINTEGER'),
      eventsTable('events_v6', 'UHUGEINT'),
      `CREATE VIEW events AS
        SELECT time, sensor, ingest, src::UHUGEINT + ${V4_MAPPED} AS src, src_port, dst::UHUGEINT + ${V4_MAPPED} AS dst,
          dst_port, proto, tcp_flags, action, origin, ip_id, ttl, tcp_window, seq, payload_sha256, count, sampling
        FROM events_v4
        UNION ALL
        SELECT * FROM events_v6`,
      // Appended deltas, one row per key per flush; compaction merges them into the tables below.
      rollupTable('rollup_parts', false),
      rollupTable('rollup_minute'),
      rollupTable('rollup_hour'),
      rollupTable('rollup_day'),
      sourcesTable('source_parts', false),
      sourcesTable('sources'),
      // Small named values: the highest ingest sequence the stored rollups and sources include.
      `CREATE TABLE meta (key VARCHAR PRIMARY KEY, value BIGINT NOT NULL)`,
    ],
  },
  {
    version: 2,
    name: 'sensor status, payload samples and re-tasking',
    sql: [
      // The latest heartbeat of each sensor: when, its clock offset, and its health report as sent.
      `CREATE TABLE sensor_status (
        sensor UINTEGER PRIMARY KEY,
        last_heartbeat TIMESTAMP_MS,
        last_batch TIMESTAMP_MS,
        clock_offset_ms BIGINT,
        health VARCHAR
      )`,
      // Payloads captured by honeypots, by content: attacker-controlled bytes, kept as bytes.
      `CREATE TABLE samples (
        sha256 VARCHAR PRIMARY KEY,
        bytes BLOB NOT NULL,
        truncated BOOLEAN NOT NULL,
        first_seen TIMESTAMP_MS NOT NULL,
        last_seen TIMESTAMP_MS NOT NULL,
        seen UBIGINT NOT NULL,
        first_sensor UINTEGER NOT NULL,
        proto UTINYINT NOT NULL,
        port USMALLINT NOT NULL
      )`,
      // Requests that a honeypot sensor listen on a port until a time (delivered with heartbeats).
      `CREATE TABLE retasks (
        sensor UINTEGER NOT NULL,
        proto UTINYINT NOT NULL,
        port USMALLINT NOT NULL,
        until TIMESTAMP_MS NOT NULL,
        created TIMESTAMP_MS NOT NULL,
        reason VARCHAR NOT NULL,
        PRIMARY KEY (sensor, proto, port)
      )`,
    ],
  },
  {
    version: 3,
    name: 'incidents, analyst notes and overrides, threat level and its history',
    sql: [
      // The analyzer's fields of an incident: columns to filter and sort on, the rest as one JSON
      // document. Notes and overrides are the analysts' and live in tables of their own.
      `CREATE TABLE incidents (
        id VARCHAR PRIMARY KEY,
        proto UTINYINT NOT NULL,
        port INTEGER,
        grp VARCHAR,
        state VARCHAR NOT NULL,
        onset TIMESTAMP_MS NOT NULL,
        updated TIMESTAMP_MS NOT NULL,
        doc VARCHAR NOT NULL
      )`,
      `CREATE TABLE incident_notes (
        id VARCHAR NOT NULL,
        seq UINTEGER NOT NULL,
        noted_at TIMESTAMP_MS NOT NULL,
        author VARCHAR NOT NULL,
        text VARCHAR NOT NULL,
        PRIMARY KEY (id, seq)
      )`,
      // One IncidentOverride as JSON, so optional fields come back exactly as set.
      `CREATE TABLE incident_overrides (id VARCHAR PRIMARY KEY, doc VARCHAR NOT NULL)`,
      // Single-row tables (name = 'current'): the last ThreatLevel saved, and the analyst's override.
      `CREATE TABLE threat_level (name VARCHAR PRIMARY KEY, doc VARCHAR NOT NULL)`,
      `CREATE TABLE threat_override (name VARCHAR PRIMARY KEY, doc VARCHAR NOT NULL)`,
      `CREATE TABLE threat_level_changes (
        seq UBIGINT PRIMARY KEY,
        changed_at TIMESTAMP_MS NOT NULL,
        from_level VARCHAR NOT NULL,
        to_level VARCHAR NOT NULL,
        reason VARCHAR NOT NULL
      )`,
    ],
  },
];
