// `portent import`: bulk-loads NDJSON event files through the collector's validation into the store.

import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { PortentError } from '../core/errors.ts';
import type { EventBatch } from '../core/event.ts';
import { parseNdjsonEvents } from '../core/wire/ndjson.ts';
import type { PortentConfig } from '../config/schema.ts';
import { VERSION, openEmbeddedStores } from './embedded.ts';
import { Progress } from './progress.ts';

const CHUNK_LINES = 10_000;

export interface ImportOptions {
  config: PortentConfig;
  files: string[];
  sensorName: string;
  out: (line: string) => void;
}

/** A UUID derived from the sensor, file and chunk content: re-importing is idempotent. */
function chunkBatchId(sensor: string, lines: string[]): string {
  const h = createHash('sha256').update(sensor).update('\n');
  for (const l of lines) h.update(l).update('\n');
  const b = h.digest();
  b[6] = (b[6] & 0x0f) | 0x50; // version 5-style (name-based)
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = b.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export async function runImport(opts: ImportOptions): Promise<number> {
  const stores = await openEmbeddedStores(opts.config);
  try {
    const sensor =
      (await stores.state.findSensor(opts.sensorName)) ??
      (await stores.state.addSensor(opts.sensorName, Date.now()));
    if (sensor.revoked !== null)
      throw new PortentError('USAGE', {
        message: `Sensor "${opts.sensorName}" is revoked; import under another --sensor name.`,
      });
    const totalBytes = opts.files.reduce((sum, f) => sum + statSync(f).size, 0);
    const progress = new Progress(totalBytes);
    let stored = 0;
    let duplicate = 0;
    let events = 0;
    let seq = 0;
    for (const file of opts.files) {
      const input = createReadStream(file);
      input.on('data', (d) => progress.advance(d.length));
      const lines = createInterface({
        input: file.endsWith('.gz') ? input.pipe(createGunzip()) : input,
        crlfDelay: Infinity,
      });
      let chunk: string[] = [];
      let firstLine = 1;
      let lineNo = 0;
      const flush = async () => {
        if (chunk.length === 0) return;
        const parsed = parseNdjsonEvents(chunk, { firstLine });
        if (parsed.problems.length > 0) {
          throw new PortentError('IMPORT_INVALID', {
            message: `${file}: lines ${firstLine}-${firstLine + chunk.length - 1} have invalid events; nothing from them was stored.`,
            details: parsed.problems.map((p) => ({ path: `${file}${p.path}`, message: p.message })),
          });
        }
        const batch: EventBatch = {
          batchId: chunkBatchId(sensor.id, chunk),
          seq: seq++,
          created: Date.now(),
          software: `portent-import/${VERSION}`,
          events: parsed.columns,
        };
        const [outcome] = await stores.events.append([{ sensor: sensor.num, batch, received: Date.now() }]);
        if (outcome.status === 'stored') {
          stored++;
          events += batch.events.length;
        } else duplicate++;
        firstLine = lineNo + 1;
        chunk = [];
      };
      for await (const line of lines) {
        lineNo++;
        chunk.push(line);
        if (chunk.length >= CHUNK_LINES) await flush();
      }
      await flush();
    }
    progress.done();
    opts.out(
      `Imported ${events} events in ${stored} batches from ${opts.files.length} file(s) as sensor "${sensor.name}"${duplicate ? `; ${duplicate} batches were already stored` : ''}.`,
    );
    return 0;
  } finally {
    await stores.close();
  }
}
