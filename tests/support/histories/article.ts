import fc from 'fast-check';
import { articleAggregate, type ArticleCommand } from '../../../src/write-model/article/index.js';
import { mediaAggregate, type MediaCommand } from '../../../src/write-model/media/index.js';
import { historySource, sequence } from './harness.js';

const content = fc.record({
  title: fc.constantFrom('露营装备清单', ' Tea notes ', '', 'x'.repeat(201)),
  body: fc.constantFrom('# 标题\n\n正文', '', 'plain body'),
  summary: fc.constantFrom(null, '', '一句话', 'short'),
  tags: fc.constantFrom<string[]>([], ['露营'], ['tea', 'tea'], ['a', 'b', 'c']),
  coverMediaId: fc.constantFrom(null, 'm1'),
  imageMediaIds: fc.constantFrom<string[]>([], ['m1', 'm2'], ['m2']),
});

/** An article's life: its author's creates, revisions (with and without an expected version) and deletes, a stranger's attempts. */
export const articleHistories = historySource(
  articleAggregate,
  sequence(
    fc.record({
      kind: fc.constantFrom('create', 'revise', 'revise', 'revise', 'delete'),
      who: fc.constantFrom('u1', 'u1', 'u2'),
      content,
      expected: fc.option(fc.integer({ min: 1, max: 30 }), { nil: undefined }),
    }),
    (c, now): ArticleCommand => {
      const articleId = 'a1';
      switch (c.kind) {
        case 'create':
          return { type: 'CreateArticle', articleId, ownerId: c.who, ...c.content, now };
        case 'revise':
          return { type: 'ReviseArticle', articleId, requestedBy: c.who, ...c.content, expectedVersion: c.expected, now };
        default:
          return { type: 'DeleteArticle', articleId, requestedBy: c.who, now };
      }
    },
  ),
);

/** An upload's life: recorded (again), deleted by its owner or tried by a stranger. */
export const mediaHistories = historySource(
  mediaAggregate,
  sequence(
    fc.record({
      kind: fc.constantFrom('upload', 'delete'),
      who: fc.constantFrom('u1', 'u2'),
      type: fc.constantFrom('image/png' as const, 'image/jpeg' as const),
      size: fc.constantFrom(0, 1, 5000),
      dims: fc.constantFrom<[number | null, number | null]>([null, null], [640, 480]),
    }),
    (c, now): MediaCommand =>
      c.kind === 'upload'
        ? {
            type: 'RecordMediaUpload',
            mediaId: 'm1',
            ownerId: c.who,
            contentType: c.type,
            sizeBytes: c.size,
            sha256: 'a'.repeat(64),
            storageKey: `media/${c.who}/m1`,
            width: c.dims[0],
            height: c.dims[1],
            now,
          }
        : { type: 'DeleteMedia', mediaId: 'm1', requestedBy: c.who, now },
    12,
  ),
);
