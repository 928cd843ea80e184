// The version of this Portent, from package.json (the same path from src/bin and from dist/bin).

import { readFileSync } from 'node:fs';

export const VERSION: string = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
).version;
