import { expect } from 'chai';
import type { Container } from 'inversify';
import { randomUUID } from 'node:crypto';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { LOGIN_IP_PREFIX } from '../../src/adapters/rate-limit/login-rate-limit.js';
import { createApiApp } from '../../src/api-app.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import { formatPosition } from '../../src/event-store/position.js';
import type { EventStore } from '../../src/event-store/index.js';
import { notificationsProjection } from '../../src/projections/notifications.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import { TOKENS } from '../../src/tokens.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { notificationAggregate, notificationStream } from '../../src/write-model/notification/decider.js';
import type { NotificationKind } from '../../src/write-model/notification/events.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';

interface Reply {
  res: Response;
  text: string;
  body: any;
}

const LOCAL_IP_KEYS = ['127.0.0.1', '::ffff:127.0.0.1', '::1'].map((ip) => `${LOGIN_IP_PREFIX}:${ip}`);

/**
 * Notifications over HTTP: the production app (createApiApp) on a real
 * socket, the notifications-v1 projection in-process under its real name.
 * Notifications are sent with the Notify command, one stream each (what
 * pm-notify-user sends; tests/integration/notify-user.test.ts covers it).
 */
describe('notifications API (e2e)', function () {
  this.timeout(40_000);
  let container: Container;
  let store: EventStore;
  let running: RunningServer;
  let runner: ConsumerRunner;

  before(async () => {
    container = await buildContainer(testConfig({ LOGIN_RATE_LIMIT_PER_IP: '10000' }));
    store = container.get(TOKENS.EventStore);
    const knex = container.get(TOKENS.Knex);
    runner = new ConsumerRunner({ store, knex, databaseUrl: testDatabaseUrl }, notificationsProjection, { idleCheckpointMs: 100, lockRetryMs: 100 });
    runner.start();
    running = await listen(createApiApp(container).callback(), '127.0.0.1', 0);
  });
  after(async () => {
    if (running) await closeServer(running.server);
    await runner?.stop();
    if (container) {
      await container.get(TOKENS.Redis).del(...LOCAL_IP_KEYS);
      await disposeContainer(container);
    }
  });

  async function call(method: string, path: string, options: { body?: unknown; token?: string } = {}): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    const res = await fetch(`${running.url}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
    const text = await res.text();
    return { res, text, body: JSON.parse(text) };
  }

  async function signUp(): Promise<{ userId: string; token: string }> {
    const email = `notifications-${randomUUID()}@example.test`;
    const password = `pw ${randomUUID()}`;
    const registered = await call('POST', '/api/v1/auth/register', { body: { email, password, display_name: 'Nia' } });
    expect(registered.res.status, registered.text).to.equal(201);
    const login = await call('POST', '/api/v1/auth/login', { body: { email, password } });
    expect(login.res.status, login.text).to.equal(200);
    return { userId: registered.body.data.user_id, token: login.body.data.access_token };
  }

  /** Sends a notification as pm-notify-user would; answers the position to wait for. */
  async function notify(userId: string, kind: NotificationKind, title: string, at: string): Promise<{ id: string; position: string }> {
    const id = randomUUID();
    const result = await handle(
      store,
      notificationAggregate,
      id,
      { type: 'Notify', userId, notificationId: id, kind, title, body: `${title} body`, data: { orderId: 'o-1' }, now: at },
      { context: { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' } },
    );
    return { id, position: formatPosition(result.position!) };
  }

  it('lists newest first with unread_count, filters unread, marks one and all read; another user sees 404', async () => {
    const ada = await signUp();
    const bob = await signUp();

    const empty = await call('GET', '/api/v1/notifications', { token: ada.token });
    expect(empty.res.status, empty.text).to.equal(200);
    expect(empty.body.data).to.deep.include({ items: [], unread_count: 0 });

    const first = await notify(ada.userId, 'quota_exceeded', 'quota', '2026-03-01T10:00:00.000Z');
    const second = await notify(ada.userId, 'execution_failed', 'failed', '2026-03-01T11:00:00.000Z');
    const third = await notify(ada.userId, 'payment_received', 'paid', '2026-03-01T12:00:00.000Z');
    const bobs = await notify(bob.userId, 'account_invalidated', 'bob only', '2026-03-01T12:30:00.000Z');

    const list = await call('GET', `/api/v1/notifications?after_position=${bobs.position}`, { token: ada.token });
    expect(list.res.status, list.text).to.equal(200);
    expect(list.res.headers.get('x-projection-lag')).to.equal(null);
    expect(list.body.data.items.map((n: any) => n.id)).to.deep.equal([third.id, second.id, first.id]);
    expect(list.body.data.unread_count).to.equal(3);
    expect(list.body.data.pagination).to.include({ total: 3, page: 1 });
    expect(list.body.data.items[0]).to.deep.include({
      kind: 'payment_received',
      title: 'paid',
      body: 'paid body',
      data: { orderId: 'o-1' },
      read: false,
      read_at: null,
      emailed: false,
      created_at: '2026-03-01T12:00:00.000Z',
    });

    const paged = await call('GET', '/api/v1/notifications?per_page=2&page=2', { token: ada.token });
    expect(paged.body.data.items.map((n: any) => n.id)).to.deep.equal([first.id]);
    expect(paged.body.data.pagination).to.include({ total: 3, total_pages: 2, has_prev: true, has_next: false });
    const badQuery = await call('GET', '/api/v1/notifications?unread=yes', { token: ada.token });
    expect(badQuery.res.status).to.equal(422);
    expect((await call('GET', '/api/v1/notifications')).res.status).to.equal(401);

    // mark one read; again is a no-op
    const marked = await call('POST', `/api/v1/notifications/${second.id}/read`, { token: ada.token });
    expect(marked.res.status, marked.text).to.equal(200);
    expect(marked.body.data.position).to.match(/^\d+-\d+$/);
    const again = await call('POST', `/api/v1/notifications/${second.id}/read`, { token: ada.token });
    expect(again.res.status, again.text).to.equal(200);
    expect(again.body.data).to.include({ revision: marked.body.data.revision, position: null });

    const unread = await call('GET', `/api/v1/notifications?unread=true&after_position=${marked.body.data.position}`, { token: ada.token });
    expect(unread.body.data.items.map((n: any) => n.id)).to.deep.equal([third.id, first.id]);
    expect(unread.body.data.unread_count).to.equal(2);
    const all = await call('GET', '/api/v1/notifications?unread=false', { token: ada.token });
    const readOne = all.body.data.items.find((n: any) => n.id === second.id);
    expect(readOne.read).to.equal(true);
    expect(readOne.read_at).to.be.a('string');

    // someone else's notification, or an unknown one: 404, and it stays unread
    const foreign = await call('POST', `/api/v1/notifications/${bobs.id}/read`, { token: ada.token });
    expect(foreign.res.status, foreign.text).to.equal(404);
    expect(foreign.body.error.code).to.equal('NOT_FOUND');
    expect((await call('POST', `/api/v1/notifications/${randomUUID()}/read`, { token: bob.token })).res.status).to.equal(404);
    const bobList = await call('GET', '/api/v1/notifications', { token: bob.token });
    expect(bobList.body.data.items.map((n: any) => n.id)).to.deep.equal([bobs.id]);
    expect(bobList.body.data.unread_count).to.equal(1);

    // read-all: the remaining two (each in its own stream, the one read before untouched); then nothing to mark
    const readAll = await call('POST', `/api/v1/notifications/read-all?after_position=${bobs.position}`, { token: ada.token });
    expect(readAll.res.status, readAll.text).to.equal(200);
    expect(readAll.body.data.marked).to.equal(2);
    expect(readAll.res.headers.get('etag')).to.equal(`"${readAll.body.data.revision}"`);
    const typesOf = async (id: string) => (await store.readStream(notificationStream(id))).map((e) => e.type);
    for (const n of [first, second, third]) expect(await typesOf(n.id), n.id).to.deep.equal(['NotificationSent', 'NotificationRead']);
    expect(await typesOf(bobs.id)).to.deep.equal(['NotificationSent']);
    // nothing marked: no notification's revision to answer, so none (and no ETag)
    const none = await call('POST', '/api/v1/notifications/read-all', { token: ada.token });
    expect(none.res.status, none.text).to.equal(200);
    expect(none.body.data).to.deep.equal({ marked: 0, revision: null, position: null });
    expect(none.res.headers.get('etag')).to.equal(null);
    const after = await call('GET', `/api/v1/notifications?after_position=${readAll.body.data.position}`, { token: ada.token });
    expect(after.body.data.unread_count).to.equal(0);
    expect(after.body.data.items.every((n: any) => n.read)).to.equal(true);
    const afterUnread = await call('GET', '/api/v1/notifications?unread=true', { token: ada.token });
    expect(afterUnread.body.data.items).to.deep.equal([]);
    // Bob's inbox untouched
    const bobAfter = await call('GET', '/api/v1/notifications', { token: bob.token });
    expect(bobAfter.body.data.unread_count).to.equal(1);
    // a user with no inbox at all: read-all is a no-op
    const carol = await signUp();
    const carolAll = await call('POST', '/api/v1/notifications/read-all', { token: carol.token });
    expect(carolAll.res.status, carolAll.text).to.equal(200);
    expect(carolAll.body.data).to.deep.equal({ marked: 0, revision: null, position: null });
    expect(carolAll.res.headers.get('etag')).to.equal(null);
  });

  it('is in the OpenAPI document', async () => {
    const doc = await call('GET', '/api/v1/openapi.json');
    const paths = Object.keys(doc.body.paths ?? doc.body.data?.paths ?? {});
    expect(paths).to.include.members(['/api/v1/notifications', '/api/v1/notifications/{id}/read', '/api/v1/notifications/read-all']);
  });
});
