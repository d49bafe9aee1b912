import { expect } from 'chai';
import { Queue } from 'bullmq';
import { randomBytes } from 'node:crypto';
import { QUEUE_NAMES, type MessageSendJobData } from '../../src/adapters/queue/queues.js';
import { messageSendProcessor } from '../../src/main/message-send-processor.js';
import { startWorker, type RunningWorker } from '../../src/main/worker.js';
import { clientMessageIdFor, outgoingMessageStream } from '../../src/write-model/outgoing-message/decider.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { waitFor } from '../support/wait-for.js';
import { grantPlan } from '../support/plans.js';

/**
 * POST /api/v1/xiaohongshu/messages end to end, every piece real: the API,
 * the projector's consumers (pm-outgoing-messages queues the job), the
 * worker's message-send queue with Chromium through a leased proxy, and the
 * sandbox Xiaohongshu's IM API, which records what it is sent.
 */
describe('xiaohongshu private messages: POST /messages → worker → the platform (e2e)', function () {
  this.timeout(240_000);
  let platform: Platform;
  let worker: RunningWorker | undefined;
  let alice: { userId: string; token: string; accountId: string; cookies: string };
  let bob: { userId: string; token: string; accountId: string; cookies: string };
  const CONVERSATION = 'conv_05120851b5504067';

  async function connect(name: string) {
    const user = await platform.signUp(name);
    const cookies = `a1=${randomBytes(8).toString('hex')}; web_session=${randomBytes(12).toString('hex')}`;
    const connected = await platform.call('POST', '/api/v1/platform-accounts', {
      token: user.token,
      body: { platform: 'xiaohongshu', credentials: { cookies }, display_name: `${name}的号` },
    });
    expect(connected.status, connected.text).to.equal(201);
    const accountId = connected.body.data.id as string;
    const verified = await platform.call('POST', `/api/v1/platform-accounts/${accountId}/verify`, { token: user.token });
    expect(verified.body?.data, verified.text).to.include({ status: 'active' });
    return { ...user, accountId, cookies };
  }

  async function upgrade(userId: string, plan: 'basic' | 'pro') {
    await grantPlan(platform.store, userId, 'xiaohongshu', plan);
  }

  const send = (user: { token: string }, body: unknown) => platform.call('POST', '/api/v1/xiaohongshu/messages', { token: user.token, body });
  const outgoing = (user: { token: string }, id: string) => platform.call('GET', `/api/v1/xiaohongshu/messages/outgoing/${id}`, { token: user.token });

  async function until(user: { token: string }, id: string, status: 'sent' | 'failed', timeoutMs = 60_000) {
    let shown: any;
    await waitFor(
      `message ${id} ${status}`,
      async () => {
        shown = (await outgoing(user, id)).body?.data;
        return shown?.status === status;
      },
      timeoutMs,
      100,
    );
    return shown;
  }

  const sentWith = (messageId: string) => platform.sites.sentMessages.filter((m) => m.client_msg_id === clientMessageIdFor(messageId));

  before(async () => {
    platform = await startPlatform({
      proxies: 2,
      config: { MESSAGES_PER_ACCOUNT_PER_MINUTE: '100', MESSAGES_PER_ACCOUNT_PER_HOUR: '1000', MESSAGE_SEND_BACKOFF_MS: '300', MESSAGE_SEND_MAX_ATTEMPTS: '3' },
    });
    const admin = await platform.adminToken();
    for (const p of platform.proxies.proxies) {
      const r = await platform.call('POST', '/api/v1/proxies', {
        token: admin,
        body: { host: p.host, port: p.port, protocol: 'http', username: p.username, password: p.password, country: 'CN', provider: 'local' },
      });
      expect(r.status, r.text).to.equal(201);
    }
    alice = await connect('alice');
    bob = await connect('bob');
    await upgrade(alice.userId, 'basic');
  });
  after(async () => {
    await worker?.stop({ timeoutMs: 2_000 });
    await platform?.stop();
  });

  it("refuses what it cannot send: 422 for a bad body, 403 without private_messaging, 404 for another user's account", async () => {
    const good = { platform_account_id: alice.accountId, conversation_id: CONVERSATION, text: '你好' };
    for (const body of [
      { ...good, text: undefined },
      { ...good, text: '   ' },
      { ...good, text: 'a\u0000b' },
      { ...good, text: 'x'.repeat(1001) },
      { ...good, peer_id: '2a234a19a702f3bd224623bb' },
      { platform_account_id: alice.accountId, text: '你好' },
      { platform_account_id: alice.accountId, peer_id: 'not-a-user', text: '你好' },
      { ...good, extra: 1 },
    ]) {
      const r = await send(alice, body);
      expect(r.status, `${JSON.stringify(body).slice(0, 80)} → ${r.text}`).to.equal(422);
      expect(r.body.error.code).to.equal('VALIDATION_ERROR');
    }
    // bob is on the free plan: no private_messaging
    const refused = await send(bob, { platform_account_id: bob.accountId, conversation_id: CONVERSATION, text: '你好' });
    expect(refused.status, refused.text).to.equal(403);
    expect(refused.body.error.details).to.include({ feature: 'private_messaging', plan: 'free' });
    // bob's account is not alice's to send from
    const foreign = await send(alice, { platform_account_id: bob.accountId, conversation_id: CONVERSATION, text: '你好' });
    expect(foreign.status, foreign.text).to.equal(404);
    const unknown = await outgoing(alice, '0f8fad5b-d9cb-469f-a165-70867728950e');
    expect(unknown.status).to.equal(404);
    expect(platform.sites.sentMessages).to.have.length(0);
  });

  it('sends through the account and a leased proxy: the platform has it, the status becomes sent', async () => {
    worker = await platform.startWorker();
    const proxiedBefore = platform.proxies.proxies.map((p) => p.requests.filter((r) => r.method === 'POST').length);
    const r = await send(alice, { platform_account_id: alice.accountId, conversation_id: CONVERSATION, text: '请问还有货吗？' });
    expect(r.status, r.text).to.equal(202);
    const id = r.body.data.message_id as string;
    expect(r.body.data.status).to.equal('pending');
    const pending = await platform.call('GET', `/api/v1/xiaohongshu/messages/outgoing/${id}?after_position=${r.body.data.position}`, { token: alice.token });
    expect(pending.status, pending.text).to.equal(200);
    expect(pending.body.data).to.include({ id, platform_account_id: alice.accountId, conversation_id: CONVERSATION, text: '请问还有货吗？' });

    const shown = await until(alice, id, 'sent');
    const onPlatform = sentWith(id);
    expect(onPlatform, 'sent once').to.have.length(1);
    expect(onPlatform[0]).to.include({ conversation_id: CONVERSATION, content: '请问还有货吗？', receiver_id: '15dcf4352a75ca7a0b74bf08' });
    expect(onPlatform[0]!.cookies['web_session'], "the account's cookies").to.equal(alice.cookies.split('web_session=')[1]);
    expect(shown).to.include({
      status: 'sent',
      platform_message_id: onPlatform[0]!.message_id,
      conversation_id: CONVERSATION,
      recovered: false,
      failure: null,
    });
    // the send went through one of the proxies, authenticated as its user
    const proxiedAfter = platform.proxies.proxies.map((p) => p.requests.filter((q) => q.method === 'POST').length);
    expect(
      proxiedAfter.some((n, i) => n > proxiedBefore[i]!),
      'a POST through a proxy',
    ).to.equal(true);
    const events = await platform.events(outgoingMessageStream(id));
    expect(events.map((e) => e.type)).to.deep.equal(['MessageSendRequested', 'MessageSent']);

    // to a peer without a conversation: the platform starts one
    const peer = 'aaaabbbbccccdddd00001111';
    const started = await send(alice, { platform_account_id: alice.accountId, peer_id: peer, text: '你好，想咨询一下' });
    expect(started.status, started.text).to.equal(202);
    const toPeer = await until(alice, started.body.data.message_id, 'sent');
    expect(toPeer.peer_id).to.equal(peer);
    expect(toPeer.conversation_id).to.match(/^conv_[0-9a-f]{16}$/);
    const list = await platform.call('GET', `/api/v1/xiaohongshu/messages/outgoing?status=sent&per_page=10`, { token: alice.token });
    expect(list.body.data.items.map((m: any) => m.id)).to.deep.equal([started.body.data.message_id, id]);
    // bob sees none of alice's
    expect((await outgoing(bob, id)).status).to.equal(404);
  });

  it('never sends twice: a redelivered job, and a retry after a crash between the send and its record', async () => {
    const r = await send(alice, { platform_account_id: alice.accountId, conversation_id: CONVERSATION, text: '再确认一下地址' });
    const id = r.body.data.message_id as string;
    await until(alice, id, 'sent');
    // the same job again (a redelivered MessageSendRequested: same id, ignored) and a stray copy under another id
    const queue = new Queue<MessageSendJobData>(QUEUE_NAMES.messageSend, {
      connection: { url: platform.config.REDIS_URL },
      prefix: platform.config.QUEUE_PREFIX,
    });
    try {
      const data = { messageId: id, ownerId: alice.userId, platform: 'xiaohongshu', platformAccountId: alice.accountId };
      await queue.add('message-send' as never, data as never, { jobId: id });
      const stray = await queue.add('message-send' as never, data as never, { jobId: `${id}.again` });
      await waitFor('the stray job done', async () => (await stray.getState()) === 'completed', 30_000, 100);
      expect((await queue.getJob(`${id}.again`))!.returnvalue).to.deep.equal({ status: 'skipped', reason: 'sent' });
    } finally {
      await queue.close();
    }
    expect(sentWith(id), 'still once').to.have.length(1);

    // a run that sent and died before recording: the message is on the platform, the stream still pending
    await worker!.stop({ timeoutMs: 2_000 });
    worker = undefined;
    const crashed = await send(alice, { platform_account_id: alice.accountId, conversation_id: CONVERSATION, text: '发过一次了' });
    const crashedId = crashed.body.data.message_id as string;
    const direct = await fetch(`${platform.sites.urls.xiaohongshuApi}/api/sns/web/v1/im/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: alice.cookies },
      body: JSON.stringify({ conversation_id: CONVERSATION, message_type: 'text', content: '发过一次了', client_msg_id: clientMessageIdFor(crashedId) }),
    });
    expect(((await direct.json()) as any).success).to.equal(true);
    worker = await platform.startWorker();
    const recovered = await until(alice, crashedId, 'sent');
    expect(recovered.recovered).to.equal(true);
    expect(sentWith(crashedId), 'found, not sent again').to.have.length(1);
    expect(recovered.platform_message_id).to.equal(sentWith(crashedId)[0]!.message_id);
  });

  it('a later collection of the messages sees what was sent (direction sent)', async () => {
    const r = await platform.call('POST', '/api/v1/xiaohongshu/contents/collect', {
      token: alice.token,
      body: { type: 'xiaohongshu.messages', config: { maxConversations: 10 }, platform_account_id: alice.accountId },
    });
    expect(r.status, r.text).to.equal(202);
    let collected: any;
    await waitFor(
      'the sent messages collected',
      async () => {
        collected = await platform.call('GET', `/api/v1/xiaohongshu/messages?conversation_id=${CONVERSATION}&direction=sent&per_page=50`, {
          token: alice.token,
        });
        return (collected.body?.data?.items ?? []).some((m: any) => m.text === '请问还有货吗？');
      },
      60_000,
      200,
    );
    const mine = collected.body.data.items.find((m: any) => m.text === '请问还有货吗？');
    expect(mine).to.include({ direction: 'sent', conversation_id: CONVERSATION, platform_account_id: alice.accountId });
  });

  it('paces each account: a burst waits its turn instead of failing', async () => {
    await worker?.stop({ timeoutMs: 2_000 });
    // the real processor with a short window (2 per 4 s) instead of MESSAGES_PER_ACCOUNT_PER_MINUTE / _PER_HOUR
    worker = await startWorker(platform.container, {
      workerName: `paced-${randomBytes(3).toString('hex')}`,
      processors: [
        messageSendProcessor({
          scraperTuning: { delayMs: [0, 0] },
          context: { allowHosts: ['127.0.0.1'] },
          lockDurationMs: 5_000,
          stalledIntervalMs: 2_000,
          pacing: [{ max: 2, windowMs: 4_000 }],
        }),
      ],
    });
    const ids: string[] = [];
    for (const text of ['一', '二', '三']) {
      const r = await send(alice, { platform_account_id: alice.accountId, conversation_id: CONVERSATION, text: `排队${text}` });
      expect(r.status, r.text).to.equal(202);
      ids.push(r.body.data.message_id);
    }
    for (const id of ids) await until(alice, id, 'sent', 30_000);
    // the three were asked for at once: two started at once, the third only once the first left the 4 s window,
    // waiting in the delayed set (no attempt failed)
    const queue = new Queue<MessageSendJobData>(QUEUE_NAMES.messageSend, {
      connection: { url: platform.config.REDIS_URL },
      prefix: platform.config.QUEUE_PREFIX,
    });
    try {
      const jobs = await Promise.all(ids.map(async (id) => (await queue.getJob(id))!));
      const started = jobs.map((j) => j.processedOn!).sort((a, b) => a - b);
      expect(started[1]! - started[0]!, 'the second started with the first').to.be.below(3_000);
      expect(started[2]! - started[0]!, 'the third waited for the window').to.be.at.least(3_900);
      for (const job of jobs) {
        expect(job.failedReason, 'no failed attempt').to.equal(undefined);
        expect(job.stacktrace ?? []).to.deep.equal([]);
      }
    } finally {
      await queue.close();
    }
    for (const id of ids) {
      expect(sentWith(id)).to.have.length(1);
      expect((await platform.events(outgoingMessageStream(id))).map((e) => e.type)).to.deep.equal(['MessageSendRequested', 'MessageSent']);
    }
  });

  it('fails a message the platform refuses, and one behind a login wall (the account is invalidated)', async () => {
    const refused = await send(alice, { platform_account_id: alice.accountId, conversation_id: CONVERSATION, text: '违禁内容' });
    const failed = await until(alice, refused.body.data.message_id, 'failed');
    expect(failed.failure).to.include({ code: 'rejected' });
    const unknown = await send(alice, { platform_account_id: alice.accountId, conversation_id: 'conv_0000000000000000', text: '在吗' });
    expect((await until(alice, unknown.body.data.message_id, 'failed')).failure).to.include({ code: 'conversation_not_found' });

    platform.sites.setMode('xiaohongshu', 'login');
    try {
      const walled = await send(alice, { platform_account_id: alice.accountId, conversation_id: CONVERSATION, text: '登录墙' });
      const shown = await until(alice, walled.body.data.message_id, 'failed');
      expect(shown.failure).to.include({ code: 'account_invalid' });
      await waitFor(
        'the account shown invalid',
        async () => (await platform.call('GET', `/api/v1/platform-accounts/${alice.accountId}`, { token: alice.token })).body?.data?.status === 'invalid',
        20_000,
        100,
      );
      // an invalid account sends nothing more: 409
      const later = await send(alice, { platform_account_id: alice.accountId, conversation_id: CONVERSATION, text: '还在吗' });
      expect(later.status, later.text).to.equal(409);
      expect(later.body.error.details).to.include({ reason: 'account_not_active', status: 'invalid' });
    } finally {
      platform.sites.setMode('xiaohongshu', 'ok');
    }
    expect(platform.sites.sentMessages.filter((m) => m.content === '违禁内容' || m.content === '登录墙')).to.have.length(0);
  });
});
