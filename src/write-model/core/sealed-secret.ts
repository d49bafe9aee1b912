import { invalid } from './validate.js';

/**
 * A secret (cookies, tokens, proxy credentials) as the secret box seals it
 * (src/adapters/crypto/secret-box.ts, AES-256-GCM): the only form in which a
 * secret reaches a decider or an event. `keyId` names the key, so keys can
 * rotate. Declared here too so the write model needs no adapter.
 */
export interface SealedSecret {
  keyId: string;
  iv: string;
  tag: string;
  ciphertext: string;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const SEALED_FIELDS: readonly string[] = ['keyId', 'iv', 'tag', 'ciphertext'];

/**
 * The box as the secret box makes it, and nothing else: an extra field (say,
 * the cookie in clear) is refused, and the base64 fields keep a raw cookie
 * (with `;` and spaces) out. Details name fields, never values.
 */
export function requireSealed(value: unknown, field = 'credentials'): SealedSecret {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${field} must be a sealed box`, { field });
  const box = value as Record<string, unknown>;
  const unexpected = Object.keys(box).filter((k) => !SEALED_FIELDS.includes(k));
  if (unexpected.length > 0) throw invalid(`${field} must hold only a sealed box`, { field, unexpected });
  if (typeof box.keyId !== 'string' || box.keyId.trim() === '') throw invalid(`${field}.keyId must not be empty`, { field: `${field}.keyId` });
  for (const part of ['iv', 'tag', 'ciphertext'] as const) {
    const text = box[part];
    if (typeof text !== 'string' || !BASE64.test(text)) throw invalid(`${field}.${part} must be base64`, { field: `${field}.${part}` });
  }
  return { keyId: box.keyId, iv: box.iv as string, tag: box.tag as string, ciphertext: box.ciphertext as string };
}

/** The same box (sealing the same secret twice gives different boxes: this says nothing about the secrets). */
export function sameSealed(a: SealedSecret, b: SealedSecret): boolean {
  return a.keyId === b.keyId && a.iv === b.iv && a.tag === b.tag && a.ciphertext === b.ciphertext;
}
