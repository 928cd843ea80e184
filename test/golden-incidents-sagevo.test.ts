// Golden incidents of sagevo-2967 at its seed: the first wave is one incident on TCP 2967, and nothing else is.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HOUR, assertGoldenIncidents, incidents } from './helpers/golden-incidents.ts';

test('sagevo-2967: the first wave is one incident on TCP 2967, and nothing else is', () => {
  const found = incidents('sagevo-2967', 12 * HOUR, 10 * HOUR);
  assertGoldenIncidents('sagevo-2967', found);
  assert.deepEqual(
    found.map((i) => i.port),
    [2967],
  );
});
