/**
 * Where uploaded media bytes live (images of articles): a key-value store of
 * immutable objects. What an object is (type, owner, checksum) is recorded
 * in its media stream; the storage keeps only the bytes. Adapters: the local
 * disk and S3-compatible object storage (src/adapters/media/).
 *
 * Keys are `[A-Za-z0-9._-]` segments joined by `/` (isMediaStorageKey);
 * anything else is refused with MediaStorageError before any I/O.
 */
export interface MediaStorage {
  /** human-readable, for logs: `disk:/var/lib/media`, `s3:bucket@host` (never a credential) */
  readonly description: string;
  /** stores the bytes under the key (replacing any there) */
  put(key: string, bytes: Buffer, contentType: string): Promise<void>;
  /** the bytes under the key; null when there are none */
  get(key: string): Promise<Buffer | null>;
  /** removes the key's bytes; nothing there is fine */
  delete(key: string): Promise<void>;
}

/** The storage failed or refused (unreachable, denied, a bad key): never a missing object, which get answers null. */
export class MediaStorageError extends Error {
  override readonly name = 'MediaStorageError';
  constructor(
    message: string,
    /** the storage's own code where it gives one (S3: `AccessDenied`, `SignatureDoesNotMatch`, …) */
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

const KEY = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;

/** A key every adapter can hold as it is: no `..`, no empty or dot-led segment, at most 512 characters. */
export function isMediaStorageKey(key: string): boolean {
  return key.length <= 512 && KEY.test(key);
}

export function requireMediaStorageKey(key: string): string {
  if (!isMediaStorageKey(key)) throw new MediaStorageError(`not a media storage key: ${JSON.stringify(key.slice(0, 80))}`, 'InvalidKey');
  return key;
}
