// The one error catalog: every failure a user can see has a stable code, a status and a hint.
// docs/errors.md documents each code; test/errors-documented.test.ts keeps the two in step.

interface ErrorSpec {
  /** HTTP status when the error crosses the API; CLI exit code is derived from the family. */
  status: number;
  /** What went wrong, as a sentence. */
  message: string;
  /** What the person reading it should do. */
  hint: string;
}

export const ERRORS = {
  BATCH_MALFORMED: {
    status: 400,
    message: 'The request body could not be decoded as a batch.',
    hint: 'Send NDJSON (application/x-ndjson) or the binary batch format (application/vnd.portent.batch), optionally gzip-compressed with Content-Encoding: gzip.',
  },
  BATCH_INVALID: {
    status: 400,
    message: 'The batch failed validation and was rejected whole; nothing from it was stored.',
    hint: 'Fix the fields listed under details (paths point into the batch) and send the batch again.',
  },
  BATCH_TOO_LARGE: {
    status: 413,
    message: 'The batch is larger than the collector accepts.',
    hint: 'Split it into smaller batches: see collector.max_batch_bytes and collector.max_batch_events.',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    message: 'The Content-Type or Content-Encoding of the request is not supported.',
    hint: 'Use application/x-ndjson or application/vnd.portent.batch, and Content-Encoding identity or gzip.',
  },
  AUTH_MISSING: {
    status: 401,
    message: 'The request is not signed.',
    hint: 'Send the X-Portent-Sensor, X-Portent-Timestamp, X-Portent-Nonce and X-Portent-Signature headers (docs/formats.md).',
  },
  AUTH_UNKNOWN_SENSOR: {
    status: 401,
    message: 'No enrolled sensor has this id, or it was revoked.',
    hint: 'Check the sensor id in the sensor config; enrol it with `portent sensors add NAME`.',
  },
  AUTH_BAD_SIGNATURE: {
    status: 401,
    message: 'The request signature does not match.',
    hint: 'Check the sensor secret, and that the signature covers method, path, timestamp, nonce and the SHA-256 of the body exactly as sent.',
  },
  AUTH_CLOCK_SKEW: {
    status: 401,
    message: "The request timestamp is too far from the collector's clock.",
    hint: "Synchronise the sensor's clock (NTP); requests more than collector.max_clock_skew from the server's time are refused.",
  },
  AUTH_REPLAY: {
    status: 401,
    message: 'This nonce was already used.',
    hint: 'Generate a fresh random nonce for every request, including retries.',
  },
  ADMIN_UNAUTHORIZED: {
    status: 401,
    message: 'The admin token is missing or wrong.',
    hint: 'Send Authorization: Bearer <token> with the token from server.admin_token (or PORTENT_SERVER_ADMIN_TOKEN).',
  },
  RATE_LIMITED: {
    status: 429,
    message: 'This sensor is sending faster than its rate limit.',
    hint: 'Wait for the number of seconds in Retry-After, then send again; raise collector.sensor_events_per_s if the rate is legitimate.',
  },
  DSHIELD_AUTH_MISSING: {
    status: 401,
    message: 'The DShield submission has no valid X-ISC-Authorization header.',
    hint: 'Configure the DShield client with the userid and apikey printed by `portent sensors add` (docs/api.md, DShield compatibility); the client sends the header itself.',
  },
  DSHIELD_UNKNOWN_USER: {
    status: 401,
    message: 'No active sensor has this DShield userid.',
    hint: "The DShield userid is the sensor's number (num in `portent sensors list --json`); check it, and that the sensor is not revoked.",
  },
  DSHIELD_BAD_CREDENTIALS: {
    status: 401,
    message: 'The X-ISC-Authorization credentials do not match the DShield API key of this userid.',
    hint: "Set the client's apikey to the DShield API key printed by `portent sensors add` for this sensor (not the sensor secret itself).",
  },
  DSHIELD_REPLAY: {
    status: 401,
    message: 'This X-ISC-Authorization nonce was already used.',
    hint: 'DShield clients make a fresh nonce for every request: a repeated one means the request was captured and replayed, or the client is broken. Serve the DShield API over TLS only.',
  },
  DSHIELD_UNSUPPORTED_TYPE: {
    status: 400,
    message: 'This DShield log type is not accepted.',
    hint: "Portent accepts the DShield log types firewall, cowrie and webhoneypot; turn off the client's other submissions.",
  },
  DSHIELD_INVALID: {
    status: 400,
    message: 'The DShield submission failed validation and was rejected whole; nothing from it was stored.',
    hint: 'Fix the records listed under details (paths point into the submitted JSON) and submit again.',
  },
  DSHIELD_TOO_LARGE: {
    status: 413,
    message: 'The DShield submission is larger than the server accepts.',
    hint: 'Submit fewer records at a time, or raise dshield.max_body_bytes and dshield.max_records.',
  },
  HPFEEDS_AUTH_FAILED: {
    status: 401,
    message: 'hpfeeds authentication failed; the broker closed the connection.',
    hint: 'Set the ident to the sensor id and the secret to the sensor secret from `portent sensors add`; a revoked sensor cannot connect.',
  },
  HPFEEDS_FRAME_INVALID: {
    status: 400,
    message:
      'The hpfeeds message is not valid for the protocol at this point; the broker closed the connection.',
    hint: 'Use an hpfeeds client library: it sends AUTH first, then PUBLISH messages whose ident is the authenticated one.',
  },
  HPFEEDS_FRAME_TOO_LARGE: {
    status: 413,
    message: 'The hpfeeds message is longer than the broker accepts; the broker closed the connection.',
    hint: 'Publish smaller payloads, or raise hpfeeds.max_message_bytes.',
  },
  HPFEEDS_SUBSCRIBE_REFUSED: {
    status: 403,
    message: "Portent's hpfeeds broker is publish-only: subscribing is refused and the connection closed.",
    hint: 'Read events through the HTTP API (docs/api.md) instead of subscribing; publish from sensors only.',
  },
  HPFEEDS_CHANNEL_REFUSED: {
    status: 403,
    message: 'The broker does not accept this hpfeeds channel; the message was dropped.',
    hint: 'Publish on cowrie.sessions, dionaea.connections, dionaea.capture, conpot.events or portent.events; turn off the other channels in the honeypot.',
  },
  HPFEEDS_PAYLOAD_INVALID: {
    status: 400,
    message: 'The hpfeeds payload could not be read as events of its channel; the message was dropped.',
    hint: 'Check that the honeypot publishes its standard JSON on this channel (docs/operations.md, hpfeeds broker).',
  },
  HPFEEDS_TOO_MANY_CONNECTIONS: {
    status: 503,
    message: 'The hpfeeds broker has as many connections as it accepts; this one was closed.',
    hint: 'Reconnect later, or raise hpfeeds.max_connections.',
  },
  HPFEEDS_TIMEOUT: {
    status: 408,
    message: 'The hpfeeds connection was closed: no AUTH in time, or idle for too long.',
    hint: 'hpfeeds clients reconnect by themselves; see hpfeeds.auth_timeout and hpfeeds.idle_timeout.',
  },
  NOT_FOUND: {
    status: 404,
    message: 'There is nothing at this address.',
    hint: 'Check the path against docs/api.md.',
  },
  QUERY_INVALID: {
    status: 400,
    message: 'A query parameter or path parameter is not valid.',
    hint: 'Fix the parameters listed under details.',
  },
  BODY_INVALID: {
    status: 400,
    message: 'The request body is not valid JSON for this route.',
    hint: 'Send a JSON object as described for the route in docs/api.md.',
  },
  SENSOR_NAME_INVALID: {
    status: 400,
    message: 'The sensor name is not valid.',
    hint: "Use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.",
  },
  SENSOR_EXISTS: {
    status: 409,
    message: 'A sensor with this name is already enrolled.',
    hint: 'Choose another name, or revoke the old sensor first.',
  },
  SENSOR_NOT_FOUND: {
    status: 404,
    message: 'No sensor has this id or name.',
    hint: 'List sensors with `portent sensors list`.',
  },
  INCIDENT_NOT_FOUND: {
    status: 404,
    message: 'No incident has this id.',
    hint: 'List incidents with GET /api/v1/incidents; ids look like inc_6_445_<base-36 minute>.',
  },
  BUS_CLOSED: {
    status: 503,
    message: 'The message bus is closed: the server is shutting down.',
    hint: 'Send the request again once the server is back; what was stored before the shutdown is kept.',
  },
  SERVER_REFUSED: {
    status: 502,
    message: 'A Portent server refused a request the command line sent it.',
    hint: "The message gives the server's answer; check server.admin_token and the server's address (server.listen_host, server.listen_port, or --server URL).",
  },
  STORE_UNAVAILABLE: {
    status: 503,
    message: 'The event store could not make the batch durable.',
    hint: 'Nothing was acknowledged, so send the batch again later; the server log says why the store failed.',
  },
  STORE_LOCKED: {
    status: 503,
    message: 'The store file is held by another process.',
    hint: 'Only one process can open a DuckDB file: stop the other `portent` process, or point storage.path elsewhere.',
  },
  SHUTTING_DOWN: {
    status: 503,
    message: 'The server is shutting down and no longer accepts batches.',
    hint: 'Send the batch again once the server is back; nothing from this request was stored.',
  },
  SPOOL_LOCKED: {
    status: 503,
    message: 'The spool directory is in use by another sensor process.',
    hint: 'Stop the other sensor process, or point spool.path elsewhere; a lock left by a process that no longer runs is taken over by itself.',
  },
  SPOOL_INVALID: {
    status: 500,
    message: 'The spool directory holds files that are not a readable Portent spool.',
    hint: 'Point spool.path at an empty or Portent-made directory. Do not edit spool.json or ack.json by hand: move the directory aside and start afresh if they are damaged.',
  },
  SHIPPER_UNAUTHORIZED: {
    status: 401,
    message: "The collector refused the sensor's credentials; shipping stopped and events wait in the spool.",
    hint: 'Check shipper.sensor_id and shipper.sensor_secret against `portent sensors list`, and the clock (NTP); then restart the sensor, which sends everything spooled.',
  },
  CONFIG_INVALID: {
    status: 400,
    message: 'The configuration is not valid.',
    hint: 'Fix the keys listed; every key and its default is in docs/configuration.md.',
  },
  CONFIG_UNREADABLE: {
    status: 400,
    message: 'The configuration file could not be read or is not YAML.',
    hint: 'Check the path and the YAML syntax at the line given.',
  },
  IMPORT_INVALID: {
    status: 400,
    message:
      'An input file has records that are not valid events; nothing from the failing chunk was stored.',
    hint: 'Fix the lines listed (file:line and field path) and import again; batches before the failure were stored and are idempotent.',
  },
  IMPORT_UNREADABLE: {
    status: 400,
    message:
      'An input file could not be read to its end: a gzip stream cut short or corrupt, or a read error.',
    hint: 'The lines before the damage were read; the message says how far. Fetch or copy the file again (`gzip -t FILE` checks a gzip file); to keep the readable part, `zcat FILE > part.log` and import that.',
  },
  SCORE_INPUT_INVALID: {
    status: 400,
    message: 'The series file for `portent score` has bad rows; nothing was scored.',
    hint: 'Fix the lines listed: each row is timestamp,value with an ISO 8601 or epoch timestamp, a number of 0 or more, in time order (docs/detection.md).',
  },
  USAGE: {
    status: 400,
    message: 'The command line is not valid.',
    hint: 'Run the command with --help.',
  },
  INTERNAL: {
    status: 500,
    message: 'An unexpected error occurred.',
    hint: 'This is a bug: the server log has the details; please report it.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** One offending field: a JSON-pointer-like path into the input and what is wrong with it. */
export interface FieldProblem {
  path: string;
  message: string;
}

export class PortentError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly hint: string;
  readonly details: FieldProblem[];

  constructor(code: ErrorCode, opts: { message?: string; details?: FieldProblem[]; cause?: unknown } = {}) {
    super(opts.message ?? ERRORS[code].message, { cause: opts.cause });
    this.name = 'PortentError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.hint = ERRORS[code].hint;
    this.details = opts.details ?? [];
  }

  /** The JSON body every API error response carries. */
  toJSON(): { error: { code: ErrorCode; message: string; hint: string; details: FieldProblem[] } } {
    return { error: { code: this.code, message: this.message, hint: this.hint, details: this.details } };
  }
}

/** At most this many field problems are reported; the first ones are what a person fixes first. */
export const MAX_REPORTED_PROBLEMS = 20;
