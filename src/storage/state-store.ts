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

export interface StateStore {
  /** Enrols a sensor; rejects with SENSOR_EXISTS if the name is taken by a sensor that is not revoked. */
  addSensor(name: string, now: number): Promise<SensorWithSecret>;
  listSensors(): Promise<Sensor[]>;
  /** Finds an active or revoked sensor by public id or by name. */
  findSensor(idOrName: string): Promise<Sensor | null>;
  /** The secret of an active sensor, for signature checks; null when unknown or revoked. */
  sensorSecret(id: string): Promise<{ num: number; secret: string } | null>;
  revokeSensor(idOrName: string, now: number): Promise<Sensor>;
  close(): Promise<void>;
}
