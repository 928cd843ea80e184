// DShield's X-ISC-Authorization scheme, and the DShield API key Portent derives for each sensor.
//
// A DShield client sends "ISC-HMAC-SHA256 Credentials=<b64> Userid=<id> Nonce=<b64>", where
// Credentials is base64(HMAC-SHA256(key = nonce + userid, message = apikey)) — the key and the
// message in that order, as DShield.py, isc_agent and Cowrie's dshield output compute it. The
// header covers neither the body nor a time, which is why the route remembers nonces.

import { createHmac, timingSafeEqual } from 'node:crypto';

/** Label mixed into the API key derivation, so the key is never the sensor secret itself. */
const API_KEY_LABEL = 'portent-dshield-apikey';

/**
 * The DShield apikey of a sensor: lower-case hex HMAC-SHA256 of the label under the sensor secret.
 * Hex passes every client's check on the key (DShield.py allows [A-Za-z0-9=+/], isc_agent only
 * [A-Za-z0-9=+]); the sensor secret is base64url, whose "-" and "_" would make the clients exit.
 * `printf %s portent-dshield-apikey | openssl dgst -sha256 -hmac "$SECRET"` gives the same value.
 */
export function dshieldApiKey(sensorSecret: string): string {
  return createHmac('sha256', sensorSecret).update(API_KEY_LABEL).digest('hex');
}

export interface IscAuthorization {
  /** The 32 bytes of the HMAC. */
  credentials: Buffer;
  /** The userid exactly as written: the HMAC key uses this text. */
  useridText: string;
  userid: number;
  nonce: string;
}

const SCHEME = 'isc-hmac-sha256';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The parsed header, or what is wrong with it (a sentence without the header's content). */
export function parseIscAuthorization(header: string): IscAuthorization | string {
  if (header.length > 512) return 'X-ISC-Authorization is longer than 512 characters.';
  const [scheme = '', ...parts] = header.trim().split(/ +/);
  if (scheme.toLowerCase() !== SCHEME) return 'X-ISC-Authorization must start with "ISC-HMAC-SHA256".';
  const fields = new Map<string, string>();
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq <= 0) return `X-ISC-Authorization has a part without "name=value".`;
    const name = part.slice(0, eq).toLowerCase();
    if (fields.has(name)) return `X-ISC-Authorization names ${name} twice.`;
    fields.set(name, part.slice(eq + 1));
  }
  for (const name of ['credentials', 'userid', 'nonce']) {
    if (!fields.has(name)) return `X-ISC-Authorization has no ${name[0].toUpperCase()}${name.slice(1)}.`;
  }
  const credentialsText = fields.get('credentials') as string;
  const useridText = fields.get('userid') as string;
  const nonce = fields.get('nonce') as string;
  if (!BASE64.test(credentialsText) || credentialsText.length !== 44)
    return 'Credentials must be the base64 of a 32-byte HMAC-SHA256 (44 characters).';
  if (!/^[0-9]{1,10}$/.test(useridText) || Number(useridText) < 1)
    return 'Userid must be a positive whole number (the sensor number).';
  if (!BASE64.test(nonce) || nonce.length < 8 || nonce.length > 64)
    return 'Nonce must be 8 to 64 base64 characters.';
  return {
    credentials: Buffer.from(credentialsText, 'base64'),
    useridText,
    userid: Number(useridText),
    nonce,
  };
}

/** The Credentials value a client with this apikey sends for this nonce and userid. */
export function iscCredentials(apiKey: string, nonce: string, useridText: string): Buffer {
  return createHmac('sha256', Buffer.from(nonce + useridText, 'utf8'))
    .update(Buffer.from(apiKey, 'utf8'))
    .digest();
}

/** Constant-time check of the header against the sensor's API key. */
export function credentialsMatch(auth: IscAuthorization, apiKey: string): boolean {
  const expected = iscCredentials(apiKey, auth.nonce, auth.useridText);
  return auth.credentials.length === expected.length && timingSafeEqual(auth.credentials, expected);
}
