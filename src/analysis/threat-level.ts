// The network's threat level (green, yellow, orange, red) from the confirmed open incidents, with hysteresis.
//
// It rises at once and falls one step at a time, only after the incidents have warranted the lower level for
// `lowerAfterMs` and the current level has been held for `minHoldMs`, so a surge that pauses does not flap the
// level. An analyst's override wins until it expires.

import type { Incident, ThreatColour, ThreatLevel, ThreatLevelChange } from './incidents/incident.ts';
import { THREAT_COLOURS } from './incidents/incident.ts';

export interface ThreatLevelOptions {
  lowerAfterMs: number;
  minHoldMs: number;
}

export const DEFAULT_THREAT_LEVEL: ThreatLevelOptions = { lowerAfterMs: 30 * 60_000, minHoldMs: 60 * 60_000 };

const rank = (c: ThreatColour) => THREAT_COLOURS.indexOf(c);

/** The level the incidents alone call for, and why. */
export function levelFor(incidents: Incident[]): {
  level: ThreatColour;
  reason: string;
  incidents: string[];
} {
  const live = incidents.filter((i) => i.state !== 'ended' && i.state !== 'candidate' && !i.override?.close);
  const by = (s: Incident['severity']) => live.filter((i) => i.severity === s);
  const [critical, high, medium, low] = [by('critical'), by('high'), by('medium'), by('low')];
  const ids = (xs: Incident[]) => xs.map((i) => i.id);
  const ports = (xs: Incident[]) =>
    xs.map((i) => `${i.proto === 17 ? 'UDP' : 'TCP'} ${i.port ?? i.group}`).join(', ');
  if (critical.length > 0 || high.length >= 2)
    return {
      level: 'red',
      reason: `critical or several high-severity incidents: ${ports([...critical, ...high])}`,
      incidents: ids([...critical, ...high]),
    };
  if (high.length > 0 || medium.length >= 3)
    return {
      level: 'orange',
      reason: `high-severity or several medium incidents: ${ports([...high, ...medium])}`,
      incidents: ids([...high, ...medium]),
    };
  if (medium.length > 0 || low.length >= 2)
    return {
      level: 'yellow',
      reason: `incidents under way: ${ports([...medium, ...low])}`,
      incidents: ids([...medium, ...low]),
    };
  if (low.length > 0)
    return { level: 'green', reason: `one low-severity incident: ${ports(low)}`, incidents: ids(low) };
  return { level: 'green', reason: 'no confirmed incidents', incidents: [] };
}

export class ThreatLevelEngine {
  readonly options: ThreatLevelOptions;
  #current: ThreatLevel;
  /** Since when the incidents have called for a lower level than the current one, or null. */
  #lowerSince: number | null = null;

  constructor(now: number, resume: ThreatLevel | null = null, options: Partial<ThreatLevelOptions> = {}) {
    this.options = { ...DEFAULT_THREAT_LEVEL, ...options };
    this.#current = resume ?? {
      level: 'green',
      since: now,
      computed: 'green',
      reason: 'no incidents analysed yet',
      incidents: [],
      override: null,
    };
  }

  get current(): ThreatLevel {
    return this.#current;
  }

  /** Re-evaluates at `now`; returns the change, if the level changed. */
  update(
    incidents: Incident[],
    now: number,
    override: ThreatLevel['override'] = this.#current.override,
  ): ThreatLevelChange | null {
    const computed = levelFor(incidents);
    const live = override !== null && override.expires > now ? override : null;
    const cur = this.#current;
    let next: ThreatColour = cur.level;
    let reason = computed.reason;
    if (live !== null) {
      next = live.level;
      reason = `set by ${live.author} until ${new Date(live.expires).toISOString()}: ${live.reason}`;
      this.#lowerSince = null;
    } else if (rank(computed.level) > rank(cur.level) || cur.override !== null) {
      next = computed.level;
      this.#lowerSince = null;
    } else if (rank(computed.level) < rank(cur.level)) {
      this.#lowerSince ??= now;
      const held = now - cur.since >= this.options.minHoldMs;
      if (held && now - this.#lowerSince >= this.options.lowerAfterMs) {
        next = THREAT_COLOURS[rank(cur.level) - 1];
        reason = `lowered after ${Math.round(this.options.lowerAfterMs / 60_000)} minutes of ${computed.reason}`;
        this.#lowerSince = now;
      } else
        reason = `held at ${cur.level} (the incidents alone call for ${computed.level}: ${computed.reason})`;
    } else this.#lowerSince = null;
    const change: ThreatLevelChange | null =
      next !== cur.level ? { at: now, from: cur.level, to: next, reason } : null;
    this.#current = {
      level: next,
      since: change ? now : cur.since,
      computed: computed.level,
      reason,
      incidents: computed.incidents,
      override: live,
    };
    return change;
  }
}
