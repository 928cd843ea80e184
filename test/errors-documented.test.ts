// Keeps docs/errors.md and the error catalog in step: one `## CODE` section per code, with its status and hint.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ERRORS, type ErrorCode } from '../src/core/errors.ts';

const text = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
const codes = Object.keys(ERRORS) as ErrorCode[];

/** Headings that look like error codes: `## SOME_CODE` alone on a line. */
const headings = [...text.matchAll(/^## ([A-Z][A-Z0-9_]*)\s*$/gm)].map((m) => m[1]);

/** The text of each `## CODE` section, up to the next level-2 heading. */
function section(code: string): string {
  const start = text.search(new RegExp(`^## ${code}\\s*$`, 'm'));
  assert.ok(start >= 0, `no section for ${code}`);
  const rest = text.slice(start + 3 + code.length);
  const end = rest.search(/^## /m);
  return end < 0 ? rest : rest.slice(0, end);
}

const squash = (s: string): string => s.replace(/\s+/g, ' ').trim();

describe('docs/errors.md', () => {
  it('has a `## CODE` heading for every code in the catalog', () => {
    const missing = codes.filter((c) => !headings.includes(c));
    assert.deepEqual(missing, [], `add a "## CODE" section to docs/errors.md for: ${missing.join(', ')}`);
  });

  it('has no `## CODE` heading that is not in the catalog, and none twice', () => {
    const unknown = headings.filter((h) => !(h in ERRORS));
    assert.deepEqual(
      unknown,
      [],
      `docs/errors.md documents codes that src/core/errors.ts does not have: ${unknown.join(', ')}`,
    );
    const twice = headings.filter((h, i) => headings.indexOf(h) !== i);
    assert.deepEqual(twice, [], `documented more than once: ${twice.join(', ')}`);
  });

  it("states each code's HTTP status and hint as the catalog has them", () => {
    for (const code of codes) {
      const body = section(code);
      const status = body.match(/\*\*HTTP status:\*\* (\d{3})/);
      assert.ok(status, `${code}: no "**HTTP status:** NNN" line`);
      assert.equal(
        Number(status[1]),
        ERRORS[code].status,
        `${code}: documented status differs from the catalog`,
      );
      assert.ok(
        squash(body).includes(squash(ERRORS[code].hint)),
        `${code}: the catalog's hint is not in its section`,
      );
    }
  });
});
