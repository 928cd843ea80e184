// The state store interface: sensors now; subscribers, incidents, alerts and samples later.

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

export interface StateStore {
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
