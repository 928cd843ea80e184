// The registry of line formats and auto-detection: picks the format that best explains a file's first lines.

import { checkpointFormat } from './checkpoint.ts';
import { ciscoAsaFormat } from './cisco-asa.ts';
import { cowrie } from './cowrie.ts';
import { dionaea } from './dionaea.ts';
import { filterlogFormat } from './filterlog.ts';
import { mikrotikFormat } from './mikrotik.ts';
import { netfilterFormat } from './netfilter.ts';
import { opencanary } from './opencanary.ts';
import { pfirewallFormat } from './pfirewall.ts';
import { sonicwallFormat } from './sonicwall.ts';
import { suricataEve } from './suricata-eve.ts';
import { zeekConn, zeekConnJson } from './zeek-conn.ts';
import type { FormatName, LineFormat } from './types.ts';

/** Every line format the sensor reads; each parser module adds itself here. */
export const LINE_FORMATS: readonly LineFormat[] = [
  zeekConn,
  zeekConnJson,
  suricataEve,
  cowrie,
  dionaea,
  opencanary,
  netfilterFormat,
  filterlogFormat,
  pfirewallFormat,
  ciscoAsaFormat,
  mikrotikFormat,
  sonicwallFormat,
  checkpointFormat,
];

export interface Detection {
  format: FormatName | null;
  /** Why it was chosen, or why nothing was, for the user. */
  reason: string;
  /** Every format's score, best first, so `portent sensor doctor` can show the runners-up. */
  scores: { format: FormatName; score: number; reason: string }[];
}

/** Below this score no format is chosen: better to say "unknown" than to guess. */
export const MIN_DETECT_SCORE = 0.5;

export function detectFormat(sample: readonly string[]): Detection {
  const scores = LINE_FORMATS.map((f) => ({ format: f.name, ...f.detect(sample) })).sort(
    (a, b) => b.score - a.score,
  );
  const best = scores[0];
  if (best === undefined || best.score < MIN_DETECT_SCORE) {
    return {
      format: null,
      reason:
        best === undefined
          ? 'no formats registered'
          : `no format matched well enough (best: ${best.format}, ${best.reason})`,
      scores,
    };
  }
  return { format: best.format, reason: best.reason, scores };
}
