// Check Point Log Exporter syslog lines ("… CheckPoint 19710 - [action:"Drop"; src:"…"; dst:"…"; proto:"6"; s_port:"…"; service:"22"; …]") for dropped and accepted connections.
//
// The record is a list of key:"value" pairs in an RFC 5424 structured-data-like bracket. Records
// whose action is not about letting a connection through or not (Encrypt, Key Install, Login,
// Detect, …) and records without a protocol (IKE and management events) are skips.

import type { ActionName } from '../../core/event.ts';
import { address, eventResult, firewallEvent, protoNumber, scoreSample, uint } from './fields.ts';
import { ClockedLineParser } from './syslog-time.ts';
import type { LineFormat, ParseResult } from './types.ts';

const SKIP_EMPTY: ParseResult = { kind: 'skip', reason: 'empty line' };
const SKIP_OTHER: ParseResult = { kind: 'skip', reason: 'not a Check Point log line' };
const SKIP_NO_PROTO: ParseResult = {
  kind: 'skip',
  reason: 'Check Point record without a protocol (VPN, IKE or management event)',
};

function actionOf(text: string): ActionName | null {
  switch (text.toLowerCase()) {
    case 'drop':
    case 'reject':
    case 'block':
      return 'blocked';
    case 'accept':
    case 'allow':
      return 'accepted';
    default:
      return null;
  }
}

/** key:"value" pairs, later duplicates ignored; a Map so that hostile keys stay plain data. */
function pairs(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /(?:^|[\s;[])([A-Za-z_][A-Za-z0-9_:]*?):"((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (!out.has(m[1])) out.set(m[1], m[2]);
  }
  return out;
}

class CheckpointParser extends ClockedLineParser {
  readonly format = 'checkpoint' as const;
  protected parseLine(line: string): ParseResult {
    if (line.trim() === '') return SKIP_EMPTY;
    const text = line.length > 8192 ? line.slice(0, 8192) : line;
    const open = text.indexOf('[');
    if (open < 0 || !/\bCheckPoint\b/.test(text.slice(0, open))) return SKIP_OTHER;
    const f = pairs(text.slice(open));
    const actionText = f.get('action');
    if (actionText === undefined) return SKIP_OTHER;
    const action = actionOf(actionText);
    if (action === null) {
      return {
        kind: 'skip',
        reason: `Check Point action "${actionText.slice(0, 24)}" is not accept or drop`,
      };
    }
    const protoText = f.get('proto');
    if (protoText === undefined) return SKIP_NO_PROTO;
    const proto = protoNumber(protoText);
    if (proto < 0) return { kind: 'error', message: 'unreadable proto' };
    const src = address(f.get('src') ?? '');
    const dst = address(f.get('dst') ?? '');
    if (src === null || dst === null) return { kind: 'error', message: 'unreadable src or dst' };
    let srcPort: number;
    let dstPort: number;
    if (proto === 1 || proto === 58) {
      srcPort = Math.max(0, uint(f.get('icmp_type') ?? '0', 255));
      dstPort = Math.max(0, uint(f.get('icmp_code') ?? '0', 255));
    } else {
      srcPort = f.has('s_port') ? uint(f.get('s_port')!, 65535) : 0;
      dstPort = f.has('service') ? uint(f.get('service')!, 65535) : 0;
      if (srcPort < 0 || dstPort < 0) return { kind: 'error', message: 'unreadable s_port or service' };
    }
    const time = this.timeOf(text, f.get('time'));
    if (Number.isNaN(time)) return { kind: 'error', message: 'unreadable time' };
    return eventResult(
      this.now,
      firewallEvent(time, src, srcPort, dst, dstPort, proto, 0, action, null, null, null, null, 1),
    );
  }

  /** The record's own time:"epoch seconds", else the RFC 5424 stamp (after "<pri>1 " or a bare "1 "). */
  private timeOf(text: string, epoch: string | undefined): number {
    if (epoch !== undefined) {
      const s = uint(epoch, 0xffffffff);
      return s < 0 ? Number.NaN : s * 1000;
    }
    const t = this.clock.header(text);
    if (!Number.isNaN(t)) return t;
    if (text.startsWith('1 ')) return this.clock.iso(text, 2);
    return this.now;
  }
}

const LINE_PATTERN = /\bCheckPoint \S+ \S+ \[[A-Za-z_]+:"/;

export const checkpointFormat: LineFormat = {
  name: 'checkpoint',
  detect(sample) {
    return scoreSample(sample, (line) => LINE_PATTERN.test(line), 'Check Point Log Exporter');
  },
  create(ctx) {
    return new CheckpointParser(ctx);
  },
};
