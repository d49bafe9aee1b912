import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import { MediaStorageError, type MediaStorage } from '../../src/application/ports/media-storage.js';

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection, got success');
}

/**
 * What every MediaStorage adapter must do (src/application/ports/media-storage.ts),
 * run against each adapter by tests/contract/media-storage.test.ts.
 */
export function mediaStorageContract(name: string, storage: () => MediaStorage): void {
  describe(`MediaStorage contract: ${name}`, () => {
    const key = () => `media/${randomUUID()}/${randomUUID()}`;

    it('gives back exactly the bytes put, every byte value included', async () => {
      const k = key();
      const bytes = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(4096)]);
      await storage().put(k, bytes, 'image/png');
      expect(Buffer.compare((await storage().get(k))!, bytes)).to.equal(0);
    });

    it('answers null for a key it does not hold', async () => {
      expect(await storage().get(key())).to.equal(null);
    });

    it('replaces the bytes under a key put again', async () => {
      const k = key();
      await storage().put(k, Buffer.from('first'), 'image/png');
      await storage().put(k, Buffer.from('second, longer'), 'image/png');
      expect((await storage().get(k))?.toString()).to.equal('second, longer');
    });

    it('deletes, and deleting what is not there is fine', async () => {
      const k = key();
      await storage().put(k, Buffer.from('x'), 'image/gif');
      await storage().delete(k);
      expect(await storage().get(k)).to.equal(null);
      await storage().delete(k);
      await storage().delete(key());
    });

    it('keeps keys apart, a key and its longer neighbours included', async () => {
      const base = key();
      await Promise.all([
        storage().put(base, Buffer.from('a'), 'image/png'),
        storage().put(`${base}2`, Buffer.from('b'), 'image/png'),
        storage().put(`${base}.jpg`, Buffer.from('c'), 'image/jpeg'),
      ]);
      await storage().delete(`${base}2`);
      expect((await storage().get(base))?.toString()).to.equal('a');
      expect(await storage().get(`${base}2`)).to.equal(null);
      expect((await storage().get(`${base}.jpg`))?.toString()).to.equal('c');
    });

    it('round-trips a larger object (2 MiB)', async () => {
      const k = key();
      const bytes = randomBytes(2 * 1024 * 1024);
      await storage().put(k, bytes, 'image/webp');
      expect((await storage().get(k))?.equals(bytes)).to.equal(true);
    });

    it('refuses keys that could leave its space, before any I/O', async () => {
      for (const bad of ['', '../escape', 'a/../../b', '/absolute', 'a//b', 'a/./b', 'a b', 'a\\b', '.hidden', 'a/', `k${'x'.repeat(600)}`]) {
        for (const attempt of [storage().put(bad, Buffer.from('x'), 'image/png'), storage().get(bad), storage().delete(bad)]) {
          const error = await rejection(attempt);
          expect(error, JSON.stringify(bad)).to.be.instanceOf(MediaStorageError);
          expect((error as MediaStorageError).code).to.equal('InvalidKey');
        }
      }
    });
  });
}
