// The honeypot configuration section: defaults, banners, and bad values refused with the reason.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asNode } from '../../config/types.ts';
import { checkConfigValue } from '../../config/validate.ts';
import { bannerBytes, decodeHoneypotConfig, HONEYPOT_DEFAULTS, HoneypotConfigSchema } from './config.ts';

test('config: defaults, banners, and bad values refused with the reason', () => {
  assert.deepEqual(HONEYPOT_DEFAULTS, {
    bind_address: '0.0.0.0',
    tcp_ports: [],
    udp_ports: [],
    capture_bytes: 4096,
    capture_timeout: 5000,
    max_connections: 256,
    max_connections_per_source: 8,
    source_attempts_per_s: 5,
    source_attempt_burst: 20,
    udp_replies_per_source_per_s: 1,
    udp_reply_burst: 3,
    max_buffered_bytes: 4 * 1024 * 1024,
    max_events_per_s: 1000,
    max_tracked_sources: 65536,
    max_retasked_ports: 16,
    max_retask_duration: 24 * 3600_000,
  });
  const c = decodeHoneypotConfig({
    tcp_ports: [
      { port: 22, banner: 'SSH-2.0-x\r\n' },
      { port: 445, banner_hex: '00FF' },
    ],
  });
  assert.deepEqual(bannerBytes(c.tcp_ports[0]), Buffer.from('SSH-2.0-x\r\n'));
  assert.deepEqual(bannerBytes(c.tcp_ports[1]), Buffer.from([0, 255]));
  assert.equal(
    decodeHoneypotConfig({ capture_bytes: '64KiB', capture_timeout: '250ms' }).capture_timeout,
    250,
  );
  assert.throws(() => decodeHoneypotConfig({ tcp_ports: [{ port: 70000 }] }));
  assert.throws(() => decodeHoneypotConfig({ tcp_ports: [{ port: 22, banner_hex: 'abc' }] }));
  assert.throws(() => decodeHoneypotConfig({ capture_bytes: '2MiB' }));

  const problems = checkConfigValue(
    asNode(HoneypotConfigSchema),
    {
      tcp_ports: [{ port: 23 }, { port: 2323 }, { port: 23 }],
      udp_ports: [{ port: 53, banner: 'x', banner_hex: '78' }],
      capture_timeout: 5,
      bind_address: '',
    },
    { label: (path) => ['honeypot', ...path].join('.'), locate: () => undefined },
  );
  assert.deepEqual(
    problems.map((p) => `${p.path}: ${p.message}`),
    [
      'honeypot.tcp_ports: port 23 is listed twice',
      'honeypot.udp_ports: item 1 sets both banner and banner_hex; keep one',
      'honeypot.capture_timeout: must be a duration such as "30s", "5m" or "1h"; got 5 (a number needs a unit: ms, s, m, h or d)',
      'honeypot.bind_address: must not be empty; use "0.0.0.0" or "::" to listen on all interfaces',
    ],
  );
});
