// A real `portent server` in a child process on a free loopback port, for tests that kill it.

import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;

/** A TCP port nothing listens on right now, on `host`. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
      .on('error', reject)
      .listen(0, host, () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
  });
}

/** Starts `portent server` with its store in `dir` and resolves once it answers /api/v1/health. */
export async function startServerProcess(
  dir: string,
  port: number,
  adminToken: string,
  env: Record<string, string> = {},
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(root, 'src/bin/portent.ts'), 'server'], {
    env: {
      ...process.env,
      PORTENT_STORAGE_PATH: join(dir, 'portent.duckdb'),
      PORTENT_SERVER_LISTEN_PORT: String(port),
      PORTENT_SERVER_ADMIN_TOKEN: adminToken,
      PORTENT_SERVER_LOG_LEVEL: 'error',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  // Poll until it answers: the process start is the only thing waited for.
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`portent server exited (${child.exitCode ?? child.signalCode})`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/api/v1/health`)).ok) return child;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('portent server did not start');
}

/** Resolves once the child has exited (at once if it already has). */
export const exited = (child: ChildProcess): Promise<unknown> =>
  new Promise((r) =>
    child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r),
  );
