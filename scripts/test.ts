// The whole test suite: provisions the Debian packages tests need, then Node's test runner over every *.test.ts.
//
// Packages are installed only when missing and when this process can (root and apt-get); otherwise
// the tests that need them skip and say why, and under CI=true such a skip is a failure.

import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';
import { REQUIRED_PACKAGES, missingCommands } from '../test/support/requires.ts';

function provision(): void {
  const missing = missingCommands();
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((c) => REQUIRED_PACKAGES[c]))];
  const canInstall = process.getuid?.() === 0 && spawnSync('apt-get', ['--version']).status === 0;
  if (!canInstall) {
    console.log(
      `Not installing ${packages.join(' ')} (needs root and apt-get): tests that use them will skip.`,
    );
    return;
  }
  console.log(`Installing Debian packages the tests need: ${packages.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], {
    stdio: 'inherit',
    env,
  });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
    r = spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], {
      stdio: 'inherit',
      env,
    });
  }
  if (r.status !== 0)
    console.log(`apt-get could not install ${packages.join(' ')}: tests that use them will skip.`);
}

provision();
const files = [...globSync('src/**/*.test.ts'), ...globSync('test/**/*.test.ts')].sort();
const args = [
  '--test',
  '--test-reporter=spec',
  `--test-concurrency=${process.env.PORTENT_TEST_CONCURRENCY ?? 2}`,
  ...process.argv.slice(2),
];
const result = spawnSync(process.execPath, [...args, ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
