import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { LedgerWriter } from '../../src/application/ledger/writer.js';
import { smsBatchMessageIdFor } from '../../src/process-managers/sms-batches.js';
import { TOKENS } from '../../src/tokens.js';
import { smsBatchStream } from '../../src/write-model/sms-batch/decider.js';
import { smsMessageStream } from '../../src/write-model/sms-message/decider.js';
import type { SmsSandbox } from '../../sandbox/sms-provider/server.js';
import type { Platform, Reply } from '../support/platform.js';
import { startSmsPlatform, type SmsPlatform } from '../support/sms-platform.js';
import { waitFor } from '../support/wait-for.js';

/**
 * SMS batches end to end, every piece real: POST /sms/batches, the
 * projector's pm-sms-batches (pre-review with the platform's rules, the
 * human review it opens), a reviewer deciding through /reviews, the fan-out
 * into messages that pm-sms-messages charges to the prepaid ledger (where
 * it is bound) and queues, the worker sending to the sandbox provider, the
 * signed receipts — and the batch's progress; keywords routing inbound SMS.
 */
describe('sms batches: POST /sms/batches → review → messages → receipts (e2e)', function () {
  this.timeout(180_000);
  let sms: SmsPlatform;
  let sandbox: SmsSandbox;
  let platform: Platform;
  let admin: string;
  let alice: { userId: string; token: string };
  let bob: { userId: string; token: string };
  let reviewer: { userId: string; token: string };
  let charging = false;

  const call = (method: string, path: string, token: string, body?: unknown): Promise<Reply> =>
    platform.call(method, path, body === undefined ? { token } : { token, body });
  async function batchUntil(token: string, id: string, done: (b: any) => boolean, what: string, timeoutMs = 60_000): Promise<any> {
    let batch: any;
    await waitFor(
      `batch ${id}: ${what}`,
      async () => {
        batch = (await call('GET', `/api/v1/sms/batches/${id}`, token)).body?.data;
        return batch !== undefined && done(batch);
      },
      timeoutMs,
      100,
    );
    return batch;
  }

  before(async () => {
    sms = await startSmsPlatform({
      name: 'sms-batch',
      config: {
        SMS_SEND_MAX_ATTEMPTS: '4',
        SMS_SENDS_PER_ORGANIZATION_PER_MINUTE: '50',
      },
    });
    ({ sandbox, platform } = sms);
    admin = await platform.adminToken();
    alice = await platform.signUp('alice');
    bob = await platform.signUp('bob');
    reviewer = await platform.signUp('reviewer');
    const role = await call('PUT', `/api/v1/admin/users/${reviewer.userId}/role`, admin, { role: 'reviewer' });
    expect(role.status, role.text).to.equal(200);
    await waitFor('the reviewer role', async () => (await call('GET', '/api/v1/reviews', reviewer.token)).status === 200, 10_000, 100);
    // the platform's rules: a phrase SMS must not carry
    const rule = await call('POST', '/api/v1/review-rules', admin, {
      scope: 'platform',
      kind: 'banned_phrase',
      name: 'too good to be true',
      phrases: ['free money'],
    });
    expect(rule.status, rule.text).to.equal(201);
    // where the prepaid ledger is wired, alice's balance pays for her SMS (a deposit as a top-up posts it); bob has none
    charging = platform.container.isBound(TOKENS.LedgerCharges) && platform.config.SMS_CHARGE_LEDGER;
    if (charging) {
      const writer = new LedgerWriter(platform.store, { timeZone: platform.config.QUOTA_TIME_ZONE });
      const outcome = await writer.submit({
        kind: 'deposit',
        holder: { kind: 'user', id: alice.userId },
        orderId: randomUUID(),
        provider: 'test',
        amountCents: 10_000,
        reason: 'test top-up',
        context: { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' },
      });
      expect(outcome.status).to.equal('posted');
    }
  });
  after(() => sms?.stop());

  it('flagged by the pre-review, approved by a reviewer, sent once to each number, receipts recorded, progress counted', async () => {
    const text = 'Free money for you: reply JOIN';
    const created = await call('POST', '/api/v1/sms/batches', alice.token, {
      text,
      sender_id: 'ACME',
      recipients: ['+8613800138001', '138 0013 8002', '+86 138 0013 8001', 'not a number', '+442079460000'],
      skip_invalid: true,
    });
    expect(created.status, created.text).to.equal(202);
    const id = created.body.data.batch_id as string;
    // the London number is a landline: invalid like the text one; the repeat of the first number is dropped
    expect(created.body.data).to.include({ status: 'pending_review', recipient_count: 2, invalid_skipped: 2, duplicates_removed: 1 });

    const inReview = await batchUntil(alice.token, id, (b) => b.status === 'in_review', 'in review');
    expect(inReview.review.hit_count).to.equal(1);
    const reviewId = inReview.review.id as string;
    let review: any;
    await waitFor('the review in the queue', async () => {
      review = (await call('GET', `/api/v1/reviews/${reviewId}`, reviewer.token)).body?.data;
      return review?.status === 'open';
    });
    expect(review).to.include({ subject: 'sms_batch', publication_id: id, owner_id: alice.userId, platform: 'sms' });
    expect(review.title).to.match(/^SMS batch: 2 recipients, sender ACME/);
    expect(review.content.body).to.equal(text);
    expect(review.hits[0]).to.include({ field: 'body', match: 'Free money' });
    expect((await call('POST', `/api/v1/reviews/${reviewId}/claim`, reviewer.token)).status).to.equal(200);
    const approved = await call('POST', `/api/v1/reviews/${reviewId}/approve`, reviewer.token, { comment: 'a known customer list' });
    expect(approved.status, approved.text).to.equal(200);

    const done = await batchUntil(alice.token, id, (b) => b.status === 'completed', 'completed');
    expect(done.progress).to.deep.equal({ requested: 2, queued: 0, sent: 0, delivered: 2, undelivered: 0, failed: 0 });
    expect(done.review).to.include({ reviewer_id: reviewer.userId, comment: 'a known customer list' });
    const messages = (await call('GET', `/api/v1/sms/batches/${id}/messages`, alice.token)).body.data.items as any[];
    expect(messages.map((m) => [m.to, m.status, m.text])).to.deep.equal([
      ['+8613800138001', 'delivered', text],
      ['+8613800138002', 'delivered', text],
    ]);
    for (const [index, m] of messages.entries()) {
      expect(m.id).to.equal(smsBatchMessageIdFor(id, index));
      expect(sandbox.acceptedCount(m.id)).to.equal(1);
      const events = await platform.events(smsMessageStream(m.id));
      expect(events.map((e) => e.type)).to.deep.equal(['SmsRequested', 'SmsSent', 'SmsDelivered']);
      expect(events[0]!.data).to.include({ batchId: id });
    }
    const batchEvents = (await platform.events(smsBatchStream(id))).map((e) => e.type);
    expect(batchEvents).to.deep.equal(['SmsBatchCreated', 'SmsBatchRecipientsAdded', 'SmsBatchPreReviewFlagged', 'SmsBatchApproved', 'SmsBatchSendingStarted']);
    const listed = (await call('GET', '/api/v1/sms/batches', alice.token)).body.data.items as any[];
    expect(listed.map((b) => b.id)).to.include(id);
    // another user sees neither the batch nor its messages
    expect((await call('GET', `/api/v1/sms/batches/${id}`, bob.token)).status).to.equal(404);
    expect((await call('GET', `/api/v1/sms/batches/${id}/messages`, bob.token)).status).to.equal(404);
  });

  it('a clean text passes the pre-review and goes out without a human', async () => {
    const created = await call('POST', '/api/v1/sms/batches', alice.token, {
      text: 'Your order has shipped',
      sender_id: 'ACME',
      recipients: ['+8613700000001'],
    });
    expect(created.status, created.text).to.equal(202);
    const done = await batchUntil(alice.token, created.body.data.batch_id, (b) => b.status === 'completed', 'completed');
    expect(done.review).to.include({ id: null, hit_count: 0 });
    expect(done.progress.delivered).to.equal(1);
  });

  it('a rejected batch sends nothing; the owner is told why', async () => {
    const created = await call('POST', '/api/v1/sms/batches', alice.token, { text: 'free money, act now', sender_id: 'ACME', recipients: ['+8613600000001'] });
    const id = created.body.data.batch_id as string;
    const inReview = await batchUntil(alice.token, id, (b) => b.status === 'in_review', 'in review');
    const reviewId = inReview.review.id as string;
    await waitFor('the review open', async () => (await call('GET', `/api/v1/reviews/${reviewId}`, reviewer.token)).body?.data?.status === 'open');
    expect((await call('POST', `/api/v1/reviews/${reviewId}/claim`, reviewer.token)).status).to.equal(200);
    const rejected = await call('POST', `/api/v1/reviews/${reviewId}/reject`, reviewer.token, { comment: 'misleading promise' });
    expect(rejected.status, rejected.text).to.equal(200);
    const batch = await batchUntil(alice.token, id, (b) => b.status === 'rejected', 'rejected');
    expect(batch.review).to.include({ comment: 'misleading promise', reviewer_id: reviewer.userId });
    let notification: any;
    await waitFor("alice's review_rejected notification", async () => {
      const items = (await call('GET', '/api/v1/notifications', alice.token)).body?.data?.items ?? [];
      notification = items.find((n: any) => n.kind === 'review_rejected' && n.body?.includes('misleading promise'));
      return notification !== undefined;
    });
    expect(notification.title).to.contain('SMS batch');
    expect(batch.progress.requested).to.equal(0);
    expect(sandbox.byClientRef(smsBatchMessageIdFor(id, 0))).to.equal(undefined);
    // a rejected batch is not cancelled
    const cancel = await call('POST', `/api/v1/sms/batches/${id}/cancel`, alice.token);
    expect(cancel.status, cancel.text).to.equal(409);
    expect(cancel.body.error.details).to.include({ reason: 'rejected' });
  });

  it('a scheduled batch waits; cancelled before its time it never sends', async () => {
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const created = await call('POST', '/api/v1/sms/batches', alice.token, {
      text: 'See you tomorrow',
      sender_id: 'ACME',
      recipients: ['+8613500000001'],
      scheduled_at: at,
    });
    expect(created.status, created.text).to.equal(202);
    const id = created.body.data.batch_id as string;
    const approved = await batchUntil(alice.token, id, (b) => b.status === 'approved', 'approved, waiting');
    expect(approved.scheduled_at).to.equal(at);
    const cancelled = await call('POST', `/api/v1/sms/batches/${id}/cancel`, alice.token);
    expect(cancelled.status, cancelled.text).to.equal(200);
    expect(cancelled.body.data).to.include({ batch_id: id, status: 'cancelled' });
    expect((await call('POST', `/api/v1/sms/batches/${id}/cancel`, alice.token)).status).to.equal(200);
    expect((await call('POST', `/api/v1/sms/batches/${id}/cancel`, bob.token)).status).to.equal(404);
    await batchUntil(alice.token, id, (b) => b.status === 'cancelled', 'cancelled');
  });

  it('refuses bad input with 422 naming each invalid number, and writes nothing', async () => {
    const before = (await call('GET', '/api/v1/sms/batches?per_page=100', alice.token)).body.data.pagination.total as number;
    const invalid = await call('POST', '/api/v1/sms/batches', alice.token, {
      text: 'hello',
      sender_id: 'ACME',
      recipients: ['+8613800138000', 'nonsense', '+5511912345678'],
    });
    expect(invalid.status, invalid.text).to.equal(422);
    expect(invalid.body.error.code).to.equal('VALIDATION_ERROR');
    expect(invalid.body.error.details.invalid_count).to.equal(2);
    expect(invalid.body.error.details.issues.map((i: any) => i.path)).to.deep.equal([
      ['recipients', 1],
      ['recipients', 2],
    ]);
    expect(invalid.body.error.details.issues[1].message).to.match(/not sent to BR/);
    for (const body of [
      { text: 'hello', sender_id: 'ACME', recipients: [] },
      { text: '  ', sender_id: 'ACME', recipients: ['+8613800138000'] },
      { text: 'hello', sender_id: 'NOT A VALID SENDER', recipients: ['+8613800138000'] },
      { text: 'hello', sender_id: 'ACME', recipients: ['+8613800138000'], scheduled_at: '2020-01-01T00:00:00Z' },
      { text: 'hello', sender_id: 'ACME', recipients: ['+8613800138000'], extra: true },
      { text: 'hello', sender_id: 'ACME', recipients: Array.from({ length: 10_001 }, (_, i) => `+1202555${String(i % 10_000).padStart(4, '0')}`) },
      { text: 'hello', sender_id: 'ACME', recipients: ['nonsense'], skip_invalid: true },
    ]) {
      const r = await call('POST', '/api/v1/sms/batches', alice.token, body);
      expect(r.status, `${JSON.stringify(body).slice(0, 80)} → ${r.text.slice(0, 200)}`).to.equal(422);
    }
    expect((await call('GET', `/api/v1/sms/batches/${randomUUID()}`, alice.token)).status).to.equal(404);
    expect((await call('GET', '/api/v1/sms/batches/not-a-uuid', alice.token)).status).to.equal(422);
    const after = (await call('GET', '/api/v1/sms/batches?per_page=100', alice.token)).body.data.pagination.total as number;
    expect(after).to.equal(before);
  });

  it('charges each SMS to the balance: a sender without one is refused 409 insufficient_balance, the message failed, nothing sent', async function () {
    if (!charging) this.skip();
    const r = await call('POST', '/api/v1/sms/messages', bob.token, { to: '+8613800138000', text: 'hello' });
    expect(r.status, r.text).to.equal(409);
    expect(r.body.error.details).to.include({ reason: 'insufficient_balance' });
    // recorded, then refused: listed failed, never sent
    let refused: any[] = [];
    await waitFor('the refused message listed as failed', async () => {
      refused = (await call('GET', '/api/v1/sms/messages', bob.token)).body.data.items;
      // the request and its failure are two events: the read model may show the first alone for a moment
      return refused.length > 0 && refused[0].status !== 'pending';
    });
    expect(refused.map((m) => [m.status, m.failure?.code])).to.deep.equal([['failed', 'insufficient_balance']]);
    expect(sandbox.acceptedCount(refused[0].id)).to.equal(0);
    // alice's balance pays: 202
    expect((await call('POST', '/api/v1/sms/messages', alice.token, { to: '+8613800138000', text: 'hello' })).status).to.equal(202);
    // a batch whose owner cannot pay: its messages fail insufficient_balance, none goes to the provider
    const created = await call('POST', '/api/v1/sms/batches', bob.token, { text: 'Store opens at nine', sender_id: 'BOBS', recipients: ['+8613300000001'] });
    const id = created.body.data.batch_id as string;
    const batch = await batchUntil(bob.token, id, (b) => b.progress.failed === 1, 'its message failed');
    const [message] = (await call('GET', `/api/v1/sms/batches/${id}/messages`, bob.token)).body.data.items as any[];
    expect(message.failure.code).to.equal('insufficient_balance');
    expect(batch.status).to.equal('completed');
    expect(sandbox.acceptedCount(message.id)).to.equal(0);
  });

  it('routes an inbound SMS by its keyword to the keyword’s holder; keywords are unique', async () => {
    const keyword = `J${randomUUID().replaceAll('-', '').slice(0, 8)}`.toUpperCase();
    const reserved = await call('POST', '/api/v1/sms/keywords', alice.token, { keyword: keyword.toLowerCase() });
    expect(reserved.status, reserved.text).to.equal(201);
    expect(reserved.body.data.keyword).to.equal(keyword);
    expect((await call('POST', '/api/v1/sms/keywords', alice.token, { keyword })).status).to.equal(200);
    const taken = await call('POST', '/api/v1/sms/keywords', bob.token, { keyword });
    expect(taken.status, taken.text).to.equal(409);
    expect(taken.body.error.details).to.include({ reason: 'keyword_taken' });
    expect((await call('POST', '/api/v1/sms/keywords', alice.token, { keyword: 'two words' })).status).to.equal(422);
    await waitFor('the keyword listed', async () =>
      ((await call('GET', '/api/v1/sms/keywords', alice.token)).body?.data?.items ?? []).some((k: any) => k.keyword === keyword),
    );

    const { messageId } = sandbox.injectInbound({ from: '+8613312340000', to: '+8610690000001', text: `${keyword.toLowerCase()} please` });
    await sandbox.waitForDelivery((d) => d.kind === 'inbound' && d.messageId === messageId && d.acknowledged);
    let items: any[] = [];
    await waitFor('the keyword message in alice’s inbound', async () => {
      items = (await call('GET', '/api/v1/sms/inbound', alice.token)).body?.data?.items ?? [];
      return items.some((m) => m.id === messageId);
    });
    expect(items.find((m) => m.id === messageId)).to.include({ route: 'keyword', keyword, reply_to: null });
    expect(((await call('GET', '/api/v1/sms/inbound', bob.token)).body.data.items as any[]).some((m) => m.id === messageId)).to.equal(false);

    expect((await call('DELETE', `/api/v1/sms/keywords/${keyword}`, bob.token)).status).to.equal(404);
    expect((await call('DELETE', `/api/v1/sms/keywords/${keyword}`, alice.token)).status).to.equal(200);
    expect((await call('POST', '/api/v1/sms/keywords', bob.token, { keyword })).status).to.equal(201);
  });

  it('documents the batch and keyword routes in the OpenAPI document', async () => {
    const doc = (await platform.call('GET', '/api/v1/openapi.json')).body;
    for (const path of [
      '/api/v1/sms/batches',
      '/api/v1/sms/batches/{id}',
      '/api/v1/sms/batches/{id}/messages',
      '/api/v1/sms/batches/{id}/cancel',
      '/api/v1/sms/keywords',
      '/api/v1/sms/keywords/{keyword}',
    ])
      expect(doc.paths, path).to.have.property(path);
  });
});
