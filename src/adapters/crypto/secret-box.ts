import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { SealedSecret, SecretBox } from '../../application/ports/secret-box.js';
import type { Config } from '../../config.js';

/**
 * AES-256-GCM for credentials that must be usable again (platform cookies,
 * proxy passwords) and so cannot be hashed. The box goes into
 * events, hence plain base64 strings; `keyId` names the key so keys can
 * rotate: new boxes use the current key, old ones still open with theirs.
 */
export type { SealedSecret, SecretBox } from '../../application/ports/secret-box.js';

export interface EncryptionKey {
  id: string;
  /** 32 bytes */
  key: Uint8Array;
}

export class SecretBoxError extends Error {
  override readonly name = 'SecretBoxError';
}

/** The box names a key the keyring does not have (removed too early, or another environment's data). */
export class UnknownEncryptionKeyError extends SecretBoxError {
  constructor(readonly keyId: string) {
    super(`no encryption key with id "${keyId}" in ENCRYPTION_KEYS`);
  }
}

const IV_BYTES = 12; // GCM's standard nonce; random per box, so never reused in practice
const TAG_BYTES = 16;

export class KeyringSecretBox implements SecretBox {
  private readonly keys: ReadonlyMap<string, Uint8Array>;

  constructor(
    keyring: readonly EncryptionKey[],
    private readonly currentKeyId: string,
  ) {
    this.keys = new Map(keyring.map((k) => [k.id, k.key]));
    for (const [id, key] of this.keys) {
      if (key.length !== 32) throw new SecretBoxError(`encryption key "${id}" must be 32 bytes, got ${key.length}`);
    }
    if (!this.keys.has(currentKeyId)) throw new UnknownEncryptionKeyError(currentKeyId);
  }

  /**
   * `context` (e.g. the aggregate id) is bound as additional authenticated data:
   * a box copied into another account's events will not open there.
   */
  encrypt(plain: string, context = ''): SealedSecret {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key(this.currentKeyId), iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return {
      keyId: this.currentKeyId,
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      ciphertext: ciphertext.toString('base64'),
    };
  }

  /** Throws UnknownEncryptionKeyError, or SecretBoxError when the box was altered or the context differs. */
  decrypt(box: SealedSecret, context = ''): string {
    const key = this.key(box.keyId);
    const iv = Buffer.from(box.iv, 'base64');
    const tag = Buffer.from(box.tag, 'base64');
    // a short tag would weaken the check; Node accepts some, so refuse them here
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new SecretBoxError('malformed sealed secret');
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(Buffer.from(box.ciphertext, 'base64')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError('sealed secret failed authentication (altered, or sealed for another context)');
    }
  }

  /** Whether a box should be re-encrypted with the current key (rotation). */
  isStale(box: SealedSecret): boolean {
    return box.keyId !== this.currentKeyId;
  }

  private key(id: string): Uint8Array {
    const key = this.keys.get(id);
    if (key === undefined) throw new UnknownEncryptionKeyError(id);
    return key;
  }
}

export function createSecretBox(config: Pick<Config, 'ENCRYPTION_KEYS' | 'ENCRYPTION_KEY_ID'>): SecretBox {
  return new KeyringSecretBox(config.ENCRYPTION_KEYS, config.ENCRYPTION_KEY_ID);
}
