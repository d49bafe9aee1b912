import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { articlesProjection, wordCount } from '../../src/projections/articles.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { projectionSpec, recorded } from '../support/projection-spec.js';

describe('articles-v1 projection (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const content = (version: number, title: string, body: string, extra: Record<string, unknown> = {}) => ({
    version,
    title,
    body,
    summary: null,
    tags: ['露营'],
    coverMediaId: null,
    imageMediaIds: [],
    ...extra,
  });
  const created = (id: string, owner: string, at: string) =>
    recorded(`article-${id}`, 'ArticleCreated', {
      articleId: id,
      ownerId: owner,
      content: content(1, '露营清单', '帐篷 and sleeping bag', { summary: '周末', coverMediaId: 'm-cover', imageMediaIds: ['m1', 'm2'] }),
      createdAt: at,
    });
  const revised = (id: string, owner: string, version: number, title: string, at: string) =>
    recorded(`article-${id}`, 'ArticleRevised', {
      articleId: id,
      ownerId: owner,
      content: content(version, title, `# ${title}\n\nOne two three.`, { tags: ['露营', 'gear'] }),
      revisedAt: at,
    });
  const deletedEvent = (id: string, owner: string, version: number, at: string) =>
    recorded(`article-${id}`, 'ArticleDeleted', { articleId: id, ownerId: owner, version, deletedAt: at });

  it('an article is its current version; every version is kept whole, whatever the batching', async () => {
    const id = randomUUID();
    const owner = randomUUID();
    const events = [
      created(id, owner, '2026-12-09T10:00:00.000Z'),
      revised(id, owner, 2, 'Gear list', '2026-12-09T11:00:00.000Z'),
      revised(id, owner, 3, 'Gear list, final', '2026-12-09T12:00:00.000Z'),
    ];
    for (const batchSize of [500, 1, 2]) {
      await projectionSpec(knex, articlesProjection, { batchSize })
        .given(events)
        .thenAll([
          {
            table: 'articles',
            query: {
              where: { id },
              columns: [
                'owner_id',
                'status',
                'version',
                'title',
                'summary',
                'tags',
                'cover_media_id',
                'image_count',
                'word_count',
                'created_at',
                'updated_at',
                'last_revision',
              ],
            },
            expected: [
              {
                owner_id: owner,
                status: 'active',
                version: 3,
                title: 'Gear list, final',
                summary: null,
                tags: ['露营', 'gear'],
                cover_media_id: null,
                image_count: 0,
                word_count: 6,
                created_at: '2026-12-09T10:00:00.000Z',
                updated_at: '2026-12-09T12:00:00.000Z',
                last_revision: '2',
              },
            ],
          },
          {
            table: 'article_versions',
            query: {
              where: { article_id: id },
              columns: ['version', 'title', 'summary', 'cover_media_id', 'image_media_ids', 'word_count', 'created_at'],
              orderBy: ['version'],
            },
            expected: [
              {
                version: 1,
                title: '露营清单',
                summary: '周末',
                cover_media_id: 'm-cover',
                image_media_ids: ['m1', 'm2'],
                word_count: 5,
                created_at: '2026-12-09T10:00:00.000Z',
              },
              {
                version: 2,
                title: 'Gear list',
                summary: null,
                cover_media_id: null,
                image_media_ids: [],
                word_count: 5,
                created_at: '2026-12-09T11:00:00.000Z',
              },
              {
                version: 3,
                title: 'Gear list, final',
                summary: null,
                cover_media_id: null,
                image_media_ids: [],
                word_count: 6,
                created_at: '2026-12-09T12:00:00.000Z',
              },
            ],
          },
        ]);
    }
  });

  it('a deleted article keeps its row, marked deleted; other owners stay apart', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const [u1, u2] = [randomUUID(), randomUUID()];
    await projectionSpec(knex, articlesProjection)
      .given([
        created(a, u1, '2026-12-09T10:00:00.000Z'),
        created(b, u2, '2026-12-09T10:00:01.000Z'),
        revised(a, u1, 2, 'v2', '2026-12-09T11:00:00.000Z'),
        deletedEvent(a, u1, 2, '2026-12-09T12:00:00.000Z'),
      ])
      .thenQuery(
        (tx) => tx('articles').whereIn('id', [a, b]).orderBy('created_at').select('owner_id', 'status', 'version', 'title', 'deleted_at', 'last_revision'),
        [
          { owner_id: u1, status: 'deleted', version: 2, title: 'v2', deleted_at: '2026-12-09T12:00:00.000Z', last_revision: '2' },
          { owner_id: u2, status: 'active', version: 1, title: '露营清单', deleted_at: null, last_revision: '0' },
        ],
      );
  });

  it('media: an upload is a row, its deletion marks it', async () => {
    const [m1, m2] = [randomUUID(), randomUUID()];
    const owner = randomUUID();
    const uploaded = (id: string, at: string) =>
      recorded(`media-${id}`, 'MediaUploaded', {
        mediaId: id,
        ownerId: owner,
        contentType: 'image/png',
        sizeBytes: 1234,
        sha256: 'a'.repeat(64),
        storageKey: `media/${owner}/${id}`,
        width: 640,
        height: null,
        uploadedAt: at,
      });
    const events = [
      uploaded(m1, '2026-12-09T10:00:00.000Z'),
      uploaded(m2, '2026-12-09T10:00:01.000Z'),
      recorded(`media-${m1}`, 'MediaDeleted', { mediaId: m1, ownerId: owner, storageKey: `media/${owner}/${m1}`, deletedAt: '2026-12-09T11:00:00.000Z' }),
    ];
    for (const batchSize of [500, 1]) {
      await projectionSpec(knex, articlesProjection, { batchSize })
        .given(events)
        .thenQuery(
          (tx) =>
            tx('media')
              .whereIn('id', [m1, m2])
              .orderBy('uploaded_at')
              .select('id', 'status', 'content_type', 'size_bytes', 'width', 'height', 'storage_key', 'deleted_at', 'last_revision'),
          [
            {
              id: m1,
              status: 'deleted',
              content_type: 'image/png',
              size_bytes: '1234',
              width: 640,
              height: null,
              storage_key: `media/${owner}/${m1}`,
              deleted_at: '2026-12-09T11:00:00.000Z',
              last_revision: '1',
            },
            {
              id: m2,
              status: 'active',
              content_type: 'image/png',
              size_bytes: '1234',
              width: 640,
              height: null,
              storage_key: `media/${owner}/${m2}`,
              deleted_at: null,
              last_revision: '0',
            },
          ],
        );
    }
  });

  it('counts words as a reader does: each CJK character, each other word; no link targets or marks', () => {
    expect(wordCount('')).to.equal(0);
    expect(wordCount('帐篷 and sleeping bag')).to.equal(5);
    expect(wordCount('# Title\n\n**bold** [a link](https://example.com/x) ![图](https://img/1.png) it’s well-known')).to.equal(7);
    expect(wordCount('日本語とカタカナ')).to.equal(8);
  });
});
