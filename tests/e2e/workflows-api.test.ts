import { expect } from 'chai';
import type { Container } from 'inversify';
import type { Knex } from 'knex';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { LOGIN_IP_PREFIX } from '../../src/adapters/rate-limit/login-rate-limit.js';
import { createApiApp } from '../../src/api-app.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { EventStore } from '../../src/event-store/index.js';
import { createFreePlansOnRegistration } from '../../src/process-managers/index.js';
import { workflowsProjection } from '../../src/projections/workflows.js';
import { resetCheckpoint } from '../../src/consumers/checkpoints.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import { TOKENS } from '../../src/tokens.js';
import { handle, load } from '../../src/write-model/core/command-handler.js';
import { platformAccountAggregate } from '../../src/write-model/platform-account/decider.js';
import { subscriptionAggregate, subscriptionKey } from '../../src/write-model/subscription/decider.js';
import { workflowExecutionStream } from '../../src/write-model/workflow-execution/decider.js';
import { signedIn } from '../support/signed-in.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';
import { waitFor } from '../support/wait-for.js';

interface Reply {
  res: Response;
  text: string;
  body: any;
}

const LOCAL_IP_KEYS = ['127.0.0.1', '::ffff:127.0.0.1', '::1'].map((ip) => `${LOGIN_IP_PREFIX}:${ip}`);
const PASSWORD = 'correct horse battery';
const NOTES_CONFIG = { mode: 'keyword', keyword: '咖啡', maxItems: 20 };

/** A parsed Xiaohongshu note as a collector sends it. */
function note(noteId: string) {
  return {
    noteId,
    type: 'normal',
    title: `note ${noteId.slice(0, 6)}`,
    text: '手冲咖啡',
    author: { id: 'a1', nickname: 'Ada' },
    publishedAt: '2026-03-01T08:00:00.000Z',
    likes: 10,
    comments: 2,
    shares: 1,
    collects: 3,
    images: ['https://example.test/1.jpg'],
    tags: ['咖啡'],
    url: `https://www.xiaohongshu.com/explore/${noteId}`,
  };
}
const noteId = () => randomBytes(12).toString('hex');

/**
 * Workflows and executions over HTTP, on the production app (createApiApp)
 * with the workflows projection and the free-plans process manager running
 * in-process.
 */
