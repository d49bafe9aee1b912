import { expect } from 'chai';
import type { Container } from 'inversify';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { LOGIN_IP_PREFIX } from '../../src/adapters/rate-limit/login-rate-limit.js';
import { createApiApp } from '../../src/api-app.js';
import { xiaohongshuContentId } from '../../src/application/xiaohongshu-contents.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { EventStore } from '../../src/event-store/index.js';
import { formatPosition } from '../../src/event-store/position.js';
import type { XiaohongshuMessage, XiaohongshuNote } from '../../src/platforms/xiaohongshu/items.js';
import { xiaohongshuContentProjection } from '../../src/projections/xiaohongshu-content.js';
import { TOKENS } from '../../src/tokens.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { workflowExecutionAggregate, type CollectedItem, type WorkflowExecutionCommand } from '../../src/write-model/workflow-execution/index.js';
import { xiaohongshuContentStream } from '../../src/write-model/xiaohongshu-content/index.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';

interface Reply {
  res: Response;
  text: string;
  body: any;
}

const LOCAL_IP_KEYS = ['127.0.0.1', '::ffff:127.0.0.1', '::1'].map((ip) => `${LOGIN_IP_PREFIX}:${ip}`);
const PASSWORD = 'correct horse battery';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const hex24 = () => randomBytes(12).toString('hex');

