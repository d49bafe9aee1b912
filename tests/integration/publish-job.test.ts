import { expect } from 'chai';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { startOpenPlatformSandbox, type OpenPlatformSandbox } from '../../sandbox/open-platform/server.js';
import { createSecretBox } from '../../src/adapters/crypto/secret-box.js';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { RedisProxyLeaseStore } from '../../src/adapters/proxies/redis-lease-store.js';
import { BullMqPublicationJobs, PUBLICATION_METRICS_JOB_NAME, publishJobOptions, type PublishJobData } from '../../src/adapters/queue/publish-queue.js';
import { QUEUE_NAMES, QueueFactory } from '../../src/adapters/queue/queues.js';
import { WorkerRuntime } from '../../src/adapters/queue/worker-runtime.js';
import { readPostImages } from '../../src/application/articles.js';
import { completeAuthorization, startAuthorization } from '../../src/application/oauth-accounts.js';
import { openPublishingCredentials } from '../../src/application/publishing-credentials.js';
import type { Config } from '../../src/config.js';
import { mediaStorageFromConfig } from '../../src/adapters/media/from-config.js';
import { oauthPlatform, openPlatformPublishers } from '../../src/platforms/open-platform/clients.js';
import type { OpenPlatformId } from '../../src/platforms/open-platform/platforms.js';
import { publisherRegistry } from '../../src/platforms/publishing/registry.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle, load, readEvents } from '../../src/write-model/core/command-handler.js';
import { platformAccountAggregate } from '../../src/write-model/platform-account/decider.js';
import { clientTokenFor, publicationAggregate } from '../../src/write-model/publication/decider.js';
import type { PublicationCommand } from '../../src/write-model/publication/commands.js';
import type { PublicationEvent } from '../../src/write-model/publication/events.js';
import { createPublishDeadLetter, createPublishJobHandler, type PublishJobDeps, type PublishOutcome } from '../../src/worker/publish-job.js';
import { testConfig, testDatabaseUrl, testRedisUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';
import { consent } from '../support/open-platform-consent.js';
import { waitFor } from '../support/wait-for.js';

/**
 * The publish job with every piece real: Postgres (an event store of its
 * own), Redis and BullMQ (the `publish` queue under a prefix of its own,
 * the WorkerRuntime the worker runs), the open-platform publishers against
 * the sandbox open platform, accounts bound through its OAuth flow and
 * their credentials opened as in production. Retries are 150 ms apart.
 */
describe('publish job: the stream is the truth, never twice, retries, refusals, auth, unpublish, metrics', function () {
  this.timeout(60_000);
  let sandbox: OpenPlatformSandbox;
  let config: Config;
  let store: PostgresEventStore;
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  let redis: Redis;
  let factory: QueueFactory;
  let queue: Queue<PublishJobData>;
  let jobs: BullMqPublicationJobs;
  let runtime: WorkerRuntime<PublishJobData, PublishOutcome>;
  const OWNER = `owner-${randomUUID().slice(0, 8)}`;
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  const accounts = new Map<OpenPlatformId, { accountId: string; platformUserId: string }>();
  const RETRY_MS = 150;

  before(async () => {
    sandbox = await startOpenPlatformSandbox({ redirectBaseUrl: 'http://collector-api.test' });
    const prefix = `test-publish-job-${randomUUID().slice(0, 8)}`;
    config = testConfig({ ...sandbox.env({ redirectBaseUrl: 'http://collector-api.test' }), QUEUE_PREFIX: prefix, PUBLISH_RETRY_DELAY_MS: String(RETRY_MS) });
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    store = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 5 });
    redis = new Redis(testRedisUrl, { maxRetriesPerRequest: 1 });
    factory = new QueueFactory({ redisUrl: testRedisUrl, prefix });
    queue = factory.queue<PublishJobData>(QUEUE_NAMES.publish);
    jobs = new BullMqPublicationJobs(queue, RETRY_MS);
    const secretBox = createSecretBox(config);
    // accounts bound as users bind them: the platform's consent, the callback's code exchanged
    const oauth = {
      store,
      secretBox,
      client: (platform: string) => oauthPlatform(config, platform),
      claimOnce: async (key: string, ttlMs: number) => (await redis.set(`${prefix}:${key}`, '1', 'PX', ttlMs, 'NX')) === 'OK',
    };
    for (const platform of ['baidu', 'sohu'] as const) {
      const start = startAuthorization(oauth, OWNER, platform);
      const back = await consent(start.authorizeUrl, { user: 'alice' });
      const bound = await completeAuthorization(
        oauth,
        { platform, state: back.searchParams.get('state')!, code: back.searchParams.get('code')! },
        () => context,
      );
      const { state } = await load(store, platformAccountAggregate, bound.accountId);
      if (state.status !== 'active') throw new Error(`the bound ${platform} account is ${state.status}`);
      accounts.set(platform, { accountId: bound.accountId, platformUserId: state.platformUserId! });
    }
    const storage = mediaStorageFromConfig(config);
    const deps: PublishJobDeps = {
      store,
      secretBox,
      publishers: publisherRegistry(openPlatformPublishers(config).map((publisher) => ({ publisher, needsProxy: false }))),
      openCredentials: (account) => openPublishingCredentials({ store, secretBox }, account),
      readImages: (ownerId, content) => readPostImages({ store, storage }, ownerId, content),
      leases: new RedisProxyLeaseStore(redis, { prefix: `${prefix}:` }),
      candidates: async () => [],
      leaseTtlMs: 4000,
      proxyFailureThreshold: 3,
      redis,
      lockPrefix: `${prefix}:`,
      workerName: 'test-worker',
      retryDelayMs: RETRY_MS,
    };
    runtime = new WorkerRuntime<PublishJobData, PublishOutcome>({
      factory,
      queue: QUEUE_NAMES.publish,
      handler: createPublishJobHandler(deps),
      concurrency: 4,
      onDeadLetter: createPublishDeadLetter(deps),
      redis,
    });
    await runtime.start();
  });
  after(async () => {
    await runtime?.stop({ timeoutMs: 2000 });
    await queue?.obliterate({ force: true }).catch(() => undefined);
    await queue?.close();
    redis?.disconnect();
    await store?.close();
    await iso?.drop();
    await sandbox?.close();
  });

  const now = () => new Date().toISOString();
  const pub = (id: string, cmd: PublicationCommand) => handle(store, publicationAggregate, id, cmd, { context });
  const eventsOf = (id: string) => readEvents(store, publicationAggregate, id);
  const typesOf = async (id: string) => (await eventsOf(id)).map((e) => e.type);
  const stateOf = async (id: string) => (await load(store, publicationAggregate, id)).state;

  /** A publication pre-reviewed and queued (what pm-publications leaves), its job added. */
  async function queued(platform: OpenPlatformId, title = `游记 ${randomUUID().slice(0, 6)}`, enqueue = true): Promise<string> {
    const id = randomUUID();
    const account = accounts.get(platform)!;
    await pub(id, {
      type: 'RequestPublication',
      publicationId: id,
      ownerId: OWNER,
      articleId: 'article-1',
      articleVersion: 1,
      accountId: account.accountId,
      platform,
      region: 'CN',
      content: { title, body: '# 出发\n\n今天去了西湖。', summary: '西湖一日', tags: ['旅行'], coverMediaId: null, imageMediaIds: [] },
      scheduledAt: null,
      now: now(),
    });
    await pub(id, { type: 'RecordPreReview', publicationId: id, verdict: 'pass', hitCount: 0, reviewId: null, now: now() });
    if (enqueue) await jobs.enqueuePublish([{ publicationId: id, ownerId: OWNER, platform, accountId: account.accountId }]);
    return id;
  }

  async function settled(id: string, statuses: string[] = ['published', 'failed']) {
    await waitFor(`publication ${id} ends`, async () => statuses.includes((await stateOf(id)).status), 20_000, 50);
    return stateOf(id);
  }

  it('publishes once through the account: the post holds the reviewed content and the client token', async () => {
    const id = await queued('baidu', '西湖游记');
    const state = await settled(id);
    expect(state.status).to.equal('published');
    const posts = sandbox.posts('baidu', { clientToken: clientTokenFor(id) });
    expect(posts).to.have.length(1);
    expect(posts[0]).to.include({ title: '西湖游记', body: '# 出发\n\n今天去了西湖。', summary: '西湖一日', userId: accounts.get('baidu')!.platformUserId });
    if (state.status === 'published') expect(state.post).to.deep.include({ postId: posts[0]!.id, url: posts[0]!.url, recovered: false });
    expect(await typesOf(id)).to.deep.equal(['PublicationRequested', 'PreReviewPassed', 'PublicationQueued', 'PublishAttemptStarted', 'PublicationPublished']);
  });

  it('a transient failure is an attempt failed with the next time; the retry publishes', async () => {
    sandbox.failNextPublish('sohu', 1, 'before');
    const id = await queued('sohu');
    const state = await settled(id);
    expect(state.status).to.equal('published');
    expect(sandbox.posts('sohu', { clientToken: clientTokenFor(id) })).to.have.length(1);
    const events = await eventsOf(id);
    const failed = events.find((e) => e.type === 'PublishAttemptFailed') as Extract<PublicationEvent, { type: 'PublishAttemptFailed' }>;
    expect(failed.data.attempt).to.equal(1);
    expect(failed.data.nextAttemptAt).to.be.a('string');
    expect(events.filter((e) => e.type === 'PublishAttemptStarted').map((e) => (e.data as { attempt: number }).attempt)).to.deep.equal([1, 2]);
  });

  it('a lost answer (the platform stored it, then 503): the retry finds it and records it recovered, never posting twice', async () => {
    sandbox.failNextPublish('baidu', 1, 'after');
    const id = await queued('baidu');
    const state = await settled(id);
    expect(state.status).to.equal('published');
    if (state.status === 'published') expect(state.post?.recovered).to.equal(true);
    expect(sandbox.posts('baidu', { clientToken: clientTokenFor(id) })).to.have.length(1);
  });

  it('three transient failures: failed attempts_exhausted, nothing posted', async () => {
    sandbox.failNextPublish('sohu', 3, 'before');
    const id = await queued('sohu');
    const state = await settled(id);
    expect(state.status).to.equal('failed');
    if (state.status === 'failed') expect(state.failure?.code).to.equal('attempts_exhausted');
    const events = await eventsOf(id);
    expect(events.filter((e) => e.type === 'PublishAttemptFailed')).to.have.length(3);
    expect((events.at(-2) as Extract<PublicationEvent, { type: 'PublishAttemptFailed' }>).data.nextAttemptAt).to.equal(null);
    expect(sandbox.posts('sohu', { clientToken: clientTokenFor(id) })).to.have.length(0);
  });

  it('content the platform refuses fails at once (refused), with no retry', async () => {
    const id = await queued('baidu', '这是违禁内容');
    const state = await settled(id);
    expect(state.status).to.equal('failed');
    if (state.status === 'failed') expect(state.failure?.code).to.equal('refused');
    expect((await eventsOf(id)).filter((e) => e.type === 'PublishAttemptStarted')).to.have.length(1);
  });

  it('a job for a cancelled publication, or a second job for a published one, publishes nothing', async () => {
    const cancelled = await queued('baidu', '取消的', false);
    await pub(cancelled, { type: 'CancelPublication', publicationId: cancelled, requestedBy: OWNER, now: now() });
    await jobs.enqueuePublish([{ publicationId: cancelled, ownerId: OWNER, platform: 'baidu', accountId: accounts.get('baidu')!.accountId }]);
    const published = await queued('baidu');
    await settled(published);
    // the same publication's job again, under another id (a duplicate the queue did not recognise)
    await queue.add('publish' as never, { publicationId: published, ownerId: OWNER, platform: 'baidu', accountId: accounts.get('baidu')!.accountId } as never, {
      ...publishJobOptions(RETRY_MS),
      jobId: `${published}.again`,
    });
    await waitFor('the duplicate done', async () => (await queue.getJob(`${published}.again`))?.finishedOn !== undefined);
    const again = await queue.getJob(`${published}.again`);
    expect(again?.returnvalue).to.deep.equal({ status: 'skipped', reason: 'published' });
    await waitFor('the cancelled one skipped', async () => (await queue.getJob(cancelled))?.finishedOn !== undefined);
    expect((await queue.getJob(cancelled))?.returnvalue).to.deep.equal({ status: 'skipped', reason: 'cancelled' });
    expect(sandbox.posts('baidu', { clientToken: clientTokenFor(cancelled) })).to.have.length(0);
    expect(sandbox.posts('baidu', { clientToken: clientTokenFor(published) })).to.have.length(1);
  });

  it('metrics are recorded when they change only; unpublish takes the post down', async () => {
    const id = await queued('sohu');
    const state = await settled(id);
    if (state.status !== 'published' || !state.post) throw new Error('not published');
    sandbox.setMetrics('sohu', state.post.postId, { views: 1200, likes: 88, comments: 9, shares: 3 });
    const job = { publicationId: id, ownerId: OWNER, platform: 'sohu', accountId: accounts.get('sohu')!.accountId };
    await jobs.enqueueMetrics(job, [0, 0]);
    await waitFor('both readings done', async () => {
      const readings = await Promise.all([1, 2].map((n) => queue.getJob(`${id}.metrics.${n}`)));
      return readings.every((r) => r?.finishedOn !== undefined);
    });
    const recorded = (await eventsOf(id)).filter((e) => e.type === 'PublicationMetricsRecorded');
    expect(recorded, 'the same reading twice is recorded once').to.have.length(1);
    expect(recorded[0]!.data).to.deep.include({ views: 1200, likes: 88, comments: 9, extra: { shares: 3 } });
    expect((await queue.getJob(`${id}.metrics.1`))?.name).to.equal(PUBLICATION_METRICS_JOB_NAME);

    const asked = await pub(id, { type: 'RequestUnpublish', publicationId: id, requestedBy: OWNER, canUnpublish: true, now: now() });
    await jobs.enqueueUnpublish(job, asked.revision);
    const after = await settled(id, ['unpublished']);
    expect(after.status).to.equal('unpublished');
    expect(sandbox.posts('sohu', { clientToken: clientTokenFor(id) })[0]!.status).to.equal('deleted');
  });

  it('revoked credentials invalidate the account (credentials_expired) and fail the publication account_invalid', async () => {
    const account = accounts.get('baidu')!;
    sandbox.revokeAccessTokens('baidu', account.platformUserId);
    const id = await queued('baidu');
    const state = await settled(id);
    expect(state.status).to.equal('failed');
    if (state.status === 'failed') expect(state.failure?.code).to.equal('account_invalid');
    const { state: acc } = await load(store, platformAccountAggregate, account.accountId);
    expect(acc.status).to.equal('invalid');
    if (acc.status !== 'none') expect(acc.lastInvalidation?.reason).to.equal('credentials_expired');
    // the next one finds the account invalid before posting
    const next = await queued('baidu');
    const refused = await settled(next);
    if (refused.status === 'failed') expect(refused.failure?.code).to.equal('account_unavailable');
  });
});
