// Where the shared real-data corpus is: PORTENT_CORPUS, else ../shared/data beside the repository; null when absent.

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const REPO_ROOT = new URL('../../', import.meta.url).pathname;

/** The corpus folder, or null so tests can skip saying why. */
export function corpusDir(): string | null {
  const dir = process.env.PORTENT_CORPUS ?? resolve(REPO_ROOT, '../shared/data');
  return existsSync(dir) ? dir : null;
}

export const NO_CORPUS = 'real-data corpus not found: set PORTENT_CORPUS or place it at ../shared/data';
