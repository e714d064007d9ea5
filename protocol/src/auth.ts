import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { TOKEN_PREFIX } from './validate.js';

// Protocol v2 authentication (see README "Authentication"). The token in a
// guest link's alias never crosses the socket. Both sides derive from it a
// public link id, which names the attachment, and a key, which proves
// knowledge of the token and signs every configure, applied and release.

const hmac = (key: string | Buffer, text: string) => createHmac('sha256', key).update(text).digest();

const NAME_LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A fresh token that is also the guest end's first name (13 letters and
 * digits, about 77 bits): made in the guest's netns by the same request that
 * makes the pair, it needs no second request there to set an alias.
 */
export function newOneTimeToken(): string {
  let name = 'gn';
  while (name.length < 15) {
    // Bytes of 248 and over would favour the first letters: they are drawn again.
    for (const byte of randomBytes(16)) if (byte < 248 && name.length < 15) name += NAME_LETTERS[byte % 62];
  }
  return `${TOKEN_PREFIX}${name}`;
}

/** A fresh token of 128 random bits, for a link whose alias the host sets. */
export function newToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(16).toString('hex')}`;
}

/** The public name of an attachment: the first 128 bits of HMAC(token, "guestnet link id"), as hex. */
export function linkIdOf(token: string): string {
  return hmac(token, 'guestnet link id').subarray(0, 16).toString('hex');
}

/** The key both sides derive from the token; it never leaves either side. */
export function linkKeyOf(token: string): Buffer {
  return hmac(token, 'guestnet link key');
}

/** A fresh 128-bit nonce, as hex. */
export function newNonce(): string {
  return randomBytes(16).toString('hex');
}

/** The nonces of one session: each side's fresh one, so a proof or signature from one session is worthless in another. */
export interface SessionNonces {
  guest: string;
  host: string;
}

/** Proof that `role` knows the token, bound to this session's nonces. */
export function proofOf(key: Buffer, role: 'host' | 'guest', nonces: SessionNonces): string {
  return hmac(key, `proof|${role}|${nonces.guest}|${nonces.host}`).toString('hex');
}

/** JSON with sorted keys: the same value always signs the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The signature of a message: every field but `mac`, with the session's nonces. */
export function macOf(key: Buffer, nonces: SessionNonces, message: Record<string, unknown>): string {
  const { mac, ...body } = message;
  return hmac(key, `mac|${nonces.guest}|${nonces.host}|${canonicalJson(body)}`).toString('hex');
}

/** Constant-time comparison of two hex strings. */
export function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** Adds the message's signature. */
export function signed<T extends Record<string, unknown>>(key: Buffer, nonces: SessionNonces, message: T): T & { mac: string } {
  return { ...message, mac: macOf(key, nonces, message) };
}

/** Whether the message carries this session's signature. */
export function verifies<T extends { mac: string }>(key: Buffer, nonces: SessionNonces, message: T): boolean {
  return sameHex(message.mac, macOf(key, nonces, message as Record<string, unknown>));
}
