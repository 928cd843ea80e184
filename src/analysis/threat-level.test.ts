// The threat level: rises at once, falls a step at a time after its hold, and yields to an analyst's override.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Incident, Severity } from './incidents/incident.ts';
import { ThreatLevelEngine, levelFor } from './threat-level.ts';
import { incidentOf } from '../../test/contracts/state-store-incidents.contract.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 5, 1);

function incident(id: string, severity: Severity, state: Incident['state'] = 'active'): Incident {
  return incidentOf({ id, severity, state, confirmed: state === 'candidate' ? null : T0 });
}

test('the incidents decide the colour: candidates and closed ones do not count', () => {
  assert.equal(levelFor([]).level, 'green');
  assert.equal(levelFor([incident('a', 'critical', 'candidate')]).level, 'green');
  assert.equal(levelFor([incident('a', 'medium')]).level, 'yellow');
  assert.equal(levelFor([incident('a', 'low'), incident('b', 'low')]).level, 'yellow');
  assert.equal(levelFor([incident('a', 'high')]).level, 'orange');
  assert.equal(levelFor([incident('a', 'critical')]).level, 'red');
  const closed = {
    ...incident('a', 'critical'),
    override: { at: T0, author: 'x', reason: 'y', close: true },
  };
  assert.equal(levelFor([closed]).level, 'green');
});

test('it rises at once and falls one step at a time, after the hold and the wait', () => {
  const e = new ThreatLevelEngine(T0);
  const red = [incident('a', 'critical')];
  assert.deepEqual(e.update(red, T0 + MIN), {
    at: T0 + MIN,
    from: 'green',
    to: 'red',
    reason: e.current.reason,
  });
  // Incidents gone after 10 minutes: held (minimum hold 1 h, then 30 min of calm per step).
  assert.equal(e.update([], T0 + 10 * MIN), null);
  assert.equal(e.current.level, 'red');
  assert.equal(e.current.computed, 'green');
  assert.match(e.current.reason, /^held at red/);
  assert.equal(e.update([], T0 + 60 * MIN), null, 'held for less than an hour');
  assert.equal(e.update([], T0 + 61 * MIN)?.to, 'orange');
  // The next step waits for its own hour at orange.
  assert.equal(e.update([], T0 + 120 * MIN), null);
  assert.equal(e.current.level, 'orange');
  assert.equal(e.update([], T0 + 121 * MIN)?.to, 'yellow');
  // A new surge raises it again at once.
  assert.equal(e.update(red, T0 + 122 * MIN)?.to, 'red');
});

test("an analyst's override wins until it expires", () => {
  const e = new ThreatLevelEngine(T0);
  const override = {
    level: 'orange' as const,
    reason: 'exercise',
    author: 'ana',
    at: T0,
    expires: T0 + 30 * MIN,
  };
  assert.equal(e.update([], T0 + MIN, override)?.to, 'orange');
  assert.match(e.current.reason, /set by ana until .*: exercise/);
  assert.equal(e.update([], T0 + 20 * MIN, override), null);
  // Expired: back to what the incidents say, at once.
  assert.equal(e.update([], T0 + 31 * MIN, override)?.to, 'green');
  assert.equal(e.current.override, null);
});
