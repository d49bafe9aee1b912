import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { TOKENS } from '../../src/tokens.js';
import { smsMessageStream } from '../../src/write-model/sms-message/index.js';
import type { SmsSandbox } from '../../sandbox/sms-provider/server.js';
import type { Platform } from '../support/platform.js';
import { depositFor, startSmsPlatform, type SmsPlatform } from '../support/sms-platform.js';
import { waitFor } from '../support/wait-for.js';

/**
 * A single SMS and the prepaid balance over HTTP (docs/sms.md, "Charges"
 * and "Rate limits"): the charge comes once SmsRequested is written, so a
 * write that fails takes no money and its retry under the same
 * Idempotency-Key is charged once, and a charge that fails after it is left
 * to pm-sms-messages; a send the balance cannot pay is recorded failed,
 * never queued, leaves no ledger month behind, and gives its place in the
 * send window back.
 */
describe('sms: single sends and their charges (e2e)', function () {
  this.timeout(120_000);
  let sms: SmsPlatform;
  let sandbox: SmsSandbox;
  let platform: Platform;

  const month = () => new Intl.DateTimeFormat('en-CA', { timeZone: platform.config.QUOTA_TIME_ZONE, year: 'numeric', month: '2-digit' }).format(new Date());
  const ledgerEvents = (userId: string) => platform.events(`ledger-user_${userId}_${month().replace('-', '')}`);
  const charges = async (userId: string) => (await ledgerEvents(userId)).filter((e) => e.type === 'ChargePosted').map((e) => e.data as any);

  const deposit = (userId: string, amountCents: number) => depositFor(platform, userId, amountCents);

  const send = async (token: string, text: string, idempotencyKey?: string) => {
    const res = await fetch(`${platform.url}/api/v1/sms/messages`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, ...(idempotencyKey ? { 'Idempotency-Key': idempotencyKey } : {}) },
      body: JSON.stringify({ to: '+8613800138000', text }),
    });
    return { status: res.status, replayed: res.headers.get('idempotent-replayed'), body: (await res.json()) as any };
  };

  before(async () => {
    sms = await startSmsPlatform({ name: 'sms-charges', inbound: false, config: { SMS_SENDS_PER_ORGANIZATION_PER_MINUTE: '2' } });
    ({ sandbox, platform } = sms);
  });
  after(() => sms?.stop());

  it('a send whose SmsRequested cannot be written takes no money; retried under its Idempotency-Key it is charged once', async () => {
    const carol = await platform.signUp('carol');
    await deposit(carol.userId, 100);
    const store = platform.store;
    const append = store.append.bind(store);
    let failing = true;
    store.append = async (streamName, events, expected, options) => {
      if (failing && streamName.startsWith('sms_message-')) {
        failing = false;
        throw new Error('the store went away');
      }
      return append(streamName, events, expected, options);
    };
    const key = randomUUID();
    let failed: Awaited<ReturnType<typeof send>>;
    try {
      failed = await send(carol.token, 'paid once', key);
    } finally {
      store.append = append;
    }
    expect(failed.status).to.equal(500);
    expect(await charges(carol.userId)).to.deep.equal([]);

    const sent = await send(carol.token, 'paid once', key);
    expect(sent.status, JSON.stringify(sent.body)).to.equal(202);
    const id = sent.body.data.message_id as string;
    const again = await send(carol.token, 'paid once', key);
    expect(again.replayed).to.equal('true');
    expect(again.body.data.message_id).to.equal(id);
    await waitFor(`sms ${id} sent`, async () => (await platform.events(smsMessageStream(id))).some((e) => e.type === 'SmsSent'), 30_000, 50);
    expect(sandbox.acceptedCount(id)).to.equal(1);
    // pm-sms-messages charged the same source again before queueing: still one posting
    expect((await charges(carol.userId)).map((c) => ({ amount: c.amountCents, stream: c.sourceStream }))).to.deep.equal([
      { amount: 5, stream: smsMessageStream(id) },
    ]);
  });

  it('a charge that fails once the request is recorded answers 202: pm-sms-messages charges it before it is sent', async () => {
    const frank = await platform.signUp('frank');
    await deposit(frank.userId, 100);
    const ledger = platform.container.get(TOKENS.LedgerCharges);
    const charge = ledger.charge.bind(ledger);
    let failing = true;
    ledger.charge = async (request) => {
      if (failing) {
        failing = false;
        throw new Error('the ledger went away');
      }
      return charge(request);
    };
    let sent: Awaited<ReturnType<typeof send>>;
    try {
      sent = await send(frank.token, 'paid later');
    } finally {
      ledger.charge = charge;
    }
    expect(sent.status, JSON.stringify(sent.body)).to.equal(202);
    const id = sent.body.data.message_id as string;
    await waitFor(`sms ${id} sent`, async () => (await platform.events(smsMessageStream(id))).some((e) => e.type === 'SmsSent'), 30_000, 50);
    expect((await charges(frank.userId)).map((c) => c.sourceStream)).to.deep.equal([smsMessageStream(id)]);
  });

  it('a send the balance cannot pay is 409, recorded failed and never sent, and leaves no ledger month', async () => {
    const dave = await platform.signUp('dave');
    const refused = await send(dave.token, 'no money');
    expect(refused.status).to.equal(409);
    expect(refused.body.error.details).to.include({ reason: 'insufficient_balance', amount_cents: 5, available_cents: 0 });
    let listed: any[] = [];
    await waitFor(
      'the refused message listed as failed',
      async () => {
        listed = (await platform.call('GET', '/api/v1/sms/messages', { token: dave.token })).body.data.items;
        // the request and its failure are two events: the read model may show the first alone for a moment
        return listed.length > 0 && listed[0].status !== 'pending';
      },
      10_000,
      50,
    );
    expect(listed).to.have.length(1);
    expect(listed[0]).to.deep.include({ status: 'failed', price_fen: 5 });
    expect(listed[0].failure.code).to.equal('insufficient_balance');
    expect((await platform.events(smsMessageStream(listed[0].id))).map((e) => e.type)).to.deep.equal(['SmsRequested', 'SmsFailed']);
    expect(sandbox.acceptedCount(listed[0].id)).to.equal(0);

    // nothing was charged: the balance shows no month (read past a later write of the account), none was written
    const settings = await platform.call('PUT', '/api/v1/ledger/settings', { token: dave.token, body: { overage: true } });
    expect(settings.status, settings.text).to.equal(200);
    const balance = await platform.call('GET', `/api/v1/ledger?after_position=${settings.body.data.position}`, { token: dave.token });
    expect(balance.status, balance.text).to.equal(200);
    expect(balance.body.data).to.deep.include({ period: null, balance_cents: 0, available_cents: 0, overage: true });
    expect((await platform.events(`ledger_account-user_${dave.userId}`)).map((e) => e.type)).to.deep.equal(['LedgerSettingsChanged']);
    expect(await ledgerEvents(dave.userId)).to.deep.equal([]);
  });

  it('sends refused for want of balance give their place in the send window back: only accepted ones count', async () => {
    const erin = await platform.signUp('erin');
    // a minute's window may turn over mid-test: start right after one begins
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 45_000) await new Promise((resolve) => setTimeout(resolve, 60_000 - intoMinute + 200));
    for (const text of ['one', 'two', 'three']) expect((await send(erin.token, text)).status, text).to.equal(409);
    await deposit(erin.userId, 100);
    for (const text of ['four', 'five']) {
      const sent = await send(erin.token, text);
      expect(sent.status, JSON.stringify(sent.body)).to.equal(202);
    }
    const limited = await send(erin.token, 'six');
    expect(limited.status).to.equal(429);
    expect(limited.body.error.details).to.include({ per: 'user', limit: 2 });
  });
});
