import { expect } from 'chai';
import type { Container } from 'inversify';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { crc32, deflateSync, gzipSync } from 'node:zlib';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { createApiApp } from '../../src/api-app.js';
import { loadArticleVersion, readPostImages } from '../../src/application/articles.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import type { EventStore } from '../../src/event-store/index.js';
import { articlesProjection } from '../../src/projections/articles.js';
import { TOKENS } from '../../src/tokens.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import { startObjectStorage, type ObjectStorageSandbox } from '../../sandbox/object-storage/server.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';
import { signedIn } from '../support/signed-in.js';

/** A real PNG of w×h pixels (one IDAT of grey rows). */
function png(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type, 'latin1'), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // 8-bit greyscale
  const rows = Buffer.alloc((width + 1) * height, 0x80);
  for (let y = 0; y < height; y++) rows[y * (width + 1)] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A JPEG's header as image readers see it: SOI, JFIF APP0, a baseline SOF0 of w×h, EOI. */
function jpeg(width: number, height: number): Buffer {
  const app0 = Buffer.from([0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]);
  const sof = Buffer.from([0xff, 0xc0, 0x00, 0x11, 0x08, 0, 0, 0, 0, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01]);
  sof.writeUInt16BE(height, 5);
  sof.writeUInt16BE(width, 7);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, sof, Buffer.from([0xff, 0xd9])]);
}

/**
 * /api/v1/articles and /api/v1/media on the production app over a real
 * socket, the articles-v1 projection running, media stored in the
 * S3-compatible sandbox (every request SigV4-checked).
 */
