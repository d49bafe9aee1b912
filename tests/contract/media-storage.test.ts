import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import aws4 from 'aws4';
import { DiskMediaStorage } from '../../src/adapters/media/disk-media-storage.js';
import { mediaStorageFromConfig } from '../../src/adapters/media/from-config.js';
import { S3MediaStorage } from '../../src/adapters/media/s3-media-storage.js';
import { parseMediaStorageUrl } from '../../src/adapters/media/storage-url.js';
import { MediaStorageError } from '../../src/application/ports/media-storage.js';
import { startObjectStorage, type ObjectStorageSandbox } from '../../sandbox/object-storage/server.js';
import { mediaStorageContract } from './media-storage.contract.js';

async function rejection(promise: Promise<unknown>): Promise<MediaStorageError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(MediaStorageError);
    return error as MediaStorageError;
  }
  throw new Error('expected a rejection, got success');
}

describe('media storage adapters', () => {
  let folder: string;
  let sandbox: ObjectStorageSandbox;
  let disk: DiskMediaStorage;
  let s3: S3MediaStorage;

  before(async () => {
    folder = await mkdtemp(join(tmpdir(), 'media-storage-'));
    disk = new DiskMediaStorage(folder);
    sandbox = await startObjectStorage({ buckets: ['media', 'other'] });
    const location = parseMediaStorageUrl(sandbox.storageUrl('media'));
    if (location.kind !== 's3') throw new Error('expected an s3 location');
    s3 = new S3MediaStorage(location);
  });
  after(async () => {
    await sandbox?.stop();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  mediaStorageContract('local disk', () => disk);
  mediaStorageContract('S3 (sandbox, SigV4 checked)', () => s3);

  describe('local disk', () => {
    it('keeps an object as a file under its folder, the key its path', async () => {
      await disk.put('media/u1/m1', Buffer.from('png bytes'), 'image/png');
      expect((await readFile(join(folder, 'media', 'u1', 'm1'))).toString()).to.equal('png bytes');
    });
  });

  describe('S3 against the sandbox', () => {
    it('stores under the bucket and the URL prefix, with the content type', async () => {
      const location = parseMediaStorageUrl(sandbox.storageUrl('other', 'tenant-1/images'));
      const prefixed = new S3MediaStorage(location as Extract<typeof location, { kind: 's3' }>);
      await prefixed.put('media/u1/m1', Buffer.from('gif'), 'image/gif');
      const stored = sandbox.buckets.get('other')!.get('tenant-1/images/media/u1/m1');
      expect(stored?.bytes.toString()).to.equal('gif');
      expect(stored?.contentType).to.equal('image/gif');
      expect((await prefixed.get('media/u1/m1'))?.toString()).to.equal('gif');
    });

    it('every request it made was signed and accepted', () => {
      const accepted = sandbox.requests.filter((r) => r.code === null);
      expect(accepted.length).to.be.greaterThan(10);
      expect(sandbox.requests.filter((r) => r.code !== null && r.code !== 'NoSuchKey')).to.deep.equal([]);
    });

    it('a wrong secret is refused with SignatureDoesNotMatch, an unknown key with InvalidAccessKeyId, a wrong region with AuthorizationHeaderMalformed', async () => {
      const base = parseMediaStorageUrl(sandbox.storageUrl('media')) as Extract<ReturnType<typeof parseMediaStorageUrl>, { kind: 's3' }>;
      const cases: [Partial<typeof base>, string][] = [
        [{ secretAccessKey: 'not-the-secret' }, 'SignatureDoesNotMatch'],
        [{ accessKeyId: 'AKUNKNOWN' }, 'InvalidAccessKeyId'],
        [{ region: 'eu-west-1' }, 'AuthorizationHeaderMalformed'],
      ];
      for (const [patch, code] of cases) {
        const wrong = new S3MediaStorage({ ...base, ...patch });
        expect((await rejection(wrong.put('media/x', Buffer.from('x'), 'image/png'))).code).to.equal(code);
        expect((await rejection(wrong.get('media/x'))).code).to.equal(code);
        expect((await rejection(wrong.delete('media/x'))).code).to.equal(code);
      }
      expect(sandbox.buckets.get('media')!.has('media/x')).to.equal(false);
    });

    it('a bucket that is not there fails (NoSuchBucket), it is not a missing object', async () => {
      const base = parseMediaStorageUrl(sandbox.storageUrl('media')) as Extract<ReturnType<typeof parseMediaStorageUrl>, { kind: 's3' }>;
      const missing = new S3MediaStorage({ ...base, bucket: 'nowhere' });
      expect((await rejection(missing.get('media/x'))).code).to.equal('NoSuchBucket');
    });

    it('an unreachable store fails with MediaStorageError', async () => {
      const base = parseMediaStorageUrl(sandbox.storageUrl('media')) as Extract<ReturnType<typeof parseMediaStorageUrl>, { kind: 's3' }>;
      const closed = new S3MediaStorage({ ...base, port: 1 });
      await rejection(closed.get('media/x'));
    });

    describe('the sandbox itself refuses what is not signed right', () => {
      const call = (init: { method: string; path: string; headers?: Record<string, string>; body?: Buffer }) =>
        fetch(`${sandbox.url}${init.path}`, { method: init.method, headers: init.headers, body: init.body ? new Uint8Array(init.body) : undefined });
      const signed = (method: string, path: string, body?: Buffer, extra: Record<string, string> = {}) =>
        aws4.sign(
          { service: 's3', region: sandbox.region, method, host: `${sandbox.host}:${sandbox.port}`, path, headers: extra, ...(body ? { body } : {}) },
          { accessKeyId: sandbox.accessKeyId, secretAccessKey: sandbox.secretAccessKey },
        ).headers as Record<string, string>;

      it('no Authorization: 403 AccessDenied in S3 XML', async () => {
        const res = await call({ method: 'GET', path: '/media/anything' });
        expect(res.status).to.equal(403);
        expect(res.headers.get('content-type')).to.equal('application/xml');
        const text = await res.text();
        expect(text).to.match(
          /^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>AccessDenied<\/Code><Message>[^<]+<\/Message><Resource>\/media\/anything<\/Resource><RequestId>[0-9A-F]+<\/RequestId><\/Error>$/,
        );
      });

      it('a body other than the one signed: 400 XAmzContentSHA256Mismatch', async () => {
        const headers = signed('PUT', '/media/tampered', Buffer.from('signed body'));
        const res = await call({ method: 'PUT', path: '/media/tampered', headers: { ...headers, 'Content-Length': '11' }, body: Buffer.from('other body!') });
        expect(res.status).to.equal(400);
        expect(await res.text()).to.include('<Code>XAmzContentSHA256Mismatch</Code>');
      });

      it('a signed request sent to another path, or with a changed signed header: 403 SignatureDoesNotMatch', async () => {
        const headers = signed('GET', '/media/one');
        const moved = await call({ method: 'GET', path: '/media/two', headers });
        expect(moved.status).to.equal(403);
        expect(await moved.text()).to.include('<Code>SignatureDoesNotMatch</Code>');
        const later = headers['X-Amz-Date']!.replace(/\d\dZ$/, (s) => `${String((Number(s.slice(0, 2)) + 1) % 60).padStart(2, '0')}Z`);
        const changed = await call({ method: 'GET', path: '/media/one', headers: { ...headers, 'X-Amz-Date': later } });
        expect(changed.status).to.equal(403);
      });

      it('a request signed too long ago: 403 RequestTimeTooSkewed', async () => {
        const skewed = await startObjectStorage({ now: () => new Date(Date.now() + 3_600_000) });
        try {
          const location = parseMediaStorageUrl(skewed.storageUrl('media'));
          const client = new S3MediaStorage(location as Extract<typeof location, { kind: 's3' }>);
          expect((await rejection(client.get('media/x'))).code).to.equal('RequestTimeTooSkewed');
        } finally {
          await skewed.stop();
        }
      });

      it('HEAD answers the object headers, signed like the others', async () => {
        const bytes = randomBytes(100);
        await s3.put('media/head', bytes, 'image/png');
        const res = await call({ method: 'HEAD', path: '/media/media/head', headers: signed('HEAD', '/media/media/head') });
        expect(res.status).to.equal(200);
        expect(res.headers.get('content-length')).to.equal('100');
        expect(res.headers.get('etag')).to.equal(`"${createHash('md5').update(bytes).digest('hex')}"`);
        const missing = await call({ method: 'HEAD', path: '/media/media/none', headers: signed('HEAD', '/media/media/none') });
        expect(missing.status).to.equal(404);
      });
    });
  });

  describe('MEDIA_STORAGE_URL', () => {
    it('file: URLs name a folder, relative or absolute', () => {
      expect(parseMediaStorageUrl('file:./data/media')).to.deep.equal({ kind: 'disk', root: './data/media' });
      expect(parseMediaStorageUrl('file:/var/lib/media')).to.deep.equal({ kind: 'disk', root: '/var/lib/media' });
      expect(parseMediaStorageUrl('file:///var/lib/media')).to.deep.equal({ kind: 'disk', root: '/var/lib/media' });
    });

    it('s3:// URLs carry the keys, endpoint, bucket, prefix and options', () => {
      expect(parseMediaStorageUrl('s3://AK%2B1:se%2Fcret@127.0.0.1:9000/bucket/pre/fix?region=us-east-1&path_style=true&tls=false')).to.deep.equal({
        kind: 's3',
        host: '127.0.0.1',
        port: 9000,
        tls: false,
        bucket: 'bucket',
        prefix: 'pre/fix',
        region: 'us-east-1',
        pathStyle: true,
        accessKeyId: 'AK+1',
        secretAccessKey: 'se/cret',
      });
      expect(parseMediaStorageUrl('s3://AK:SK@s3.amazonaws.com/my-bucket')).to.include({
        tls: true,
        pathStyle: false,
        region: 'us-east-1',
        port: null,
        prefix: '',
      });
    });

    it('refuses URLs it cannot use', () => {
      for (const bad of [
        'http://127.0.0.1/bucket',
        'file:',
        's3://127.0.0.1:9000/bucket',
        's3://AK:SK@127.0.0.1:9000/',
        's3://AK:SK@127.0.0.1:9000/B_ad',
        's3://AK:SK@127.0.0.1:9000/bucket?tls=maybe',
        's3://AK:SK@127.0.0.1:9000/bucket?endpoint=x',
      ]) {
        expect(() => parseMediaStorageUrl(bad), bad).to.throw();
      }
    });

    it('mediaStorageFromConfig picks the adapter, describing it without the secret', () => {
      const onDisk = mediaStorageFromConfig({ MEDIA_STORAGE_URL: `file:${folder}` });
      expect(onDisk).to.be.instanceOf(DiskMediaStorage);
      const inS3 = mediaStorageFromConfig({ MEDIA_STORAGE_URL: sandbox.storageUrl('media') });
      expect(inS3).to.be.instanceOf(S3MediaStorage);
      expect(inS3.description).to.equal(`s3:media@${sandbox.host}:${sandbox.port}`);
      expect(inS3.description).not.to.include(sandbox.secretAccessKey);
    });
  });
});
