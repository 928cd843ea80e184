// The `server` configuration section: where the HTTP server listens, who may use admin routes, logging.

import Type, { type StaticDecode } from 'typebox';
import { Duration, FIELD_META, Section, type FieldMeta } from '../config/types.ts';

/** Admin tokens shorter than this are refused: a bearer token must not be guessable. */
export const ADMIN_TOKEN_MIN_LENGTH = 32;

/** Log levels, from the fewest messages to the most (pino's names). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

const secret: FieldMeta = { secret: true };

/** Schema of the `server` section. */
export const ServerConfigSchema = Section('The HTTP server that hosts the collector and the read API.', {
  listen_host: Type.Refine(
    Type.String({
      default: '127.0.0.1',
      description:
        'Address to listen on. The default accepts local connections only; use "0.0.0.0" (IPv4) or "::" (IPv6 and IPv4) to accept sensors from other machines.',
    }),
    (v) => v !== '',
    () => 'must not be empty; use "0.0.0.0" or "::" to listen on all interfaces',
  ),
  listen_port: Type.Integer({
    minimum: 0,
    maximum: 65535,
    default: 8470,
    description: 'TCP port to listen on; 0 picks a free port.',
  }),
  admin_token: Type.Refine(
    Type.String({
      default: '',
      description: `Bearer token for the admin routes (sensor enrolment and revocation). Admin routes are disabled while it is empty; when set it must be at least ${ADMIN_TOKEN_MIN_LENGTH} characters (e.g. \`openssl rand -hex 32\`). Prefer setting it through the environment variable over writing it in the file.`,
      [FIELD_META]: secret,
    }),
    (v) => v === '' || v.length >= ADMIN_TOKEN_MIN_LENGTH,
    (v) =>
      `must be at least ${ADMIN_TOKEN_MIN_LENGTH} characters when set (or "" to disable admin routes); got ${v.length} characters`,
  ),
  log_level: Type.Enum(LOG_LEVELS, {
    default: 'info',
    description: 'Least severe level written to the log.',
  }),
  shutdown_timeout: Duration({
    default: '10s',
    minimum: '0s',
    maximum: '1h',
    description:
      'On SIGTERM or SIGINT, how long to wait for in-flight batches to become durable before exiting anyway.',
  }),
  trust_proxy: Type.Boolean({
    default: false,
    description:
      'Take the client address from X-Forwarded-For. Enable only behind a reverse proxy that sets it, or clients can forge their address.',
  }),
});

/** The loaded `server` section; `shutdown_timeout` is in milliseconds. */
export type ServerConfig = StaticDecode<typeof ServerConfigSchema>;
