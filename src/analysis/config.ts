// The `analysis` configuration section: when the live server judges closed minutes, and the detector's,
// tracker's and threat level's thresholds.

import Type, { type StaticDecode } from 'typebox';
import { Duration, Section } from '../config/types.ts';

/** Schema of the `analysis` section. Defaults are those of DEFAULT_PORT_SPIKE, DEFAULT_TRACKER and DEFAULT_THREAT_LEVEL. */
export const AnalysisConfigSchema = Section(
  'Live detection: port-spike incidents and the threat level, judged from stored events one closed minute at a time.',
  {
    enabled: Type.Boolean({
      default: true,
      description:
        'Run detection in the server. Off, no incidents are raised and the threat level stays as stored.',
    }),
    tick: Duration({
      default: '5s',
      minimum: '100ms',
      maximum: '1m',
      description:
        'How often the analyzer judges the minutes that have closed and saves and publishes what changed.',
    }),
    grace: Duration({
      default: '30s',
      minimum: '0s',
      maximum: '10m',
      description:
        'A minute is judged this long after it ends, so events still on their way from sensors are counted; events that arrive later are stored but not judged.',
    }),
    anomalous: Type.Number({
      default: 6,
      minimum: 0,
      maximum: 100,
      description:
        'Evidence (−log10 of the tail probability, corrected for the number of tests) at or above which a minute of a port is anomalous.',
    }),
    min_sensors: Type.Integer({
      default: 3,
      minimum: 1,
      maximum: 10000,
      description:
        "Sensors that must see a rise for it to count as scanning rather than one network's trouble.",
    }),
    min_subnets: Type.Integer({
      default: 3,
      minimum: 1,
      maximum: 10000,
      description: 'Source /24s (IPv6 /48s) the first-time sources of a rise must come from.',
    }),
    warmup: Duration({
      default: '1h',
      minimum: '0s',
      maximum: '7d',
      description:
        'After the analyzer starts, minutes of this much event time are learned but not judged, while baselines and the memory of seen sources fill.',
    }),
    confirm: Type.Number({
      default: 9,
      minimum: 0,
      maximum: 100,
      description:
        'Evidence in one minute that turns a candidate incident into an active one (the first alert).',
    }),
    confirm_run: Type.Integer({
      default: 3,
      minimum: 1,
      maximum: 60,
      description: 'Or this many anomalous minutes in a row confirm a candidate.',
    }),
    sustain: Type.Number({
      default: 3,
      minimum: 0,
      maximum: 300,
      description:
        'Evidence (-log10 p) that keeps an open incident alive: lower than `anomalous`, which opens one, so a surge hovering about the threshold stays one incident.',
    }),
    end_after: Duration({
      default: '30m',
      minimum: '1m',
      maximum: '7d',
      description:
        'An incident ends after this long without an anomalous minute, or after twice its longest lull so far (at most 6 hours): a sequential sweep crosses empty address space between sensors.',
    }),
    reopen_within: Duration({
      default: '24h',
      minimum: '0s',
      maximum: '30d',
      description:
        'A new surge on a port this soon after its incident ended is recorded as another surge of it.',
    }),
    lower_after: Duration({
      default: '30m',
      minimum: '0s',
      maximum: '7d',
      description:
        'The threat level falls one step only after the incidents have called for a lower level for this long.',
    }),
    min_hold: Duration({
      default: '1h',
      minimum: '0s',
      maximum: '7d',
      description: 'The threat level is held at least this long before it may fall.',
    }),
  },
);

export type AnalysisConfig = StaticDecode<typeof AnalysisConfigSchema>;
