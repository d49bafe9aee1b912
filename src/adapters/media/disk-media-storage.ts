import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { MediaStorageError, requireMediaStorageKey, type MediaStorage } from '../../application/ports/media-storage.js';

/**
 * Media bytes as files under one folder (MEDIA_STORAGE_URL `file:…`, the
 * default): the key is the path below it. A write goes to a temporary file
 * renamed into place, so a reader never sees half an image. Good for one
 * host (or a shared volume); several API hosts want the S3 adapter.
 */
export class DiskMediaStorage implements MediaStorage {
  readonly root: string;
  readonly description: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.description = `disk:${this.root}`;
  }

  private pathOf(key: string): string {
    // the key's own rules already keep it below the root; join never climbs out of it
    return join(this.root, ...requireMediaStorageKey(key).split('/'));
  }

  async put(key: string, bytes: Buffer, _contentType: string): Promise<void> {
    const path = this.pathOf(key);
    const temporary = `${path}.${randomBytes(6).toString('hex')}.part`;
    try {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(temporary, bytes);
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true }).catch(() => {});
      throw new MediaStorageError(`cannot write ${key}: ${(error as Error).message}`, (error as NodeJS.ErrnoException).code ?? null);
    }
  }

  async get(key: string): Promise<Buffer | null> {
    try {
      return await readFile(this.pathOf(key));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      if (error instanceof MediaStorageError) throw error;
      throw new MediaStorageError(`cannot read ${key}: ${(error as Error).message}`, code ?? null);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await rm(this.pathOf(key), { force: true });
    } catch (error) {
      if (error instanceof MediaStorageError) throw error;
      throw new MediaStorageError(`cannot delete ${key}: ${(error as Error).message}`, (error as NodeJS.ErrnoException).code ?? null);
    }
  }
}
