/**
 * Sealing credentials that must be usable again (platform cookies, proxy
 * passwords, reset and verification tokens waiting in a queue): they cannot
 * be hashed, so they are encrypted before they reach an event or a job. The
 * box is plain base64 strings (it goes into events); `keyId` names the key,
 * so keys can rotate. The adapter is src/adapters/crypto/secret-box.ts
 * (AES-256-GCM over the ENCRYPTION_KEYS keyring).
 */
export interface SealedSecret {
  keyId: string;
  iv: string;
  tag: string;
  ciphertext: string;
}

export interface SecretBox {
  /** `context` binds the box to what it belongs to (e.g. an account id): opening it under another fails */
  encrypt(plain: string, context?: string): SealedSecret;
  decrypt(box: SealedSecret, context?: string): string;
  /** sealed with a key other than the current one (rotate it) */
  isStale(box: SealedSecret): boolean;
}
