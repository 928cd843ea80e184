// Tests of the one-shot file reader and the line splitter under it: gzip by magic, progress, caps, bad bytes, damage.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { PortentError } from '../../core/errors.ts';
import { LineSplitter } from './line-splitter.ts';
import { readFileOnce, type ImportLine, type ImportProgress } from './once.ts';

const dir = mkdtempSync(join(tmpdir(), 'portent-once-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
function file(content: string | Buffer): string {
  const path = join(dir, `f${++fileNo}`);
  writeFileSync(path, content);
  return path;
}

async function readAll(path: string, opts: Parameters<typeof readFileOnce>[1] = {}): Promise<ImportLine[]> {
  const out: ImportLine[] = [];
  for await (const line of readFileOnce(path, opts)) out.push(line);
  return out;
}

const numbered = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1} ${'x'.repeat(i % 97)}`);

describe('LineSplitter', () => {
  it('gives the same lines and offsets however the bytes are chunked', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'é', '\n', '\r\n', '\r', 'xyz'), { maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 10 }),
        (parts, cuts) => {
          const bytes = Buffer.from(parts.join(''));
          const whole = new LineSplitter(1000);
          const expected = [...whole.push(bytes), whole.flush()];
          const pieces = new LineSplitter(1000);
          const got = [];
          for (let at = 0, i = 0; at < bytes.length; i++) {
            const next = Math.min(bytes.length, at + cuts[i % cuts.length]);
            got.push(...pieces.push(bytes.subarray(at, next)));
            at = next;
          }
          got.push(pieces.flush());
          assert.deepEqual(got, expected);
          const text = parts.join('');
          const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
          const wanted = text === '' ? [] : lines.map((l) => l.replace(/\r$/, ''));
          assert.deepEqual(
            got.filter((l) => l !== undefined).map((l) => l.text),
            wanted,
          );
        },
      ),
    );
  });

  it('ends each line at the offset just past its LF, counting from the start offset', () => {
    const s = new LineSplitter(100, 1000);
    assert.deepEqual(
      s.push(Buffer.from('ab\r\ncd\nef')).map((l) => [l.text, l.end, l.bytes]),
      [
        ['ab', 1004, 2],
        ['cd', 1007, 2],
      ],
    );
    assert.equal(s.partialBytes, 2);
    assert.deepEqual(s.flush(), { text: 'ef', end: 1009, truncated: false, bytes: 2 });
    assert.equal(s.flush(), undefined);
  });

  it('keeps only the first maxLineBytes of a long line, fed in any pieces', () => {
    const s = new LineSplitter(4);
    assert.deepEqual(s.push(Buffer.from('abc')), []);
    assert.deepEqual(s.push(Buffer.from('defgh')), []);
    const [line, next] = s.push(Buffer.from('ij\nok\n'));
    assert.deepEqual(line, { text: 'abcd', end: 11, truncated: true, bytes: 10 });
    assert.deepEqual(next, { text: 'ok', end: 14, truncated: false, bytes: 2 });
  });
});

describe('readFileOnce', () => {
  it('reads a plain file, the last line without a newline included', async () => {
    const lines = await readAll(file('one\ntwo\r\nthree'));
    assert.deepEqual(
      lines.map((l) => [l.lineNumber, l.text]),
      [
        [1, 'one'],
        [2, 'two'],
        [3, 'three'],
      ],
    );
  });

  it('gunzips by the magic bytes whatever the name, and reports progress in bytes on disk', async () => {
    const text = numbered(20_000).join('\n') + '\n';
    const path = file(gzipSync(text)); // no .gz suffix
    const seen: ImportProgress[] = [];
    const lines = await readAll(path, { onProgress: (p) => seen.push({ ...p }) });
    assert.deepEqual(
      lines.map((l) => l.text),
      numbered(20_000),
    );
    const last = seen.at(-1)!;
    assert.equal(last.bytesRead, last.totalBytes);
    assert.ok(last.totalBytes < Buffer.byteLength(text), 'progress counts compressed bytes');
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i].bytesRead >= seen[i - 1].bytesRead);
  });

  it('cuts a 1 MB line to the cap, counts it, and reads on', async () => {
    const path = file(`a\n${'y'.repeat(1024 * 1024)}\nb\n`);
    let progress: ImportProgress | undefined;
    const lines = await readAll(path, { maxLineBytes: 64 * 1024, onProgress: (p) => (progress = p) });
    assert.deepEqual(
      lines.map((l) => [l.text.length, l.truncated]),
      [
        [1, false],
        [64 * 1024, true],
        [1, false],
      ],
    );
    assert.equal(progress?.truncatedLines, 1);
  });

  it('replaces invalid UTF-8 instead of throwing', async () => {
    const path = file(Buffer.from([0x61, 0xff, 0xfe, 0x62, 0x0a, 0xc3, 0x0a, 0xe2, 0x82, 0xac, 0x0a]));
    assert.deepEqual(
      (await readAll(path)).map((l) => l.text),
      ['a\ufffd\ufffdb', '\ufffd', '€'],
    );
  });

  it('reports a gzip file truncated in the middle as IMPORT_UNREADABLE, after yielding what it could', async () => {
    const whole = gzipSync(numbered(50_000).join('\n') + '\n');
    const cutAt = Math.floor(whole.length / 2);
    const path = file(whole.subarray(0, cutAt));
    const lines: ImportLine[] = [];
    await assert.rejects(
      async () => {
        for await (const line of readFileOnce(path)) lines.push(line);
      },
      (err: unknown) => {
        assert.ok(err instanceof PortentError);
        assert.equal(err.code, 'IMPORT_UNREADABLE');
        assert.match(err.message, new RegExp(`^${path}: the gzip stream ends early`));
        assert.match(err.message, new RegExp(`after ${cutAt} of ${cutAt} compressed bytes`));
        assert.match(err.message, new RegExp(`${lines.length} complete lines read`));
        return true;
      },
    );
    assert.ok(lines.length > 10_000, `got ${lines.length} lines before the damage`);
    assert.deepEqual(
      lines.map((l) => l.text),
      numbered(lines.length),
      'every line yielded is whole and in order',
    );
  });

  it('reports corrupt gzip data and a missing file as IMPORT_UNREADABLE', async () => {
    const whole = gzipSync(numbered(1000).join('\n'));
    whole.fill(0x55, 20, 200);
    await assert.rejects(readAll(file(whole)), /the gzip stream is corrupt/);
    await assert.rejects(readAll(join(dir, 'absent')), (err: unknown) => {
      assert.ok(err instanceof PortentError && err.code === 'IMPORT_UNREADABLE');
      assert.match(err.message, /absent: cannot be opened: ENOENT/);
      return true;
    });
  });

  it('reads an empty file as no lines', async () => {
    assert.deepEqual(await readAll(file('')), []);
  });
});