describe('articles and media API (e2e, production app)', function () {
  this.timeout(60_000);
  const MAX_BYTES = 64 * 1024;
  let container: Container;
  let store: EventStore;
  let running: RunningServer;
  let runner: ConsumerRunner;
  let s3: ObjectStorageSandbox;
  let alice: { userId: string; token: string };
  let bob: { userId: string; token: string };
  /** writes the long article alone: the listings count alice's and bob's */
  let carol: { userId: string; token: string };
  let admin: { userId: string; token: string };

  before(async () => {
    s3 = await startObjectStorage({ buckets: ['articles-media'] });
    container = await buildContainer(testConfig({ MEDIA_STORAGE_URL: s3.storageUrl('articles-media', 'e2e'), MEDIA_MAX_BYTES: String(MAX_BYTES) }));
    store = container.get(TOKENS.EventStore);
    runner = new ConsumerRunner({ store, knex: container.get(TOKENS.Knex), databaseUrl: testDatabaseUrl }, articlesProjection, {
      idleCheckpointMs: 100,
      lockRetryMs: 100,
    });
    runner.start();
    running = await listen(createApiApp(container).callback(), '127.0.0.1', 0);
    const deps = { store, passwordHasher: container.get(TOKENS.PasswordHasher), accessTokens: container.get(TOKENS.AccessTokens) };
    alice = await signedIn(deps, 'user');
    bob = await signedIn(deps, 'user');
    carol = await signedIn(deps, 'user');
    admin = await signedIn(deps, 'admin');
  });
  after(async () => {
    if (running) await closeServer(running.server);
    await runner?.stop();
    if (container) await disposeContainer(container);
    await s3?.stop();
  });

  async function call(
    method: string,
    path: string,
    options: { token?: string; json?: unknown; raw?: string | Buffer; type?: string; headers?: Record<string, string> } = {},
  ) {
    const headers: Record<string, string> = { ...options.headers };
    let body: BodyInit | undefined;
    if (options.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.raw !== undefined) {
      if (options.type) headers['Content-Type'] = options.type;
      body = typeof options.raw === 'string' ? options.raw : new Uint8Array(options.raw);
    }
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    const res = await fetch(`${running.url}${path}`, { method, headers, body });
    const bytes = Buffer.from(await res.arrayBuffer());
    let json: any;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      json = undefined;
    }
    return { res, status: res.status, body: json, bytes, text: bytes.toString('utf8').slice(0, 500) };
  }
  const upload = (user: { token: string }, bytes: Buffer, type: string) => call('POST', '/api/v1/media', { token: user.token, raw: bytes, type });

  const alicePng = png(64, 48);
  let pngId: string;
  let jpegId: string;
  let lastPosition: string;

  describe('media', () => {
    it('uploads a PNG: 201 with its size and dimensions; the bytes are served back as they were', async () => {
      const r = await upload(alice, alicePng, 'image/png');
      expect(r.status, r.text).to.equal(201);
      const sha256 = createHash('sha256').update(alicePng).digest('hex');
      expect(r.body.data).to.include({ content_type: 'image/png', size_bytes: alicePng.length, width: 64, height: 48, sha256 });
      pngId = r.body.data.id;
      expect(r.res.headers.get('location')).to.equal(`/api/v1/media/${pngId}`);
      expect([...s3.buckets.get('articles-media')!.keys()]).to.include(`e2e/media/${pngId.slice(0, 2)}/${pngId}`);

      const got = await call('GET', `/api/v1/media/${pngId}`, { token: alice.token });
      expect(got.status).to.equal(200);
      expect(got.bytes.equals(alicePng)).to.equal(true);
      expect(got.res.headers.get('content-type')).to.equal('image/png');
      expect(got.res.headers.get('x-content-type-options')).to.equal('nosniff');
      expect(got.res.headers.get('etag')).to.equal(`"${sha256}"`);
      const again = await call('GET', `/api/v1/media/${pngId}`, { token: alice.token, headers: { 'If-None-Match': `"${sha256}"` } });
      expect(again.status).to.equal(304);
      expect(again.bytes.length).to.equal(0);
    });

    it('uploads a JPEG (type parameters ignored), its dimensions read from the header', async () => {
      const r = await upload(alice, jpeg(1080, 1440), 'image/jpeg; charset=binary');
      expect(r.status, r.text).to.equal(201);
      expect(r.body.data).to.include({ content_type: 'image/jpeg', width: 1080, height: 1440 });
      jpegId = r.body.data.id;
      lastPosition = r.body.data.position;
    });

    it('413 over MEDIA_MAX_BYTES, whether the length is declared or the body streamed', async () => {
      const big = Buffer.concat([alicePng, randomBytes(MAX_BYTES)]);
      const declared = await upload(alice, big, 'image/png');
      expect(declared.status, declared.text).to.equal(413);
      expect(declared.body.error).to.deep.include({ code: 'PAYLOAD_TOO_LARGE', details: { limit_bytes: MAX_BYTES } });
      expect(declared.res.headers.get('connection'), 'the unread rest is not drained').to.equal('close');
      const streamed = await fetch(`${running.url}/api/v1/media`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${alice.token}`, 'Content-Type': 'image/png' },
        body: new ReadableStream({
          start(controller) {
            for (let i = 0; i < 8; i++) controller.enqueue(new Uint8Array(randomBytes(MAX_BYTES / 4)));
            controller.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      expect(streamed.status).to.equal(413);
    });

    it('415 for a type that is not one of the images, JSON and SVG included', async () => {
      for (const type of ['image/svg+xml', 'application/json', 'text/plain', 'application/octet-stream']) {
        const r = await upload(alice, alicePng, type);
        expect(r.status, `${type}: ${r.text}`).to.equal(415);
        expect(r.body.error.code).to.equal('UNSUPPORTED_MEDIA_TYPE');
        expect(r.res.headers.get('connection')).to.equal('close');
      }
      const none = await call('POST', '/api/v1/media', { token: alice.token, raw: alicePng });
      expect(none.status).to.equal(415);
    });

    it('415 for an upload with a Content-Encoding: the bytes are stored as sent, never decompressed', async () => {
      for (const [encoding, raw] of [
        ['gzip', gzipSync(alicePng)],
        ['x-bogus', alicePng],
        ['GZIP', gzipSync(alicePng)],
      ] as const) {
        const r = await call('POST', '/api/v1/media', { token: alice.token, raw, type: 'image/png', headers: { 'Content-Encoding': encoding } });
        expect(r.status, `${encoding}: ${r.text}`).to.equal(415);
        expect(r.body.error.code).to.equal('UNSUPPORTED_MEDIA_TYPE');
        expect(r.res.headers.get('connection')).to.equal('close');
      }
      const identity = await call('POST', '/api/v1/media', {
        token: alice.token,
        raw: alicePng,
        type: 'image/png',
        headers: { 'Content-Encoding': 'identity' },
      });
      expect(identity.status, identity.text).to.equal(201);
      // gone again: the listings below count this user's uploads
      expect((await call('DELETE', `/api/v1/media/${identity.body.data.id}`, { token: alice.token })).status).to.be.within(200, 204);
    });

    it('422 when the bytes are not the declared type by their magic number, or empty', async () => {
      const mismatch = await upload(alice, jpeg(10, 10), 'image/png');
      expect(mismatch.status, mismatch.text).to.equal(422);
      expect(mismatch.body.error.details).to.include({ declared: 'image/png', detected: 'image/jpeg' });
      const garbage = await upload(alice, Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), 'image/webp');
      expect(garbage.status).to.equal(422);
      expect(garbage.body.error.details).to.include({ detected: null });
      const empty = await upload(alice, Buffer.alloc(0), 'image/gif');
      expect(empty.status).to.equal(422);
    });

    it("another user's media is 404 to read or delete; an admin may read it", async () => {
      expect((await call('GET', `/api/v1/media/${pngId}`, { token: bob.token })).status).to.equal(404);
      expect((await call('DELETE', `/api/v1/media/${pngId}`, { token: bob.token })).status).to.equal(404);
      expect((await call('GET', `/api/v1/media/${randomUUID()}`, { token: alice.token })).status).to.equal(404);
      expect((await call('GET', '/api/v1/media/not-a-uuid', { token: alice.token })).status).to.equal(422);
      const byAdmin = await call('GET', `/api/v1/media/${pngId}`, { token: admin.token });
      expect(byAdmin.status).to.equal(200);
      expect(byAdmin.bytes.equals(alicePng)).to.equal(true);
    });

    it('lists my uploads, newest first; others see none of them', async () => {
      const mine = await call('GET', `/api/v1/media?after_position=${lastPosition}`, { token: alice.token });
      expect(mine.status, mine.text).to.equal(200);
      expect(mine.body.data.items.map((m: { id: string }) => m.id)).to.deep.equal([jpegId, pngId]);
      expect(mine.body.data.items[1]).to.include({ url: `/api/v1/media/${pngId}`, width: 64 });
      expect(mine.body.data.items[1]).not.to.have.property('storage_key');
      const theirs = await call('GET', `/api/v1/media?after_position=${lastPosition}`, { token: bob.token });
      expect(theirs.body.data.items).to.deep.equal([]);
    });

    it('the OpenAPI document describes the upload as a binary body of each image type', async () => {
      const doc = await call('GET', '/api/v1/openapi.json');
      const post = doc.body.paths['/api/v1/media'].post;
      expect(Object.keys(post.requestBody.content)).to.have.members(['image/png', 'image/jpeg', 'image/webp', 'image/gif']);
      expect(post.requestBody.content['image/png'].schema).to.include({ type: 'string', format: 'binary' });
      expect(doc.body.paths['/api/v1/articles/{id}/versions/{version}'].get.summary).to.be.a('string');
    });
  });

  describe('articles', () => {
    let articleId: string;
    let otherId: string;
    const content = () => ({
      title: '露营装备清单',
      body: '# 清单\n\n帐篷 and a sleeping bag.',
      summary: '周末露营带什么',
      tags: ['露营', '装备'],
      cover_media_id: pngId,
      image_media_ids: [jpegId],
    });

    it('takes an article of the most characters documented in a 3-byte script at the default body limit (300 kB of UTF-8)', async () => {
      const writer = carol;
      const body = '露'.repeat(100_000);
      const created = await call('POST', '/api/v1/articles', { token: writer.token, json: { title: '长文', body } });
      expect(created.status, created.text).to.equal(201);
      const got = await call('GET', `/api/v1/articles/${created.body.data.id}?after_position=${created.body.data.position}`, { token: writer.token });
      expect(got.body.data.body).to.equal(body);
    });

    it('creates version 1 (201) and serves it with its body after the position', async () => {
      const created = await call('POST', '/api/v1/articles', { token: alice.token, json: content() });
      expect(created.status, created.text).to.equal(201);
      expect(created.body.data).to.include({ version: 1, revision: '0' });
      articleId = created.body.data.id;
      const got = await call('GET', `/api/v1/articles/${articleId}?after_position=${created.body.data.position}`, { token: alice.token });
      expect(got.status, got.text).to.equal(200);
      expect(got.res.headers.get('etag')).to.equal('"0"');
      expect(got.body.data).to.deep.include({
        id: articleId,
        version: 1,
        title: '露营装备清单',
        body: '# 清单\n\n帐篷 and a sleeping bag.',
        summary: '周末露营带什么',
        tags: ['露营', '装备'],
        cover_media_id: pngId,
        image_media_ids: [jpegId],
        image_count: 1,
        word_count: 8,
        revision: '0',
      });
    });

    it('422 when the media are not my existing images, naming the field', async () => {
      const bobs = await upload(bob, png(2, 2), 'image/png');
      expect(bobs.status).to.equal(201);
      const foreign = await call('POST', '/api/v1/articles', { token: alice.token, json: { ...content(), image_media_ids: [jpegId, bobs.body.data.id] } });
      expect(foreign.status, foreign.text).to.equal(422);
      expect(foreign.body.error.details.issues).to.deep.equal([
        { in: 'body', path: ['image_media_ids', 1], message: `media ${bobs.body.data.id} is not one of my uploaded images`, code: 'unknown_media' },
      ]);
      const unknown = await call('POST', '/api/v1/articles', { token: alice.token, json: { ...content(), cover_media_id: randomUUID() } });
      expect(unknown.status).to.equal(422);
      expect(unknown.body.error.details.issues[0].path).to.deep.equal(['cover_media_id']);
      const notAnId = await call('POST', '/api/v1/articles', { token: alice.token, json: { ...content(), image_media_ids: ['x'] } });
      expect(notAnId.status).to.equal(422);
    });

    it('refuses bad bodies: limits, duplicate tags, NUL bytes (422) and malformed JSON (400)', async () => {
      for (const json of [
        { ...content(), title: '' },
        { ...content(), title: 't'.repeat(201) },
        { ...content(), tags: ['a', ' a '] },
        { ...content(), tags: Array.from({ length: 21 }, (_, i) => `t${i}`) },
        { ...content(), extra: true },
        { ...content(), title: 'a\u0000b' },
        { ...content(), body: 'nul \u0000 in the body' },
      ]) {
        const r = await call('POST', '/api/v1/articles', { token: alice.token, json });
        expect(r.status, `${JSON.stringify(json).slice(0, 80)} → ${r.text}`).to.equal(422);
        expect(r.body.error.code).to.equal('VALIDATION_ERROR');
      }
      const malformed = await call('POST', '/api/v1/articles', { token: alice.token, raw: '{"title": "x",', type: 'application/json' });
      expect(malformed.status).to.equal(400);
      expect(malformed.body.error.code).to.equal('MALFORMED_JSON');
    });

    it('revises into numbered versions: If-Match and expected_version guard them; the same content is a no-op', async () => {
      const v2 = await call('PUT', `/api/v1/articles/${articleId}`, {
        token: alice.token,
        json: { ...content(), title: 'Camping gear list', tags: ['露营', 'gear'] },
        headers: { 'If-Match': '"0"' },
      });
      expect(v2.status, v2.text).to.equal(200);
      expect(v2.body.data).to.include({ id: articleId, version: 2, revision: '1' });
      const stale = await call('PUT', `/api/v1/articles/${articleId}`, {
        token: alice.token,
        json: { ...content(), title: 'stale' },
        headers: { 'If-Match': '"0"' },
      });
      expect(stale.status).to.equal(412);
      const staleVersion = await call('PUT', `/api/v1/articles/${articleId}`, {
        token: alice.token,
        json: { ...content(), title: 'stale', expected_version: 1 },
      });
      expect(staleVersion.status).to.equal(409);
      expect(staleVersion.body.error.details).to.include({ reason: 'version_mismatch', version: 2 });
      const same = await call('PUT', `/api/v1/articles/${articleId}`, {
        token: alice.token,
        json: { ...content(), title: 'Camping gear list', tags: ['露营', 'gear'] },
      });
      expect(same.status, same.text).to.equal(200);
      expect(same.body.data).to.include({ version: 2, revision: '1', position: null });
      lastPosition = v2.body.data.position;
    });

    it('lists the versions newest first and serves each whole', async () => {
      const versions = await call('GET', `/api/v1/articles/${articleId}/versions?after_position=${lastPosition}`, { token: alice.token });
      expect(versions.status, versions.text).to.equal(200);
      expect(versions.body.data.items.map((v: { version: number; title: string }) => [v.version, v.title])).to.deep.equal([
        [2, 'Camping gear list'],
        [1, '露营装备清单'],
      ]);
      expect(versions.body.data.items[0]).not.to.have.property('body');
      expect(versions.body.data.pagination).to.include({ total: 2 });
      const first = await call('GET', `/api/v1/articles/${articleId}/versions/1`, { token: alice.token });
      expect(first.body.data).to.include({ version: 1, title: '露营装备清单', body: '# 清单\n\n帐篷 and a sleeping bag.' });
      expect((await call('GET', `/api/v1/articles/${articleId}/versions/3`, { token: alice.token })).status).to.equal(404);
    });

    it('searches my articles by words in title, summary or tags, filters by tag, sorts', async () => {
      const other = await call('POST', '/api/v1/articles', {
        token: alice.token,
        json: { title: 'Tea notes', body: 'Longjing, 明前.', summary: 'spring tea 100%', tags: ['tea'] },
      });
      expect(other.status, other.text).to.equal(201);
      otherId = other.body.data.id;
      const after = `after_position=${other.body.data.position}`;
      const ids = async (query: string, user = alice) =>
        (await call('GET', `/api/v1/articles?${query}&${after}`, { token: user.token })).body.data.items.map((a: { id: string }) => a.id);
      expect(await ids('')).to.deep.equal([otherId, articleId]);
      expect(await ids(`q=${encodeURIComponent('GEAR camping')}`)).to.deep.equal([articleId]);
      expect(await ids(`q=${encodeURIComponent('露营')}`)).to.deep.equal([articleId]);
      expect(await ids('q=spring')).to.deep.equal([otherId]);
      expect(await ids(`q=${encodeURIComponent('100%')}`)).to.deep.equal([otherId]);
      expect(await ids(`q=${encodeURIComponent('%')}`)).to.deep.equal([otherId]);
      expect(await ids('tag=gear')).to.deep.equal([articleId]);
      expect(await ids('tag=gea')).to.deep.equal([]);
      expect(await ids('sort=title&order=asc')).to.deep.equal([articleId, otherId]);
      expect(await ids('sort=created_at&order=asc&per_page=1&page=2')).to.deep.equal([otherId]);
      expect(await ids('', bob)).to.deep.equal([]);
      expect((await call('GET', '/api/v1/articles?sort=nope', { token: alice.token })).status).to.equal(422);
    });

    it("another user's article is 404 everywhere", async () => {
      const asBob = (method: string, path: string, json?: unknown) => call(method, path, { token: bob.token, ...(json ? { json } : {}) });
      expect((await asBob('GET', `/api/v1/articles/${articleId}`)).status).to.equal(404);
      expect((await asBob('PUT', `/api/v1/articles/${articleId}`, { title: 'mine now', body: '' })).status).to.equal(404);
      expect((await asBob('DELETE', `/api/v1/articles/${articleId}`)).status).to.equal(404);
      expect((await asBob('GET', `/api/v1/articles/${articleId}/versions`)).status).to.equal(404);
      expect((await asBob('GET', `/api/v1/articles/${articleId}/versions/1`)).status).to.equal(404);
    });

    it('gives the publishing job a version and its images, cover first, for the owner only', async () => {
      const v1 = await loadArticleVersion(store, { articleId, ownerId: alice.userId, version: 1 });
      expect(v1).to.include({ version: 1, title: '露营装备清单', coverMediaId: pngId });
      const current = await loadArticleVersion(store, { articleId, ownerId: alice.userId });
      expect(current).to.include({ version: 2, title: 'Camping gear list' });
      const images = await readPostImages({ store, storage: container.get(TOKENS.MediaStorage) }, alice.userId, current);
      expect(images.map((i) => [i.mediaId, i.contentType])).to.deep.equal([
        [pngId, 'image/png'],
        [jpegId, 'image/jpeg'],
      ]);
      expect(images[0]!.bytes.equals(alicePng)).to.equal(true);
      for (const query of [
        { articleId, ownerId: bob.userId },
        { articleId, ownerId: alice.userId, version: 3 },
      ]) {
        const error = await loadArticleVersion(store, query).catch((e: unknown) => e);
        expect(error).to.be.instanceOf(DomainError);
        expect((error as DomainError).code).to.equal('NOT_FOUND');
      }
      const foreign = await readPostImages({ store, storage: container.get(TOKENS.MediaStorage) }, bob.userId, current).catch((e: unknown) => e);
      expect((foreign as DomainError).code).to.equal('NOT_FOUND');
    });

    it('deletes: gone from every route and the list; a repeat is 404', async () => {
      // If-Match: a revision the article has moved on from is 412 and deletes nothing; the current one deletes
      const stale = await call('DELETE', `/api/v1/articles/${articleId}`, { token: alice.token, headers: { 'If-Match': '"0"' } });
      expect(stale.status, stale.text).to.equal(412);
      expect(stale.body.error.code).to.equal('PRECONDITION_FAILED');
      const current = await call('GET', `/api/v1/articles/${articleId}`, { token: alice.token });
      expect(current.status, current.text).to.equal(200);
      const etag = current.res.headers.get('etag');
      expect(etag).to.match(/^"[1-9][0-9]*"$/);
      const deleted = await call('DELETE', `/api/v1/articles/${articleId}`, { token: alice.token, headers: { 'If-Match': etag! } });
      expect(deleted.status, deleted.text).to.equal(200);
      const after = `after_position=${deleted.body.data.position}`;
      expect((await call('GET', `/api/v1/articles/${articleId}?${after}`, { token: alice.token })).status).to.equal(404);
      expect((await call('GET', `/api/v1/articles/${articleId}/versions`, { token: alice.token })).status).to.equal(404);
      expect((await call('PUT', `/api/v1/articles/${articleId}`, { token: alice.token, json: content() })).status).to.equal(404);
      expect((await call('DELETE', `/api/v1/articles/${articleId}`, { token: alice.token })).status).to.equal(404);
      const list = await call('GET', `/api/v1/articles?${after}`, { token: alice.token });
      expect(list.body.data.items.map((a: { id: string }) => a.id)).to.deep.equal([otherId]);
      const error = await loadArticleVersion(store, { articleId, ownerId: alice.userId }).catch((e: unknown) => e);
      expect((error as DomainError).code).to.equal('NOT_FOUND');
    });

    it('deleting an image removes its bytes; it is 404 after, and to a repeat', async () => {
      const key = `e2e/media/${jpegId.slice(0, 2)}/${jpegId}`;
      expect(s3.buckets.get('articles-media')!.has(key)).to.equal(true);
      const deleted = await call('DELETE', `/api/v1/media/${jpegId}`, { token: alice.token });
      expect(deleted.status, deleted.text).to.equal(200);
      expect(s3.buckets.get('articles-media')!.has(key)).to.equal(false);
      expect((await call('GET', `/api/v1/media/${jpegId}`, { token: alice.token })).status).to.equal(404);
      expect((await call('DELETE', `/api/v1/media/${jpegId}`, { token: alice.token })).status).to.equal(404);
      const list = await call('GET', `/api/v1/media?after_position=${deleted.body.data.position}`, { token: alice.token });
      expect(list.body.data.items.map((m: { id: string }) => m.id)).to.deep.equal([pngId]);
      expect(s3.requests.filter((r) => r.code !== null && r.code !== 'NoSuchKey')).to.deep.equal([]);
    });
  });
});
