// Property tests: whatever bytes or JSON a hostile client sends, the compatibility readers answer with
// a frame, a problem or events, never another exception, and never hold more than their limits.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { T0 } from '../../../test/support/collector-harness.ts';
import { parseIscAuthorization } from './dshield-auth.ts';
import { DSHIELD_LOG_TYPES, decodeDShieldLogs, logRecords } from './dshield-logs.ts';
import { HPFEEDS_CHANNELS, decodeChannel } from './hpfeeds-channels.ts';
import {
  FrameError,
  FrameReader,
  HEADER_BYTES,
  readAuth,
  readPublish,
  readSubscribe,
} from './hpfeeds-protocol.ts';

const MAX_BODY = 1024;

/** JSON values with the field names the readers look for, so that deep paths are reached. */
const names = fc.constantFrom(
  'time',
  'sip',
  'dip',
  'proto',
  'sport',
  'dport',
  'flags',
  'timestamp',
  'source_ip',
  'url',
  'useragent',
  'method',
  'startTime',
  'peerIP',
  'peerPort',
  'hostIP',
  'hostPort',
  'hashes',
  'connection_type',
  'connection_transport',
  'remote_host',
  'remote_port',
  'local_host',
  'local_port',
  'saddr',
  'sport',
  'daddr',
  'src_ip',
  'src_port',
  'dst_ip',
  'dst_port',
  'remote',
  'local',
  'data_type',
  'data',
  'type',
  '__proto__',
  'constructor',
);
const leaf = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(
    '198.51.100.7',
    '2001:db8::1',
    '0.0.0.0',
    '::',
    '2026-01-01T11:00:00Z',
    '80',
    'S',
    'accept',
    'tcp',
  ),
);
const { json } = fc.letrec((tie) => ({
  json: fc.oneof(
    { depthSize: 'small' },
    leaf,
    fc.array(tie('json'), { maxLength: 4 }),
    fc.dictionary(names, tie('json'), { maxKeys: 6 }),
  ),
}));

describe('hostile input to the compatibility readers', () => {
  it('FrameReader: any byte stream gives frames within the limit or a FrameError', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), (chunks) => {
        const r = new FrameReader(MAX_BODY);
        try {
          for (const c of chunks) {
            r.push(Buffer.from(c));
            for (let f = r.next(); f !== null; f = r.next()) {
              assert.ok(f.op <= 5 && f.body.length <= MAX_BODY);
              for (const read of [readAuth, readPublish, readSubscribe]) {
                try {
                  read(f.body);
                } catch (e) {
                  assert.ok(e instanceof FrameError, String(e));
                }
              }
            }
            assert.ok(r.buffered <= HEADER_BYTES + MAX_BODY + 300);
          }
        } catch (e) {
          assert.ok(e instanceof FrameError, String(e));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('hpfeeds channels: any payload gives events or a problem', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...HPFEEDS_CHANNELS),
        fc.oneof(
          json.map((v) => JSON.stringify(v) ?? ''),
          fc.string(),
        ),
        (channel, text) => {
          const r = decodeChannel(channel, Buffer.from(text), T0);
          assert.ok('events' in r ? Array.isArray(r.events) : typeof r.problem === 'string');
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('DShield logs: any value gives events and problems, never an exception', () => {
    fc.assert(
      fc.property(fc.constantFrom(...DSHIELD_LOG_TYPES), json, (type, logs) => {
        const records = logRecords(type, logs);
        if (typeof records === 'string') return;
        const d = decodeDShieldLogs(type, records, T0, 20);
        assert.equal(d.records, records.length);
        assert.ok(d.events.length + d.problems.length <= records.length);
      }),
      { numRuns: 1000 },
    );
  });

  it('X-ISC-Authorization: any text parses or gives a reason', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string().map((s) => `ISC-HMAC-SHA256 Credentials=${s} Userid=1 Nonce=${s}`),
        ),
        (h) => {
          const r = parseIscAuthorization(h);
          assert.ok(typeof r === 'string' || r.credentials.length === 32);
        },
      ),
    );
  });
});
