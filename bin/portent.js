#!/usr/bin/env node
// Entry point of the `portent` command: the compiled CLI in dist/ (built by `npm install` through the
// `prepare` script), or the TypeScript sources through Node 24's type stripping when not built.
//
// Compiled code matters for the sensor: stripping types at load time keeps a WebAssembly compiler in
// memory, which doubled the resident size of a sensor process (bench/README.md).
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/bin/portent.js', import.meta.url);
await import(existsSync(compiled) ? compiled.href : new URL('../src/bin/portent.ts', import.meta.url).href);
