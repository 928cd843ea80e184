#!/usr/bin/env node
// Entry point of the `portent` command: the compiled CLI in dist/ (built by `npm install` through the
// `prepare` script), or the TypeScript sources through Node 24's type stripping when not built.
//
// Compiled code matters for the sensor: stripping types at load time keeps a WebAssembly compiler in
// memory, which doubled the resident size of a sensor process (ADR 0007, bench/README.md).
import { existsSync } from 'node:fs';

// A running sensor keeps its V8 heap small: left alone, V8 lets garbage grow the process to ~280 MiB
// at 50,000 events/s; with these limits it stays near 115 MiB. The process re-executes itself once
// with them (same pid, so signals and service managers see no difference), unless the operator set
// heap limits of their own.
const args = process.argv.slice(2);
const heapSet = /max-old-space-size|max-semi-space-size/.test(
  `${process.env.NODE_OPTIONS ?? ''} ${process.execArgv.join(' ')}`,
);
if (args[0] === 'sensor' && args[1] === 'run' && !heapSet && typeof process.execve === 'function') {
  process.execve(
    process.execPath,
    [
      process.execPath,
      '--max-old-space-size=96',
      '--max-semi-space-size=2',
      ...process.execArgv,
      process.argv[1],
      ...args,
    ],
    process.env,
  );
}

const compiled = new URL('../dist/bin/portent.js', import.meta.url);
await import(existsSync(compiled) ? compiled.href : new URL('../src/bin/portent.ts', import.meta.url).href);
