// Incident state transitions on a fake clock: candidate → active → peaking → tapering → ended, unconfirmed candidates,
// "another surge", and analysts' overrides.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../core/clock.ts';
import type { Finding } from '../detectors/port-spike/detector.ts';
import type { Measures } from './incident.ts';
import { IncidentTracker } from './tracker.ts';

const MINUTE = 60_000;
const START = Date.UTC(2026, 3, 1, 12);
const KEY = (6 << 16) | 5168;

const m = (events: number): Measures => ({
  events,
  sources: events / 2,
  targets: events,
  sensors: Math.min(events / 4, 40),
  subnets: events / 2,
  newSources: 0,
  networks: Math.min(events / 4, 40),
  countries: null,
});

function finding(t: number, events: number, evidence: number): Finding {
  return {
    key: KEY,
    proto: 6,
    port: 5168,
    group: null,
    t,
    evidence,
    anomalous: evidence >= 6,
    measures: m(events),
    expected: m(2),
    reasons: evidence >= 6 ? [`test evidence ${evidence}`] : [],
  };
}

function tracker() {
  const clock = new FakeClock(START);
  const t = new IncidentTracker({
    recordSince: (_k, v, before) => (v > 100 ? null : before - 86_400_000),
    firstSeen: () => START - 30 * 86_400_000,
    activeSensors: () => 200,
    groupKey: () => null,
  });
  /** Minute `i`'s finding, judged 30 s after it ends; returns the incident's state afterwards. */
  const minute = (i: number, events: number, evidence: number) => {
    clock.set(START + (i + 1) * MINUTE + 30_000);
    t.update([finding(START + i * MINUTE, events, evidence)], clock.now());
    return t.openIncidents()[0]?.state ?? 'none';
  };
  return { clock, t, minute };
}

test('a surge goes candidate → active → peaking → tapering → ended', () => {
  const { t, minute, clock } = tracker();
  assert.equal(minute(0, 20, 7), 'candidate');
  const id = t.openIncidents()[0].id;
  assert.equal(minute(1, 60, 12), 'active');
  assert.equal(t.openIncidents()[0].confirmed, START + 2 * MINUTE + 30_000);
  assert.equal(minute(2, 200, 30), 'active');
  for (let i = 3; i < 8; i++) minute(i, 180, 25);
  assert.equal(t.openIncidents()[0].state, 'peaking');
  for (let i = 8; i < 14; i++) minute(i, 40, 8);
  assert.equal(t.openIncidents()[0].state, 'tapering');
  const inc = t.openIncidents()[0];
  assert.equal(inc.peakAt, START + 2 * MINUTE);
  assert.equal(inc.peak.events, 200);
  assert.equal(inc.xfold, 100);
  assert.equal(
    inc.rank.text,
    `the largest for this port since it was first seen on ${new Date(START - 30 * 86_400_000).toISOString().replace(':00.000Z', 'Z')}`,
  );
  assert.match(inc.summary, /^TCP 5168: 100× the usual events at the peak/);
  let ended;
  for (let i = 14; ended === undefined && i < 100; i++) {
    clock.set(START + (i + 1) * MINUTE + 30_000);
    ended = t.update([finding(START + i * MINUTE, 2, 0)], clock.now()).find((x) => x.state === 'ended');
  }
  assert.ok(ended, 'never ended');
  assert.equal(ended.id, id);
  assert.equal(ended.lastAnomalous, START + 13 * MINUTE);
  assert.equal(ended.ended, START + 44 * MINUTE + 30_000, '30 quiet minutes after the last anomalous one');
  assert.equal(t.openIncidents().length, 0);
  assert.ok(id.startsWith('inc_tcp_5168_'));
});

test('a candidate that never confirms ends without ever having alerted', () => {
  const { t, minute } = tracker();
  assert.equal(minute(0, 20, 7), 'candidate');
  for (let i = 1; i < 20; i++) minute(i, 2, 0);
  assert.equal(t.openIncidents().length, 0);
});

