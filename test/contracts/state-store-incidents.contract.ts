// The state-store contract for incidents and the threat level: every StateStore adapter must pass these.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  INCIDENT_STATES,
  SEVERITIES,
  THREAT_COLOURS,
  type Incident,
  type IncidentOverride,
  type Measures,
  type ThreatLevel,
} from '../../src/analysis/incidents/incident.ts';
import type { IncidentStore } from '../../src/storage/state-store.ts';

/** A fresh, empty store under test. */
export interface IncidentStoreHandle {
  store: IncidentStore;
  close(): Promise<void>;
}

const T0 = Date.UTC(2026, 10, 23, 10, 0);
const MINUTE = 60_000;

/** Finite numbers only (JSON has no NaN or infinity), and no -0, which JSON writes as 0. */
const num = fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (Object.is(x, -0) ? 0 : x));
const time = fc.integer({ min: T0 - 400 * 86_400_000, max: T0 + 400 * 86_400_000 });
/** Text as hostile as analysts and detectors may write: quotes, backslashes, non-ASCII, newlines. */
const text = fc.string({ unit: 'binary', maxLength: 40 });

const arbMeasures: fc.Arbitrary<Measures> = fc.record(
  {
    events: num,
    sources: num,
    targets: num,
    sensors: num,
    subnets: num,
    newSources: num,
    networks: num,
    countries: fc.option(num),
  },
  { noNullPrototype: true },
);

const arbOverride: fc.Arbitrary<IncidentOverride> = fc.record(
  {
    at: time,
    author: text,
    reason: text,
    severity: fc.constantFrom(...SEVERITIES),
    close: fc.boolean(),
    expires: time,
  },
  { requiredKeys: ['at', 'author', 'reason'], noNullPrototype: true },
);

const arbIncident: fc.Arbitrary<Incident> = fc.record(
  {
    id: fc.string({ minLength: 1, maxLength: 30 }).map((s) => `inc_${s}`),
    proto: fc.constantFrom(6, 17),
    port: fc.option(fc.integer({ min: 0, max: 65535 })),
    group: fc.option(text),
    state: fc.constantFrom(...INCIDENT_STATES),
    surge: fc.integer({ min: 1, max: 50 }),
    previous: fc.option(text),
    onset: time,
    confirmed: fc.option(time),
    peakAt: time,
    peak: arbMeasures,
    baseline: arbMeasures,
    xfold: num,
    significance: num,
    rank: fc.record(
      {
        largestSince: fc.option(time),
        mostSignificantSince: fc.option(time),
        firstSeen: fc.option(time),
        text,
      },
      { noNullPrototype: true },
    ),
    confidence: fc.double({ min: 0, max: 1, noNaN: true }).map((x) => (Object.is(x, -0) ? 0 : x)),
    severity: fc.constantFrom(...SEVERITIES),
    summary: text,
    reasons: fc.array(text, { maxLength: 4 }),
    lastAnomalous: time,
    ended: fc.option(time),
    updated: time,
    notes: fc.array(fc.record({ at: time, author: text, text }, { noNullPrototype: true }), { maxLength: 3 }),
    override: fc.option(arbOverride),
  },
  { noNullPrototype: true },
);

const zero: Measures = {
  events: 0,
  sources: 0,
  targets: 0,
  sensors: 0,
  subnets: 0,
  newSources: 0,
  networks: 0,
  countries: null,
};

/** A plain incident on one port, updated at `updated`. */
export function incidentOf(over: Partial<Incident> & { id: string }): Incident {
  return {
    proto: 6,
    port: 445,
    group: null,
    state: 'active',
    surge: 1,
    previous: null,
    onset: T0,
    confirmed: T0 + 5 * MINUTE,
    peakAt: T0 + 10 * MINUTE,
    peak: { ...zero, events: 5000, sources: 300 },
    baseline: { ...zero, events: 100, sources: 20 },
    xfold: 50,
    significance: 14.2,
    rank: { largestSince: null, mostSignificantSince: null, firstSeen: T0 - 86_400_000, text: 'first surge' },
    confidence: 0.9,
    severity: 'high',
    summary: 'tcp/445: 300 sources',
    reasons: ['sources p=1e-12 on 14 sensors in 11 /16s'],
    lastAnomalous: T0 + 10 * MINUTE,
    ended: null,
    updated: T0 + 10 * MINUTE,
    notes: [],
    override: null,
    ...over,
  };
}

const level = (over: Partial<ThreatLevel> = {}): ThreatLevel => ({
  level: 'yellow',
  since: T0,
  computed: 'yellow',
  reason: 'one active incident: tcp/445',
  incidents: ['inc_a'],
  override: null,
  ...over,
});