describe('xiaohongshu: deleting collected notes, conversations and messages (e2e)', function () {
  this.timeout(60_000);
  let container: Container;
  let store: EventStore;
  let running: RunningServer;
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  // the clock read when the tests start, not when mocha loads every file (the day may have turned meanwhile)
  let now = 0;
  before(() => {
    now = Date.now();
  });
  const ago = (ms: number) => new Date(now - ms).toISOString();

  let alice: { userId: string; token: string };
  let bob: { userId: string; token: string };
  const selfId = hex24();
  const peerA = { id: hex24(), nickname: '小鹿爱喝咖啡' };
  const peerB = { id: hex24(), nickname: '装修日记Lily' };
  const peerOld = { id: hex24(), nickname: '十天前' };
  const convA = `conv_${randomBytes(8).toString('hex')}`;
  const convB = `conv_${randomBytes(8).toString('hex')}`;
  const convOld = `conv_${randomBytes(8).toString('hex')}`;
  const accountA = randomUUID();
  const accountB = randomUUID();
  const notes = { coffee: hex24(), sofa: hex24(), bobs: hex24() };
  let lastPosition = '';

  function note(noteId: string, title: string): XiaohongshuNote {
    return {
      noteId,
      type: 'normal',
      title,
      text: '',
      author: { id: hex24(), nickname: '作者' },
      publishedAt: '2026-03-01T02:00:00.000Z',
      likes: 10,
      comments: 1,
      shares: 0,
      collects: 2,
      images: [],
      tags: [],
      location: null,
      url: `https://www.xiaohongshu.com/explore/${noteId}`,
    };
  }

  function message(
    conversationId: string,
    messageId: string,
    peer: { id: string; nickname: string },
    direction: 'sent' | 'received',
    text: string,
    sentAt: string,
    withPeer = true,
  ): XiaohongshuMessage {
    return {
      conversationId,
      messageId,
      direction,
      from: direction === 'sent' ? { id: selfId, nickname: null } : peer,
      messageType: 'text',
      text,
      sentAt,
      ...(withPeer ? { peer } : {}),
    };
  }

  /** RequestExecution → StartExecution → CollectItems, all at `at`. */
  async function collect(
    ownerId: string,
    workflowType: 'xiaohongshu.notes' | 'xiaohongshu.messages',
    items: CollectedItem[],
    at: string,
    platformAccountId: string | null = null,
  ): Promise<void> {
    const executionId = randomUUID();
    const send = (command: WorkflowExecutionCommand) => handle(store, workflowExecutionAggregate, executionId, command, { context });
    await send({
      type: 'RequestExecution',
      executionId,
      workflowId: `wf-${randomUUID()}`,
      ownerId,
      platform: 'xiaohongshu',
      workflowType,
      config: workflowType === 'xiaohongshu.notes' ? { mode: 'keyword', keyword: '上海', maxItems: 20 } : { maxConversations: 10 },
      platformAccountId,
      trigger: 'manual',
      requestedBy: ownerId,
      now: at,
    });
    await send({ type: 'StartExecution', executionId, workerId: 'worker-1', now: at });
    const result = await send({ type: 'CollectItems', executionId, batchId: 'batch-1', items, cursor: null, now: at });
    lastPosition = formatPosition(result.position!);
  }
  const noteItem = (x: XiaohongshuNote): CollectedItem => ({
    platformContentId: x.noteId,
    kind: 'xiaohongshu.note',
    data: x as unknown as Record<string, unknown>,
  });
  const messageItem = (x: XiaohongshuMessage): CollectedItem => ({
    platformContentId: `${x.conversationId}:${x.messageId}`,
    kind: 'xiaohongshu.message',
    data: x as unknown as Record<string, unknown>,
  });

  async function send(method: string, path: string, token?: string): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    const res = await fetch(`${running.url}${path}`, { method, headers });
    const text = await res.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { res, text, body };
  }
  const get = (path: string, token: string) => send('GET', path, token);
  const ok = async (path: string, token: string) => {
    const r = await get(path, token);
    expect(r.res.status, r.text).to.equal(200);
    return r.body.data;
  };

  async function signUp(): Promise<{ userId: string; token: string }> {
    const email = `xhs-msg-${randomUUID()}@example.test`;
    const post = (path: string, body: unknown) =>
      fetch(`${running.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }).then(async (res) => ({
        res,
        body: (await res.json()) as any,
      }));
    const registered = await post('/api/v1/auth/register', { email, password: PASSWORD, display_name: '小红' });
    expect(registered.res.status).to.equal(201);
    const login = await post('/api/v1/auth/login', { email, password: PASSWORD });
    expect(login.res.status).to.equal(200);
    return { userId: registered.body.data.user_id, token: login.body.data.access_token };
  }

  const project = () => runConsumerToHead({ store, knex: container.get(TOKENS.Knex), databaseUrl: testDatabaseUrl }, xiaohongshuContentProjection);

  before(async () => {
    container = await buildContainer(testConfig({ LOGIN_RATE_LIMIT_PER_IP: '10000' }));
    store = container.get(TOKENS.EventStore);
    running = await listen(createApiApp(container).callback(), '127.0.0.1', 0);
    alice = await signUp();
    bob = await signUp();

    await collect(alice.userId, 'xiaohongshu.notes', [noteItem(note(notes.coffee, '上海咖啡')), noteItem(note(notes.sofa, '客厅沙发'))], ago(2 * HOUR));
    await collect(bob.userId, 'xiaohongshu.notes', [noteItem(note(notes.bobs, '鲍勃的笔记'))], ago(2 * HOUR));

    // conversation A through account A: three messages, the latest one sent; the first copy collected before peers were recorded
    await collect(
      alice.userId,
      'xiaohongshu.messages',
      [
        messageItem(message(convA, 'a1', peerA, 'received', '你好，请问店在哪', ago(5 * HOUR), false)),
        messageItem(message(convA, 'a2', peerA, 'sent', '武康路 100 号', ago(4 * HOUR), false)),
      ],
      ago(3 * HOUR),
      accountA,
    );
    await collect(
      alice.userId,
      'xiaohongshu.messages',
      [messageItem(message(convA, 'a3', peerA, 'received', '谢谢！', ago(30 * 60_000)))],
      ago(20 * 60_000),
      accountA,
    );
    // conversation B through account B: one sent message only (the peer is known from the conversation list)
    await collect(
      alice.userId,
      'xiaohongshu.messages',
      [messageItem(message(convB, 'b1', peerB, 'sent', '沙发链接发我一下', ago(2 * HOUR)))],
      ago(HOUR),
      accountB,
    );
    // past free's 7 days of retention
    await collect(
      alice.userId,
      'xiaohongshu.messages',
      [messageItem(message(convOld, 'o1', peerOld, 'received', '很久以前', ago(11 * DAY)))],
      ago(10 * DAY),
      accountA,
    );
    await project();
  });
  after(async () => {
    if (running) await closeServer(running.server);
    if (container) {
      await container.get(TOKENS.Redis).del(...LOCAL_IP_KEYS);
      await disposeContainer(container);
    }
  });

  describe('DELETE /api/v1/xiaohongshu/contents/{id}', () => {
    it("refuses what the caller cannot read: someone else's note, an unknown one (404), a bad id (422), no token (401)", async () => {
      const stranger = await send('DELETE', `/api/v1/xiaohongshu/contents/${notes.bobs}`, alice.token);
      expect(stranger.res.status, stranger.text).to.equal(404);
      expect(stranger.body).to.deep.include({ success: false });
      expect(stranger.body.error.code).to.equal('NOT_FOUND');
      expect((await send('DELETE', `/api/v1/xiaohongshu/contents/${hex24()}`, alice.token)).res.status).to.equal(404);
      expect((await send('DELETE', '/api/v1/xiaohongshu/contents/not-a-note', alice.token)).res.status).to.equal(422);
      expect((await send('DELETE', `/api/v1/xiaohongshu/contents/${notes.coffee}`)).res.status).to.equal(401);
      // nothing was written for the refusals
      const none = await store.readStream(xiaohongshuContentStream(xiaohongshuContentId(alice.userId, notes.bobs))).catch((e: unknown) => e);
      expect(none).to.have.property('name', 'StreamNotFoundError');
      expect((await ok(`/api/v1/xiaohongshu/contents/${notes.bobs}`, bob.token)).id).to.equal(notes.bobs);
    });

    it('deletes my note as an event; the reads drop it; a repeat is 200 with position null', async () => {
      const deleted = await send('DELETE', `/api/v1/xiaohongshu/contents/${notes.coffee}`, alice.token);
      expect(deleted.res.status, deleted.text).to.equal(200);
      expect(deleted.body.data).to.include({ revision: '0' });
      expect(deleted.body.data.position).to.match(/^\d+-\d+$/);
      expect(deleted.res.headers.get('etag')).to.equal('"0"');

      const events = await store.readStream(xiaohongshuContentStream(xiaohongshuContentId(alice.userId, notes.coffee)));
      expect(events.map((e) => e.type)).to.deep.equal(['CollectedContentDeleted']);
      expect(events[0]!.data).to.include({ ownerId: alice.userId, noteId: notes.coffee });
      expect(events[0]!.metadata).to.include({ userId: alice.userId });

      await project();
      const after = `?after_position=${deleted.body.data.position}`;
      expect((await get(`/api/v1/xiaohongshu/contents/${notes.coffee}${after}`, alice.token)).res.status).to.equal(404);
      const listed = await ok(`/api/v1/xiaohongshu/contents${after}`, alice.token);
      expect(listed.items.map((i: any) => i.id)).to.deep.equal([notes.sofa]);

      const again = await send('DELETE', `/api/v1/xiaohongshu/contents/${notes.coffee}`, alice.token);
      expect(again.res.status, again.text).to.equal(200);
      expect(again.body.data).to.deep.equal({ revision: '0', position: null });
      // bob's notes are untouched
      expect((await ok('/api/v1/xiaohongshu/contents', bob.token)).items.map((i: any) => i.id)).to.deep.equal([notes.bobs]);
    });

    it('collecting the note again does not bring it back', async () => {
      await collect(alice.userId, 'xiaohongshu.notes', [noteItem(note(notes.coffee, '上海咖啡（再次采集）'))], ago(60_000));
      await project();
      expect((await get(`/api/v1/xiaohongshu/contents/${notes.coffee}?after_position=${lastPosition}`, alice.token)).res.status).to.equal(404);
      expect((await ok('/api/v1/xiaohongshu/contents', alice.token)).items.map((i: any) => i.id)).to.deep.equal([notes.sofa]);
    });
  });

  describe('GET /api/v1/xiaohongshu/conversations', () => {
    it('lists my conversations, the latest message first, with the peer, the latest message and the counts, within retention', async () => {
      const page = await ok(`/api/v1/xiaohongshu/conversations?after_position=${lastPosition}`, alice.token);
      expect(page.pagination).to.deep.equal({ page: 1, per_page: 20, total: 2, total_pages: 1, has_next: false, has_prev: false });
      expect(page.items).to.deep.equal([
        {
          id: convA,
          peer_id: peerA.id,
          peer_nickname: peerA.nickname,
          platform_account_id: accountA,
          last_message_text: '谢谢！',
          last_message_type: 'text',
          last_message_direction: 'received',
          last_message_at: ago(30 * 60_000),
          first_message_at: ago(5 * HOUR),
          message_count: 3,
          received_count: 2,
          sent_count: 1,
        },
        {
          id: convB,
          peer_id: peerB.id,
          peer_nickname: peerB.nickname,
          platform_account_id: accountB,
          last_message_text: '沙发链接发我一下',
          last_message_type: 'text',
          last_message_direction: 'sent',
          last_message_at: ago(2 * HOUR),
          first_message_at: ago(2 * HOUR),
          message_count: 1,
          received_count: 0,
          sent_count: 1,
        },
      ]);
    });

    it('pages, filters by platform account, and shows only my own', async () => {
      const second = await ok('/api/v1/xiaohongshu/conversations?per_page=1&page=2', alice.token);
      expect(second.pagination).to.deep.equal({ page: 2, per_page: 1, total: 2, total_pages: 2, has_next: false, has_prev: true });
      expect(second.items.map((c: any) => c.id)).to.deep.equal([convB]);
      expect((await ok(`/api/v1/xiaohongshu/conversations?platform_account_id=${accountB}`, alice.token)).items.map((c: any) => c.id)).to.deep.equal([convB]);
      expect((await ok(`/api/v1/xiaohongshu/conversations?platform_account_id=${randomUUID()}`, alice.token)).items).to.deep.equal([]);
      const bobs = await ok('/api/v1/xiaohongshu/conversations', bob.token);
      expect(bobs.items).to.deep.equal([]);
      expect(bobs.pagination.total).to.equal(0);
      expect((await get('/api/v1/xiaohongshu/conversations?per_page=101', alice.token)).res.status).to.equal(422);
      expect((await get('/api/v1/xiaohongshu/conversations', '')).res.status).to.equal(401);
    });
  });

  describe('GET /api/v1/xiaohongshu/messages', () => {
    it('lists my messages newest first, within retention, paged', async () => {
      const page = await ok('/api/v1/xiaohongshu/messages', alice.token);
      expect(page.pagination).to.include({ total: 4, total_pages: 1 });
      expect(page.items.map((m: any) => m.id)).to.deep.equal(['a3', 'b1', 'a2', 'a1']);
      expect(page.items[0]).to.deep.equal({
        id: 'a3',
        conversation_id: convA,
        direction: 'received',
        message_type: 'text',
        text: '谢谢！',
        from_id: peerA.id,
        from_nickname: peerA.nickname,
        peer_id: peerA.id,
        peer_nickname: peerA.nickname,
        sent_at: ago(30 * 60_000),
        platform_account_id: accountA,
        collected_at: ago(20 * 60_000),
      });
      // collected before the peer was recorded
      expect(page.items[2]).to.include({ id: 'a2', direction: 'sent', from_id: selfId, peer_id: null });
      const second = await ok('/api/v1/xiaohongshu/messages?per_page=3&page=2', alice.token);
      expect(second.pagination).to.deep.equal({ page: 2, per_page: 3, total: 4, total_pages: 2, has_next: false, has_prev: true });
      expect(second.items.map((m: any) => m.id)).to.deep.equal(['a1']);
    });

    it('filters by conversation, peer, account and direction; shows only my own', async () => {
      const ids = async (query: string, token = alice.token) => (await ok(`/api/v1/xiaohongshu/messages${query}`, token)).items.map((m: any) => m.id);
      expect(await ids(`?conversation_id=${convA}`)).to.deep.equal(['a3', 'a2', 'a1']);
      // by peer: the whole conversation, the messages collected without the peer included
      expect(await ids(`?peer_id=${peerA.id}`)).to.deep.equal(['a3', 'a2', 'a1']);
      expect(await ids(`?peer_id=${peerB.id}`)).to.deep.equal(['b1']);
      expect(await ids(`?platform_account_id=${accountB}`)).to.deep.equal(['b1']);
      expect(await ids('?direction=sent')).to.deep.equal(['b1', 'a2']);
      expect(await ids(`?conversation_id=${convA}&direction=received`)).to.deep.equal(['a3', 'a1']);
      expect(await ids(`?conversation_id=${convOld}`)).to.deep.equal([]);
      expect(await ids('', bob.token)).to.deep.equal([]);
      const bad = await get('/api/v1/xiaohongshu/messages?direction=both&per_page=0', alice.token);
      expect(bad.res.status, bad.text).to.equal(422);
      expect(bad.body.error.details.issues.map((i: any) => i.path[0]).sort()).to.deep.equal(['direction', 'per_page']);
      expect((await get('/api/v1/xiaohongshu/messages', '')).res.status).to.equal(401);
    });
  });

  it('documents the three routes in /api/v1/openapi.json', async () => {
    const doc = (await (await fetch(`${running.url}/api/v1/openapi.json`)).json()) as any;
    expect(doc.paths['/api/v1/xiaohongshu/contents/{id}']).to.have.keys('get', 'delete');
    expect(doc.paths['/api/v1/xiaohongshu/contents/{id}'].delete.responses).to.include.keys('200', '401', '404', '422');
    expect(doc.paths['/api/v1/xiaohongshu/conversations'].get.responses).to.include.keys('200', '401', '422');
    expect(doc.paths['/api/v1/xiaohongshu/messages'].get.parameters.map((p: any) => p.name)).to.include.members([
      'conversation_id',
      'peer_id',
      'platform_account_id',
      'direction',
      'page',
      'per_page',
    ]);
  });
});
