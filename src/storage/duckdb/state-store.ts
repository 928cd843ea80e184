// The embedded state store: sensors (and later subscribers, incidents, alerts) in the same DuckDB file.

import { randomBytes } from 'node:crypto';
import { DuckDBBlobValue, type DuckDBConnection } from '@duckdb/node-api';
import { PortentError } from '../../core/errors.ts';
import type { Retask, Sample, Sensor, SensorStatus, SensorWithSecret, StateStore } from '../state-store.ts';
import type { DuckDBDatabase } from './database.ts';

const SENSOR_COLUMNS = 'num, id, name, epoch_ms(created)::DOUBLE, epoch_ms(revoked)::DOUBLE';

const toSensor = (r: unknown[]): Sensor => ({
  num: Number(r[0]),
  id: String(r[1]),
  name: String(r[2]),
  created: Number(r[3]),
  revoked: r[4] === null ? null : Number(r[4]),
});

/** A BLOB parameter: DuckDB's node API takes blobs as DuckDBBlobValue. */
const blob = (bytes: Buffer) =>
  new DuckDBBlobValue(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));

/** Sensor names are shown in logs and dashboards: printable, short, no surprises. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export class DuckDBStateStore implements StateStore {
  readonly #db: DuckDBDatabase;
  readonly #writer: DuckDBConnection;
  private constructor(db: DuckDBDatabase, writer: DuckDBConnection) {
    this.#db = db;
    this.#writer = writer;
  }

  static async open(db: DuckDBDatabase): Promise<DuckDBStateStore> {
    return new DuckDBStateStore(db, await db.connect());
  }

  async addSensor(name: string, now: number): Promise<SensorWithSecret> {
    if (!NAME.test(name)) {
      throw new PortentError('SENSOR_NAME_INVALID', {
        message: `Sensor name "${name.slice(0, 80)}" is not valid: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.`,
      });
    }
    const con = this.#writer;
    const taken = await con.runAndReadAll('SELECT 1 FROM sensors WHERE name = $1 AND revoked IS NULL', [
      name,
    ]);
    if (taken.getRows().length > 0)
      throw new PortentError('SENSOR_EXISTS', { message: `A sensor named "${name}" is already enrolled.` });
    const id = `snr_${randomBytes(10)
      .toString('base64url')
      .toLowerCase()
      .replace(/[^a-z0-9]/g, 'x')}`;
    const secret = randomBytes(32).toString('base64url');
    const next = await con.runAndReadAll('SELECT coalesce(max(num), 0) + 1 FROM sensors');
    const num = Number(next.getRows()[0][0]);
    await con.run('INSERT INTO sensors VALUES ($1, $2, $3, $4, epoch_ms($5::BIGINT), NULL)', [
      num,
      id,
      name,
      secret,
      now,
    ]);
    return { num, id, name, created: now, revoked: null, secret };
  }

  async listSensors(): Promise<Sensor[]> {
    const r = await this.#db.reader.runAndReadAll(`SELECT ${SENSOR_COLUMNS} FROM sensors ORDER BY num`);
    return r.getRows().map(toSensor);
  }

  async findSensor(idOrName: string): Promise<Sensor | null> {
    // A name can be reused after revocation: prefer the active sensor, then the newest.
    const r = await this.#db.reader.runAndReadAll(
      `SELECT ${SENSOR_COLUMNS} FROM sensors WHERE id = $1 OR name = $1 ORDER BY revoked IS NULL DESC, num DESC LIMIT 1`,
      [idOrName],
    );
    const rows = r.getRows();
    return rows.length > 0 ? toSensor(rows[0]) : null;
  }

  async sensorSecret(id: string): Promise<{ num: number; secret: string } | null> {
    const r = await this.#db.reader.runAndReadAll(
      'SELECT num, secret FROM sensors WHERE id = $1 AND revoked IS NULL',
      [id],
    );
    const rows = r.getRows();
    return rows.length > 0 ? { num: Number(rows[0][0]), secret: String(rows[0][1]) } : null;
  }

  async revokeSensor(idOrName: string, now: number): Promise<Sensor> {
    const s = await this.findSensor(idOrName);
    if (s === null)
      throw new PortentError('SENSOR_NOT_FOUND', {
        message: `No sensor has the id or name "${idOrName.slice(0, 80)}".`,
      });
    if (s.revoked === null) {
      await this.#writer.run('UPDATE sensors SET revoked = epoch_ms($1::BIGINT) WHERE num = $2', [
        now,
        s.num,
      ]);
      s.revoked = now;
    }
    return s;
  }

  async recordHeartbeat(sensor: number, st: SensorStatus): Promise<void> {
    await this.#writer.run(
      `INSERT OR REPLACE INTO sensor_status VALUES ($1, epoch_ms($2::BIGINT), epoch_ms($3::BIGINT), $4, $5)`,
      [sensor, st.lastHeartbeat, st.lastBatch, st.clockOffsetMs, st.health],
    );
  }

  async sensorStatuses(): Promise<Map<number, SensorStatus>> {
    const r = await this.#db.reader.runAndReadAll(
      'SELECT sensor, epoch_ms(last_heartbeat)::DOUBLE, epoch_ms(last_batch)::DOUBLE, clock_offset_ms::DOUBLE, health FROM sensor_status',
    );
    const orNull = (v: unknown): number | null => (v === null ? null : Number(v));
    return new Map(
      r.getRows().map((row) => [
        Number(row[0]),
        {
          lastHeartbeat: orNull(row[1]),
          lastBatch: orNull(row[2]),
          clockOffsetMs: orNull(row[3]),
          health: row[4] === null ? null : String(row[4]),
        },
      ]),
    );
  }

  async addSamples(
    sensor: number,
    samples: Omit<Sample, 'seen' | 'firstSensor' | 'lastSeen'>[],
  ): Promise<void> {
    for (const s of samples) {
      await this.#writer.run(
        `INSERT INTO samples VALUES ($1, $2::BLOB, $3, epoch_ms($4::BIGINT), epoch_ms($4::BIGINT), 1, $5, $6, $7)
         ON CONFLICT (sha256) DO UPDATE SET seen = seen + 1,
           last_seen = greatest(last_seen, excluded.last_seen), first_seen = least(first_seen, excluded.first_seen)`,
        [s.sha256, blob(s.bytes), s.truncated, s.firstSeen, sensor, s.proto, s.port],
      );
    }
  }

  async sample(sha256: string): Promise<Sample | null> {
    const r = await this.#db.reader.runAndReadAll(
      `SELECT sha256, bytes, truncated, epoch_ms(first_seen)::DOUBLE, epoch_ms(last_seen)::DOUBLE, seen::DOUBLE,
         first_sensor, proto, port FROM samples WHERE sha256 = $1`,
      [sha256],
    );
    const row = r.getRows()[0];
    if (row === undefined) return null;
    return {
      sha256: String(row[0]),
      bytes: Buffer.from((row[1] as { bytes: Uint8Array }).bytes),
      truncated: Boolean(row[2]),
      firstSeen: Number(row[3]),
      lastSeen: Number(row[4]),
      seen: Number(row[5]),
      firstSensor: Number(row[6]),
      proto: Number(row[7]),
      port: Number(row[8]),
    };
  }

  async retask(sensor: number, t: Retask, now: number): Promise<void> {
    await this.#writer.run(
      `INSERT INTO retasks VALUES ($1, $2, $3, epoch_ms($4::BIGINT), epoch_ms($5::BIGINT), $6)
       ON CONFLICT (sensor, proto, port) DO UPDATE SET until = greatest(until, excluded.until), reason = excluded.reason`,
      [sensor, t.proto, t.port, t.until, now, t.reason],
    );
  }

  async retasks(sensor: number, now: number): Promise<Retask[]> {
    const r = await this.#db.reader.runAndReadAll(
      `SELECT proto, port, epoch_ms(until)::DOUBLE, reason FROM retasks
       WHERE sensor = $1 AND until > epoch_ms($2::BIGINT) ORDER BY proto, port`,
      [sensor, now],
    );
    return r.getRows().map((row) => ({
      proto: Number(row[0]),
      port: Number(row[1]),
      until: Number(row[2]),
      reason: String(row[3]),
    }));
  }

  async close(): Promise<void> {}
}
