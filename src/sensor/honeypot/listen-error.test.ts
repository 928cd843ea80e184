// Listener errors name the port and say what to do; EACCES cannot be provoked as root, so the wording is tested directly.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { listenErrorMessage } from './listen-error.ts';

test('listener errors say what to do', () => {
  const err = (code: string) => Object.assign(new Error(code), { code });
  assert.equal(
    listenErrorMessage('tcp', 23, '0.0.0.0', err('EACCES')),
    'the honeypot cannot listen on TCP port 23 at 0.0.0.0: ports below 1024 need privilege (EACCES). ' +
      'Either listen on a port of 1024 or more and redirect the low port to it ' +
      '(e.g. `iptables -t nat -A PREROUTING -p tcp --dport 23 -j REDIRECT --to-ports 10023`), ' +
      `or let this Node bind low ports (\`sudo setcap cap_net_bind_service=+ep ${process.execPath}\`).`,
  );
  assert.match(
    listenErrorMessage('udp', 5000, '::', err('EACCES')),
    /permission denied \(EACCES\); a security policy/,
  );
  assert.equal(
    listenErrorMessage('udp', 161, '::', err('EADDRINUSE')),
    "the honeypot cannot listen on UDP port 161 at ::: another process is already using it (EADDRINUSE). Stop that process (`ss -ulnp 'sport = :161'` shows which), or remove the port from honeypot.udp_ports.",
  );
  assert.match(
    listenErrorMessage('tcp', 80, '10.9.9.9', err('EADDRNOTAVAIL')),
    /10.9.9.9 is not an address of this host/,
  );
  assert.equal(
    listenErrorMessage('tcp', 80, 'x', new Error('boom')),
    'the honeypot cannot listen on TCP port 80 at x: boom',
  );
});
