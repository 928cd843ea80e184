// Live capture: runs `tcpdump -i IFACE -U -w - FILTER` (libpcap does the capturing) and reads its pcap stream.
//
// tcpdump rather than a native libpcap binding: it is in every distribution, needs no compiler at
// install time, and its privilege model (root, CAP_NET_RAW, or file capabilities on the binary) is
// the one administrators already know. When it cannot run, the error says why and what to do.

import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { ParseResult } from '../parsers/types.ts';
import { readCapture, type CaptureContext } from './reader.ts';

export type LiveCaptureFailure =
  'not-installed' | 'no-permission' | 'no-such-interface' | 'bad-filter' | 'bad-option' | 'failed';

export class LiveCaptureError extends Error {
  readonly reason: LiveCaptureFailure;

  constructor(reason: LiveCaptureFailure, message: string) {
    super(message);
    this.name = 'LiveCaptureError';
    this.reason = reason;
  }
}

export interface LiveCaptureOptions {
  /** Interface name as `ip link` shows it, or "any" (Linux cooked capture of every interface). */
  iface: string;
  /** A pcap-filter(7) expression, e.g. "tcp[tcpflags] & tcp-syn != 0 or udp"; none captures everything. */
  filter?: string;
  /** The tcpdump executable; found on PATH when not given. */
  tcpdumpPath?: string;
  /** How long to wait for tcpdump to report that it is listening. */
  startTimeoutMs?: number;
  /** Supplies "now" to the event checks; a getter so a long capture keeps a current clock. */
  ctx?: CaptureContext;
}

export interface LiveCapture {
  /** Results as packets arrive; ends after stop() or when tcpdump exits (with an error result saying why). */
  results(): AsyncGenerator<ParseResult>;
  /** Stops tcpdump (SIGTERM, so it flushes what it captured) and waits for it to exit. */
  stop(): Promise<void>;
  readonly pid: number | undefined;
}

/** Names tcpdump accepts as interfaces; anything else (a leading "-", spaces) is refused before spawning. */
const IFACE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:@+-]{0,63}$/;

/** The first executable called `name` on the PATH, or null. */
export function findExecutable(name: string, path: string = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** True when this process is root or holds CAP_NET_RAW (bit 13 of CapEff), so tcpdump started from it may capture. */
export function processMayCapture(): boolean {
  if (process.getuid?.() === 0) return true;
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
    return m !== null && (BigInt(`0x${m[1]}`) & (1n << 13n)) !== 0n;
  } catch {
    return false;
  }
}

const NEEDS_PRIVILEGE =
  'capturing needs root or CAP_NET_RAW: run the sensor as root, grant the sensor CAP_NET_RAW ' +
  '(systemd AmbientCapabilities=CAP_NET_RAW), or give tcpdump the capability (setcap cap_net_raw+ep $(which tcpdump))';

/** Turns what tcpdump printed before it exited into an error that says what to do. */
export function explainTcpdumpFailure(
  stderr: string,
  exitCode: number | null,
  iface: string,
): LiveCaptureError {
  const said = stderr.trim().split('\n').slice(-3).join(' / ').slice(0, 500);
  if (/permission|Operation not permitted/i.test(stderr)) {
    return new LiveCaptureError(
      'no-permission',
      `tcpdump may not capture on ${iface}: ${NEEDS_PRIVILEGE} (tcpdump said: ${said})`,
    );
  }
  if (/No such device|doesn't exist|No such interface|not up/i.test(stderr)) {
    return new LiveCaptureError(
      'no-such-interface',
      `no usable interface ${iface} (tcpdump said: ${said}); list them with \`ip link\``,
    );
  }
  if (/syntax error|parse filter|filter expression|illegal|unknown (host|port|protocol)/i.test(stderr)) {
    return new LiveCaptureError(
      'bad-filter',
      `the capture filter is not valid pcap-filter(7) syntax (tcpdump said: ${said})`,
    );
  }
  const how = exitCode === null ? 'was killed' : `exited with code ${exitCode}`;
  return new LiveCaptureError(
    'failed',
    `tcpdump ${how} before capturing${said === '' ? '' : ` (tcpdump said: ${said})`}`,
  );
}

/**
 * Starts tcpdump on the interface and resolves once it reports that it is listening; rejects with a
 * LiveCaptureError when tcpdump is missing, may not capture, or refuses the interface or filter.
 */
export function startLiveCapture(opts: LiveCaptureOptions): Promise<LiveCapture> {
  if (!IFACE_NAME.test(opts.iface)) {
    return Promise.reject(
      new LiveCaptureError('bad-option', `"${opts.iface.slice(0, 80)}" is not an interface name`),
    );
  }
  const tcpdump = opts.tcpdumpPath ?? findExecutable('tcpdump');
  if (tcpdump === null) {
    return Promise.reject(
      new LiveCaptureError(
        'not-installed',
        'tcpdump is not installed (or not on PATH); live capture runs it: install it with `apt-get install tcpdump`',
      ),
    );
  }
  // "--" ends the options, so a filter can never be read as one.
  const args = ['-i', opts.iface, '-U', '-w', '-', ...(opts.filter ? ['--', opts.filter] : [])];
  const ctx: CaptureContext = opts.ctx ?? {
    get now() {
      return Date.now();
    },
  };
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(tcpdump, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      reject(new LiveCaptureError('failed', `could not start ${tcpdump}: ${(e as Error).message}`));
      return;
    }
    let stderr = '';
    let started = false;
    let stopping = false;
    const exited = new Promise<number | null>((done) => child.once('close', (code) => done(code)));
    const timer = setTimeout(() => {
      if (started) return;
      child.kill('SIGKILL');
      reject(
        new LiveCaptureError(
          'failed',
          `tcpdump did not start listening within ${opts.startTimeoutMs ?? 10_000} ms`,
        ),
      );
    }, opts.startTimeoutMs ?? 10_000);
    child.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (started) return;
      const reason = e.code === 'ENOENT' ? 'not-installed' : e.code === 'EACCES' ? 'no-permission' : 'failed';
      const hint = reason === 'not-installed' ? ': install it with `apt-get install tcpdump`' : '';
      reject(new LiveCaptureError(reason, `could not run ${tcpdump} (${e.message})${hint}`));
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      stderr = (stderr + text).slice(-4096);
      if (!started && /listening on/.test(stderr)) {
        started = true;
        clearTimeout(timer);
        resolve(capture);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      if (!started) reject(explainTcpdumpFailure(stderr, code, opts.iface));
    });
    const capture: LiveCapture = {
      pid: child.pid,
      async *results() {
        if (child.stdout === null) return;
        yield* readCapture(child.stdout, ctx);
        const code = await exited;
        if (!stopping && code !== 0) {
          yield { kind: 'error', message: explainTcpdumpFailure(stderr, code, opts.iface).message };
        }
      },
      async stop() {
        stopping = true;
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
      },
    };
  });
}
