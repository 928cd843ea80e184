// What tests need from the machine (Debian packages), and how a test skips when it is missing.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

/** Command → the Debian package that provides it; scripts/test.ts installs the missing ones. */
export const REQUIRED_PACKAGES: Record<string, string> = {
  tcpdump: 'tcpdump',
  nmap: 'nmap',
  hping3: 'hping3',
  masscan: 'masscan',
  ip: 'iproute2',
};

export function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

export function missingCommands(): string[] {
  return Object.keys(REQUIRED_PACKAGES).filter((c) => !hasCommand(c));
}

/**
 * True when every command is present. Otherwise skips the test saying what is missing, or, under
 * CI=true where the test command installs them, fails it: a skipped service test must not pass CI.
 */
export function requireCommands(t: TestContext, ...commands: string[]): boolean {
  const missing = commands.filter((c) => !hasCommand(c));
  if (missing.length === 0) return true;
  const why = `needs ${missing.join(', ')} (Debian: apt-get install ${missing.map((c) => REQUIRED_PACKAGES[c] ?? c).join(' ')})`;
  if (process.env.CI === 'true') assert.fail(`${why}; CI must run every test`);
  t.skip(why);
  return false;
}

/** True when this process may open raw sockets and network namespaces (root, or CAP_NET_RAW/ADMIN). */
export function canUseRawNetwork(): boolean {
  return process.getuid?.() === 0;
}
