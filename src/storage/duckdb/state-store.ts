// The embedded state store: sensors, samples, incidents and the threat level, in the same DuckDB file.

import { randomBytes } from 'node:crypto';
import { DuckDBBlobValue, type DuckDBConnection } from '@duckdb/node-api';
import { PortentError } from '../../core/errors.ts';
import type {
  Incident,
  IncidentNote,
  IncidentOverride,
  ThreatLevel,
  ThreatLevelChange,
} from '../../analysis/incidents/incident.ts';
import type {
  IncidentQuery,
  Retask,
  Sample,
  Sensor,
  SensorStatus,
  SensorWithSecret,
  StateStore,
  ThreatOverride,
} from '../state-store.ts';
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

/** JSON text of a document, refusing NaN and infinities, which JSON would turn into null. */
function toDoc(value: unknown, what: string): string {
  return JSON.stringify(value, (key, v: unknown) => {
    if (typeof v === 'number' && !Number.isFinite(v))
      throw new RangeError(`${what}: ${key} is ${v}; only finite numbers can be stored`);
    return v;
  });
}

/** Columns of an incident row read back whole: the document, the override, the notes as a JSON array. */
const INCIDENT_COLUMNS = `i.doc, o.doc,
  (SELECT '[' || string_agg(json_object('at', epoch_ms(n.noted_at), 'author', n.author, 'text', n.text)::VARCHAR, ',' ORDER BY n.seq) || ']'
   FROM incident_notes n WHERE n.id = i.id)`;

const toIncident = (r: unknown[]): Incident => ({
  ...(JSON.parse(String(r[0])) as Omit<Incident, 'notes' | 'override'>),
  notes: r[2] === null ? [] : (JSON.parse(String(r[2])) as IncidentNote[]),
  override: r[1] === null ? null : (JSON.parse(String(r[1])) as IncidentOverride),
});

export class DuckDBStateStore implements StateStore {
  readonly #db: DuckDBDatabase;
  readonly #writer: DuckDBConnection;
  /** Incidents and the threat level have a connection of their own, used one task at a time (#serial). */
  readonly #analysis: DuckDBConnection;
  #lane: Promise<unknown> = Promise.resolve();

  private constructor(db: DuckDBDatabase, writer: DuckDBConnection, analysis: DuckDBConnection) {
    this.#db = db;
    this.#writer = writer;
    this.#analysis = analysis;
  }

  static async open(db: DuckDBDatabase): Promise<DuckDBStateStore> {
    return new DuckDBStateStore(db, await db.connect(), await db.connect());
  }

