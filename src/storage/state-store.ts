// The state store interface: sensors, samples, incidents and the threat level; subscribers and alerts later.

import type {
  Incident,
  IncidentNote,
  IncidentOverride,
  IncidentState,
  ThreatLevel,
  ThreatLevelChange,
} from '../analysis/incidents/incident.ts';

export interface Sensor {
  /** Internal numeric id, used in event rows. */
  num: number;
  /** Public id the sensor signs with, e.g. "snr_5kq3…". */
  id: string;
  name: string;
  created: number;
  revoked: number | null;
}

export interface SensorWithSecret extends Sensor {
  /** HMAC key, base64url; shown once at enrolment. */
  secret: string;
}

/** What the server last heard from a sensor. */
export interface SensorStatus {
  lastHeartbeat: number | null;
  lastBatch: number | null;
  /** Sensor clock minus server clock at the last heartbeat, ms. */
  clockOffsetMs: number | null;
  /** The sensor's last health report, as validated JSON text. */
  health: string | null;
}

/** A payload a honeypot captured; the bytes are attacker-controlled and never interpreted. */
export interface Sample {
  sha256: string;
  bytes: Buffer;
  truncated: boolean;
  firstSeen: number;
  lastSeen: number;
  seen: number;
  firstSensor: number;
  proto: number;
  port: number;
}

/** A request that a honeypot sensor listen on a port for a while. */
export interface Retask {
  proto: number;
  port: number;
  until: number;
  reason: string;
}

/** An analyst's override of the threat level, as `ThreatLevel.override` carries it. */
export type ThreatOverride = NonNullable<ThreatLevel['override']>;

export interface IncidentQuery {
  /** true: state is not 'ended'; false: only ended ones. */
  open?: boolean;
  state?: IncidentState;
  proto?: number;
  /** Single-port incidents of this port (port group incidents have no port). */
  port?: number;
  /** Only incidents updated at or after this time, ms. */
  since?: number;
  limit: number;
}

/**
 * Incidents and the threat level. The analyzer owns every field of an incident but `notes` and
 * `override`, which analysts own: they are kept apart, so the analyzer's saves never overwrite them.
 */
export interface IncidentStore {
  /** Inserts or replaces the analyzer's fields of an incident; its notes and override are untouched. */
  saveIncident(incident: Incident): Promise<void>;
  /** The incident with its notes (in the order written) and override, or null. */
  incident(id: string): Promise<Incident | null>;
  /** Newest `updated` first (ties by id, descending). */
  incidents(q: IncidentQuery): Promise<Incident[]>;
  /** Appends a note; rejects with INCIDENT_NOT_FOUND when the id is unknown. */
  addIncidentNote(id: string, note: IncidentNote): Promise<void>;
  /** Sets or (null) clears the override; rejects with INCIDENT_NOT_FOUND when the id is unknown. */
  setIncidentOverride(id: string, override: IncidentOverride | null): Promise<void>;
  /** The overrides of those of `ids` that have one, expired or not: the analyzer decides. */
  incidentOverrides(ids: string[]): Promise<Map<string, IncidentOverride>>;
  /** Stores the current level and, when the level changed, the change for the history. */
  saveThreatLevel(level: ThreatLevel, change: ThreatLevelChange | null): Promise<void>;
  /** The last level saved, or null before the first. */
  threatLevel(): Promise<ThreatLevel | null>;
  /** Changes with from <= at < to, newest first. */
  threatLevelHistory(q: { from?: number; to?: number; limit: number }): Promise<ThreatLevelChange[]>;
  setThreatOverride(override: ThreatOverride | null): Promise<void>;
  /** The override as set, expired or not, or null. */
  threatOverride(): Promise<ThreatOverride | null>;
}

export interface StateStore extends IncidentStore {
  /** Enrols a sensor; rejects with SENSOR_EXISTS if the name is taken by a sensor that is not revoked. */
  addSensor(name: string, now: number): Promise<SensorWithSecret>;
  listSensors(): Promise<Sensor[]>;
  /** Finds an active or revoked sensor by public id or by name. */
  findSensor(idOrName: string): Promise<Sensor | null>;
  /** The secret of an active sensor, for signature checks; null when unknown or revoked. */
  sensorSecret(id: string): Promise<{ num: number; secret: string } | null>;
  revokeSensor(idOrName: string, now: number): Promise<Sensor>;
  /** Records a heartbeat (and the time of the sensor's newest batch, if known). */
  recordHeartbeat(sensor: number, status: SensorStatus): Promise<void>;
  /** Every sensor's status, by sensor number. */
  sensorStatuses(): Promise<Map<number, SensorStatus>>;
  /** Stores samples not seen before and counts sightings of known ones. */
  addSamples(sensor: number, samples: Omit<Sample, 'seen' | 'firstSensor' | 'lastSeen'>[]): Promise<void>;
  sample(sha256: string): Promise<Sample | null>;
  /** Adds or extends a re-tasking request. */
  retask(sensor: number, r: Retask, now: number): Promise<void>;
  /** A sensor's requests that have not expired. */
  retasks(sensor: number, now: number): Promise<Retask[]>;
  close(): Promise<void>;
}
