// bench/parse: sensor parser speed per core, for every line format and for pcap, beside a naive split-only baseline.
//
// Lines come from the real corpus (PORTENT_CORPUS, default ../shared/data) where it has the format,
// else from our fixtures; each set is repeated to BENCH_LINES lines and parsed for about a second,
// best of three. The baseline does the least any key=value parser must: split the netfilter line on
// spaces and each field on "=". Last line of output: one JSON object.

import { existsSync, globSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LINE_FORMATS } from '../src/sensor/parsers/index.ts';
import type { FormatName } from '../src/sensor/parsers/types.ts';
import { decodeCapture } from '../src/sensor/capture/reader.ts';
import { readLines } from '../src/sensor/sources/read-lines.ts';

const root = new URL('..', import.meta.url).pathname;
const corpus = process.env.PORTENT_CORPUS ?? join(root, '../shared/data');
const LINES = Number(process.env.PORTENT_BENCH_LINES ?? 200_000);
const now = Date.UTC(2026, 10, 23);

/** Where real lines of each format are; the rest use test/fixtures/formats/<format>/. */
const CORPUS_FILES: Partial<Record<FormatName, string>> = {
  netfilter: 'rafmio-ufw/**/*',
  'zeek-conn': 'rita-zeek-conn-3days/**/*conn*',
  cowrie: 'kareiva-cowrie-logs/**/*.json*',
  pfirewall: 'windows-pfirewall/**/*.log',
};

async function sampleLines(format: FormatName): Promise<string[]> {
  const pattern = CORPUS_FILES[format];
  const files =
    pattern && existsSync(corpus)
      ? globSync(join(corpus, pattern)).filter((f) => statSync(f).isFile() && !/SOURCES|manifest/.test(f))
      : globSync(join(root, 'test/fixtures/formats', format, '*'));
  const lines: string[] = [];
  for (const f of files.sort()) {
    for await (const line of readLines(f)) {
      lines.push(line);
      if (lines.length >= LINES) return lines;
    }
  }
  return lines;
}

/** Repeats `sample` to `n` lines, each a fresh string as readline would hand them out. */
function fill(sample: string[], n: number): string[] {
  return Array.from({ length: n }, (_, i) => (' ' + sample[i % sample.length]).slice(1));
}

/** Best of three passes of about a second: units per second. */
function rate(units: number, pass: () => number): number {
  let best = 0;
  for (let round = 0; round < 3; round++) {
    let done = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < 1000) done += pass();
    best = Math.max(best, done / ((performance.now() - t0) / 1000));
  }
  return best * (units > 0 ? 1 : 0);
}

const results: Record<string, { lines_per_s: number; events_fraction: number; source: string }> = {};
let netfilterLines: string[] = [];
for (const format of LINE_FORMATS) {
  const sample = await sampleLines(format.name);
  if (sample.length === 0) continue;
  const lines = fill(sample, LINES);
  if (format.name === 'netfilter') netfilterLines = lines;
  let events = 0;
  const probe = format.create({ now, timeZone: 'UTC' });
  for (const l of lines.slice(0, 10_000)) if (probe.parse(l).kind === 'event') events++;
  const perS = rate(lines.length, () => {
    // Header-driven formats (Zeek, W3C) need their headers: a fresh parser sees the sample from the top.
    const parser = format.create({ now, timeZone: 'UTC' });
    let sink = 0;
    for (let i = 0; i < lines.length; i++) sink += parser.parse(lines[i]).kind.length;
    if (sink < 0) throw new Error('unreachable');
    return lines.length;
  });
  results[format.name] = {
    lines_per_s: Math.round(perS),
    events_fraction: Number((events / Math.min(10_000, lines.length)).toFixed(3)),
    source:
      CORPUS_FILES[format.name] && existsSync(corpus) ? `corpus ${CORPUS_FILES[format.name]}` : 'fixtures',
  };
}

// The baseline: split-only, on the same netfilter lines.
const baseline = rate(netfilterLines.length, () => {
  let sink = 0;
  for (let i = 0; i < netfilterLines.length; i++) {
    const fields = netfilterLines[i].split(' ');
    for (let j = 0; j < fields.length; j++) sink += fields[j].split('=').length;
  }
  if (sink < 0) throw new Error('unreachable');
  return netfilterLines.length;
});

// pcap: the largest capture in the corpus, decoded from memory.
let pcapPerS = 0;
let pcapFile = '';
if (existsSync(corpus)) {
  const captures = globSync(join(corpus, '**/*.{pcap,pcapng,cap}')).sort(
    (a, b) => statSync(b).size - statSync(a).size,
  );
  if (captures[0]) {
    pcapFile = captures[0].slice(corpus.length + 1);
    const bytes = readFileSync(captures[0]);
    let packets = 0;
    for (const _ of decodeCapture(bytes, { now })) packets++;
    pcapPerS = rate(packets, () => {
      let n = 0;
      for (const _ of decodeCapture(bytes, { now })) n++;
      return n;
    });
  }
}

console.log(
  `Parser speed on one core (${LINES.toLocaleString('en')} lines per format, best of 3 one-second passes)`,
);
for (const [name, r] of Object.entries(results))
  console.log(
    `  ${name.padEnd(16)} ${Math.round(r.lines_per_s).toLocaleString('en').padStart(12)} lines/s  (${Math.round(r.events_fraction * 100)}% events; ${r.source})`,
  );
console.log(
  `  ${'baseline'.padEnd(16)} ${Math.round(baseline).toLocaleString('en').padStart(12)} lines/s  (split on spaces and "=", netfilter lines)`,
);
if (pcapFile)
  console.log(
    `  ${'pcap'.padEnd(16)} ${Math.round(pcapPerS).toLocaleString('en').padStart(12)} packets/s (${pcapFile})`,
  );
const netfilter = results.netfilter?.lines_per_s ?? 0;
console.log(
  JSON.stringify({
    netfilter_lines_per_s: netfilter,
    baseline_lines_per_s: Math.round(baseline),
    ratio: Number((netfilter / baseline).toFixed(3)),
    pcap_packets_per_s: Math.round(pcapPerS),
    formats: Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v.lines_per_s])),
    target_netfilter_lines_per_s: 1_000_000,
  }),
);