test('three anomalous minutes in a row confirm what no single one could', () => {
  const { minute } = tracker();
  assert.equal(minute(0, 20, 7), 'candidate');
  assert.equal(minute(1, 22, 7), 'candidate');
  assert.equal(minute(2, 25, 7), 'active');
});

test('a flare soon after the end is another surge, linked to the first', () => {
  const { t, minute } = tracker();
  minute(0, 100, 20);
  const first = t.openIncidents()[0];
  let i = 1;
  while (t.openIncidents().length > 0) minute(i++, 2, 0);
  i += 60;
  minute(i, 100, 20);
  const second = t.openIncidents()[0];
  assert.equal(second.surge, 2);
  assert.equal(second.previous, first.id);
  assert.match(second.summary, /Surge 2 on this port/);
});

test('a flare long after the end is a new story', () => {
  const { t, minute } = tracker();
  minute(0, 100, 20);
  let i = 1;
  while (t.openIncidents().length > 0) minute(i++, 2, 0);
  minute(i + 25 * 60, 100, 20);
  assert.equal(t.openIncidents()[0].surge, 1);
  assert.equal(t.openIncidents()[0].previous, null);
});

test("an analyst's override sets the severity until it expires, and closing ends the incident", () => {
  const { t, minute, clock } = tracker();
  minute(0, 100, 20);
  const inc = t.openIncidents()[0];
  const expires = clock.now() + 10 * MINUTE;
  const changed = t.applyOverrides(
    new Map([
      [inc.id, { at: clock.now(), author: 'ana', reason: 'lab test', severity: 'critical', expires }],
    ]),
    clock.now(),
  );
  assert.equal(changed.length, 1);
  minute(1, 100, 20);
  assert.equal(t.openIncidents()[0].severity, 'critical');
  clock.set(expires + 1);
  t.applyOverrides(
    new Map([[inc.id, { at: 0, author: 'ana', reason: 'lab test', severity: 'critical', expires }]]),
    clock.now(),
  );
  minute(12, 100, 20);
  assert.notEqual(t.openIncidents()[0].severity, 'critical');
  t.applyOverrides(
    new Map([[inc.id, { at: clock.now(), author: 'ana', reason: 'research scanner', close: true }]]),
    clock.now(),
  );
  assert.equal(t.openIncidents().length, 0);
});

test('a fast-lane finding confirms a candidate but does not move its peak', () => {
  const { t, minute, clock } = tracker();
  minute(0, 20, 7);
  t.update([{ ...finding(START + MINUTE + 10_000, 500, 15), fast: true }], clock.now());
  const inc = t.openIncidents()[0];
  assert.equal(inc.state, 'active');
  assert.equal(inc.peak.events, 20);
});

test('a sweep with lulls between sensors stays one incident: it ends after twice its longest lull', () => {
  const { t, minute } = tracker();
  minute(0, 100, 20);
  for (let i = 1; i < 25; i++) minute(i, 2, 0);
  minute(25, 100, 20); // a lull of 24 minutes
  for (let i = 26; i < 26 + 40; i++) assert.notEqual(minute(i, 2, 0), 'none', `ended at minute ${i}`);
  let i = 66;
  while (t.openIncidents().length > 0) minute(i++, 2, 0);
  assert.equal(i - 1, 25 + 48, 'ends 48 quiet minutes after the last anomalous one');
});

test('an incident stays open while its minutes stay elevated, though no longer anomalous (hysteresis)', () => {
  const { t, minute } = tracker();
  minute(0, 100, 20);
  // An hour at evidence 4: below the threshold that opens incidents, above the one that keeps them.
  for (let i = 1; i <= 60; i++) assert.notEqual(minute(i, 40, 4), 'none', `ended at minute ${i}`);
  let i = 61;
  while (t.openIncidents().length > 0) minute(i++, 2, 2);
  assert.equal(i - 1, 60 + 30, 'ends 30 minutes after the last elevated minute');
});
