import { expect } from 'chai';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  articleAggregate,
  articleDecider,
  articleStream,
  MAX_ARTICLE_VERSIONS,
  type ArticleEvent,
  type ArticleVersionContent,
  type CreateArticle,
  type DeleteArticle,
  type ReviseArticle,
} from '../../src/write-model/article/index.js';
import { fold } from '../../src/write-model/core/decider.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(articleDecider);
const code = (c: DomainError['code']) => (e: DomainError) => e.code === c;
const field = (f: string, max?: number) => (e: DomainError) =>
  e.code === 'VALIDATION_ERROR' && e.details.field === f && (max === undefined || e.details.max === max);

const ARTICLE = '6f1c1d2e-8a55-4a0b-9d0e-2b9a1b1c0d01';
const OWNER = 'user-1';
const T0 = '2026-12-09T10:00:00.000Z';
const T1 = '2026-12-09T11:00:00.000Z';
const T2 = '2026-12-09T12:00:00.000Z';

const input = {
  title: '露营装备清单',
  body: '# 清单\n\n帐篷、睡袋。',
  summary: '周末露营带什么',
  tags: ['露营', '装备'],
  coverMediaId: 'media-cover',
  imageMediaIds: ['media-1', 'media-2'],
};
const v1: ArticleVersionContent = { version: 1, ...input };
const createCmd: CreateArticle = { type: 'CreateArticle', articleId: ARTICLE, ownerId: OWNER, ...input, now: T0 };
const created: ArticleEvent = { type: 'ArticleCreated', data: { articleId: ARTICLE, ownerId: OWNER, content: v1, createdAt: T0 } };
const reviseCmd = (patch: Partial<ReviseArticle> = {}): ReviseArticle => ({
  type: 'ReviseArticle',
  articleId: ARTICLE,
  requestedBy: OWNER,
  ...input,
  title: '露营装备清单（修订）',
  now: T1,
  ...patch,
});
const revised = (version: number, title = '露营装备清单（修订）', at = T1): ArticleEvent => ({
  type: 'ArticleRevised',
  data: { articleId: ARTICLE, ownerId: OWNER, content: { ...v1, version, title }, revisedAt: at },
});
const deleteCmd: DeleteArticle = { type: 'DeleteArticle', articleId: ARTICLE, requestedBy: OWNER, now: T2 };
const deleted: ArticleEvent = { type: 'ArticleDeleted', data: { articleId: ARTICLE, ownerId: OWNER, version: 2, deletedAt: T2 } };

