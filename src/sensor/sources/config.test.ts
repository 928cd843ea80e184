// The file source configuration: defaults, decoding to tailer options, and bad values refused with the reason.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asNode } from '../../config/types.ts';
import { checkConfigValue } from '../../config/validate.ts';
import { decodeFileSourceConfig, FileSourceConfigSchema, tailOptionsFrom, tailStatePath } from './config.ts';

test('file source config: defaults and tailer options', () => {
  const source = decodeFileSourceConfig({ path: '/var/log/ufw.log' });
  assert.deepEqual(source, {
    path: '/var/log/ufw.log',
    format: 'auto',
    start_at: 'end',
    poll_interval: 1000,
    watch: true,
    max_line_bytes: 64 * 1024,
    rotate_wait: 5000,
    partial_line_timeout: 0,
  });
  const custom = decodeFileSourceConfig({
    path: '/var/log/suricata/eve.json',
    format: 'suricata-eve',
    start_at: 'beginning',
    poll_interval: '250ms',
    watch: false,
    max_line_bytes: '1MiB',
    rotate_wait: '0s',
    partial_line_timeout: '30s',
  });
  const opts = tailOptionsFrom(custom, '/var/lib/portent');
  assert.deepEqual(
    { ...opts, statePath: undefined },
    {
      path: '/var/log/suricata/eve.json',
      statePath: undefined,
      startAt: 'beginning',
      pollIntervalMs: 250,
      watch: false,
      maxLineBytes: 1024 * 1024,
      rotateWaitMs: 0,
      partialLineTimeoutMs: 30_000,
      clock: undefined,
    },
  );
  assert.match(opts.statePath, /^\/var\/lib\/portent\/tail-[0-9a-f]{16}\.json$/);
  assert.equal(opts.statePath, tailStatePath('/var/lib/portent', '/var/log/suricata/eve.json'));
  assert.notEqual(opts.statePath, tailStatePath('/var/lib/portent', '/var/log/ufw.log'));
});

test('file source config: bad values are refused with the reason', () => {
  assert.throws(() => decodeFileSourceConfig({}), /path/);
  assert.throws(() => decodeFileSourceConfig({ path: '/x', format: 'pcap' }), /format/);
  assert.throws(() => decodeFileSourceConfig({ path: '/x', follow: true }), /follow|additional/i);
  const problems = checkConfigValue(
    asNode(FileSourceConfigSchema),
    { path: '/x', poll_interval: 5, max_line_bytes: '16MB', start_at: 'middle', rotate_wait: '2h' },
    { label: (path) => ['source', ...path].join('.'), locate: () => undefined },
  );
  assert.deepEqual(
    problems.map((p) => p.path),
    ['source.poll_interval', 'source.max_line_bytes', 'source.start_at', 'source.rotate_wait'],
  );
  const messages = problems.map((p) => p.message).join('\n');
  assert.match(messages, /a number needs a unit/);
  assert.match(messages, /did you mean "16MiB"\?/);
  assert.match(messages, /from 0s to 1h; got "2h"/);
});
