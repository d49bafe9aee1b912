import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { signSmsProviderMessage } from '../../src/adapters/sms/signature.js';
import { createApiApp } from '../../src/api-app.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import { smsInboundStream, smsMessageStream } from '../../src/write-model/sms-message/index.js';
import { generateSmsProviderKeys } from '../../sandbox/sms-provider/keys.js';
import type { SmsSandbox } from '../../sandbox/sms-provider/server.js';
import { testConfig } from '../setup/test-env.js';
import type { Platform } from '../support/platform.js';
import { startSmsPlatform, type SmsPlatform } from '../support/sms-platform.js';
import { waitFor } from '../support/wait-for.js';

/**
 * SMS end to end, every piece real: the API (POST /sms/messages, the
 * callbacks), the projector's consumers (pm-sms-messages queues the job,
 * sms-v1 keeps the read model), the worker's sms-send queue, and the
 * sandbox provider, which verifies our signatures and posts signed receipts
 * and inbound messages back to the API.
 */
describe('sms: POST /sms/messages → worker → provider → signed receipt (e2e)', function () {
  this.timeout(120_000);
  let sms: SmsPlatform;
  let sandbox: SmsSandbox;
  let platform: Platform;
  let alice: { userId: string; token: string };
  let bob: { userId: string; token: string };

  const send = (user: { token: string }, body: unknown) => platform.call('POST', '/api/v1/sms/messages', { token: user.token, body });
  const shown = (user: { token: string }, id: string) => platform.call('GET', `/api/v1/sms/messages/${id}`, { token: user.token });
  async function until(user: { token: string }, id: string, status: string, timeoutMs = 30_000) {
    let data: any;
    await waitFor(
      `sms ${id} ${status}`,
      async () => {
        data = (await shown(user, id)).body?.data;
        return data?.status === status;
      },
      timeoutMs,
      50,
    );
    return data;
  }
  const callback = (path: string, headers: Record<string, string>, body: string) =>
    fetch(`${platform.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });

  before(async () => {
    sms = await startSmsPlatform({
      name: 'sms',
      config: {
        SMS_SENDS_PER_USER_PER_MINUTE: '8',
        // the prepaid ledger's charges are tested in sms-batches-api.test.ts; these users have no balance
        SMS_CHARGE_LEDGER: 'false',
        SMS_SEND_MAX_ATTEMPTS: '4',
      },
    });
    ({ sandbox, platform } = sms);
    alice = await platform.signUp('alice');
    bob = await platform.signUp('bob');
  });
  after(() => sms?.stop());

  it('sends, and the signed receipt records it delivered: requested → sent → delivered, sent once', async () => {
    const r = await send(alice, { to: '138 0013 8000', text: '您的验证码是 123456，5 分钟内有效。' });
    expect(r.status, r.text).to.equal(202);
    const id = r.body.data.message_id as string;
    expect(r.body.data).to.include({ status: 'pending', to: '+8613800138000', country: 'CN', encoding: 'UCS-2', segments: 1, price_fen: 5 });
    const first = await platform.call('GET', `/api/v1/sms/messages/${id}?after_position=${r.body.data.position}`, { token: alice.token });
    expect(first.status, first.text).to.equal(200);
    expect(first.body.data).to.include({ id, to: '+8613800138000', country: 'CN', calling_code: '86', unit_price_fen: 5, price_fen: 5 });

    const delivered = await until(alice, id, 'delivered');
    const atProvider = sandbox.byClientRef(id)!;
    expect(delivered).to.include({ provider_message_id: atProvider.id, sender_number: '+8610690000001', undelivered: null, failure: null });
    expect(delivered.done_at).to.be.a('string');
    expect(sandbox.acceptedCount(id)).to.equal(1);
    expect(atProvider.callbackUrl).to.equal(`http://${sms.callbackHost}/api/v1/sms/callbacks/receipts`);
    const events = await platform.events(smsMessageStream(id));
    expect(events.map((e) => e.type)).to.deep.equal(['SmsRequested', 'SmsSent', 'SmsDelivered']);

    const list = await platform.call('GET', '/api/v1/sms/messages?status=delivered', { token: alice.token });
    expect(list.body.data.items.map((m: any) => m.id)).to.include(id);
  });

  it('records an UNDELIVERED receipt with its error code', async () => {
    sandbox.outcomes.set('+8613711112222', { status: 'UNDELIVERED', errorCode: 'ABSENT_SUBSCRIBER' });
    const r = await send(alice, { to: '+86 137 1111 2222', text: 'Your code is 654321' });
    expect(r.status, r.text).to.equal(202);
    expect(r.body.data).to.include({ encoding: 'GSM-7', segments: 1 });
    const undelivered = await until(alice, r.body.data.message_id, 'undelivered');
    expect(undelivered.undelivered).to.deep.equal({ error_code: 'ABSENT_SUBSCRIBER', reason: 'the handset is off or out of coverage' });
  });

  it('fails a message the provider refuses for good, without retrying it', async () => {
    sandbox.rejections.set('+8613600001111', 'INVALID_NUMBER');
    const r = await send(alice, { to: '+8613600001111', text: 'hello' });
    const failed = await until(alice, r.body.data.message_id, 'failed');
    expect(failed.failure.code).to.equal('invalid_number');
    expect(sandbox.acceptedCount(r.body.data.message_id)).to.equal(0);
  });

  it('never sends twice: an answer lost on the way is retried under the same idempotency key', async () => {
    sandbox.faults.loseAnswers = true;
    const r = await send(alice, { to: '+8613500002222', text: 'hello again' });
    const id = r.body.data.message_id as string;
    await waitFor('the provider to take it', () => sandbox.byClientRef(id) !== undefined, 20_000, 20);
    sandbox.faults.loseAnswers = false;
    await until(alice, id, 'delivered');
    expect(sandbox.acceptedCount(id)).to.equal(1);
  });

  it('refuses invalid numbers with 422 under body.to, and bad bodies', async () => {
    for (const to of ['not a number', '12345', '+86 10 6552 9988', '+8008001234', '']) {
      const r = await send(alice, { to, text: 'hi' });
      expect(r.status, `${to} → ${r.text}`).to.equal(422);
      expect(r.body.error.code).to.equal('VALIDATION_ERROR');
      expect(r.body.error.details.issues[0].path).to.deep.equal(['to']);
    }
    const brazil = await send(alice, { to: '+5511912345678', text: 'olá' });
    expect(brazil.status, brazil.text).to.equal(422);
    expect(brazil.body.error.details).to.include({ reason: 'country_not_served', country: 'BR' });
    for (const body of [
      { to: '+8613800138000' },
      { to: '+8613800138000', text: '  ' },
      { to: '+8613800138000', text: 'x'.repeat(1601) },
      { to: '+8613800138000', text: 'a', x: 1 },
    ]) {
      expect((await send(alice, body)).status).to.equal(422);
    }
  });

  it('limits sends per user per minute: 429 RATE_LIMITED with Retry-After', async () => {
    const carol = await platform.signUp('carol');
    const statuses: number[] = [];
    let refused: Response | undefined;
    for (let i = 0; i < 9; i++) {
      const res = await fetch(`${platform.url}/api/v1/sms/messages`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${carol.token}` },
        body: JSON.stringify({ to: '+8615800003333', text: `message ${i}` }),
      });
      statuses.push(res.status);
      if (res.status === 429) refused = res;
    }
    expect(statuses).to.deep.equal([202, 202, 202, 202, 202, 202, 202, 202, 429]);
    expect(Number(refused!.headers.get('retry-after'))).to.be.within(1, 60);
    expect(((await refused!.json()) as any).error).to.deep.include({ code: 'RATE_LIMITED' });
    // another user is not held back
    expect((await send(bob, { to: '+8618600004444', text: 'hi' })).status).to.equal(202);
  });

  it('takes a replayed or out-of-order receipt as a no-op, and refuses unsigned, forged, altered, stale and replayed requests', async () => {
    const r = await send(alice, { to: '+8613800138000', text: 'receipt test' });
    const id = r.body.data.message_id as string;
    await until(alice, id, 'delivered');
    const providerId = sandbox.byClientRef(id)!.id;
    const delivery = sandbox.deliveries.find((d) => d.kind === 'receipt' && d.messageId === providerId && d.acknowledged)!;
    const before = (await platform.events(smsMessageStream(id))).length;
    const path = '/api/v1/sms/callbacks/receipts';

    // the same request again, byte for byte: its nonce is known
    const replayed = await callback(path, delivery.request.headers, delivery.request.body);
    expect(replayed.status).to.equal(401);
    expect(await replayed.json()).to.include({ code: 'REPLAYED' });
    // the provider sending the receipt again (a fresh signature): acknowledged, nothing new
    sandbox.resendReceipt(providerId);
    const resent = await sandbox.waitForDelivery(
      (d) => d.kind === 'receipt' && d.messageId === providerId && d !== delivery && d.attempt === 1 && d.at > delivery.at,
    );
    expect(resent.status).to.equal(200);
    expect(JSON.parse(resent.answer)).to.deep.equal({ received: true, recorded: false });
    // a late UNDELIVERED after DELIVERED (out of order), signed by the provider: acknowledged, the first outcome stands
    const late = JSON.stringify({ ...JSON.parse(delivery.request.body), receipt_id: 'DRlate', status: 'UNDELIVERED', error_code: 'ABSENT_SUBSCRIBER' });
    const outOfOrder = await callback(path, signSmsProviderMessage({ method: 'POST', path, body: late, privateKeyPem: sms.keys.privateKeyPem }), late);
    expect(outOfOrder.status).to.equal(200);
    expect(await outOfOrder.json()).to.deep.equal({ received: true, recorded: false });
    expect((await shown(alice, id)).body.data.status).to.equal('delivered');

    // unsigned, forged (another key), altered after signing, stale, signed for the other callback
    const unsigned = await callback(path, {}, late);
    const forged = await callback(
      path,
      signSmsProviderMessage({ method: 'POST', path, body: late, privateKeyPem: generateSmsProviderKeys().privateKeyPem }),
      late,
    );
    const altered = await callback(
      path,
      signSmsProviderMessage({ method: 'POST', path, body: late, privateKeyPem: sms.keys.privateKeyPem }),
      late.replace('UNDELIVERED', 'DELIVERED'),
    );
    const stale = await callback(
      path,
      signSmsProviderMessage({ method: 'POST', path, body: late, privateKeyPem: sms.keys.privateKeyPem, now: new Date(Date.now() - 10 * 60_000) }),
      late,
    );
    const elsewhere = await callback(
      path,
      signSmsProviderMessage({ method: 'POST', path: '/api/v1/sms/callbacks/inbound', body: late, privateKeyPem: sms.keys.privateKeyPem }),
      late,
    );
    for (const res of [unsigned, forged, altered, stale, elsewhere]) {
      expect(res.status).to.equal(401);
      expect(((await res.json()) as any).code).to.equal('BAD_SIGNATURE');
    }
    // a receipt of a message we never sent, and one that is not a receipt
    const unknown = JSON.stringify({ ...JSON.parse(late), client_ref: randomUUID() });
    expect(
      (await callback(path, signSmsProviderMessage({ method: 'POST', path, body: unknown, privateKeyPem: sms.keys.privateKeyPem }), unknown)).status,
    ).to.equal(404);
    const junk = '{"type":"receipt"}';
    expect((await callback(path, signSmsProviderMessage({ method: 'POST', path, body: junk, privateKeyPem: sms.keys.privateKeyPem }), junk)).status).to.equal(
      400,
    );
    expect((await platform.events(smsMessageStream(id))).length).to.equal(before);
  });

  it('takes receipts in batches: one signed request, each receipt recorded or reported, a replay refused', async () => {
    sandbox.settings.receiptBatchMax = 10;
    sandbox.settings.receiptBatchWindowMs = 100;
    try {
      // a sender of its own: the per-user limit of the others stays theirs
      const carol = await platform.signUp('carol');
      const ids: string[] = [];
      for (const text of ['batch one', 'batch two', 'batch three']) ids.push((await send(carol, { to: '+8613800138000', text })).body.data.message_id);
      for (const id of ids) await until(carol, id, 'delivered');
      const providerIds = ids.map((id) => sandbox.byClientRef(id)!.id);
      const deliveries = providerIds.map((pid) => sandbox.deliveries.find((d) => d.kind === 'receipt' && d.messageId === pid && d.acknowledged)!);
      // the three went in one or two gathered requests (the sends may have gone a moment apart)
      const bodies = new Set(deliveries.map((d) => d.request.body));
      expect(bodies.size).to.be.lessThan(3);
      const gathered = deliveries.find((d) => JSON.parse(d.request.body).receipts?.length > 1)!;
      expect(JSON.parse(gathered.answer)).to.deep.include({ received: true, recorded: true });
      expect(JSON.parse(gathered.answer).results.every((r: { recorded: boolean }) => r.recorded)).to.equal(true);

      const path = '/api/v1/sms/callbacks/receipts';
      const replayed = await callback(path, gathered.request.headers, gathered.request.body);
      expect(replayed.status).to.equal(401);
      // the provider sending a batch again with a receipt of a message we never sent: the known ones are repeats, the stranger is reported
      const receipts = JSON.parse(gathered.request.body).receipts as Record<string, unknown>[];
      const stranger = randomUUID();
      const body = JSON.stringify({ type: 'receipts', receipts: [...receipts, { ...receipts[0], client_ref: stranger, receipt_id: 'DRstranger' }] });
      const before = await Promise.all(ids.map(async (id) => (await platform.events(smsMessageStream(id))).length));
      const again = await callback(path, signSmsProviderMessage({ method: 'POST', path, body, privateKeyPem: sms.keys.privateKeyPem }), body);
      expect(again.status).to.equal(200);
      const answer = (await again.json()) as { recorded: boolean; results: { client_ref: string; recorded: boolean; error?: { code: string } }[] };
      expect(answer.recorded).to.equal(false);
      expect(answer.results.at(-1)).to.deep.include({ client_ref: stranger, recorded: false });
      expect(answer.results.at(-1)?.error?.code).to.equal('NOT_FOUND');
      expect(answer.results.slice(0, -1).every((r) => r.recorded === false && !r.error)).to.equal(true);
      expect(await Promise.all(ids.map(async (id) => (await platform.events(smsMessageStream(id))).length))).to.deep.equal(before);
      // an empty or oversized batch is not a batch we read
      for (const bad of [
        { type: 'receipts', receipts: [] },
        { type: 'receipts', receipts: Array.from({ length: 101 }, () => receipts[0]) },
      ]) {
        const text = JSON.stringify(bad);
        const res = await callback(path, signSmsProviderMessage({ method: 'POST', path, body: text, privateKeyPem: sms.keys.privateKeyPem }), text);
        expect(res.status).to.equal(400);
      }
    } finally {
      sandbox.settings.receiptBatchMax = 1;
    }
  });

  it('routes an inbound reply to the owner who sent to that number from that sender; a stranger’s stays unrouted', async () => {
    const r = await send(alice, { to: '+8613900000000', text: '明天上午十点见？' });
    await until(alice, r.body.data.message_id, 'delivered');
    const { messageId } = sandbox.injectInbound({ from: '+8613900000000', to: '+8610690000001', text: '好的，不见不散' });
    await sandbox.waitForDelivery((d) => d.kind === 'inbound' && d.messageId === messageId && d.acknowledged);
    let items: any[] = [];
    await waitFor('the reply in alice’s inbound', async () => {
      items = (await platform.call('GET', '/api/v1/sms/inbound', { token: alice.token })).body?.data?.items ?? [];
      return items.some((m) => m.id === messageId);
    });
    expect(items.find((m) => m.id === messageId)).to.include({
      from: '+8613900000000',
      to: '+8610690000001',
      text: '好的，不见不散',
      route: 'reply',
      reply_to: r.body.data.message_id,
    });
    const stranger = sandbox.injectInbound({ from: '+8613312345678', to: '+8610690000001', text: '你是谁' });
    await sandbox.waitForDelivery((d) => d.kind === 'inbound' && d.messageId === stranger.messageId && d.acknowledged);
    const stored = await platform.events(smsInboundStream(stranger.messageId));
    expect(stored.map((e) => [e.type, (e.data as any).route, (e.data as any).ownerId])).to.deep.equal([['SmsReceived', 'unrouted', null]]);
    // the provider notifying again: recorded once
    const again = sandbox.deliveries.find((d) => d.kind === 'inbound' && d.messageId === messageId)!;
    const body = again.request.body;
    const path = '/api/v1/sms/callbacks/inbound';
    const repeat = await callback(path, signSmsProviderMessage({ method: 'POST', path, body, privateKeyPem: sms.keys.privateKeyPem }), body);
    expect(await repeat.json()).to.deep.equal({ received: true, recorded: false });
    expect((await platform.call('GET', '/api/v1/sms/inbound', { token: bob.token })).body.data.items).to.deep.equal([]);
  });

  it("hides another user's message: 404, and lists only mine", async () => {
    const mine = (await platform.call('GET', '/api/v1/sms/messages?per_page=100', { token: alice.token })).body.data.items as any[];
    expect(mine.length).to.be.greaterThan(0);
    const other = await shown(bob, mine[0].id);
    expect(other.status).to.equal(404);
    expect(other.body.error.code).to.equal('NOT_FOUND');
    const bobs = (await platform.call('GET', '/api/v1/sms/messages', { token: bob.token })).body.data.items as any[];
    expect(bobs.every((m) => !mine.some((a) => a.id === m.id))).to.equal(true);
    expect((await shown(alice, randomUUID())).status).to.equal(404);
    expect((await shown(alice, 'not-a-uuid')).status).to.equal(422);
  });

  it('documents every SMS route in the OpenAPI document', async () => {
    const doc = (await platform.call('GET', '/api/v1/openapi.json')).body;
    for (const path of [
      '/api/v1/sms/messages',
      '/api/v1/sms/messages/{id}',
      '/api/v1/sms/inbound',
      '/api/v1/sms/callbacks/receipts',
      '/api/v1/sms/callbacks/inbound',
    ])
      expect(doc.paths, path).to.have.property(path);
  });
});

describe('sms without a configured provider (e2e)', function () {
  this.timeout(30_000);
  let server: RunningServer;
  let container: Awaited<ReturnType<typeof buildContainer>>;

  before(async () => {
    container = await buildContainer(testConfig({ QUEUE_PREFIX: `sms-off-${randomUUID().slice(0, 8)}` }));
    server = await listen(createApiApp(container).callback(), '127.0.0.1', 0);
  });
  after(async () => {
    await closeServer(server.server);
    await disposeContainer(container);
  });

  it('answers 503 SERVICE_UNAVAILABLE with the reason, not 500', async () => {
    const email = `sms-off-${randomUUID()}@example.test`;
    const post = (path: string, body: unknown, token?: string) =>
      fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      });
    expect((await post('/api/v1/auth/register', { email, password: 'correct horse battery', display_name: 'off' })).status).to.equal(201);
    const token = ((await (await post('/api/v1/auth/login', { email, password: 'correct horse battery' })).json()) as any).data.access_token;
    const sent = await post('/api/v1/sms/messages', { to: '+8613800138000', text: 'hi' }, token);
    expect(sent.status).to.equal(503);
    const error = ((await sent.json()) as any).error;
    expect(error.code).to.equal('SERVICE_UNAVAILABLE');
    expect(error.details).to.deep.equal({ reason: 'sms_not_configured' });
    expect(error.message).to.match(/SMS_PROVIDER_URL/);
    const list = await fetch(`${server.url}/api/v1/sms/messages`, { headers: { Authorization: `Bearer ${token}` } });
    expect(list.status).to.equal(503);
    const receipt = await post('/api/v1/sms/callbacks/receipts', { type: 'receipt' });
    expect(receipt.status).to.equal(503);
    expect(((await receipt.json()) as any).code).to.equal('SMS_NOT_CONFIGURED');
  });
});
