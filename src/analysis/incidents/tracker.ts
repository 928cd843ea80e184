// Turns the detector's minute findings into incidents: one surge is one incident, with its onset, peak, taper and end.
//
// The state machine follows Prometheus's pending → firing → resolved, with the shape of a surge in between:
// candidate (anomalous, not yet sure) → active (alerting, rising) → peaking (no new peak for a while, still high)
// → tapering (below half the peak) → ended (no minute with evidence of `sustain` for `endAfterMinutes`). A candidate
// that does not confirm ends without ever alerting. A port that flares again within `reopenWithinMs` of an end opens
// "another surge" linked to the one before.

import { protoName } from '../../core/event.ts';
import type { Finding } from '../detectors/port-spike/detector.ts';
import type { Incident, IncidentOverride, Measures, Severity } from './incident.ts';

export interface TrackerOptions {
  /** Evidence that confirms a candidate in one minute. */
  confirm: number;
  /** Or this many anomalous minutes in a row. */
  confirmRun: number;
  /** Evidence that keeps an open incident alive (below the detector's threshold for opening one: hysteresis). */
  sustain: number;
  /** A candidate not confirmed within this many minutes of its onset ends unconfirmed. */
  candidateMinutes: number;
  /** No new peak for this many minutes, while still above half of it: peaking. */
  peakHoldMinutes: number;
  /** Below this share of the peak's excess (averaged over the last 5 minutes): tapering. */
  taperBelow: number;
  /**
   * Ended after this many minutes without an anomalous minute, or twice the longest lull the incident has had
   * (up to 6 hours): a sequential sweep crosses empty address space between sensors, and its lulls are not ends.
   */
  endAfterMinutes: number;
  /** A new surge this soon after an end is "another surge" of the same incident story. */
  reopenWithinMs: number;
}

export const DEFAULT_TRACKER: TrackerOptions = {
  confirm: 9,
  confirmRun: 3,
  sustain: 3,
  candidateMinutes: 15,
  peakHoldMinutes: 5,
  taperBelow: 0.5,
  endAfterMinutes: 30,
  reopenWithinMs: 24 * 3_600_000,
};

/** However bursty an incident has been, six quiet hours end it. */
const MAX_END_AFTER = 6 * 3_600_000;

/** What the tracker needs to know beyond the findings: history for ranks, and the size of the network. */
export interface TrackerContext {
  recordSince(key: number, value: number, before: number, of: 'events' | 'evidence'): number | null;
  firstSeen(key: number): number | null;
  /** Sensors that reported anything recently: the denominator of "how much of the network sees it". */
  activeSensors(): number;
  /** The detector's key of a port group, or null when there is no such group (any more). */
  groupKey(name: string): number | null;
}

interface Open {
  incident: Incident;
  key: number;
  run: number;
  peakExcess: number;
  recentExcess: number[];
  /** The longest run of quiet minutes between two anomalous ones so far. */
  longestLull: number;
}

const MINUTE = 60_000;

export class IncidentTracker {
  readonly options: TrackerOptions;
  readonly #open = new Map<number, Open>();
  readonly #lastEnded = new Map<number, { id: string; surge: number; ended: number }>();
  readonly #ctx: TrackerContext;

  constructor(ctx: TrackerContext, options: Partial<TrackerOptions> = {}) {
    this.options = { ...DEFAULT_TRACKER, ...options };
    this.#ctx = ctx;
  }

  /** Keys with an incident not yet ended. */
  openKeys(): number[] {
    return [...this.#open.keys()];
  }

  openIncidents(): Incident[] {
    return [...this.#open.values()].map((o) => o.incident);
  }

  /** Resumes incidents a previous run left open (after a restart). */
  resume(incidents: Incident[]): void {
    for (const i of incidents) {
      const key = i.port !== null ? (i.proto << 16) | i.port : this.#ctx.groupKey(i.group ?? '');
      if (i.state === 'ended' || key === null) continue;
      this.#open.set(key, {
        incident: i,
        key,
        run: 0,
        peakExcess: i.peak.events - i.baseline.events,
        recentExcess: [],
        longestLull: 0,
      });
    }
  }

