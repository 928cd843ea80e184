// Writes docs/configuration.md and config/portent.example.yaml from the configuration schemas.
// Run after changing any config schema: node scripts/gen-config-docs.ts

import { mkdirSync, writeFileSync } from 'node:fs';
import { renderConfigDocs, renderExampleConfig } from '../src/config/docs.ts';

const root = new URL('../', import.meta.url);
for (const [path, text] of [
  ['docs/configuration.md', renderConfigDocs()],
  ['config/portent.example.yaml', renderExampleConfig()],
] as const) {
  const url = new URL(path, root);
  mkdirSync(new URL('./', url), { recursive: true });
  writeFileSync(url, text);
  console.log(`wrote ${path}`);
}