describe('Article decider', () => {
  it('names its stream article-{id} and snapshots like a lifecycle stream', () => {
    expect(articleStream(ARTICLE)).to.equal(`article-${ARTICLE}`);
    expect(articleAggregate.snapshot).to.deep.equal({ version: 1, every: 10 });
  });

  describe('CreateArticle', () => {
    it('records version 1 with the content normalised (trimmed title and tags, blank summary → null)', () => {
      spec
        .given([])
        .when({ ...createCmd, title: '  露营装备清单 ', tags: [' 露营', '装备 '], summary: '   ' })
        .then([{ type: 'ArticleCreated', data: { articleId: ARTICLE, ownerId: OWNER, content: { ...v1, summary: null }, createdAt: T0 } }]);
    });
    it('is a no-op when repeated with the same content', () => {
      spec.given([created]).when(createCmd).then([]);
    });
    it('is a CONFLICT with other content, another owner, after a revision or after deletion', () => {
      spec
        .given([created])
        .when({ ...createCmd, body: 'other' })
        .thenThrows(DomainError, code('CONFLICT'));
      spec
        .given([created])
        .when({ ...createCmd, ownerId: 'user-2' })
        .thenThrows(DomainError, code('CONFLICT'));
      spec
        .given([created, revised(2)])
        .when(createCmd)
        .thenThrows(DomainError, code('CONFLICT'));
      spec
        .given([created, revised(2), deleted])
        .when(createCmd)
        .thenThrows(DomainError, code('CONFLICT'));
    });
    it('refuses content outside the limits, naming the field and its limit', () => {
      const cases: [Partial<CreateArticle>, string, number?][] = [
        [{ title: '' }, 'title'],
        [{ title: '   ' }, 'title'],
        [{ title: 'x'.repeat(201) }, 'title', 200],
        [{ title: 'a\u0000b' }, 'title'],
        [{ body: 'x'.repeat(100_001) }, 'body', 100_000],
        [{ body: 'nul\u0000' }, 'body'],
        [{ summary: 's'.repeat(501) }, 'summary', 500],
        [{ tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }, 'tags', 20],
        [{ tags: ['t'.repeat(31)] }, 'tags', 30],
        [{ tags: [''] }, 'tags'],
        [{ tags: ['露营', ' 露营 '] }, 'tags'],
        [{ tags: 'x' as unknown as string[] }, 'tags'],
        [{ imageMediaIds: Array.from({ length: 19 }, (_, i) => `m${i}`) }, 'imageMediaIds', 18],
        [{ imageMediaIds: ['m1', 'm1'] }, 'imageMediaIds'],
        [{ imageMediaIds: [''] }, 'imageMediaIds'],
        [{ coverMediaId: '' }, 'coverMediaId'],
        [{ title: 7 as unknown as string }, 'title'],
      ];
      for (const [patch, f, max] of cases)
        spec
          .given([])
          .when({ ...createCmd, ...patch })
          .thenThrows(DomainError, field(f, max));
    });
    it('accepts content at the limits', () => {
      const limits = {
        title: 't'.repeat(200),
        body: 'b'.repeat(100_000),
        summary: 's'.repeat(500),
        tags: Array.from({ length: 20 }, (_, i) => `${i}`.padEnd(30, 'x')),
        imageMediaIds: Array.from({ length: 18 }, (_, i) => `m${i}`),
        // ids count characters (code points), as their schemas do
        coverMediaId: '😀'.repeat(100),
      };
      const [event] = articleDecider.decide({ ...createCmd, ...limits }, articleDecider.initialState());
      expect(event?.type).to.equal('ArticleCreated');
    });
    it('refuses a missing id, owner or time', () => {
      spec
        .given([])
        .when({ ...createCmd, articleId: '' })
        .thenThrows(DomainError, field('articleId'));
      spec
        .given([])
        .when({ ...createCmd, ownerId: ' ' })
        .thenThrows(DomainError, field('ownerId'));
      spec
        .given([])
        .when({ ...createCmd, now: 'yesterday' })
        .thenThrows(DomainError, field('now'));
    });
  });

  describe('ReviseArticle', () => {
    it('records the whole new content as the next version', () => {
      spec
        .given([created])
        .when(reviseCmd())
        .then([revised(2)]);
      spec
        .given([created, revised(2)])
        .when(reviseCmd({ title: '第三版', now: T2 }))
        .then([revised(3, '第三版', T2)]);
    });
    it('takes the expected version when it is the current one', () => {
      spec
        .given([created])
        .when(reviseCmd({ expectedVersion: 1 }))
        .then([revised(2)]);
    });
    it('is a no-op when the content is the current version (a retry, even with its old expected version)', () => {
      spec
        .given([created])
        .when(reviseCmd({ title: input.title }))
        .then([]);
      spec
        .given([created, revised(2)])
        .when(reviseCmd({ expectedVersion: 1 }))
        .then([]);
    });
    it('is a CONFLICT when the expected version is not the current one', () => {
      spec
        .given([created, revised(2)])
        .when(reviseCmd({ title: 'again', expectedVersion: 1 }))
        .thenThrows(DomainError, (e: DomainError) => e.code === 'CONFLICT' && e.details.reason === 'version_mismatch' && e.details.version === 2);
    });
    it(`is a CONFLICT past ${MAX_ARTICLE_VERSIONS} versions`, () => {
      const history: ArticleEvent[] = [created];
      for (let v = 2; v <= MAX_ARTICLE_VERSIONS; v++) history.push(revised(v, `v${v}`));
      spec
        .given(history)
        .when(reviseCmd({ title: 'one more' }))
        .thenThrows(DomainError, (e: DomainError) => e.code === 'CONFLICT' && e.details.reason === 'version_limit');
    });
    it('is NOT_FOUND for another user, an unknown article and a deleted one', () => {
      spec
        .given([created])
        .when(reviseCmd({ requestedBy: 'user-2' }))
        .thenThrows(DomainError, code('NOT_FOUND'));
      spec.given([]).when(reviseCmd()).thenThrows(DomainError, code('NOT_FOUND'));
      spec
        .given([created, revised(2), deleted])
        .when(reviseCmd({ title: 'x' }))
        .thenThrows(DomainError, code('NOT_FOUND'));
    });
    it('refuses invalid content and expected versions', () => {
      spec
        .given([created])
        .when(reviseCmd({ body: 'x'.repeat(100_001) }))
        .thenThrows(DomainError, field('body', 100_000));
      spec
        .given([created])
        .when(reviseCmd({ expectedVersion: 0 }))
        .thenThrows(DomainError, field('expectedVersion'));
      spec
        .given([created])
        .when(reviseCmd({ expectedVersion: 1.5 }))
        .thenThrows(DomainError, field('expectedVersion'));
    });
  });

  describe('DeleteArticle', () => {
    it('records the deletion with the last version', () => {
      spec
        .given([created, revised(2)])
        .when(deleteCmd)
        .then([deleted]);
    });
    it('is a no-op when repeated', () => {
      spec
        .given([created, revised(2), deleted])
        .when(deleteCmd)
        .then([]);
    });
    it('is NOT_FOUND for another user or an unknown article', () => {
      spec
        .given([created])
        .when({ ...deleteCmd, requestedBy: 'user-2' })
        .thenThrows(DomainError, code('NOT_FOUND'));
      spec
        .given([created, revised(2), deleted])
        .when({ ...deleteCmd, requestedBy: 'user-2' })
        .thenThrows(DomainError, code('NOT_FOUND'));
      spec.given([]).when(deleteCmd).thenThrows(DomainError, code('NOT_FOUND'));
    });
  });

  it('folds to the current version', () => {
    const state = fold(articleDecider, [created, revised(2), deleted]);
    expect(state).to.deep.include({ status: 'deleted', ownerId: OWNER, version: 2, createdAt: T0, updatedAt: T1, deletedAt: T2 });
    expect(state.current?.title).to.equal('露营装备清单（修订）');
  });
});
