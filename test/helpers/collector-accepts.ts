// Checks that an event a sensor parser produced would pass the collector's validation, field by field.

import assert from 'node:assert/strict';
import type { PortentEvent } from '../../src/core/event.ts';
import { eventToJson, parseEventObject } from '../../src/core/wire/ndjson.ts';

/** Fails with the collector's problem list when it would refuse the event (and with it the whole batch). */
export function assertCollectorAccepts(e: PortentEvent, now: number): void {
  const problems: { path: string; message: string }[] = [];
  const back = parseEventObject(eventToJson(e), '/event', problems, { now });
  assert.deepEqual(problems, [], `collector would refuse ${JSON.stringify(e)}`);
  assert.deepEqual(back, e, 'event does not survive the NDJSON round trip unchanged');
}
