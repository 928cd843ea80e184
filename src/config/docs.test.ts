// Keeps docs/configuration.md and config/portent.example.yaml in step with the configuration schemas.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { renderConfigDocs, renderExampleConfig } from './docs.ts';
import { loadConfig, resolveConfig } from './load.ts';

const DOCS = fileURLToPath(new URL('../../docs/configuration.md', import.meta.url));
const EXAMPLE = fileURLToPath(new URL('../../config/portent.example.yaml', import.meta.url));
const REGENERATE = 'out of date: run `node scripts/gen-config-docs.ts` and commit the result';

describe('generated configuration docs', () => {
  it('docs/configuration.md is the rendering of the schemas', () => {
    assert.equal(readFileSync(DOCS, 'utf8'), renderConfigDocs(), `docs/configuration.md is ${REGENERATE}`);
  });

  it('config/portent.example.yaml is the rendering of the schemas', () => {
    assert.equal(
      readFileSync(EXAMPLE, 'utf8'),
      renderExampleConfig(),
      `config/portent.example.yaml is ${REGENERATE}`,
    );
  });

  it('the example config loads, and gives exactly the defaults', () => {
    assert.deepEqual(loadConfig({ file: EXAMPLE, env: {} }), loadConfig({ env: {} }));
  });

  it('every default in the docs tables is the default the loader applies', () => {
    // Read the tables back as a person would and load what they say: the docs must not promise other values.
    const documented: Record<string, Record<string, unknown>> = {};
    let section = '';
    for (const line of readFileSync(DOCS, 'utf8').split('\n')) {
      const heading = /^## `(\w+)`$/.exec(line);
      if (heading !== null) section = heading[1];
      const row = /^\| `(\w+)` +\| [^|]+ \| `(.*?)` +\|/.exec(line);
      if (row !== null && section !== '') (documented[section] ??= {})[row[1]] = JSON.parse(row[2]);
    }
    const defaults = resolveConfig({});
    assert.deepEqual(Object.keys(documented), Object.keys(defaults));
    for (const [name, keys] of Object.entries(documented)) {
      assert.deepEqual(Object.keys(keys), Object.keys(defaults[name as keyof typeof defaults]));
    }
    assert.deepEqual(resolveConfig(documented), defaults);
  });
});
