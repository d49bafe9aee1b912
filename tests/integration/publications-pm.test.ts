import { expect } from 'chai';
import { waitFor } from '../support/wait-for.js';
import type { Queue } from 'bullmq';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { BullMqPublicationJobs, metricsJobId, publishJobId, unpublishJobId, type PublishJobData } from '../../src/adapters/queue/publish-queue.js';
import { QUEUE_NAMES, QueueFactory } from '../../src/adapters/queue/queues.js';
import type { Consumer } from '../../src/consumers/consumer.js';
import { createLogger } from '../../src/logger.js';
import { DeadlineSweeper } from '../../src/process-managers/deadlines/sweeper.js';
import { expiryActions } from '../../src/process-managers/deadlines/expiry-actions.js';
import { batchPreReview } from '../../src/process-managers/publication-pre-review.js';
import { createPublicationDeadlines, createPublications, reviewIdFor } from '../../src/process-managers/publications.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle, load } from '../../src/write-model/core/command-handler.js';
import { publicationAggregate } from '../../src/write-model/publication/decider.js';
import type { PublicationCommand } from '../../src/write-model/publication/commands.js';
import { reviewRuleSetAggregate } from '../../src/write-model/review-rules/decider.js';
import { PLATFORM_SCOPE } from '../../src/write-model/review-rules/events.js';
import { reviewAggregate } from '../../src/write-model/review/decider.js';
import { testDatabaseUrl, testRedisUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';

/**
 * pm-publications and pm-publication-deadlines with the real pieces: an
 * event store of its own, the real pre-review over a rule set in it, the
 * review aggregate, the deadlines table and sweeper, and the `publish`
 * queue in Redis (a prefix of its own).
 */
describe('pm-publications: pre-review → review → publish queue, scheduled ones, redelivery', function () {
  this.timeout(60_000);
  let knex: Knex;
  let store: PostgresEventStore;
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  let factory: QueueFactory;
  let queue: Queue<PublishJobData>;
  const names: string[] = [];
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  const OWNER = `owner-${randomUUID().slice(0, 8)}`;
  const REVIEWER = `reviewer-${randomUUID().slice(0, 8)}`;
  const METRICS = [3_600_000, 6 * 3_600_000];

  before(async () => {
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    store = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 8 });
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 5 } });
    factory = new QueueFactory({ redisUrl: testRedisUrl, prefix: `test-publish-${randomUUID().slice(0, 8)}` });
    queue = factory.queue<PublishJobData>(QUEUE_NAMES.publish);
    // the platform's rules: one banned phrase
    await handle(
      store,
      reviewRuleSetAggregate,
      PLATFORM_SCOPE,
      {
        type: 'AddReviewRule',
        scope: PLATFORM_SCOPE,
        rule: {
          ruleId: 'r-banned',
          kind: 'banned_phrase',
          name: '违禁词',
          phrases: ['违禁词'],
          category: null,
          platforms: [],
          regions: [],
          params: {},
          enabled: true,
        },
        by: 'admin',
        now: new Date().toISOString(),
      },
      { context },
    );
  });
  after(async () => {
    await knex('consumer_checkpoints').whereIn('consumer', names).delete();
    await knex('deadlines').where('kind', 'publication.due').andWhere('correlation_id', context.correlationId).delete();
    await queue?.obliterate({ force: true }).catch(() => undefined);
    await queue?.close();
    await store?.close();
    await knex?.destroy();
    await iso?.drop();
  });

  const uniqueName = (base: string) => {
    const name = `${base}-test-${randomUUID().slice(0, 8)}`;
    names.push(name);
    return name;
  };
  const pm = (name: string) =>
    createPublications(
      {
        store,
        preReviews: batchPreReview(store),
        jobs: new BullMqPublicationJobs(queue, 100),
        metricsScheduleMs: METRICS,
      },
      name,
    );
  const runToHead = (consumer: Consumer) => runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, consumer);
  const pub = (id: string, cmd: PublicationCommand) => handle(store, publicationAggregate, id, cmd, { context });
  const stateOf = async (id: string) => (await load(store, publicationAggregate, id)).state;

  async function request(title: string, scheduledAt: string | null = null): Promise<string> {
    const id = randomUUID();
    await pub(id, {
      type: 'RequestPublication',
      publicationId: id,
      ownerId: OWNER,
      articleId: 'article-1',
      articleVersion: 1,
      accountId: 'account-1',
      platform: 'baidu',
      region: 'CN',
      content: { title, body: '正文', summary: null, tags: ['日常'], coverMediaId: null, imageMediaIds: [] },
      scheduledAt,
      now: new Date().toISOString(),
    });
    return id;
  }

  it('a clean request is pre-reviewed and queued; a flagged one waits in a human review with the hits', async () => {
    const clean = await request('今天的早餐');
    const flagged = await request('含有违禁词的标题');
    const name = uniqueName('pm-publications');
    await runToHead(pm(name));

    expect(await stateOf(clean)).to.include({ status: 'queued' });
    const job = await queue.getJob(publishJobId(clean));
    expect(job?.name).to.equal('publish');
    expect(job?.data).to.deep.include({ publicationId: clean, ownerId: OWNER, platform: 'baidu', accountId: 'account-1' });
    expect(job?.opts).to.deep.include({ attempts: 3, backoff: { type: 'fixed', delay: 100 } });

    const inReview = await stateOf(flagged);
    expect(inReview).to.include({ status: 'in_review', reviewId: reviewIdFor(flagged) });
    const review = (await load(store, reviewAggregate, reviewIdFor(flagged))).state;
    expect(review.status).to.equal('open');
    if (review.status === 'none') throw new Error('no review');
    expect(review).to.include({ publicationId: flagged, ownerId: OWNER });
    expect(await queue.getJob(publishJobId(flagged))).to.equal(undefined);

    // a redelivery from the start appends nothing and queues nothing new
    const before = (await store.readAll()).length;
    const again = uniqueName('pm-publications');
    await runToHead(pm(again));
    expect((await store.readAll()).length).to.equal(before);
    expect(await queue.count()).to.equal(1);
  });

  it('an approval queues it; a rejection fails it review_rejected; a cancellation withdraws the review', async () => {
    const approved = await request('违禁词一');
    const rejected = await request('违禁词二');
    const cancelled = await request('违禁词三');
    const name = uniqueName('pm-publications');
    await runToHead(pm(name));
    const decide = async (publicationId: string, decision: 'approve' | 'reject') => {
      const reviewId = reviewIdFor(publicationId);
      const now = new Date().toISOString();
      await handle(store, reviewAggregate, reviewId, { type: 'ClaimReview', reviewId, reviewerId: REVIEWER, claimTtlMinutes: 30, now }, { context });
      await handle(
        store,
        reviewAggregate,
        reviewId,
        decision === 'approve'
          ? { type: 'ApproveReview', reviewId, reviewerId: REVIEWER, comment: null, now }
          : { type: 'RejectReview', reviewId, reviewerId: REVIEWER, comment: '含违禁词', now },
        { context },
      );
    };
    await decide(approved, 'approve');
    await decide(rejected, 'reject');
    await pub(cancelled, { type: 'CancelPublication', publicationId: cancelled, requestedBy: OWNER, now: new Date().toISOString() });
    await runToHead(pm(name));

    expect(await stateOf(approved)).to.include({ status: 'queued' });
    expect(await queue.getJob(publishJobId(approved))).to.not.equal(undefined);
    const failed = await stateOf(rejected);
    expect(failed.status).to.equal('failed');
    if (failed.status !== 'none') expect(failed.failure).to.deep.equal({ code: 'review_rejected', reason: 'rejected in review: 含违禁词' });
    expect(await queue.getJob(publishJobId(rejected))).to.equal(undefined);
    expect(await stateOf(cancelled)).to.include({ status: 'cancelled' });
    expect((await load(store, reviewAggregate, reviewIdFor(cancelled))).state.status).to.equal('withdrawn');
  });

  it('a scheduled one gets a deadline; when it falls due the sweeper releases it and it is queued like the rest', async () => {
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const scheduled = await request('下周的计划', at);
    const deadlines = uniqueName('pm-publication-deadlines');
    await runToHead(createPublicationDeadlines(deadlines));
    const row = await knex('deadlines')
      .where({ key: `publication.due:publication-${scheduled}` })
      .first();
    expect(row?.due_at.toISOString()).to.equal(at);
    const name = uniqueName('pm-publications');
    await runToHead(pm(name));
    expect(await stateOf(scheduled)).to.include({ status: 'scheduled' });

    const sweeper = new DeadlineSweeper({
      knex,
      actions: expiryActions(store),
      logger: createLogger({ LOG_LEVEL: 'silent' }),
      intervalMs: 60_000,
      batchSize: 500,
    });
    await sweeper.sweepOnce(new Date(Date.parse(at) + 1000));
    expect(await stateOf(scheduled)).to.include({ status: 'pending_review' });
    await runToHead(createPublicationDeadlines(deadlines));
    expect(
      await knex('deadlines')
        .where({ key: `publication.due:publication-${scheduled}` })
        .first(),
    ).to.equal(undefined);
    // the queueing is the pm's own event: a run that stopped at the head it saw may not have reacted to it yet
    await waitFor(
      'the publish job',
      async () => {
        await runToHead(pm(name));
        return (await queue.getJob(publishJobId(scheduled))) !== undefined;
      },
      10_000,
      50,
    );
    expect(await stateOf(scheduled)).to.include({ status: 'queued' });
  });

  it('once published, the metrics readings are queued as delayed jobs; an unpublish request queues its job', async () => {
    const id = await request('发布后读数');
    const name = uniqueName('pm-publications');
    await runToHead(pm(name));
    const now = () => new Date().toISOString();
    await pub(id, { type: 'StartPublishAttempt', publicationId: id, attempt: 1, now: now() });
    await pub(id, {
      type: 'RecordPublished',
      publicationId: id,
      postId: 'post-1',
      url: 'https://baidu.example/p/1',
      publishedAt: null,
      recovered: false,
      now: now(),
    });
    const asked = await pub(id, { type: 'RequestUnpublish', publicationId: id, requestedBy: OWNER, canUnpublish: true, now: now() });
    await runToHead(pm(name));

    const first = await queue.getJob(metricsJobId(id, 1));
    const second = await queue.getJob(metricsJobId(id, 2));
    expect(first?.name).to.equal('publication-metrics');
    expect(first?.data.reading).to.equal(1);
    expect(first?.opts.delay).to.equal(METRICS[0]);
    expect(second?.opts.delay).to.equal(METRICS[1]);
    expect(await first?.isDelayed()).to.equal(true);
    const unpublish = await queue.getJob(unpublishJobId(id, asked.revision));
    expect(unpublish?.name).to.equal('unpublish');
  });
});
