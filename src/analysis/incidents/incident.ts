// What an incident is: one surge of scanning on one port (or port group), as stored, published and served.

/** candidate → active → peaking → tapering → ended; a candidate that does not confirm ends without alerting. */
export type IncidentState = 'candidate' | 'active' | 'peaking' | 'tapering' | 'ended';
export const INCIDENT_STATES: readonly IncidentState[] = [
  'candidate',
  'active',
  'peaking',
  'tapering',
  'ended',
];

export type Severity = 'low' | 'medium' | 'high' | 'critical';
export const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];

/** The per-bucket measures a detector judges, one minute each unless said otherwise. */
export interface Measures {
  events: number;
  sources: number;
  targets: number;
  sensors: number;
  /** Distinct source /24s (IPv6 /48s). */
  subnets: number;
  /** Sources never seen before by the whole network (within its memory), attributed to the port of their first probe. */
  newSources: number;
  /** Distinct /16 networks of the destinations hit: how widely spread the sensors that saw it are. */
  networks: number;
  /** Distinct source countries; null until the geo database is loaded. */
  countries: number | null;
}

export interface IncidentNote {
  at: number;
  author: string;
  text: string;
}

/** An analyst's decision that outranks the detector's, until it expires. */
export interface IncidentOverride {
  at: number;
  author: string;
  reason: string;
  /** Severity to show instead of the computed one. */
  severity?: Severity;
  /** Close the incident now (false positive, known research scanner, handled). */
  close?: boolean;
  /** Ms since the epoch; absent means until changed. */
  expires?: number;
}

export interface Incident {
  /** Stable id: `inc_<proto>_<port or group>_<onset in seconds since the epoch, base 36>`. */
  id: string;
  proto: number;
  /** The port, or null for a port group incident. */
  port: number | null;
  /** The port group's name (e.g. "smb"), or null for a single port. */
  group: string | null;
  state: IncidentState;
  /** 1 for a first surge; n for the n-th surge that re-opened within the re-open window. */
  surge: number;
  /** The incident this one re-opens as "another surge", or null. */
  previous: string | null;
  /** Start of the first anomalous bucket. */
  onset: number;
  /** When it became active (the first alert), or null while a candidate. */
  confirmed: number | null;
  /** Start of the peak bucket. */
  peakAt: number;
  /** Measures in the peak bucket. */
  peak: Measures;
  /** What the baseline expected in the peak bucket. */
  baseline: Measures;
  /** Peak events over the expected events. */
  xfold: number;
  /** Highest −log10 tail probability seen, after the correction for the number of tests. */
  significance: number;
  /** "largest for this port since …", "most significant since the port was first seen", or null. */
  rank: {
    largestSince: number | null;
    mostSignificantSince: number | null;
    firstSeen: number | null;
    text: string;
  };
  /** 0..1: how sure the detector is that this is mass scanning, from significance, breadth and duration. */
  confidence: number;
  severity: Severity;
  /** Written from the facts above; plain text. */
  summary: string;
  /** Why it was flagged: the measures that were anomalous and the breadth seen, e.g. "sources p=1e-12 on 14 sensors in 11 /16s". */
  reasons: string[];
  /** Start of the last anomalous bucket. */
  lastAnomalous: number;
  ended: number | null;
  /** Last change, ms since the epoch (server clock). */
  updated: number;
  notes: IncidentNote[];
  override: IncidentOverride | null;
}

/** Network-wide warning level, from the active incidents. */
export type ThreatColour = 'green' | 'yellow' | 'orange' | 'red';
export const THREAT_COLOURS: readonly ThreatColour[] = ['green', 'yellow', 'orange', 'red'];

export interface ThreatLevel {
  level: ThreatColour;
  /** When this level was entered. */
  since: number;
  /** The level the incidents alone give (differs from `level` while held or overridden). */
  computed: ThreatColour;
  /** Why, in a sentence. */
  reason: string;
  /** The incidents that set it. */
  incidents: string[];
  override: { level: ThreatColour; reason: string; author: string; at: number; expires: number } | null;
}

/** One change of level, for the history. */
export interface ThreatLevelChange {
  at: number;
  from: ThreatColour;
  to: ThreatColour;
  reason: string;
}
