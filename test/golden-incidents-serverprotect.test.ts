// Golden incidents of serverprotect-5168 at its seed: the day-before scanning is one incident on TCP 5168, alerted
// within 5 minutes of its onset, and the day before it raises nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HOUR, assertGoldenIncidents, incidents } from './helpers/golden-incidents.ts';

test('serverprotect-5168: the scanning is an incident on TCP 5168 within 5 minutes, and nothing else is', () => {
  const found = incidents('serverprotect-5168', 24 * HOUR, 6 * HOUR);
  assertGoldenIncidents('serverprotect-5168', found);
  const onset = Date.parse('2007-08-23T00:00:00Z');
  const first = found.find((i) => i.port === 5168);
  assert.ok(first?.confirmed, 'no incident on TCP 5168');
  assert.ok(
    first.confirmed - onset <= 5 * 60_000,
    `alerted ${(first.confirmed - onset) / 1000} s after onset`,
  );
  assert.deepEqual(
    found.filter((i) => i.port !== 5168).map((i) => i.id),
    [],
  );
});
