// What the tailer remembers about a file across restarts: its identity (device, inode, a hash of its first
// bytes), the confirmed read position, and finding that file again after rotation or inode reuse.

import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { open, readdir, readFile, rename, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** How many leading bytes identify a file's content; a file shorter than this is identified by all of it. */
export const HEAD_BYTES = 1024;

/**
 * Which file, independent of its name. The inode says which file it is now; the head hash tells a reused
 * inode (new content) from the same file, and finds a copy (copytruncate) whose inode differs.
 */
export interface FileIdentity {
  /** Device and inode numbers as decimal strings: inodes can exceed 2^53. */
  dev: string;
  ino: string;
  /** How many leading bytes `headHash` covers (less than HEAD_BYTES while the file was shorter). */
  headBytes: number;
  /** SHA-256 of the first `headBytes` bytes, hex. */
  headHash: string;
}

/** The persisted read position of one tailed path. */
export interface TailState {
  version: 1;
  /** The path tailed; a state file written for another path is not used. */
  path: string;
  /**
   * The file the last confirmed line came from and the offset just past that line; null when the path
   * has been tailed but no file was read yet (a file that then appears is read from its start).
   */
  file: (FileIdentity & { offset: number }) | null;
  /** Files already seen to follow `file` (rotated in while its lines were unconfirmed), in order. */
  next: FileIdentity[];
}

export function sameInode(a: { dev: string; ino: string }, st: BigIntStats): boolean {
  return a.dev === String(st.dev) && a.ino === String(st.ino);
}

/** SHA-256 of the first `length` bytes of an open file, or undefined when it is shorter. */
export async function headHashOf(fh: FileHandle, length: number): Promise<string | undefined> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, got);
    if (bytesRead === 0) return undefined;
    got += bytesRead;
  }
  return createHash('sha256').update(buf).digest('hex');
}

/** The identity of an open file whose stat is `st`, hashing up to HEAD_BYTES of it. */
export async function identify(fh: FileHandle, st: BigIntStats): Promise<FileIdentity> {
  const head = Buffer.alloc(HEAD_BYTES);
  const { bytesRead } = await fh.read(head, 0, HEAD_BYTES, 0);
  const headHash = createHash('sha256').update(head.subarray(0, bytesRead)).digest('hex');
  return { dev: String(st.dev), ino: String(st.ino), headBytes: bytesRead, headHash };
}

/** True when the open file still starts with the bytes `id` hashed. */
export async function sameHead(fh: FileHandle, id: FileIdentity): Promise<boolean> {
  return (await headHashOf(fh, id.headBytes)) === id.headHash;
}

/** A file found again: open, with its stat. The caller closes it. */
export interface Located {
  fh: FileHandle;
  st: BigIntStats;
  /** True when found by inode; false when it is a copy found by its content (copytruncate). */
  sameInode: boolean;
}

/**
 * The path and its siblings that rotation may have renamed it to: files in the same directory whose
 * names start with the path's name ("fw.log.1", "fw.log-20260101"). Sibling names in sorted order.
 */
export async function candidatePaths(path: string): Promise<string[]> {
  const dir = dirname(path);
  const name = basename(path);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return [
    path,
    ...names
      .filter((n) => n !== name && n.startsWith(name))
      .sort()
      .map((n) => join(dir, n)),
  ];
}

/**
 * Finds the file `id` names, at least `minSize` bytes long: by inode and head first (the same file,
 * perhaps renamed), else by head alone in a file of another inode (the copy copytruncate left),
 * never a gzip file. `exclude` lists inodes not to return (files already open).
 */
export async function locate(
  path: string,
  id: FileIdentity,
  minSize: number,
  exclude: readonly { dev: string; ino: string }[] = [],
): Promise<Located | undefined> {
  let copy: Located | undefined;
  for (const candidate of await candidatePaths(path)) {
    let fh: FileHandle | undefined;
    try {
      fh = await open(candidate, 'r');
      const st = await fh.stat({ bigint: true });
      const keep =
        st.isFile() &&
        st.size >= BigInt(minSize) &&
        !exclude.some((e) => sameInode(e, st)) &&
        (await sameHead(fh, id));
      if (keep && sameInode(id, st)) {
        await copy?.fh.close();
        return { fh, st, sameInode: true };
      }
      // A copy is only a copy when something of the content identifies it.
      if (keep && copy === undefined && id.headBytes > 0 && !(await isGzip(fh))) {
        copy = { fh, st, sameInode: false };
        continue;
      }
      await fh.close();
    } catch {
      await fh?.close().catch(() => {});
    }
  }
  return copy;
}

