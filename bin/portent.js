#!/usr/bin/env node
// Entry point of the `portent` command: runs the TypeScript CLI on Node 24's type stripping.
import '../src/bin/portent.ts';