  /** Applies one minute's findings at clock time `now`; returns the incidents that changed. */
  update(findings: Finding[], now: number): Incident[] {
    const changed = new Set<Incident>();
    for (const f of findings) {
      const o = this.#open.get(f.key);
      if (o === undefined) {
        if (f.anomalous) changed.add(this.#openIncident(f, now).incident);
        continue;
      }
      if (f.fast) {
        if (o.incident.state === 'candidate' && f.evidence >= this.options.confirm) {
          this.#confirmIfSure(o, f, now);
          this.#describe(o);
          changed.add(o.incident);
        }
        continue;
      }
      if (this.#step(o, f, now)) changed.add(o.incident);
    }
    return [...changed];
  }

  /** Analysts' decisions: close, or show another severity. */
  applyOverrides(overrides: Map<string, IncidentOverride>, now: number): Incident[] {
    const changed: Incident[] = [];
    for (const o of [...this.#open.values()]) {
      const ov = overrides.get(o.incident.id) ?? null;
      const live = ov !== null && (ov.expires === undefined || ov.expires > now) ? ov : null;
      if (JSON.stringify(live) === JSON.stringify(o.incident.override)) continue;
      o.incident.override = live;
      o.incident.updated = now;
      if (live?.close) this.#end(o, now);
      changed.push(o.incident);
    }
    return changed;
  }

  #openIncident(f: Finding, now: number): Open {
    const before = this.#lastEnded.get(f.key);
    const again = before !== undefined && f.t - before.ended <= this.options.reopenWithinMs;
    const incident: Incident = {
      id: `inc_${protoName(f.proto)}_${f.group ?? f.port}_${Math.floor(f.t / 1000).toString(36)}`,
      proto: f.proto,
      port: f.port,
      group: f.group,
      state: 'candidate',
      surge: again ? before.surge + 1 : 1,
      previous: again ? before.id : null,
      onset: f.t,
      confirmed: null,
      peakAt: f.t,
      peak: f.measures,
      baseline: f.expected,
      xfold: xfold(f.measures, f.expected),
      significance: f.evidence,
      rank: { largestSince: null, mostSignificantSince: null, firstSeen: null, text: '' },
      confidence: 0,
      severity: 'low',
      summary: '',
      reasons: f.reasons,
      lastAnomalous: f.t,
      ended: null,
      updated: now,
      notes: [],
      override: null,
    };
    const o: Open = {
      incident,
      key: f.key,
      run: 1,
      peakExcess: excess(f),
      recentExcess: [excess(f)],
      longestLull: 0,
    };
    this.#open.set(f.key, o);
    this.#rank(o);
    this.#confirmIfSure(o, f, now);
    this.#describe(o);
    return o;
  }

  /** One more minute of an open incident; true when anything a reader would see changed. */
  #step(o: Open, f: Finding, now: number): boolean {
    const inc = o.incident;
    const was = JSON.stringify([inc.state, inc.peakAt, inc.severity, inc.confirmed]);
    o.run = f.anomalous ? o.run + 1 : 0;
    o.recentExcess.push(excess(f));
    if (o.recentExcess.length > 5) o.recentExcess.shift();
    // Hysteresis: opening takes an anomalous minute, staying open only an elevated one, so a surge hovering
    // about the threshold is one incident, not a string of them.
    if (f.anomalous || f.evidence >= this.options.sustain) {
      o.longestLull = Math.max(o.longestLull, f.t - inc.lastAnomalous - MINUTE);
      inc.lastAnomalous = Math.max(inc.lastAnomalous, f.t);
    }
    for (const r of f.reasons) if (!inc.reasons.includes(r) && inc.reasons.length < 20) inc.reasons.push(r);
    if (f.evidence > inc.significance) inc.significance = f.evidence;
    const newPeak = excess(f) > o.peakExcess;
    if (newPeak) {
      o.peakExcess = excess(f);
      inc.peakAt = f.t;
      inc.peak = f.measures;
      inc.baseline = f.expected;
      inc.xfold = xfold(f.measures, f.expected);
    }
    if (inc.state === 'candidate') {
      this.#confirmIfSure(o, f, now);
      if (inc.state === 'candidate' && f.t - inc.onset >= this.options.candidateMinutes * MINUTE)
        this.#end(o, now);
    } else if (
      f.t - inc.lastAnomalous >=
      Math.min(Math.max(this.options.endAfterMinutes * MINUTE, 2 * o.longestLull), MAX_END_AFTER)
    ) {
      this.#end(o, now);
    } else if (newPeak) {
      inc.state = 'active';
    } else if (f.t - inc.peakAt >= this.options.peakHoldMinutes * MINUTE) {
      const recent = o.recentExcess.reduce((s, v) => s + v, 0) / o.recentExcess.length;
      inc.state = recent < this.options.taperBelow * o.peakExcess ? 'tapering' : 'peaking';
    }
    if (newPeak) this.#rank(o);
    this.#describe(o);
    const changed = JSON.stringify([inc.state, inc.peakAt, inc.severity, inc.confirmed]) !== was;
    if (changed) inc.updated = now;
    return changed;
  }

  #confirmIfSure(o: Open, f: Finding, now: number): void {
    if (f.evidence >= this.options.confirm || o.run >= this.options.confirmRun) {
      o.incident.state = 'active';
      o.incident.confirmed = now;
    }
  }

