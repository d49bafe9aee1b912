import { expect } from 'chai';
import { Worker } from 'bullmq';
import { rebuildProcessor, REBUILD_QUEUE } from '../../src/adapters/queue/rebuild-job.js';
import { QueueFactory } from '../../src/adapters/queue/queues.js';
import { RebuildAbortedError, rebuildProjection } from '../../src/operations/projections.js';
import { TOKENS } from '../../src/tokens.js';
import { userStream } from '../../src/write-model/user/decider.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { waitFor } from '../support/wait-for.js';

/** The console's JSON API, /api/v1/admin, against the whole platform. */
describe('admin API (e2e): /api/v1/admin', function () {
  this.timeout(120_000);
  let platform: Platform;
  let admin: string;
  let alice: { userId: string; token: string };

  before(async () => {
    platform = await startPlatform({ proxies: 0 });
    admin = await platform.adminToken();
    alice = await platform.signUp('alice');
    // a second event in alice's user stream (logins live in session streams)
    const renamed = await platform.call('PUT', '/api/v1/users/profile', { token: alice.token, body: { display_name: 'Alice A.' } });
    expect(renamed.status, renamed.text).to.equal(200);
    await platform.signUp('bob');
  });
  after(async () => {
    await platform?.stop();
  });

  const get = (path: string, token: string | null = admin) => platform.call('GET', `/api/v1/admin${path}`, token ? { token } : {});

  it('refuses without a token (401) and for a non-admin (403), on every route', async () => {
    const paths = [
      '/categories',
      '/streams',
      `/streams/${userStream(alice.userId)}/events`,
      `/streams/${userStream(alice.userId)}/state`,
      '/correlations/x',
      '/events',
      '/projections',
      '/queues',
      '/rebuilds/x',
    ];
    for (const path of paths) {
      const anonymous = await get(path, null);
      expect(anonymous.status, `${path} anonymous`).to.equal(401);
      expect(anonymous.body.error.code).to.equal('UNAUTHENTICATED');
      const user = await get(path, alice.token);
      expect(user.status, `${path} as a user`).to.equal(403);
      expect(user.body.error.code).to.equal('PERMISSION_DENIED');
    }
    const rebuild = await platform.call('POST', '/api/v1/admin/projections/users-v1/rebuild', { token: alice.token });
    expect(rebuild.status).to.equal(403);
  });

  it('lists categories and pages through streams', async () => {
    const categories = await get('/categories');
    expect(categories.status, categories.text).to.equal(200);
    const user = categories.body.data.find((c: any) => c.category === 'user');
    expect(user).to.include.keys('streams', 'events', 'last_event_at');
    expect(user.streams).to.be.at.least(3); // alice, bob, the admin

    const first = await get('/streams?category=user&per_page=2&page=1');
    expect(first.status, first.text).to.equal(200);
    expect(first.body.data.items).to.have.length(2);
    expect(first.body.data.pagination).to.include({ page: 1, per_page: 2, has_prev: false, has_next: true });
    expect(first.body.data.pagination.total).to.equal(user.streams);
    expect(first.body.data.items[0]).to.have.keys('stream', 'revision', 'events', 'last_event_at');
    const second = await get('/streams?category=user&per_page=2&page=2');
    const seen = [...first.body.data.items, ...second.body.data.items].map((s: any) => s.stream);
    expect(new Set(seen).size, 'pages do not overlap').to.equal(seen.length);
    expect(second.body.data.pagination.has_prev).to.equal(true);

    const byPrefix = await get(`/streams?prefix=${encodeURIComponent(userStream(alice.userId))}`);
    expect(byPrefix.body.data.items.map((s: any) => s.stream)).to.deep.equal([userStream(alice.userId)]);
    expect((await get('/streams?per_page=101')).status).to.equal(422);
  });

  it("shows a stream's events with data and metadata, and the state at a revision", async () => {
    const stream = userStream(alice.userId);
    const events = await get(`/streams/${stream}/events`);
    expect(events.status, events.text).to.equal(200);
    const [registered] = events.body.data;
    expect(registered).to.include({ stream, revision: '0', type: 'UserRegistered' });
    expect(registered).to.have.keys('id', 'stream', 'revision', 'position', 'type', 'created', 'data', 'metadata');
    expect(registered.metadata).to.include.keys('$correlationId', 'requestId');
    expect(JSON.stringify(registered.data), 'no password hash shown').not.to.match(/argon2/);

    const from1 = await get(`/streams/${stream}/events?from_revision=1&limit=1`);
    expect(from1.body.data.map((e: any) => e.revision)).to.deep.equal(['1']);

    const atZero = await get(`/streams/${stream}/state?at=0`);
    expect(atZero.status, atZero.text).to.equal(200);
    expect(atZero.body.data).to.include({ stream, aggregate: 'user', revision: '0' });
    expect(atZero.body.data.event.type).to.equal('UserRegistered');
    const latest = await get(`/streams/${stream}/state`);
    expect(latest.body.data.revision).to.equal(String(events.body.data.length - 1));
    expect(atZero.body.data.last_revision).to.equal(latest.body.data.revision);

    expect((await get(`/streams/${stream}/state?at=999`)).status).to.equal(404);
    expect((await get(`/streams/${stream}/state?at=-1`)).status).to.equal(422);
    expect((await get('/streams/user-nobody/events')).status).to.equal(404);
  });

  it('follows a correlation id from the registration to the free subscriptions, and searches events', async () => {
    const [registered] = (await get(`/streams/${userStream(alice.userId)}/events?limit=1`)).body.data;
    const correlationId = registered.metadata.$correlationId as string;
    const timeline = await get(`/correlations/${encodeURIComponent(correlationId)}`);
    expect(timeline.status, timeline.text).to.equal(200);
    const types = timeline.body.data.map((e: any) => e.type);
    expect(types).to.include('UserRegistered');
    expect(types.filter((t: string) => t === 'SubscriptionStarted')).to.have.length(2);
    expect(types.indexOf('UserRegistered')).to.be.below(types.indexOf('SubscriptionStarted'));
    expect(new Set(timeline.body.data.map((e: any) => e.stream.split('-')[0]))).to.include.members(['user', 'subscription']);

    const search = await get(`/events?correlation_id=${encodeURIComponent(correlationId)}&type=SubscriptionStarted`);
    expect(search.status, search.text).to.equal(200);
    expect(search.body.data.map((e: any) => e.type)).to.deep.equal(['SubscriptionStarted', 'SubscriptionStarted']);
    expect((await get('/events?from=yesterday')).status).to.equal(422);
  });

  it('shows projection status, and a rebuild enqueued on the maintenance queue runs to done', async () => {
    const projections = await get('/projections');
    expect(projections.status, projections.text).to.equal(200);
    expect((await get('/warnings')).body.data.warnings, 'nothing holds delivery back').to.deep.equal([]);
    const users = projections.body.data.find((p: any) => p.base === 'users');
    expect(users).to.include.keys('name', 'version', 'tables', 'checkpoint', 'head', 'lag_events', 'lag_seconds', 'state', 'rebuild');
    expect((await get(`/projections/${users.name}`)).body.data.name).to.equal(users.name);
    expect((await get('/projections/nope-v1')).status).to.equal(404);
    expect((await platform.call('POST', '/api/v1/admin/projections/nope-v1/rebuild', { token: admin })).status).to.equal(404);

    // the rebuild processor on the maintenance queue, as the worker mounts it
    const { config, container } = platform;
    const factory = new QueueFactory({ redisUrl: config.REDIS_URL, prefix: config.QUEUE_PREFIX });
    const ops = {
      store: platform.store,
      knex: platform.knex,
      databaseUrl: config.DATABASE_URL,
      timeZone: config.QUOTA_TIME_ZONE,
      logger: container.get(TOKENS.Logger),
    };
    // a rebuild stopped half way (Ctrl-C): its shadow tables stay, nobody runs it, and the status says so
    const abort = new AbortController();
    await rebuildProjection(ops, users.name, { signal: abort.signal, onProgress: () => abort.abort() }).then(
      () => expect.fail('the rebuild was to stop'),
      (error: unknown) => expect(error).to.be.instanceOf(RebuildAbortedError),
    );
    const stopped = (await get(`/projections/${users.name}`)).body.data;
    expect(stopped.state).to.equal('rebuilding');
    expect(stopped.rebuild).to.include({ name: users.name, running: false });

    const worker = new Worker(REBUILD_QUEUE, rebuildProcessor(ops), { connection: factory.connection('worker'), prefix: factory.prefix, autorun: false });
    try {
      const started = await platform.call('POST', `/api/v1/admin/projections/${users.name}/rebuild`, { token: admin });
      expect(started.status, started.text).to.equal(202);
      const jobId = started.body.data.job_id as string;
      expect(started.body.data.projection).to.equal(users.name);
      const again = await fetch(`${platform.url}/api/v1/admin/projections/${users.name}/rebuild`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${admin}` },
      });
      expect(again.status).to.equal(202);
      expect(((await again.json()) as any).data.job_id, 'one rebuild per projection while it is pending').to.equal(jobId);
      expect(again.headers.get('location')).to.equal(`/api/v1/admin/rebuilds/${encodeURIComponent(jobId)}`);
      const waiting = await get(`/rebuilds/${jobId}`);
      expect(waiting.body.data).to.include({ job_id: jobId, projection: users.name, state: 'waiting' });

      void worker.run();
      let job: any;
      await waitFor(
        'the rebuild to complete',
        async () => {
          job = (await get(`/rebuilds/${jobId}`)).body.data;
          return job.state === 'completed' || job.state === 'failed';
        },
        60_000,
        100,
      );
      expect(job.state, job.failed_reason).to.equal('completed');
      expect(job.progress).to.include({ name: users.name, phase: 'done', total_counted: true });
      expect(job.progress.processed_events).to.be.a('number');
      expect(job.finished_at).to.be.a('string');
      // the job resumed the stopped one and swapped it in
      expect((await get(`/projections/${users.name}`)).body.data).to.include({ state: 'live', rebuild: null });
      expect((await get('/rebuilds/nope')).status).to.equal(404);
    } finally {
      await worker.close();
    }
  });

  it('summarises the queues', async () => {
    const queues = await get('/queues');
    expect(queues.status, queues.text).to.equal(200);
    expect(queues.body.data.prefix).to.equal(platform.config.QUEUE_PREFIX);
    expect(queues.body.data.queues.map((q: any) => q.name)).to.include.members(['scrape', 'workflow-tick', 'proxy-health', 'maintenance']);
    const maintenance = queues.body.data.queues.find((q: any) => q.name === 'maintenance');
    expect(maintenance.counts.completed + maintenance.counts.failed, 'the rebuild job').to.be.at.least(1);
    expect(maintenance.counts).to.have.keys('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized');
  });

  it('documents the routes in the OpenAPI document', async () => {
    const doc = await platform.call('GET', '/api/v1/openapi.json');
    const paths = Object.keys(doc.body.paths);
    expect(paths).to.include.members([
      '/api/v1/admin/categories',
      '/api/v1/admin/streams/{stream}/state',
      '/api/v1/admin/projections/{name}/rebuild',
      '/api/v1/admin/rebuilds/{jobId}',
    ]);
  });
});