describe('workflows API (e2e)', function () {
  this.timeout(60_000);
  let container: Container;
  let store: EventStore;
  let knex: Knex;
  let running: RunningServer;
  let adminToken: string;
  const runners: ConsumerRunner[] = [];
  let pmName = '';

  before(async () => {
    container = await buildContainer(testConfig({ LOGIN_RATE_LIMIT_PER_IP: '10000' }));
    store = container.get(TOKENS.EventStore);
    knex = container.get(TOKENS.Knex);
    pmName = `pm-free-plans-on-registration-wf-e2e-${randomUUID().slice(0, 8)}`;
    // from the head: this run's registrations only
    await resetCheckpoint(knex, pmName, await store.headPosition());
    for (const consumer of [workflowsProjection, createFreePlansOnRegistration({ store }, pmName)]) {
      const runner = new ConsumerRunner({ store, knex, databaseUrl: testDatabaseUrl }, consumer, { idleCheckpointMs: 100, lockRetryMs: 100 });
      runner.start();
      runners.push(runner);
    }
    // the workers' door wants an admin (a real one: a token is good only while its session stands)
    adminToken = (await signedIn({ store, passwordHasher: container.get(TOKENS.PasswordHasher), accessTokens: container.get(TOKENS.AccessTokens) }, 'admin'))
      .token;
    running = await listen(createApiApp(container).callback(), '127.0.0.1', 0);
  });
  after(async () => {
    if (running) await closeServer(running.server);
    await Promise.all(runners.map((r) => r.stop()));
    if (container) {
      await container.get(TOKENS.Redis).del(...LOCAL_IP_KEYS);
      await knex('consumer_checkpoints').where({ consumer: pmName }).delete();
      await disposeContainer(container);
    }
  });

  async function call(method: string, path: string, options: { body?: unknown; token?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    const res = await fetch(`${running.url}/api/v1${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
    const text = await res.text();
    return { res, text, body: text ? JSON.parse(text) : undefined };
  }

  /** A new user with both free plans started. */
  async function signUp(): Promise<{ userId: string; token: string }> {
    const email = `wf-${randomUUID()}@example.test`;
    const registered = await call('POST', '/auth/register', { body: { email, password: PASSWORD, display_name: 'Ada' } });
    expect(registered.res.status, registered.text).to.equal(201);
    const userId = registered.body.data.user_id as string;
    const loggedIn = await call('POST', '/auth/login', { body: { email, password: PASSWORD } });
    expect(loggedIn.res.status, loggedIn.text).to.equal(200);
    await waitFor('the free xiaohongshu plan', async () => {
      const { state } = await load(store, subscriptionAggregate, subscriptionKey(userId, 'xiaohongshu'));
      return state.status === 'active';
    });
    return { userId, token: loggedIn.body.data.access_token };
  }

  async function createNotes(token: string, name = 'coffee'): Promise<Reply> {
    return call('POST', '/workflows', {
      token,
      body: { name, type: 'xiaohongshu.notes', config: NOTES_CONFIG, schedule: { kind: 'interval', every: 'daily' } },
    });
  }

  const results = (executionId: string, body: unknown, token = adminToken) => call('POST', `/workflows/executions/${executionId}/results`, { token, body });

  it('creates within the free plan and refuses what it does not allow: invalid config 422, messages 403, a second workflow 429', async () => {
    const alice = await signUp();

    const invalid = await call('POST', '/workflows', {
      token: alice.token,
      body: { name: 'x', type: 'xiaohongshu.notes', config: { mode: 'keyword', maxItems: 0 } },
    });
    expect(invalid.res.status, invalid.text).to.equal(422);
    expect(invalid.body.error.code).to.equal('VALIDATION_ERROR');
    const paths = invalid.body.error.details.issues.map((i: any) => i.path.join('.'));
    expect(paths).to.include.members(['config.keyword', 'config.maxItems']);

    const messages = await call('POST', '/workflows', {
      token: alice.token,
      body: { name: 'dm', type: 'xiaohongshu.messages', config: { maxConversations: 5 } },
    });
    expect(messages.res.status, messages.text).to.equal(403);
    expect(messages.body.error).to.deep.include({ code: 'PERMISSION_DENIED' });
    expect(messages.body.error.details).to.include({ feature: 'private_messaging', plan: 'free' });

    // one run bigger than free's 50 calls a day
    const big = await call('POST', '/workflows', {
      token: alice.token,
      body: { name: 'big', type: 'xiaohongshu.notes', config: { ...NOTES_CONFIG, maxItems: 100 } },
    });
    expect(big.res.status, big.text).to.equal(429);
    expect(big.body.error.details).to.include({ feature: 'daily_api_calls', limit: 50, plan: 'free' });

    const created = await createNotes(alice.token);
    expect(created.res.status, created.text).to.equal(201);
    const id = created.body.data.id as string;
    expect(created.res.headers.get('location')).to.equal(`/api/v1/workflows/${id}`);

    // free holds one automation workflow
    const second = await createNotes(alice.token, 'tea');
    expect(second.res.status, second.text).to.equal(429);
    expect(second.body.error.code).to.equal('QUOTA_EXCEEDED');
    expect(second.body.error.details).to.include({ feature: 'automation_workflows', limit: 1 });

    const list = await call('GET', `/workflows?after_position=${created.body.data.position}`, { token: alice.token });
    expect(list.res.status, list.text).to.equal(200);
    expect(list.body.data.items).to.have.length(1);
    expect(list.body.data.items[0]).to.deep.include({
      id,
      platform: 'xiaohongshu',
      type: 'xiaohongshu.notes',
      name: 'coffee',
      status: 'active',
      platform_account_id: null,
      last_execution_id: null,
      revision: '1',
    });
    expect(list.body.data.items[0].config).to.deep.equal(NOTES_CONFIG);
    expect(list.body.data.items[0].schedule).to.deep.equal({ kind: 'interval', every: 'daily' });
    expect(list.body.data.pagination).to.include({ total: 1, page: 1 });
    const filtered = await call('GET', '/workflows?platform=qidian', { token: alice.token });
    expect(filtered.body.data.items).to.have.length(0);

    // If-Match: a stale revision is 412, the current one changes it; the plan is checked again
    const stale = await call('PUT', `/workflows/${id}`, { token: alice.token, headers: { 'If-Match': '"0"' }, body: { name: 'coffee notes' } });
    expect(stale.res.status, stale.text).to.equal(412);
    const tooBig = await call('PUT', `/workflows/${id}`, { token: alice.token, body: { config: { ...NOTES_CONFIG, maxItems: 500 } } });
    expect(tooBig.res.status, tooBig.text).to.equal(429);
    const renamed = await call('PUT', `/workflows/${id}`, { token: alice.token, headers: { 'If-Match': '"1"' }, body: { name: 'coffee notes' } });
    expect(renamed.res.status, renamed.text).to.equal(200);
    const one = await call('GET', `/workflows/${id}?after_position=${renamed.body.data.position}`, { token: alice.token });
    expect(one.res.status, one.text).to.equal(200);
    expect(one.body.data).to.include({ name: 'coffee notes', revision: '2' });
    expect(one.res.headers.get('etag')).to.equal('"2"');
  });

  it("executes: requested, fed through the workers' door in idempotent batches, completed; cancel of a completed run is 409", async () => {
    const alice = await signUp();
    const created = await createNotes(alice.token);
    expect(created.res.status, created.text).to.equal(201);
    const workflowId = created.body.data.id as string;

    const executed = await call('POST', `/workflows/${workflowId}/execute`, { token: alice.token });
    expect(executed.res.status, executed.text).to.equal(202);
    const executionId = executed.body.data.execution_id as string;
    expect(executed.body.data).to.include({ revision: '0' });
    const listed = await call('GET', `/workflows/${workflowId}/executions?after_position=${executed.body.data.position}`, { token: alice.token });
    expect(listed.res.status, listed.text).to.equal(200);
    expect(listed.body.data.items.map((e: any) => [e.id, e.status, e.trigger, e.item_count])).to.deep.equal([[executionId, 'requested', 'manual', 0]]);

    // only admins use the workers' door
    const notAdmin = await results(executionId, { worker_id: 'w1', batch_id: 'b1', items: [] }, alice.token);
    expect(notAdmin.res.status, notAdmin.text).to.equal(403);
    // every item is checked against the note schema
    const bad = await results(executionId, { worker_id: 'w1', batch_id: 'bad', items: [note(noteId()), { ...note('xyz'), likes: -1 }] });
    expect(bad.res.status, bad.text).to.equal(422);
    expect(bad.body.error.details.issues.map((i: any) => i.path.join('.'))).to.include.members(['items.1.noteId', 'items.1.likes']);

    const [n1, n2, n3] = [noteId(), noteId(), noteId()];
    const b1 = await results(executionId, { worker_id: 'w1', batch_id: 'b1', items: [note(n1), note(n2)], cursor: 'page-2' });
    expect(b1.res.status, b1.text).to.equal(200);
    expect(b1.body.data).to.include({ status: 'running', attempt: 1, item_count: 2, accepted: 2, duplicates: 0 });

    // the same batch again changes nothing
    const eventsBefore = (await store.readStream(workflowExecutionStream(executionId))).length;
    const again = await results(executionId, { worker_id: 'w1', batch_id: 'b1', items: [note(n1), note(n2)], cursor: 'page-2' });
    expect(again.res.status, again.text).to.equal(200);
    expect(again.body.data).to.include({ status: 'running', item_count: 2, accepted: 0, duplicates: 2, revision: b1.body.data.revision });
    expect((await store.readStream(workflowExecutionStream(executionId))).length).to.equal(eventsBefore);

    // n2 again in another batch counts once
    const b2 = await results(executionId, { worker_id: 'w1', batch_id: 'b2', items: [note(n2), note(n3)], cursor: null, done: true });
    expect(b2.res.status, b2.text).to.equal(200);
    expect(b2.body.data).to.include({ status: 'completed', item_count: 3, accepted: 1, duplicates: 1 });
    // the last batch re-sent after completion: still a no-op
    const late = await results(executionId, { worker_id: 'w1', batch_id: 'b2', items: [note(n2), note(n3)], cursor: null, done: true });
    expect(late.res.status, late.text).to.equal(200);
    expect(late.body.data).to.include({ status: 'completed', item_count: 3, accepted: 0 });
    // only known items under a new batch id: nothing to record, so no refusal either
    const known = await results(executionId, { worker_id: 'w1', batch_id: 'b2-resent', items: [note(n1), note(n3)] });
    expect(known.res.status, known.text).to.equal(200);
    expect(known.body.data).to.include({ status: 'completed', item_count: 3, accepted: 0, duplicates: 2 });
    // new items for a finished run are refused
    const after = await results(executionId, { worker_id: 'w1', batch_id: 'b3', items: [note(noteId())] });
    expect(after.res.status, after.text).to.equal(409);

    const execution = await call('GET', `/workflows/executions/${executionId}?after_position=${b2.body.data.position}`, { token: alice.token });
    expect(execution.res.status, execution.text).to.equal(200);
    expect(execution.body.data).to.include({ id: executionId, workflow_id: workflowId, status: 'completed', item_count: 3, attempt: 1, cursor: null });
    expect(execution.body.data.started_at).to.be.a('string');
    expect(execution.body.data.finished_at).to.be.a('string');
    const workflow = await call('GET', `/workflows/${workflowId}`, { token: alice.token });
    expect(workflow.body.data).to.include({ last_execution_id: executionId, last_run_at: execution.body.data.started_at });

    const cancel = await call('POST', `/workflows/executions/${executionId}/cancel`, { token: alice.token });
    expect(cancel.res.status, cancel.text).to.equal(409);
    expect(cancel.body.error.code).to.equal('CONFLICT');

    // a run not yet finished can be cancelled, and then takes no items
    const next = await call('POST', `/workflows/${workflowId}/execute`, { token: alice.token });
    const cancelled = await call('POST', `/workflows/executions/${next.body.data.execution_id}/cancel`, { token: alice.token });
    expect(cancelled.res.status, cancelled.text).to.equal(200);
    const fed = await results(next.body.data.execution_id, { worker_id: 'w1', batch_id: 'x', items: [note(noteId())] });
    expect(fed.res.status, fed.text).to.equal(409);
    const history = await call('GET', `/workflows/${workflowId}/executions?after_position=${cancelled.body.data.position}`, { token: alice.token });
    expect(history.body.data.items.map((e: any) => e.status)).to.deep.equal(['cancelled', 'completed']);
  });

  it('answers 404 to another user on every route', async () => {
    const alice = await signUp();
    const bob = await signUp();
    const created = await createNotes(alice.token);
    const id = created.body.data.id as string;
    const executed = await call('POST', `/workflows/${id}/execute`, { token: alice.token });
    expect(executed.res.status, executed.text).to.equal(202);
    const executionId = executed.body.data.execution_id as string;
    // wait for the projection, so a 404 is not just lag
    const mine = await call('GET', `/workflows/executions/${executionId}?after_position=${executed.body.data.position}`, { token: alice.token });
    expect(mine.res.status, mine.text).to.equal(200);

    const attempts: [string, string, unknown?][] = [
      ['GET', `/workflows/${id}`],
      ['PUT', `/workflows/${id}`, { name: 'mine now' }],
      ['DELETE', `/workflows/${id}`],
      ['POST', `/workflows/${id}/pause`],
      ['POST', `/workflows/${id}/resume`],
      ['POST', `/workflows/${id}/execute`],
      ['GET', `/workflows/${id}/executions`],
      ['GET', `/workflows/executions/${executionId}`],
      ['POST', `/workflows/executions/${executionId}/cancel`],
    ];
    for (const [method, path, body] of attempts) {
      const reply = await call(method, path, { token: bob.token, ...(body !== undefined ? { body } : {}) });
      expect(reply.res.status, `${method} ${path}: ${reply.text}`).to.equal(404);
      expect(reply.body.error.code).to.equal('NOT_FOUND');
    }
    // a stale If-Match tells a stranger nothing either (412 would say the workflow exists)
    for (const method of ['PUT', 'DELETE']) {
      const reply = await call(method, `/workflows/${id}`, {
        token: bob.token,
        headers: { 'If-Match': '"0"' },
        ...(method === 'PUT' ? { body: { name: 'x' } } : {}),
      });
      expect(reply.res.status, `${method} with If-Match: ${reply.text}`).to.equal(404);
    }
    const list = await call('GET', '/workflows', { token: bob.token });
    expect(list.body.data.items).to.have.length(0);
    // and alice's workflow is as it was
    const still = await call('GET', `/workflows/${id}`, { token: alice.token });
    expect(still.body.data).to.include({ name: 'coffee', status: 'active' });
  });

  it('pauses (no manual run while paused), resumes, and a delete frees the slot', async () => {
    const alice = await signUp();
    const created = await createNotes(alice.token);
    const id = created.body.data.id as string;

    const paused = await call('POST', `/workflows/${id}/pause`, { token: alice.token });
    expect(paused.res.status, paused.text).to.equal(200);
    const view = await call('GET', `/workflows/${id}?after_position=${paused.body.data.position}`, { token: alice.token });
    expect(view.body.data).to.include({ status: 'paused' });
    expect(view.body.data.paused_for).to.deep.equal(['user']);
    const refused = await call('POST', `/workflows/${id}/execute`, { token: alice.token });
    expect(refused.res.status, refused.text).to.equal(409);
    const resumed = await call('POST', `/workflows/${id}/resume`, { token: alice.token });
    expect(resumed.res.status, resumed.text).to.equal(200);
    const active = await call('GET', `/workflows/${id}?after_position=${resumed.body.data.position}`, { token: alice.token });
    expect(active.body.data).to.include({ status: 'active' });

    expect((await createNotes(alice.token, 'second')).res.status).to.equal(429);
    // If-Match: the revision before the pause is stale (412, nothing deleted); the resume's is current
    const stale = await call('DELETE', `/workflows/${id}`, { token: alice.token, headers: { 'If-Match': `"${created.body.data.revision}"` } });
    expect(stale.res.status, stale.text).to.equal(412);
    expect(stale.body.error.code).to.equal('PRECONDITION_FAILED');
    const deleted = await call('DELETE', `/workflows/${id}`, { token: alice.token, headers: { 'If-Match': `"${resumed.body.data.revision}"` } });
    expect(deleted.res.status, deleted.text).to.equal(200);
    const gone = await call('GET', `/workflows/${id}?after_position=${deleted.body.data.position}`, { token: alice.token });
    expect(gone.res.status, gone.text).to.equal(404);
    // deleting again changes nothing
    const again = await call('DELETE', `/workflows/${id}`, { token: alice.token });
    expect(again.res.status, again.text).to.equal(200);
    expect(again.body.data.position).to.equal(null);

    const replacement = await createNotes(alice.token, 'second');
    expect(replacement.res.status, replacement.text).to.equal(201);
    const list = await call('GET', `/workflows?after_position=${replacement.body.data.position}`, { token: alice.token });
    expect(list.body.data.items.map((w: any) => w.name)).to.deep.equal(['second']);
  });

  /** A platform account connected straight through its aggregate (the accounts API is another slice's). */
  async function connectAccount(ownerId: string, platform: string): Promise<string> {
    const accountId = randomUUID();
    const credentials = container.get(TOKENS.SecretBox).encrypt('a1=x; web_session=y', accountId);
    await handle(
      store,
      platformAccountAggregate,
      accountId,
      { type: 'ConnectPlatformAccount', accountId, ownerId, platform, platformUserId: null, displayName: 'acc', credentials, now: new Date().toISOString() },
      { context: { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' } },
    );
    return accountId;
  }

  it("takes only a platform account of the caller and of the workflow's platform", async () => {
    const alice = await signUp();
    const bob = await signUp();
    const body = (accountId: string) => ({ name: 'with account', type: 'xiaohongshu.notes', config: NOTES_CONFIG, platform_account_id: accountId });

    const unknown = await call('POST', '/workflows', { token: alice.token, body: body(randomUUID()) });
    expect(unknown.res.status, unknown.text).to.equal(404);
    const bobs = await call('POST', '/workflows', { token: alice.token, body: body(await connectAccount(bob.userId, 'xiaohongshu')) });
    expect(bobs.res.status, bobs.text).to.equal(404);
    const qidian = await call('POST', '/workflows', { token: alice.token, body: body(await connectAccount(alice.userId, 'qidian')) });
    expect(qidian.res.status, qidian.text).to.equal(422);
    expect(qidian.body.error.details.issues[0].path).to.deep.equal(['platform_account_id']);

    const own = await connectAccount(alice.userId, 'xiaohongshu');
    const created = await call('POST', '/workflows', { token: alice.token, body: body(own) });
    expect(created.res.status, created.text).to.equal(201);
    const view = await call('GET', `/workflows/${created.body.data.id}?after_position=${created.body.data.position}`, { token: alice.token });
    expect(view.body.data).to.include({ platform_account_id: own });
    // the refusals above held no slot: free's one was still there
  });

  it("checks the account a request names before the plan's limits: 404 / 422 / 409 come before 403 / 429, on create and on change", async () => {
    const alice = await signUp();
    const bob = await signUp();
    // one run of 100 notes is over free's 50 calls a day (429); private messages are not in free (403)
    const overLimit = (accountId: string) => ({
      name: 'big',
      type: 'xiaohongshu.notes',
      config: { ...NOTES_CONFIG, maxItems: 100 },
      platform_account_id: accountId,
    });
    const messages = (accountId: string) => ({ name: 'dm', type: 'xiaohongshu.messages', config: { maxConversations: 5 }, platform_account_id: accountId });
    const disconnected = await connectAccount(alice.userId, 'xiaohongshu');
    await handle(
      store,
      platformAccountAggregate,
      disconnected,
      { type: 'DisconnectPlatformAccount', accountId: disconnected, requestedBy: alice.userId, now: new Date().toISOString() },
      { context: { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' } },
    );

    for (const [what, body, status] of [
      ['unknown account, over the limit', overLimit(randomUUID()), 404],
      ["another user's account, a feature not in the plan", messages(await connectAccount(bob.userId, 'xiaohongshu')), 404],
      ['a Qidian account, over the limit', overLimit(await connectAccount(alice.userId, 'qidian')), 422],
      ['a disconnected account, over the limit', overLimit(disconnected), 409],
      // the account is fine: the plan decides
      ['my account, over the limit', overLimit(await connectAccount(alice.userId, 'xiaohongshu')), 429],
    ] as const) {
      const refused = await call('POST', '/workflows', { token: alice.token, body });
      expect(refused.res.status, `${what}: ${refused.text}`).to.equal(status);
    }
    // none is needed to create one: the plan alone decides
    const { platform_account_id: _none, ...withoutAccount } = overLimit('');
    expect((await call('POST', '/workflows', { token: alice.token, body: withoutAccount })).res.status).to.equal(429);

    const created = await createNotes(alice.token);
    expect(created.res.status, created.text).to.equal(201);
    const change = await call('PUT', `/workflows/${created.body.data.id}`, {
      token: alice.token,
      body: { config: { ...NOTES_CONFIG, maxItems: 100 }, platform_account_id: randomUUID() },
    });
    expect(change.res.status, change.text).to.equal(404);
  });

  it('describes the routes in the OpenAPI document', async () => {
    const doc = await call('GET', '/openapi.json');
    expect(doc.res.status).to.equal(200);
    const paths = Object.keys(doc.body.paths);
    expect(paths).to.include.members([
      '/api/v1/workflows',
      '/api/v1/workflows/{id}',
      '/api/v1/workflows/{id}/pause',
      '/api/v1/workflows/{id}/resume',
      '/api/v1/workflows/{id}/execute',
      '/api/v1/workflows/{id}/executions',
      '/api/v1/workflows/executions/{id}',
      '/api/v1/workflows/executions/{id}/cancel',
      '/api/v1/workflows/executions/{id}/results',
    ]);
    expect(doc.body.paths['/api/v1/workflows/{id}/execute'].post.description).to.include('process manager');
    expect(doc.body.paths['/api/v1/workflows/executions/{id}/results'].post.responses).to.have.property('403');
  });
});
