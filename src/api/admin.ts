// The bearer-token check of admin routes outside the collector: the same rule as the sensor routes.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { PortentError } from '../core/errors.ts';
import { signaturesEqual } from '../core/signing.ts';

/** An onRequest hook that lets through `Authorization: Bearer <token>` only; an empty token refuses all. */
export function adminOnly(token: string) {
  return (req: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void => {
    const [scheme = '', ...rest] = (req.headers.authorization ?? '').split(' ');
    const given = `${scheme.toLowerCase()} ${rest.join(' ')}`;
    if (token === '')
      done(
        new PortentError('ADMIN_UNAUTHORIZED', {
          message: 'Admin routes are disabled: set server.admin_token to enable them.',
        }),
      );
    // Compared in constant time, so response timing tells nothing about the token.
    else if (!signaturesEqual(given, `bearer ${token}`)) done(new PortentError('ADMIN_UNAUTHORIZED'));
    else done();
  };
}
