// The whole test suite: Node's test runner over every *.test.ts in src/ and test/.
// Later this also provisions the services the cluster tests need (NATS, ClickHouse, PostgreSQL,
// Chromium) from Debian packages, on free loopback ports in temporary directories.

import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';

const files = [...globSync('src/**/*.test.ts'), ...globSync('test/**/*.test.ts')].sort();
const args = [
  '--test',
  '--test-reporter=spec',
  `--test-concurrency=${process.env.PORTENT_TEST_CONCURRENCY ?? 2}`,
  ...process.argv.slice(2),
];
const result = spawnSync(process.execPath, [...args, ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
