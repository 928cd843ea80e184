// The embedded state store: sensors (and later subscribers, incidents, alerts) in the same DuckDB file.

import { randomBytes } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import { PortentError } from '../../core/errors.ts';
import type { Sensor, SensorWithSecret, StateStore } from '../state-store.ts';
import type { DuckDBDatabase } from './database.ts';

const SENSOR_COLUMNS = 'num, id, name, epoch_ms(created)::DOUBLE, epoch_ms(revoked)::DOUBLE';

const toSensor = (r: unknown[]): Sensor => ({
  num: Number(r[0]),
  id: String(r[1]),
  name: String(r[2]),
  created: Number(r[3]),
  revoked: r[4] === null ? null : Number(r[4]),
});

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

  async close(): Promise<void> {}
}