/**
 * Siblings of `path` created from `afterNs` to `beforeNs` (birth times in ns), oldest first, excluding
 * gzip files and `exclude`: the files a rotation made while the tailer was stopped, between the file it
 * was reading and the file now at the path. Empty where the file system keeps no birth time. The bounds
 * are inclusive and ties are ordered by inode because file times tick coarsely (a few ms on Linux). A file
 * whose first bytes are those of a `known` file is left out: it is a copy of content already followed.
 */
export async function rotatedBetween(
  path: string,
  afterNs: bigint,
  beforeNs: bigint,
  exclude: readonly { dev: string; ino: string }[],
  known: readonly FileIdentity[],
): Promise<Located[]> {
  if (!(afterNs > 0n && beforeNs >= afterNs)) return [];
  const found: Located[] = [];
  for (const candidate of (await candidatePaths(path)).slice(1)) {
    let fh: FileHandle | undefined;
    try {
      fh = await open(candidate, 'r');
      const st = await fh.stat({ bigint: true });
      const born = st.birthtimeNs;
      if (
        st.isFile() &&
        born >= afterNs &&
        born <= beforeNs &&
        !exclude.some((e) => sameInode(e, st)) &&
        !(await isGzip(fh)) &&
        !(await startsLikeAny(fh, known))
      ) {
        found.push({ fh, st, sameInode: true });
        continue;
      }
      await fh.close();
    } catch {
      await fh?.close().catch(() => {});
    }
  }
  return found.sort((a, b) => Number(a.st.birthtimeNs - b.st.birthtimeNs) || Number(a.st.ino - b.st.ino));
}

/** True when the file starts with the first bytes of one of `ids` (ids covering no bytes match nothing). */
async function startsLikeAny(fh: FileHandle, ids: readonly FileIdentity[]): Promise<boolean> {
  const head = Buffer.alloc(HEAD_BYTES);
  const { bytesRead } = await fh.read(head, 0, HEAD_BYTES, 0);
  return ids.some(
    (id) =>
      id.headBytes > 0 &&
      id.headBytes <= bytesRead &&
      createHash('sha256').update(head.subarray(0, id.headBytes)).digest('hex') === id.headHash,
  );
}

async function isGzip(fh: FileHandle): Promise<boolean> {
  const head = Buffer.alloc(2);
  const { bytesRead } = await fh.read(head, 0, 2, 0);
  return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/** The state saved at `statePath`, undefined when there is none; throws when it exists but is unreadable. */
export async function loadTailState(statePath: string): Promise<TailState | undefined> {
  let text: string;
  try {
    text = await readFile(statePath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const state = JSON.parse(text) as TailState;
  if (state?.version !== 1 || typeof state.path !== 'string' || !Array.isArray(state.next)) {
    throw new Error(`${statePath} is not a tail state file`);
  }
  return state;
}

/**
 * Replaces the state file atomically: a reader (or a restart after a crash or power loss) sees the old
 * state or the new one, never a mix. Write a temporary file, fsync it, rename it over, fsync the directory.
 */
export async function saveTailState(statePath: string, state: TailState): Promise<void> {
  const tmp = `${statePath}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(JSON.stringify(state) + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, statePath);
  const dir = await open(dirname(statePath), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** The stat of `path`, or undefined when nothing is there. */
export async function statIfExists(path: string): Promise<BigIntStats | undefined> {
  try {
    return await stat(path, { bigint: true });
  } catch (err) {
    if (
      (err as NodeJS.ErrnoException).code === 'ENOENT' ||
      (err as NodeJS.ErrnoException).code === 'ENOTDIR'
    ) {
      return undefined;
    }
    throw err;
  }
}
