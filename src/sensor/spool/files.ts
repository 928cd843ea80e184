// Durable small-file writes and the spool directory's lock: the file-system steps the spool's promises rest on.

import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PortentError } from '../../core/errors.ts';

/** Makes a directory's entries (new, renamed or removed files) survive a power loss. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `path` with `data` so that after a crash the file holds either the old or the new content,
 * whole: write a temporary file, fsync it, rename it over the old one, fsync the directory.
 */
export async function writeFileAtomic(dir: string, name: string, data: string | Uint8Array): Promise<void> {
  const path = join(dir, name);
  const temp = `${path}.tmp`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
  await syncDir(dir);
}

/** Directories this process holds, so that a second open in the same process is refused too. */
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the directory's lock file, holding this process's id. A lock whose process is gone (the
 * sensor was killed) is taken over; one whose process runs is SPOOL_LOCKED. Returns the release.
 */
export async function lockDir(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, 'lock');
  if (held.has(dir)) throw lockedError(dir, process.pid);
  const mine = `${process.pid}\n`;
  try {
    // Exclusive create: of two sensors started at once on a fresh directory, one wins.
    await writeFile(path, mine, { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const holder = Number((await readFile(path, 'utf8')).trim());
    if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && alive(holder))
      throw lockedError(dir, holder);
    await writeFileAtomic(dir, 'lock', mine);
  }
  held.add(dir);
  return async () => {
    held.delete(dir);
    await rm(path, { force: true });
  };
}

function lockedError(dir: string, pid: number): PortentError {
  return new PortentError('SPOOL_LOCKED', {
    message: `The spool directory ${dir} is in use by process ${pid}.`,
  });
}