  #end(o: Open, now: number): void {
    const inc = o.incident;
    inc.state = 'ended';
    inc.ended = now;
    inc.updated = now;
    this.#open.delete(o.key);
    if (inc.confirmed !== null)
      this.#lastEnded.set(o.key, { id: inc.id, surge: inc.surge, ended: inc.lastAnomalous });
  }

  #rank(o: Open): void {
    const inc = o.incident;
    const ctx = this.#ctx;
    inc.rank.largestSince = ctx.recordSince(o.key, inc.peak.events, inc.onset, 'events');
    inc.rank.mostSignificantSince = ctx.recordSince(o.key, inc.significance, inc.onset, 'evidence');
    inc.rank.firstSeen = ctx.firstSeen(o.key);
  }

  #describe(o: Open): void {
    const inc = o.incident;
    const active = Math.max(1, this.#ctx.activeSensors());
    const share = inc.peak.sensors / active;
    const minutes = (inc.lastAnomalous - inc.onset) / MINUTE + 1;
    const severity: Severity =
      share >= 0.25 && inc.xfold >= 10
        ? 'critical'
        : share >= 0.05 && inc.xfold >= 3
          ? 'high'
          : share >= 0.01 || inc.significance >= 20
            ? 'medium'
            : 'low';
    inc.severity = inc.override?.severity ?? severity;
    // Equal parts: how improbable, how broad, how lasting; each saturating where doubt is gone.
    inc.confidence = round3(
      (clamp01((inc.significance - 3) / 12) + clamp01(inc.peak.sensors / 20) + clamp01(minutes / 15)) / 3,
    );
    inc.rank.text = rankText(inc);
    inc.summary = summarize(inc, active);
  }
}

function excess(f: Finding): number {
  return Math.max(0, f.measures.events - f.expected.events);
}

function xfold(m: Measures, e: Measures): number {
  return round3(m.events / Math.max(e.events, 1e-3));
}

/** ISO time without the zero seconds and milliseconds an incident's minute times always have. */
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z').replace(/:00Z$/, 'Z');
const round3 = (x: number) => Math.round(x * 1000) / 1000;
const clamp01 = (x: number) => Math.min(1, Math.max(0, x));

function rankText(inc: Incident): string {
  const { largestSince, firstSeen } = inc.rank;
  if (largestSince === null)
    return firstSeen === null || firstSeen >= inc.onset
      ? 'the first activity seen on this port'
      : `the largest for this port since it was first seen on ${iso(firstSeen)}`;
  return `the largest for this port since ${iso(largestSince)}`;
}

function summarize(inc: Incident, activeSensors: number): string {
  const p = inc.peak;
  const port = `${protoName(inc.proto).toUpperCase()} ${inc.port ?? `ports of ${inc.group}`}`;
  // Against a port that is all but silent a ratio means nothing ("560356×"); say so instead.
  const fold =
    inc.baseline.events < 0.1
      ? `${Math.round(p.events)} events a minute on a port that usually sees almost none`
      : `${inc.xfold >= 100 ? Math.round(inc.xfold) : inc.xfold.toFixed(1)}× the usual events`;
  const parts = [
    `${port}: ${fold} at the peak (${iso(inc.peakAt)}), from ${Math.round(p.sources)} sources`,
    p.newSources > 0 ? ` (${Math.round(p.newSources)} never seen before)` : '',
    ` in ${Math.round(p.subnets)} /24s, hitting ${Math.round(p.targets)} targets`,
    ` on ${Math.round(p.sensors)} of ${activeSensors} sensors in ${Math.round(p.networks)} /16 networks; `,
    `${inc.rank.text}. `,
    inc.surge > 1 ? `Surge ${inc.surge} on this port. ` : '',
    `Began ${iso(inc.onset)}`,
    inc.confirmed !== null ? `, confirmed ${iso(inc.confirmed)}` : ', not yet confirmed',
    inc.ended !== null ? `, ended ${iso(inc.ended)}.` : `; now ${inc.state}.`,
  ];
  return parts.join('');
}
