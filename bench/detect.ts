// Benchmark for the detectors (issue 5): detection delay, infected share at the first alert, precision, recall and
// false incidents per 1,000 port-weeks on the simulator's scenarios, beside ISC's and GreyNoise's reference scores
// in the same runs; what the detector flags on the real data in ../shared/data; and the time to judge all
// 65,536 ports × TCP/UDP in one minute.
//
// Run: npm run bench:detect   (prints a report; the last line is a JSON summary)
// PORTENT_BENCH_SEEDS (default 2): seeds per scenario. Each run is its own process, two at a time.

import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  evaluateAllPorts,
  METHODS,
  realDataFindings,
  runScenario,
  type Method,
  type RunReport,
} from './detect-run.ts';

// Longest first, so two workers finish together.
const SCENARIOS = ['sagevo-2967', 'serverprotect-5168', 'quiet-week', 'codered-80', 'slammer-1434'];
const SEEDS = Number(process.env.PORTENT_BENCH_SEEDS ?? 2);
const SELF = fileURLToPath(import.meta.url);

if (process.argv[2] === '--run') {
  // A child: one scenario at one seed, its report as the last line.
  const report = runScenario(process.argv[3], Number(process.argv[4]));
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exit(0);
}

function child(scenario: string, seed: number): Promise<RunReport> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [SELF, '--run', scenario, String(seed)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${scenario} ${seed}: exit ${code}`));
      // Each run's report as it ends, on stderr: a long benchmark that is stopped keeps what it measured.
      const line = out.trim().split('\n').at(-1)!;
      console.error(line);
      resolve(JSON.parse(line) as RunReport);
    });
  });
}

async function pool<T>(jobs: (() => Promise<T>)[], width: number): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < jobs.length) {
        const i = next++;
        results[i] = await jobs[i]();
      }
    }),
  );
  return results;
}

const firstSeed = (name: string) =>
  ({
    'serverprotect-5168': 5168,
    'sagevo-2967': 2967,
    'slammer-1434': 1434,
    'codered-80': 80,
    'quiet-week': 7,
  })[name] ?? 1;
const jobs = SCENARIOS.flatMap((s) =>
  Array.from({ length: SEEDS }, (_, i) => () => child(s, firstSeed(s) + i)),
);
const t0 = performance.now();
const reports = await pool(jobs, Math.min(2, cpus().length));

const fmt = (x: number | null, unit = '') =>
  x === null ? '-' : `${Number.isInteger(x) ? x : x.toPrecision(3)}${unit}`;
const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toPrecision(2)} %`);
const max = (xs: (number | null)[]) =>
  xs.some((x) => x === null) || xs.length === 0 ? null : Math.max(...(xs as number[]));

console.log(
  `bench/detect: ${SCENARIOS.length} scenarios × ${SEEDS} seeds in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`,
);
console.log(
  'scanner                   seed  method     delay       infected at alert  3rd-sensor+buckets  false incidents',
);
for (const r of reports)
  for (const s of r.scanners)
    for (const [method, d] of Object.entries(s.detection))
      console.log(
        `${s.name.padEnd(25)} ${String(r.seed).padEnd(5)} ${method.padEnd(18)} ${fmt(d.delayS === null ? null : d.delayS / 60, ' min').padEnd(11)} ${pct(d.infectedShare).padEnd(18)} ${fmt(d.bucketsAfterThirdSensor).padEnd(19)} ${r.falseIncidents[method as Method]}`,
      );

const quiet = reports.filter((r) => r.scenario === 'quiet-week');
const portWeeks = quiet.reduce((s, r) => s + r.portWeeks, 0);
/** Hourly references follow the busy ports and a 1-in-128 sample of the rest: their own denominator. */
const perThousand = (m: Method) => {
  const weeks = quiet.reduce((s, r) => s + (m.endsWith('-hourly') ? r.hourlyPortWeeks : r.portWeeks), 0);
  return weeks === 0 ? null : (1000 * quiet.reduce((s, r) => s + r.falseIncidents[m], 0)) / weeks;
};
console.log(`\nquiet-week: ${portWeeks.toFixed(0)} port-weeks with traffic over ${quiet.length} runs`);
for (const m of METHODS)
  console.log(`  ${m.padEnd(18)} false incidents per 1,000 port-weeks: ${fmt(perThousand(m))}`);

// Precision and recall of Portent's incidents over every scenario run: a true incident is on a scanner's port while
// it runs; every scanner run found is recalled.
const scanners = reports.flatMap((r) => r.scanners);
const tp = reports.reduce((s, r) => s + r.trueIncidents.portent, 0);
const fp = reports.reduce((s, r) => s + r.falseIncidents.portent, 0);
const precision = tp + fp === 0 ? null : tp / (tp + fp);
const recall =
  scanners.length === 0
    ? null
    : scanners.filter((s) => s.detection.portent.delayS !== null).length / scanners.length;
console.log(
  `\nPortent: precision ${fmt(precision)}, recall ${fmt(recall)} (${tp} true, ${fp} false incidents)`,
);

const allPorts = evaluateAllPorts();
console.log(`\nall 131,072 ports in one minute: ${allPorts.toFixed(0)} ms (target under 1,000 ms)`);

const real = await realDataFindings();
console.log('\nreal data (one sensor each; min_sensors 1):');
for (const f of real)
  console.log(
    `  ${f.dataset}: ${f.events} events, ${f.incidents.length} incidents${f.incidents.length ? `: ${f.incidents.slice(0, 8).join('; ')}` : ''}${f.skipped ? ` (skipped: ${f.skipped})` : ''}`,
  );

const worms = scanners.filter((s) => s.kind === 'worm' && ['codered', 'slammer'].includes(s.name));
const serverprotect = scanners.filter((s) => s.name === 'serverprotect-scanning');
const sagevo = scanners.filter((s) => s.name === 'sagevo');
console.log(
  JSON.stringify({
    bench: 'detect',
    seeds: SEEDS,
    worst_infected_fraction_at_alert: max(worms.map((s) => s.detection.portent.infectedShare)),
    serverprotect_delay_s: max(serverprotect.map((s) => s.detection.portent.delayS)),
    sagevo_buckets_after_third_sensor: max(sagevo.map((s) => s.detection.portent.bucketsAfterThirdSensor)),
    false_incidents_per_1000_port_weeks: perThousand('portent'),
    precision,
    recall,
    eval_ms_all_ports: Math.round(allPorts),
    reference: Object.fromEntries(
      METHODS.filter((m) => m !== 'portent').map((m) => [
        m,
        {
          worst_infected_fraction_at_alert: max(worms.map((s) => s.detection[m].infectedShare)),
          serverprotect_delay_s: max(serverprotect.map((s) => s.detection[m].delayS)),
          false_incidents_per_1000_port_weeks: perThousand(m),
        },
      ]),
    ),
    real_data: Object.fromEntries(real.map((f) => [f.dataset, f.incidents.length])),
  }),
);
