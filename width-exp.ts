import { DuckDBDatabase } from './src/storage/duckdb/database.ts';
import { RowAppender } from './src/storage/duckdb/rows.ts';
import { TIMESTAMP_MS, UINTEGER, UBIGINT, UHUGEINT, USMALLINT, UTINYINT, INTEGER, SMALLINT } from '@duckdb/node-api';
import { rmSync } from 'node:fs';
const N = 2_000_000;
const time = new Float64Array(N).map((_, i) => Date.now() - 60000 + (i % 60000));
const src16 = new Uint32Array(N * 4); const src4 = new Uint32Array(N);
for (let i = 0; i < N; i++) { const v = (Math.random() * 2 ** 32) >>> 0; src16[4 * i] = v; src16[4 * i + 1] = 0xffff; src4[i] = v; }
const port = new Uint16Array(N).map(() => Math.random() * 65536);
const small = new Uint8Array(N).fill(6);
const ing = new Float64Array(N).map((_, i) => Math.floor(i / 5000));
for (const variant of ['u128', 'u32'] as const) {
  rmSync('/tmp/exp/w.duckdb', { force: true }); rmSync('/tmp/exp/w.duckdb.wal', { force: true });
  const db = await DuckDBDatabase.open({ path: '/tmp/exp/w.duckdb' });
  const con = await db.connect();
  const at = variant === 'u128' ? 'UHUGEINT' : 'UINTEGER';
  await con.run(`CREATE TABLE e (t TIMESTAMP_MS, ing UBIGINT, src ${at}, dst ${at}, sport USMALLINT, dport USMALLINT, proto UTINYINT, flags UTINYINT, c UINTEGER, s UINTEGER)`);
  const A = variant === 'u128' ? UHUGEINT : UINTEGER;
  const ra = new RowAppender([TIMESTAMP_MS, UBIGINT, A, A, USMALLINT, USMALLINT, UTINYINT, UTINYINT, UINTEGER, UINTEGER], ['i64', 'i64', variant, variant, 'u16', 'u16', 'u8', 'u8', 'u32', 'u32']);
  const ones = new Uint32Array(N).fill(1);
  const app = await con.createAppender('e');
  const t0 = performance.now();
  let cpu0 = process.cpuUsage();
  const S = src16; const X = variant === 'u128' ? S : src4;
  for (let k = 0; k < 5; k++) {
    for (let off = 0; off < N; off += 100_000) {
      await con.run('BEGIN');
      const n = 100_000;
      const sl = (a: any, w = 1) => a.subarray(off * w, (off + n) * w);
      ra.append(app, n, [sl(time), sl(ing), sl(X, variant === 'u128' ? 4 : 1), sl(X, variant === 'u128' ? 4 : 1), sl(port), sl(port), sl(small), sl(small), sl(ones), sl(ones)]);
      app.flushSync();
      await con.run('COMMIT');
    }
  }
  const el = (performance.now() - t0) / 1000; const cpu = process.cpuUsage(cpu0);
  console.log(variant, 'rows/s', Math.round(5 * N / el), 'cpu s', ((cpu.user + cpu.system) / 1e6).toFixed(1), 'wall', el.toFixed(1));
  db.close();
}