export function stateStoreIncidentsContract(name: string, open: () => Promise<IncidentStoreHandle>): void {
  /** Runs `body` on a fresh store and closes it whatever happens. */
  async function withStore(body: (store: IncidentStore) => Promise<void>): Promise<void> {
    const h = await open();
    try {
      await body(h.store);
    } finally {
      await h.close();
    }
  }

  describe(`StateStore contract, incidents and threat level: ${name}`, () => {
    it('round-trips any incident exactly, with its notes and override', async () => {
      await withStore(async (store) => {
        let run = 0;
        await fc.assert(
          fc.asyncProperty(arbIncident, async (generated) => {
            // A fresh id each run, so notes written by an earlier run do not add up.
            const inc = { ...generated, id: `${generated.id}_${run++}` };
            await store.saveIncident(inc);
            // Notes and the override are the analysts': written through their own methods only.
            await store.setIncidentOverride(inc.id, inc.override);
            for (const n of inc.notes) await store.addIncidentNote(inc.id, n);
            const back = await store.incident(inc.id);
            assert.deepEqual(back, inc);
          }),
          { numRuns: 60 },
        );
      });
    });

    it("keeps notes and the override through the analyzer's later saves", async () => {
      await withStore(async (store) => {
        await fc.assert(
          fc.asyncProperty(arbIncident, arbIncident, fc.uuid(), async (first, second, uuid) => {
            const id = `inc_${uuid}`;
            await store.saveIncident({ ...first, id, notes: [], override: null });
            await store.setIncidentOverride(id, first.override);
            for (const n of first.notes) await store.addIncidentNote(id, n);
            // The analyzer saves its own idea of the incident, with empty or stale notes and override.
            await store.saveIncident({ ...second, id });
            const back = await store.incident(id);
            assert.deepEqual(back, { ...second, id, notes: first.notes, override: first.override });
          }),
          { numRuns: 40 },
        );
      });
    });

    it('lists newest updated first and filters by open, state, protocol, port and since', async () => {
      await withStore(async (store) => {
        const all = [
          incidentOf({ id: 'inc_a', port: 445, updated: T0 + 1 * MINUTE }),
          incidentOf({ id: 'inc_b', port: 22, updated: T0 + 3 * MINUTE, state: 'peaking' }),
          incidentOf({ id: 'inc_c', port: 445, proto: 17, updated: T0 + 2 * MINUTE, state: 'ended' }),
          incidentOf({ id: 'inc_d', port: null, group: 'smb', updated: T0 + 4 * MINUTE, state: 'candidate' }),
        ];
        for (const i of all) await store.saveIncident(i);
        const ids = async (q: Parameters<IncidentStore['incidents']>[0]) =>
          (await store.incidents(q)).map((i) => i.id);
        assert.deepEqual(await ids({ limit: 10 }), ['inc_d', 'inc_b', 'inc_c', 'inc_a']);
        assert.deepEqual(await ids({ limit: 2 }), ['inc_d', 'inc_b']);
        assert.deepEqual(await ids({ open: true, limit: 10 }), ['inc_d', 'inc_b', 'inc_a']);
        assert.deepEqual(await ids({ open: false, limit: 10 }), ['inc_c']);
        assert.deepEqual(await ids({ state: 'peaking', limit: 10 }), ['inc_b']);
        assert.deepEqual(await ids({ proto: 17, limit: 10 }), ['inc_c']);
        assert.deepEqual(await ids({ port: 445, limit: 10 }), ['inc_c', 'inc_a']);
        assert.deepEqual(await ids({ proto: 6, port: 445, limit: 10 }), ['inc_a']);
        assert.deepEqual(await ids({ since: T0 + 2 * MINUTE, limit: 10 }), ['inc_d', 'inc_b', 'inc_c']);
        // A save replaces: the incident moves to its new place in the order.
        await store.saveIncident({ ...all[0], updated: T0 + 9 * MINUTE, state: 'tapering' });
        assert.deepEqual(await ids({ limit: 1 }), ['inc_a']);
        assert.deepEqual(await ids({ state: 'tapering', limit: 10 }), ['inc_a']);
        assert.equal(await store.incident('inc_nope'), null);
      });
    });

    it('lists incidents with their notes in order and their override', async () => {
      await withStore(async (store) => {
        await store.saveIncident(incidentOf({ id: 'inc_n' }));
        await store.addIncidentNote('inc_n', {
          at: T0 + 2,
          author: 'ana',
          text: 'second by time, first written',
        });
        await store.addIncidentNote('inc_n', { at: T0 + 1, author: 'bo', text: 'line one\nline two' });
        const o: IncidentOverride = { at: T0, author: 'ana', reason: 'research scanner', close: true };
        await store.setIncidentOverride('inc_n', o);
        const [listed] = await store.incidents({ limit: 1 });
        assert.deepEqual(
          listed.notes.map((n) => n.author),
          ['ana', 'bo'],
        );
        assert.deepEqual(listed.override, o);
        assert.deepEqual(await store.incident('inc_n'), listed);
      });
    });

    it('refuses notes and overrides for an unknown incident', async () => {
      await withStore(async (store) => {
        await assert.rejects(store.addIncidentNote('inc_none', { at: T0, author: 'a', text: 't' }), {
          code: 'INCIDENT_NOT_FOUND',
        });
        await assert.rejects(store.setIncidentOverride('inc_none', { at: T0, author: 'a', reason: 'r' }), {
          code: 'INCIDENT_NOT_FOUND',
        });
        await assert.rejects(store.setIncidentOverride('inc_none', null), { code: 'INCIDENT_NOT_FOUND' });
      });
    });

    it('clears an override, and returns the overrides of the ids asked for', async () => {
      await withStore(async (store) => {
        for (const id of ['inc_1', 'inc_2', 'inc_3']) await store.saveIncident(incidentOf({ id }));
        const o1: IncidentOverride = {
          at: T0,
          author: 'a',
          reason: 'fp',
          close: true,
          expires: T0 + 3_600_000,
        };
        const o2: IncidentOverride = { at: T0, author: 'b', reason: 'worse', severity: 'critical' };
        await store.setIncidentOverride('inc_1', o1);
        await store.setIncidentOverride('inc_2', o2);
        assert.deepEqual(
          await store.incidentOverrides(['inc_1', 'inc_2', 'inc_3', "inc_'; DROP TABLE x"]),
          new Map([
            ['inc_1', o1],
            ['inc_2', o2],
          ]),
        );
        assert.deepEqual(await store.incidentOverrides([]), new Map());
        await store.setIncidentOverride('inc_1', null);
        assert.equal((await store.incident('inc_1'))!.override, null);
        assert.deepEqual([...(await store.incidentOverrides(['inc_1', 'inc_2'])).keys()], ['inc_2']);
      });
    });

    it('refuses numbers JSON cannot carry', async () => {
      await withStore(async (store) => {
        await assert.rejects(
          store.saveIncident(incidentOf({ id: 'inc_inf', significance: Infinity })),
          RangeError,
        );
        assert.equal(await store.incident('inc_inf'), null);
      });
    });

    it('keeps the current threat level and its history, newest first, within from and to', async () => {
      await withStore(async (store) => {
        assert.equal(await store.threatLevel(), null);
        assert.deepEqual(await store.threatLevelHistory({ limit: 10 }), []);
        const changes = [
          { at: T0, from: 'green' as const, to: 'yellow' as const, reason: 'one incident' },
          { at: T0 + 10 * MINUTE, from: 'yellow' as const, to: 'orange' as const, reason: 'three incidents' },
          { at: T0 + 20 * MINUTE, from: 'orange' as const, to: 'green' as const, reason: 'all ended' },
        ];
        await store.saveThreatLevel(level({ level: 'yellow', since: T0 }), changes[0]);
        await store.saveThreatLevel(level({ level: 'yellow', since: T0, reason: 'held' }), null);
        await store.saveThreatLevel(level({ level: 'orange', since: T0 + 10 * MINUTE }), changes[1]);
        const last = level({ level: 'green', computed: 'green', since: T0 + 20 * MINUTE, incidents: [] });
        await store.saveThreatLevel(last, changes[2]);
        assert.deepEqual(await store.threatLevel(), last);
        assert.deepEqual(await store.threatLevelHistory({ limit: 10 }), [...changes].reverse());
        assert.deepEqual(await store.threatLevelHistory({ limit: 1 }), [changes[2]]);
        assert.deepEqual(await store.threatLevelHistory({ from: T0 + 10 * MINUTE, limit: 10 }), [
          changes[2],
          changes[1],
        ]);
        assert.deepEqual(await store.threatLevelHistory({ to: T0 + 10 * MINUTE, limit: 10 }), [changes[0]]);
      });
    });

    it('round-trips any threat level', async () => {
      await withStore(async (store) => {
        const colour = fc.constantFrom(...THREAT_COLOURS);
        const arbLevel: fc.Arbitrary<ThreatLevel> = fc.record(
          {
            level: colour,
            since: time,
            computed: colour,
            reason: text,
            incidents: fc.array(text, { maxLength: 3 }),
            override: fc.option(
              fc.record(
                { level: colour, reason: text, author: text, at: time, expires: time },
                { noNullPrototype: true },
              ),
            ),
          },
          { noNullPrototype: true },
        );
        await fc.assert(
          fc.asyncProperty(arbLevel, async (l) => {
            await store.saveThreatLevel(l, null);
            assert.deepEqual(await store.threatLevel(), l);
          }),
          { numRuns: 30 },
        );
      });
    });

    it('sets, replaces and clears the threat override', async () => {
      await withStore(async (store) => {
        assert.equal(await store.threatOverride(), null);
        const o = { level: 'red' as const, reason: 'drill', author: 'ana', at: T0, expires: T0 + 3_600_000 };
        await store.setThreatOverride(o);
        assert.deepEqual(await store.threatOverride(), o);
        const o2 = { ...o, level: 'orange' as const };
        await store.setThreatOverride(o2);
        assert.deepEqual(await store.threatOverride(), o2);
        await store.setThreatOverride(null);
        assert.equal(await store.threatOverride(), null);
      });
    });
  });
}
