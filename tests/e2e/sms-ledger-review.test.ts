import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { signSmsProviderMessage } from '../../src/adapters/sms/signature.js';
import { formatPosition } from '../../src/event-store/position.js';
import { smsInboundStream, smsMessageStream } from '../../src/write-model/sms-message/index.js';
import type { Platform } from '../support/platform.js';
import { depositFor, startSmsPlatform, type SmsPlatform } from '../support/sms-platform.js';
import { waitFor } from '../support/wait-for.js';

/**
 * What docs/sms.md and docs/ledger.md promise beside the main walks: the
 * provider's callbacks refuse text no store can keep (400, not 500), the
 * batch list filters by the status each batch shows (`completed` too) and
 * cancelling a completed batch says so, PUT /ledger/settings honours
 * If-Match, and a balance topped up in another process pays for the SMS
 * the API refused before.
 */
describe('sms and ledger: documented edges (e2e)', function () {
  this.timeout(120_000);
  let sms: SmsPlatform;
  let platform: Platform;
  let alice: { userId: string; token: string };
  let bob: { userId: string; token: string };

  const deposit = (userId: string, amountCents: number) => depositFor(platform, userId, amountCents);

  const post = (path: string, body: string) =>
    fetch(`${platform.url}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...signSmsProviderMessage({ method: 'POST', path, body, privateKeyPem: sms.keys.privateKeyPem }) },
      body,
    });

  before(async () => {
    // no worker yet: a test starts it once pending messages have been looked at
    sms = await startSmsPlatform({ name: 'sms-review', worker: false });
    platform = sms.platform;
    alice = await platform.signUp('alice');
    bob = await platform.signUp('bob');
    // alice's balance pays for her SMS: deposited by a writer of its own, as another process (the projector's pm-ledger-deposits) would
    await deposit(alice.userId, 10_000);
  });
  after(() => sms?.stop());

  it('refuses a callback holding NUL or half a surrogate pair with 400 MALFORMED, recording nothing', async () => {
    // no worker yet: the message stays pending, so a receipt would record its send and outcome
    const sent = await platform.call('POST', '/api/v1/sms/messages', { token: alice.token, body: { to: '+8613800138000', text: 'hello' } });
    expect(sent.status, sent.text).to.equal(202);
    const id = sent.body.data.message_id as string;
    const receipt = {
      type: 'receipt',
      receipt_id: 'DRnul',
      message_id: 'SMnul',
      client_ref: id,
      to: '+8613800138000',
      status: 'UNDELIVERED',
      error_code: 'E\u0000X',
      done_at: new Date().toISOString(),
    };
    const refused = await post('/api/v1/sms/callbacks/receipts', JSON.stringify(receipt));
    expect(refused.status).to.equal(400);
    expect(((await refused.json()) as any).code).to.equal('MALFORMED');
    const batch = await post('/api/v1/sms/callbacks/receipts', JSON.stringify({ type: 'receipts', receipts: [{ ...receipt, error_code: 'E\ud800X' }] }));
    expect(batch.status).to.equal(400);
    expect((await platform.events(smsMessageStream(id))).map((e) => e.type)).to.deep.equal(['SmsRequested']);

    const inbound = { type: 'inbound', message_id: `in-${randomUUID()}`, from: '+8613800138000', to: '+8610690000001', received_at: new Date().toISOString() };
    for (const text of ['half \ud83d a pair', 'NUL \u0000 here']) {
      const res = await post('/api/v1/sms/callbacks/inbound', JSON.stringify({ ...inbound, text }));
      expect(res.status, text).to.equal(400);
      expect(((await res.json()) as any).code).to.equal('MALFORMED');
    }
    expect(await platform.events(smsInboundStream(inbound.message_id))).to.have.length(0);
    // the same message with a whole pair (an emoji) is taken
    const ok = await post('/api/v1/sms/callbacks/inbound', JSON.stringify({ ...inbound, text: 'whole \ud83d\ude00 pair' }));
    expect(ok.status).to.equal(200);
  });

  it('lists batches by the status each shows: completed apart from sending; a completed one is not cancelled (409 completed)', async () => {
    await sms.startWorker();
    const created = await platform.call('POST', '/api/v1/sms/batches', {
      token: alice.token,
      body: { text: 'opening hours changed', sender_id: 'ACME', recipients: ['+8613800138001', '+8613800138002'] },
    });
    expect(created.status, created.text).to.equal(202);
    const id = created.body.data.batch_id as string;
    await waitFor(
      `batch ${id} completed`,
      async () => (await platform.call('GET', `/api/v1/sms/batches/${id}`, { token: alice.token })).body?.data?.status === 'completed',
      60_000,
      100,
    );
    const ids = async (status: string) => {
      const r = await platform.call('GET', `/api/v1/sms/batches?status=${status}`, { token: alice.token });
      expect(r.status, r.text).to.equal(200);
      return r.body.data.items.map((b: any) => b.id);
    };
    expect(await ids('completed')).to.deep.equal([id]);
    expect(await ids('sending')).to.deep.equal([]);
    // too late to cancel: the refusal names the status the batch shows
    const cancel = await platform.call('POST', `/api/v1/sms/batches/${id}/cancel`, { token: alice.token });
    expect(cancel.status, cancel.text).to.equal(409);
    expect(cancel.body.error.details).to.include({ reason: 'completed', status: 'completed' });
    const doc = (await platform.call('GET', '/api/v1/openapi.json')).body;
    const status = doc.paths['/api/v1/sms/batches'].get.parameters.find((p: any) => p.name === 'status');
    expect(status.schema.enum).to.include('completed');
  });

  it('PUT /ledger/settings honours If-Match: a stale revision is 412 and changes nothing', async () => {
    const first = await platform.call('PUT', '/api/v1/ledger/settings', { token: alice.token, body: { overage: true } });
    expect(first.status, first.text).to.equal(200);
    const revision = first.body.data.revision as string;
    const put = (overage: boolean, ifMatch: string) =>
      fetch(`${platform.url}/api/v1/ledger/settings`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${alice.token}`, 'If-Match': ifMatch },
        body: JSON.stringify({ overage }),
      });
    const stale = await put(false, `"${BigInt(revision) + 5n}"`);
    expect(stale.status).to.equal(412);
    expect(((await stale.json()) as any).error.code).to.equal('PRECONDITION_FAILED');
    const fresh = await put(false, `"${revision}"`);
    expect(fresh.status).to.equal(200);
    expect(((await fresh.json()) as any).data.overage).to.equal(false);
    const doc = (await platform.call('GET', '/api/v1/openapi.json')).body;
    expect(Object.keys(doc.paths['/api/v1/ledger/settings'].put.responses)).to.include('412');
  });

  it('a send refused for want of balance goes through once another process has deposited a top-up', async () => {
    await sms.startWorker();
    const send = () => platform.call('POST', '/api/v1/sms/messages', { token: bob.token, body: { to: '+8613800138003', text: 'paid for' } });
    const refused = await send();
    expect(refused.status, refused.text).to.equal(409);
    expect(refused.body.error.details).to.include({ reason: 'insufficient_balance', amount_cents: 5, available_cents: 0 });
    // the top-up lands through another process's writer: the API's kept state of bob's month is stale now
    await deposit(bob.userId, 100);
    const paid = await send();
    expect(paid.status, paid.text).to.equal(202);
    // pm-sms-messages handles the two requests in order: once the paid one is sent, it has handled the refused one too
    const paidStream = smsMessageStream(paid.body.data.message_id);
    await waitFor('the paid SMS sent', async () => (await platform.events(paidStream)).some((e) => e.type === 'SmsSent'), 30_000, 50);
    const sent = (await platform.events(paidStream)).find((e) => e.type === 'SmsSent')!;
    const postings = await platform.call('GET', `/api/v1/ledger/postings?kind=charge&after_position=${formatPosition(sent.position)}`, { token: bob.token });
    // the refused message was not charged by the top-up that came after it
    expect(postings.body.data.items.map((p: any) => p.amount_cents)).to.deep.equal([-5]);
  });
});