  /** Runs `task` on the analysis connection after every task queued before it, in a transaction. */
  #serial<T>(task: (con: DuckDBConnection) => Promise<T>): Promise<T> {
    const con = this.#analysis;
    const run = this.#lane.then(async () => {
      await con.run('BEGIN');
      try {
        const result = await task(con);
        await con.run('COMMIT');
        return result;
      } catch (err) {
        await con.run('ROLLBACK');
        throw err;
      }
    });
    this.#lane = run.catch(() => undefined);
    return run;
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

  async saveIncident(i: Incident): Promise<void> {
    const { notes: _notes, override: _override, ...owned } = i;
    const doc = toDoc(owned, `incident ${i.id}`);
    await this.#serial((con) =>
      con.run(
        `INSERT OR REPLACE INTO incidents VALUES ($1, $2, $3, $4, $5, epoch_ms($6::BIGINT), epoch_ms($7::BIGINT), $8)`,
        [i.id, i.proto, i.port, i.group, i.state, i.onset, i.updated, doc],
      ),
    );
  }

  async incident(id: string): Promise<Incident | null> {
    const r = await this.#db.reader.runAndReadAll(
      `SELECT ${INCIDENT_COLUMNS} FROM incidents i LEFT JOIN incident_overrides o USING (id) WHERE i.id = $1`,
      [id],
    );
    const row = r.getRows()[0];
    return row === undefined ? null : toIncident(row);
  }

  async incidents(q: IncidentQuery): Promise<Incident[]> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    const param = (v: string | number): string => {
      params.push(v);
      return `$${params.length}`;
    };
    if (q.open !== undefined) where.push(q.open ? `i.state <> 'ended'` : `i.state = 'ended'`);
    if (q.state !== undefined) where.push(`i.state = ${param(q.state)}`);
    if (q.proto !== undefined) where.push(`i.proto = ${param(q.proto)}`);
    if (q.port !== undefined) where.push(`i.port = ${param(q.port)}`);
    if (q.since !== undefined) where.push(`i.updated >= epoch_ms(${param(q.since)}::BIGINT)`);
    const r = await this.#db.reader.runAndReadAll(
      `SELECT ${INCIDENT_COLUMNS} FROM incidents i LEFT JOIN incident_overrides o USING (id)
       ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY i.updated DESC, i.id DESC LIMIT ${param(q.limit)}`,
      params,
    );
    return r.getRows().map(toIncident);
  }

  /** Rejects with INCIDENT_NOT_FOUND unless the incident is stored; call inside #serial. */
  async #mustExist(con: DuckDBConnection, id: string): Promise<void> {
    const r = await con.runAndReadAll('SELECT 1 FROM incidents WHERE id = $1', [id]);
    if (r.getRows().length === 0)
      throw new PortentError('INCIDENT_NOT_FOUND', {
        message: `No incident has the id "${id.slice(0, 80)}".`,
      });
  }

  async addIncidentNote(id: string, note: IncidentNote): Promise<void> {
    await this.#serial(async (con) => {
      await this.#mustExist(con, id);
      await con.run(
        `INSERT INTO incident_notes
         SELECT $1, coalesce(max(seq), 0) + 1, epoch_ms($2::BIGINT), $3, $4 FROM incident_notes WHERE id = $1`,
        [id, note.at, note.author, note.text],
      );
    });
  }

  async setIncidentOverride(id: string, o: IncidentOverride | null): Promise<void> {
    await this.#serial(async (con) => {
      await this.#mustExist(con, id);
      if (o === null) await con.run('DELETE FROM incident_overrides WHERE id = $1', [id]);
      else
        await con.run('INSERT OR REPLACE INTO incident_overrides VALUES ($1, $2)', [
          id,
          toDoc(o, `override of ${id}`),
        ]);
    });
  }

  async incidentOverrides(ids: string[]): Promise<Map<string, IncidentOverride>> {
    const out = new Map<string, IncidentOverride>();
    if (ids.length === 0) return out;
    // Ids travel as one JSON array parameter, however many there are.
    const r = await this.#db.reader.runAndReadAll(
      `SELECT id, doc FROM incident_overrides WHERE id IN (SELECT unnest(from_json($1::JSON, '["VARCHAR"]')))`,
      [JSON.stringify(ids)],
    );
    for (const [id, doc] of r.getRows()) out.set(String(id), JSON.parse(String(doc)) as IncidentOverride);
    return out;
  }

  async saveThreatLevel(level: ThreatLevel, change: ThreatLevelChange | null): Promise<void> {
    const doc = toDoc(level, 'threat level');
    await this.#serial(async (con) => {
      await con.run(`INSERT OR REPLACE INTO threat_level VALUES ('current', $1)`, [doc]);
      if (change !== null)
        await con.run(
          `INSERT INTO threat_level_changes
           SELECT coalesce(max(seq), 0) + 1, epoch_ms($1::BIGINT), $2, $3, $4 FROM threat_level_changes`,
          [change.at, change.from, change.to, change.reason],
        );
    });
  }

  async threatLevel(): Promise<ThreatLevel | null> {
    const r = await this.#db.reader.runAndReadAll(`SELECT doc FROM threat_level WHERE name = 'current'`);
    const row = r.getRows()[0];
    return row === undefined ? null : (JSON.parse(String(row[0])) as ThreatLevel);
  }

  async threatLevelHistory(q: { from?: number; to?: number; limit: number }): Promise<ThreatLevelChange[]> {
    const r = await this.#db.reader.runAndReadAll(
      `SELECT epoch_ms(changed_at)::DOUBLE, from_level, to_level, reason FROM threat_level_changes
       WHERE ($1::BIGINT IS NULL OR changed_at >= epoch_ms($1::BIGINT))
         AND ($2::BIGINT IS NULL OR changed_at < epoch_ms($2::BIGINT))
       ORDER BY changed_at DESC, seq DESC LIMIT $3`,
      [q.from ?? null, q.to ?? null, q.limit],
    );
    return r.getRows().map((row) => ({
      at: Number(row[0]),
      from: String(row[1]) as ThreatLevelChange['from'],
      to: String(row[2]) as ThreatLevelChange['to'],
      reason: String(row[3]),
    }));
  }

  async setThreatOverride(o: ThreatOverride | null): Promise<void> {
    await this.#serial((con) =>
      o === null
        ? con.run(`DELETE FROM threat_override WHERE name = 'current'`)
        : con.run(`INSERT OR REPLACE INTO threat_override VALUES ('current', $1)`, [
            toDoc(o, 'threat override'),
          ]),
    );
  }

  async threatOverride(): Promise<ThreatOverride | null> {
    const r = await this.#db.reader.runAndReadAll(`SELECT doc FROM threat_override WHERE name = 'current'`);
    const row = r.getRows()[0];
    return row === undefined ? null : (JSON.parse(String(row[0])) as ThreatOverride);
  }

  async close(): Promise<void> {
    // Let queued incident writes finish before the database closes the connection.
    await this.#lane;
  }
}
