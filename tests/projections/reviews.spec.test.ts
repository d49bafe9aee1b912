import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { reviewRulesProjection, reviewsProjection } from '../../src/projections/reviews.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { projectionSpec, recorded } from '../support/projection-spec.js';

describe('reviews-v1 projection (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const COLUMNS = [
    'id',
    'owner_id',
    'status',
    'title',
    'hit_count',
    'claimed_by',
    'claimed_at',
    'decided_by',
    'decided_at',
    'comment',
    'waited_seconds',
    'last_revision',
  ];
  const hit = { ruleId: 'r1', ruleName: 'ads', kind: 'banned_phrase', category: null, field: 'body', start: 0, end: 3, match: '加微信' };
  const opened = (id: string, at = '2026-12-09T08:00:00.000Z') =>
    recorded(`review-${id}`, 'ReviewOpened', {
      reviewId: id,
      publicationId: `pub-${id}`,
      articleId: 'art-1',
      articleVersion: 1,
      ownerId: 'author-1',
      platform: 'xiaohongshu',
      region: 'CN',
      title: '露营',
      hits: [hit, hit],
      content: null,
      openedAt: at,
    });

  it('an opened review waits in the queue', async () => {
    const id = randomUUID();
    await projectionSpec(knex, reviewsProjection)
      .given([opened(id)])
      .then('reviews', { where: { id }, columns: COLUMNS }, [
        {
          id,
          owner_id: 'author-1',
          status: 'open',
          title: '露营',
          hit_count: 2,
          claimed_by: null,
          claimed_at: null,
          decided_by: null,
          decided_at: null,
          comment: null,
          waited_seconds: null,
          last_revision: '0',
        },
      ]);
  });

  it('claims, releases and the decision, in one batch or one event at a time', async () => {
    const id = randomUUID();
    const events = [
      opened(id),
      recorded(`review-${id}`, 'ReviewClaimed', { reviewId: id, reviewerId: 'alice', takenOverFrom: null, claimedAt: '2026-12-09T08:01:00.000Z' }),
      recorded(`review-${id}`, 'ReviewReleased', { reviewId: id, reviewerId: 'alice', releasedAt: '2026-12-09T08:02:00.000Z' }),
      recorded(`review-${id}`, 'ReviewClaimed', { reviewId: id, reviewerId: 'bob', takenOverFrom: null, claimedAt: '2026-12-09T08:03:00.000Z' }),
      recorded(`review-${id}`, 'ReviewRejected', {
        reviewId: id,
        publicationId: `pub-${id}`,
        ownerId: 'author-1',
        reviewerId: 'bob',
        comment: '含联系方式',
        decidedAt: '2026-12-09T08:10:00.000Z',
        waitedSeconds: 600,
      }),
    ];
    const expected = [
      {
        id,
        owner_id: 'author-1',
        status: 'rejected',
        title: '露营',
        hit_count: 2,
        claimed_by: 'bob',
        claimed_at: new Date('2026-12-09T08:03:00.000Z'),
        decided_by: 'bob',
        decided_at: new Date('2026-12-09T08:10:00.000Z'),
        comment: '含联系方式',
        waited_seconds: 600,
        last_revision: '4',
      },
    ];
    await projectionSpec(knex, reviewsProjection).given(events).then('reviews', { where: { id }, columns: COLUMNS }, expected);
    await projectionSpec(knex, reviewsProjection, { batchSize: 1 }).given(events).then('reviews', { where: { id }, columns: COLUMNS }, expected);
  });

  it('a withdrawn review leaves the queue', async () => {
    const id = randomUUID();
    await projectionSpec(knex, reviewsProjection)
      .given([
        opened(id),
        recorded(`review-${id}`, 'ReviewClaimed', { reviewId: id, reviewerId: 'alice', takenOverFrom: null, claimedAt: '2026-12-09T08:01:00.000Z' }),
        recorded(`review-${id}`, 'ReviewWithdrawn', { reviewId: id, publicationId: `pub-${id}`, ownerId: 'author-1', withdrawnAt: '2026-12-09T08:05:00.000Z' }),
      ])
      .then('reviews', { where: { id }, columns: ['status', 'claimed_by', 'decided_at'] }, [
        { status: 'withdrawn', claimed_by: null, decided_at: new Date('2026-12-09T08:05:00.000Z') },
      ]);
  });
});

