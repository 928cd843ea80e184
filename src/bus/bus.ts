// The message bus interface the server's stages talk through, its subjects, and JSON helpers.

/** Subjects carry JSON documents of the types in src/analysis/incidents/incident.ts. */
export const SUBJECTS = {
  /** An `Incident`, each time it changes (detector update, analyst note or override). */
  incidents: 'portent.incidents',
  /** A `ThreatLevel`, each time it changes. */
  threatLevel: 'portent.threatlevel',
} as const;

export interface Subscription {
  /** Stops delivery to this handler; messages it has not started are not delivered to it. */
  unsubscribe(): void;
}

export type BusHandler = (data: Uint8Array, subject: string) => void | Promise<void>;

/**
 * Publish and subscribe by exact subject. Each subscriber gets the messages of a subject in publish
 * order, one at a time, never inside the publisher's call stack; a failing handler does not stop
 * the others or later messages. docs/adr/0008-bus-interface-and-in-process-adapter.md.
 */
export interface Bus {
  /** Resolves once the bus has taken the message (the in-process bus: queued; NATS: stored). */
  publish(subject: string, data: Uint8Array): Promise<void>;
  /** Receives the messages published on `subject` after this call. */
  subscribe(subject: string, handler: BusHandler): Subscription;
  /** Refuses new messages and waits for the ones already taken to be handled. */
  close(): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function publishJson(bus: Bus, subject: string, value: unknown): Promise<void> {
  return bus.publish(subject, encoder.encode(JSON.stringify(value)));
}

/** Parses a JSON message; throws on bytes that are not UTF-8 JSON. The caller knows the type. */
export function decodeJson<T>(data: Uint8Array): T {
  return JSON.parse(decoder.decode(data)) as T;
}
