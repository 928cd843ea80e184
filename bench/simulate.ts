// Benchmark for src/sim: events generated per second in accelerated mode, and peak RSS as the address space grows.
//
// Run: npm run bench:simulate   (prints a report; the last line is a JSON summary)
// The workload is a simulated day on 2,000 sensors: background radiation, research scanners,
// misconfiguration, a Code Red-like random worm, a Sagevo-like sequential worm and a probing
// campaign. It runs twice, each in its own process so RSS is its own: once with the sensors and
// the vulnerable hosts packed into one /8, once spread over all of IPv4. The simulator keeps no
// per-address state, so the two should need the same memory.

import { spawnSync } from 'node:child_process';
import { IPV4_SPACE, Population, SensorDeployment, SensorKind } from '../src/sim/internet.ts';
import { RESEARCH_SCANNERS } from '../src/sim/noise.ts';
import { Simulation, type SimulationConfig } from '../src/sim/run.ts';

const HOURS = Number(process.env.PORTENT_BENCH_SIM_HOURS ?? 24);
const SENSORS = 2000;
const START = Date.UTC(2006, 11, 17);
const HOUR = 3_600_000;

interface Result {
  space: string;
  events: number;
  seconds: number;
  events_per_s: number;
  rss_mb_max: number;
  infected: Record<string, number>;
}

/** Squeezes an address from all of IPv4 into 10.0.0.0/8, keeping its low 24 bits. */
const intoSlash8 = (a: number): number => (0x0a000000 | (a & 0xffffff)) >>> 0;

function config(space: 'slash8' | 'ipv4'): SimulationConfig {
  let sensors = SensorDeployment.generate({
    sensors: SENSORS,
    coverage: (SENSORS * 128) / IPV4_SPACE,
    honeypotShare: 0.05,
    seed: 1,
  });
  let codeRed = Population.generate({ hosts: 359_000, networks: 3000, seed: 2 });
  let sagevo = Population.generate({ hosts: 20_000, networks: 200, seed: 3 });
  if (space === 'slash8') {
    const blocks = Array.from(sensors.starts, (start, i) => ({
      start: intoSlash8(start),
      size: sensors.sizes[i],
      kind: sensors.kinds[i] as 0 | 1,
    }));
    // Two sensors' /24s may collide once squeezed; move the second to a free /24.
    const used = new Set<number>();
    for (const b of blocks) {
      while (used.has(b.start >>> 8))
        b.start = (b.start + 256) >>> 0 > 0x0affffff ? 0x0a000000 : b.start + 256;
      used.add(b.start >>> 8);
    }
    sensors = new SensorDeployment(
      blocks.map((b) => ({ ...b, kind: b.kind === 1 ? SensorKind.honeypot : SensorKind.firewall })),
    );
    const squeeze = (p: Population) =>
      new Population(Uint32Array.from(new Set(Array.from(p.addrs, intoSlash8))).sort());
    codeRed = squeeze(codeRed);
    sagevo = squeeze(sagevo);
  }
  return {
    seed: 42,
    start: START,
    durationMs: HOURS * HOUR,
    stepMs: 60_000,
    sensors,
    background: { perAddressHour: 20 },
    research: RESEARCH_SCANNERS(START - 6 * HOUR),
    network: { loss: 0.01, outagesPerSensorDay: 0.5, clockSkewSdMs: 500 },
    worms: [
      {
        name: 'codered-80',
        port: 80,
        proto: 'tcp',
        strategy: { kind: 'random' },
        scanRate: 11,
        population: codeRed,
        onset: START + 2 * HOUR,
        initial: 1,
        tool: 'windows-2000',
      },
      {
        name: 'sagevo-2967',
        port: 2967,
        proto: 'tcp',
        strategy: { kind: 'sequential', start: 'bottom', threads: 512, wrap: true },
        scanRate: 2,
        population: sagevo,
        onset: START + HOUR,
        initial: 5,
        c2Down: [[START + 12 * HOUR, START + 48 * HOUR]],
        tool: 'windows-xp',
      },
    ],
    campaigns: [
      {
        name: 'serverprotect-5168',
        port: 5168,
        proto: 'tcp',
        sources: 300,
        peakRate: 2000,
        start: START + 6 * HOUR,
        rampMs: HOUR,
        halfLifeMs: 2 * HOUR,
        end: START + 14 * HOUR,
        tool: 'linux',
      },
    ],
  };
}

function runOne(space: 'slash8' | 'ipv4'): Result {
  let rssMax = process.memoryUsage.rss();
  const sim = new Simulation(config(space));
  let events = 0;
  const t0 = performance.now();
  for (const batch of sim.run()) {
    events += batch.events.length;
    rssMax = Math.max(rssMax, process.memoryUsage.rss());
  }
  const seconds = (performance.now() - t0) / 1000;
  const truth = sim.truth();
  return {
    space,
    events,
    seconds,
    events_per_s: Math.round(events / seconds),
    rss_mb_max: Math.round(rssMax / 1e5) / 10,
    infected: Object.fromEntries(
      Object.entries(truth.infected).map(([k, v]) => [k, v.at(-1)?.infected ?? 0]),
    ),
  };
}

if (process.argv[2] === '--one') {
  console.log(JSON.stringify(runOne(process.argv[3] as 'slash8' | 'ipv4')));
} else {
  const results: Result[] = [];
  for (const space of ['slash8', 'ipv4'] as const) {
    const child = spawnSync(process.execPath, [process.argv[1], '--one', space], { encoding: 'utf8' });
    if (child.status !== 0) throw new Error(`bench child failed: ${child.stderr}`);
    const r = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Result;
    results.push(r);
    console.log(
      `${space.padEnd(7)} ${HOURS} simulated h, ${SENSORS} sensors: ${r.events.toLocaleString('en-US')} events in ${r.seconds.toFixed(1)} s = ` +
        `${(r.events_per_s / 1e6).toFixed(2)} M events/s; peak RSS ${r.rss_mb_max} MB; infected at the end ${JSON.stringify(r.infected)}`,
    );
  }
  const [small, full] = results;
  console.log(
    JSON.stringify({
      events_per_s: full.events_per_s,
      rss_mb_max: Math.max(small.rss_mb_max, full.rss_mb_max),
      rss_mb_slash8: small.rss_mb_max,
      rss_mb_ipv4: full.rss_mb_max,
      events: full.events,
      simulated_hours: HOURS,
      seconds: Math.round(full.seconds * 10) / 10,
      target_events_per_s: 2_000_000,
    }),
  );
}