describe('review-rules-v1 projection (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const COLUMNS = [
    'id',
    'kind',
    'name',
    'category',
    'phrases',
    'phrase_count',
    'platforms',
    'enabled',
    'removed',
    'created_at',
    'updated_at',
    'updated_by',
    'last_revision',
  ];
  const rule = (id: string, over: Record<string, unknown> = {}) => ({
    ruleId: id,
    kind: 'red_line',
    name: 'gambling',
    phrases: ['赌博', '博彩'],
    category: 'gambling',
    platforms: [],
    regions: [],
    params: {},
    enabled: true,
    ...over,
  });

  it("a scope's rules as their last events leave them; a removed rule stays a tombstone", async () => {
    const scope = `tenant-${randomUUID()}`;
    const stream = `review_rule_set-${scope}`;
    const events = [
      recorded(stream, 'ReviewRuleAdded', { scope, rule: rule('a'), by: 'u1', addedAt: '2026-12-09T08:00:00.000Z' }),
      recorded(stream, 'ReviewRuleAdded', {
        scope,
        rule: rule('b', { kind: 'link', phrases: [], category: null, params: { allowedDomains: ['x.com'] } }),
        by: 'u1',
        addedAt: '2026-12-09T08:01:00.000Z',
      }),
      recorded(stream, 'ReviewRuleChanged', {
        scope,
        rule: rule('a', { phrases: ['赌博'], enabled: false, platforms: ['douyin'] }),
        by: 'u2',
        changedAt: '2026-12-09T09:00:00.000Z',
      }),
      recorded(stream, 'ReviewRuleRemoved', { scope, ruleId: 'b', by: 'u2', removedAt: '2026-12-09T09:30:00.000Z' }),
    ];
    const expected = [
      {
        id: 'a',
        kind: 'red_line',
        name: 'gambling',
        category: 'gambling',
        phrases: ['赌博'],
        phrase_count: 1,
        platforms: ['douyin'],
        enabled: false,
        removed: false,
        created_at: new Date('2026-12-09T08:00:00.000Z'),
        updated_at: new Date('2026-12-09T09:00:00.000Z'),
        updated_by: 'u2',
        last_revision: '2',
      },
      {
        id: 'b',
        kind: 'link',
        name: 'gambling',
        category: null,
        phrases: [],
        phrase_count: 0,
        platforms: [],
        enabled: true,
        removed: true,
        created_at: new Date('2026-12-09T08:01:00.000Z'),
        updated_at: new Date('2026-12-09T09:30:00.000Z'),
        updated_by: 'u2',
        last_revision: '3',
      },
    ];
    await projectionSpec(knex, reviewRulesProjection).given(events).then('review_rules', { where: { scope }, columns: COLUMNS }, expected);
    await projectionSpec(knex, reviewRulesProjection, { batchSize: 1 }).given(events).then('review_rules', { where: { scope }, columns: COLUMNS }, expected);
  });

  it('a rule removed and added again is a new rule: created when added again, in one batch or one event at a time', async () => {
    const scope = `tenant-${randomUUID()}`;
    const stream = `review_rule_set-${scope}`;
    const events = [
      recorded(stream, 'ReviewRuleAdded', { scope, rule: rule('a'), by: 'u1', addedAt: '2026-12-09T08:00:00.000Z' }),
      recorded(stream, 'ReviewRuleRemoved', { scope, ruleId: 'a', by: 'u1', removedAt: '2026-12-09T09:00:00.000Z' }),
      recorded(stream, 'ReviewRuleAdded', { scope, rule: rule('a'), by: 'u2', addedAt: '2026-12-09T10:00:00.000Z' }),
    ];
    const columns = ['id', 'removed', 'created_at', 'updated_at', 'updated_by', 'last_revision'];
    const expected = [
      {
        id: 'a',
        removed: false,
        created_at: new Date('2026-12-09T10:00:00.000Z'),
        updated_at: new Date('2026-12-09T10:00:00.000Z'),
        updated_by: 'u2',
        last_revision: '2',
      },
    ];
    for (const batchSize of [500, 1]) {
      await projectionSpec(knex, reviewRulesProjection, { batchSize }).given(events).then('review_rules', { where: { scope }, columns }, expected);
    }
  });
});
