// Sampling under the spool's size cap: over the cap the sensor keeps 1 event in k and says so in each kept event.
//
// Dropping the newest events when the disk is full would lose exactly the onset of an outbreak, which
// is when the spool fills. Keeping a thinned, *labelled* stream keeps the shape of the traffic: each kept
// event's `sampling` is multiplied by k, so counts downstream stay unbiased estimates.

import type { EventColumns } from '../../core/event.ts';
import { EVENT_LIMITS, selectRows } from '../../core/event.ts';

/** Below this fraction of the cap the spool has room again and k may shrink; the gap stops k flapping. */
export const RESUME_FRACTION = 0.9;

/** k never grows past this: 1 kept in about a million is already a trickle. */
export const MAX_SAMPLING_RATE = 2 ** 20;

export interface SampleResult {
  /** The kept events, their `sampling` multiplied by k (the input itself when k is 1). */
  kept: EventColumns;
  /** Events of the input left out. */
  sampledAway: number;
}

/**
 * Decides k from how full the spool is and thins appended events by it. k doubles while the spool is at
 * or over its cap and halves once it is below RESUME_FRACTION of it, at most one step per `adjustMs`, so
 * a burst of small appends cannot send k to its maximum at once.
 */
export class CapSampler {
  readonly maxBytes: number;
  readonly adjustMs: number;
  #rate = 1;
  #lastStep = -Infinity;
  /** Position in the 1-in-k cycle, carried across appends so small appends are thinned evenly too. */
  #phase = 0;
  #sampledAway = 0;

  constructor(maxBytes: number, adjustMs: number) {
    this.maxBytes = maxBytes;
    this.adjustMs = adjustMs;
  }

  /** The current k: 1 means every event is kept. */
  get rate(): number {
    return this.#rate;
  }

  /** Events left out since the sampler was made. */
  get sampledAway(): number {
    return this.#sampledAway;
  }

  /** Steps k once if the spool's fill level calls for it and the last step is `adjustMs` old. */
  adjust(usedBytes: number, now: number): void {
    if (now - this.#lastStep < this.adjustMs) return;
    if (usedBytes >= this.maxBytes && this.#rate < MAX_SAMPLING_RATE) {
      this.#rate *= 2;
      this.#lastStep = now;
    } else if (usedBytes < this.maxBytes * RESUME_FRACTION && this.#rate > 1) {
      this.#rate /= 2;
      this.#lastStep = now;
    }
  }

  /** Keeps every k-th event of the running stream and scales its `sampling` by k. */
  sample(events: EventColumns): SampleResult {
    const k = this.#rate;
    if (k === 1) return { kept: events, sampledAway: 0 };
    const rows: number[] = [];
    for (let i = 0; i < events.length; i++) {
      if (this.#phase === 0) rows.push(i);
      this.#phase = (this.#phase + 1) % k;
    }
    const kept = selectRows(events, rows);
    for (let j = 0; j < kept.length; j++)
      kept.sampling[j] = Math.min(kept.sampling[j] * k, EVENT_LIMITS.maxSampling);
    const sampledAway = events.length - rows.length;
    this.#sampledAway += sampledAway;
    return { kept, sampledAway };
  }
}
