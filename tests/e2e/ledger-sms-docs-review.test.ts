import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { signSmsProviderMessage } from '../../src/adapters/sms/signature.js';
import { mailProcessor } from '../../src/main/worker-processors.js';
import { startWorker, type RunningWorker } from '../../src/main/worker.js';
import { smsInboundStream, smsMessageStream } from '../../src/write-model/sms-message/index.js';
import { generateMerchant, generateProviderKeys, platformEnv, registrationOf } from '../../sandbox/payment-provider/keys.js';
import { startPaymentSandbox, type PaymentSandbox } from '../../sandbox/payment-provider/server.js';
import { joinOrganization, membershipsSettle, registerMember } from '../support/members.js';
import type { Platform, Reply } from '../support/platform.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { depositFor, startSmsPlatform, type SmsPlatform } from '../support/sms-platform.js';
import { waitFor } from '../support/wait-for.js';

/** docs/sms.md's price table: fen per segment. */
const SMS_PRICES: Record<string, number> = {
  CN: 5,
  HK: 35,
  MO: 35,
  TW: 40,
  SG: 30,
  MY: 25,
  JP: 55,
  KR: 35,
  US: 8,
  CA: 8,
  GB: 30,
  DE: 60,
  FR: 55,
  AU: 40,
};

/** A mobile number of each served country. */
const NUMBERS: Record<string, string> = {
  CN: '+8613800138000',
  HK: '+85291234567',
  MO: '+85366123456',
  TW: '+886912345678',
  SG: '+6591234567',
  MY: '+60123456789',
  JP: '+819012345678',
  KR: '+821012345678',
  US: '+14155552671',
  CA: '+16135550123',
  GB: '+447400123456',
  DE: '+4915123456789',
  FR: '+33612345678',
  AU: '+61412345678',
};

/**
 * docs/ledger.md and docs/sms.md read claim by claim as a new user would,
 * with the OpenAPI document beside them, each claim tried on the running
 * platform (the SMS provider and the payment providers are the sandboxes):
 * prices and segments as charged to the balance, months at their edges,
 * a WeChat Pay top-up refunded past the limit, an organization's balance
 * paying for its members' SMS, balances and send windows under concurrent
 * sends, callbacks carrying times no store can keep, inbound keywords
 * behind punctuation, and the batches' documented refusals.
 */
describe('ledger and SMS, as their docs say (e2e review)', function () {
  this.timeout(120_000);
  const merchant = generateMerchant();
  const keys = generateProviderKeys();
  let payments: PaymentSandbox;
  let sink: SmtpSink;
  let sms: SmsPlatform;
  let platform: Platform;
  let mailWorker: RunningWorker | undefined;
  let admin: string;

  const call = (method: string, path: string, token: string, body?: unknown, headers?: Record<string, string>): Promise<Reply> =>
    platform.call(method, `/api/v1${path}`, { token, ...(body !== undefined ? { body } : {}), ...(headers ? { headers } : {}) });
  const send = (user: { token: string }, to: string, text: string) => call('POST', '/sms/messages', user.token, { to, text });
  const month = () => new Intl.DateTimeFormat('en-CA', { timeZone: platform.config.QUOTA_TIME_ZONE, year: 'numeric', month: '2-digit' }).format(new Date());
  const balance = async (user: { token: string }) => (await call('GET', '/ledger', user.token)).body.data;
  async function balanceUntil(user: { token: string }, done: (b: any) => boolean, what: string): Promise<any> {
    let seen: any;
    await waitFor(
      what,
      async () => {
        seen = await balance(user);
        return done(seen);
      },
      20_000,
      50,
    );
    return seen;
  }
  /** A provider callback, signed with the provider's key as the sandbox signs it. */
  async function callback(path: string, body: unknown): Promise<{ status: number; body: any }> {
    const text = JSON.stringify(body);
    const res = await fetch(`${platform.url}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...signSmsProviderMessage({ method: 'POST', path, body: text, privateKeyPem: sms.keys.privateKeyPem }) },
      body: text,
    });
    return { status: res.status, body: await res.json() };
  }

  before(async () => {
    sink = await new SmtpSink().start();
    payments = await startPaymentSandbox({ merchant: registrationOf(merchant), keys, timeScale: 0.0005, refundSettleMs: 300 });
    // no sms-send worker: messages stay pending, so a receipt records their send and outcome
    sms = await startSmsPlatform({
      name: 'ledger-sms-review',
      worker: false,
      inbound: false,
      config: {
        ...platformEnv({ merchant, keys, sandboxUrl: payments.url, notifyBaseUrl: 'http://collector-api.test' }),
        SMTP_URL: sink.url,
        PUBLIC_WEB_URL: 'https://app.example.test',
        SMS_SENDS_PER_USER_PER_MINUTE: '1000',
        SMS_SENDS_PER_ORGANIZATION_PER_MINUTE: '20',
      },
    });
    platform = sms.platform;
    payments.resolve.set('collector-api.test', platform.url);
    mailWorker = await startWorker(platform.container, { workerName: `ledger-sms-mail-${randomUUID().slice(0, 6)}`, processors: [mailProcessor()] });
    admin = await platform.adminToken();
  });
  after(async () => {
    await mailWorker?.stop({ timeoutMs: 2_000 });
    await sms?.stop();
    await payments?.stop();
    await sink?.stop();
  });

  it('GET /ledger/prices is the SMS price table; each SMS is charged segments × its country’s price, the posting keeping both', async () => {
    const alice = await registerMember(platform, 'alice');
    const prices = (await call('GET', '/ledger/prices', alice.token)).body.data;
    expect(prices.sms.countries).to.deep.equal(SMS_PRICES);
    await depositFor(platform, alice.userId, 10_000);

    const sent: { id: string; country: string; segments: number }[] = [];
    for (const [country, to] of Object.entries(NUMBERS)) {
      const r = await send(alice, to, 'hello');
      expect(r.status, `${country}: ${r.text}`).to.equal(202);
      expect(r.body.data, country).to.include({ to, country, encoding: 'GSM-7', segments: 1, price_fen: SMS_PRICES[country] });
      sent.push({ id: r.body.data.message_id, country, segments: 1 });
    }
    // an extension character (2 septets) never straddles two segments, nor does an emoji (a surrogate pair): 306 septets and 134 units take 3
    for (const [text, encoding] of [
      [`${'a'.repeat(152)}€${'a'.repeat(152)}`, 'GSM-7'],
      [`${'中'.repeat(66)}😀${'中'.repeat(66)}`, 'UCS-2'],
    ] as const) {
      const r = await send(alice, NUMBERS.CN!, text);
      expect(r.status, r.text).to.equal(202);
      expect(r.body.data).to.include({ encoding, segments: 3, price_fen: 15 });
      sent.push({ id: r.body.data.message_id, country: 'CN', segments: 3 });
    }

    let charges: any[] = [];
    await waitFor('the charges listed', async () => {
      const page = (await call('GET', '/ledger/postings?kind=charge&item=sms&per_page=100', alice.token)).body.data;
      charges = page.items;
      return page.pagination.total === sent.length;
    });
    for (const m of sent) {
      const posting = charges.find((p) => p.source_stream === smsMessageStream(m.id));
      expect(posting, m.country).to.include({
        item: 'sms',
        country: m.country,
        quantity: m.segments,
        unit_price_cents: SMS_PRICES[m.country],
        amount_cents: -m.segments * SMS_PRICES[m.country]!,
      });
    }
    const total = sent.reduce((sum, m) => sum + m.segments * SMS_PRICES[m.country]!, 0);
    const statement = (await call('GET', `/ledger/statements/${month()}`, alice.token)).body.data;
    expect(statement.charges_by_item).to.deep.equal([{ item: 'sms', quantity: 20, amount_cents: total }]);
    expect(statement).to.include({ deposits_cents: 10_000, charges_cents: total, balance_cents: 10_000 - total, truncated: false });

    // pages of at most per_page, newest first; past the last one an empty page
    const page = async (query: string) => (await call('GET', `/ledger/postings?${query}`, alice.token)).body.data;
    const first = await page('per_page=5');
    expect(first.pagination).to.deep.equal({ page: 1, per_page: 5, total: 17, total_pages: 4, has_next: true, has_prev: false });
    expect(first.items.map((p: any) => p.posted_at)).to.deep.equal([...first.items.map((p: any) => p.posted_at)].sort().reverse());
    expect((await page('per_page=5&page=4')).items).to.have.length(2);
    expect(await page('per_page=5&page=5')).to.deep.include({ items: [] });
    // [from, to): a posting at `from` is in, one at `to` is out
    const deposit = (await page('kind=deposit')).items[0];
    expect((await page(`kind=deposit&from=${encodeURIComponent(deposit.posted_at)}`)).pagination.total).to.equal(1);
    expect((await page(`kind=deposit&to=${encodeURIComponent(deposit.posted_at)}`)).pagination.total).to.equal(0);
    expect((await page(`period=${month()}`)).pagination.total).to.equal(17);
  });

  it('the ETag of settings never written ("-1") is a usable If-Match: it holds while nothing is written, then it is stale (412)', async () => {
    const dora = await registerMember(platform, 'dora');
    const untouched = await call('PUT', '/ledger/settings', dora.token, { overage: false });
    expect(untouched.status, untouched.text).to.equal(200);
    expect(untouched.headers.get('etag')).to.equal('"-1"');
    const changed = await call('PUT', '/ledger/settings', dora.token, { overage: true }, { 'If-Match': '"-1"' });
    expect(changed.status, changed.text).to.equal(200);
    expect(changed.body.data).to.include({ overage: true, revision: '0' });
    const stale = await call('PUT', '/ledger/settings', dora.token, { overage: false }, { 'If-Match': '"-1"' });
    expect(stale.status, stale.text).to.equal(412);
    expect(stale.body.error.code).to.equal('PRECONDITION_FAILED');
    const read = await call('GET', `/ledger?after_position=${changed.body.data.position}`, dora.token);
    expect(read.body.data.overage, 'the stale change wrote nothing').to.equal(true);
  });

  it('a month is one of the years 0001–9999: year 0000, month 00 or 13 are 422 on postings and statements', async () => {
    const bob = await registerMember(platform, 'bob');
    for (const m of ['0000-01', '0000-12', '2026-00', '2026-13', '2026-1', '10000-01']) {
      const statement = await call('GET', `/ledger/statements/${m}`, bob.token);
      expect(statement.status, `${m}: ${statement.text}`).to.equal(422);
      expect(statement.body.error.details.issues[0]).to.include({ in: 'params' });
      const postings = await call('GET', `/ledger/postings?period=${m}`, bob.token);
      expect(postings.status, `${m}: ${postings.text}`).to.equal(422);
      expect(postings.body.error.details.issues[0].path).to.deep.equal(['period']);
    }
    // the first and the last month are months (without a ledger for bob)
    for (const m of ['0001-01', '9999-12']) {
      expect((await call('GET', `/ledger/statements/${m}`, bob.token)).status, m).to.equal(404);
      expect((await call('GET', `/ledger/postings?period=${m}`, bob.token)).body.data.items, m).to.deep.equal([]);
    }
    for (const q of ['from=0001-01-01T00:00:00Z', 'to=9999-12-31T23:59:59.999Z'])
      expect((await call('GET', `/ledger/postings?${q}`, bob.token)).status, q).to.equal(200);
    for (const q of ['page=0', 'per_page=0', 'per_page=101', 'page=1e20', 'kind=refund', 'item=proxy', 'from=2026-12-01']) {
      expect((await call('GET', `/ledger/postings?${q}`, bob.token)).status, q).to.equal(422);
    }
    expect((await call('GET', `/ledger/statements/${month()}?format=csv`, bob.token)).status).to.equal(422);
  });

  it('operators: a credit limit for a holder that does not exist is 404 and writes nothing; the profit report takes days of 0001–9999 only', async () => {
    for (const kind of ['user', 'organization']) {
      const id = randomUUID();
      const r = await call('PUT', `/admin/ledger/${kind}/${id}/credit-limit`, admin, { credit_limit_cents: 100, reason: 'terms' });
      expect(r.status, r.text).to.equal(404);
      expect(r.body.error.code).to.equal('NOT_FOUND');
      expect(await platform.events(`ledger_account-${kind === 'user' ? 'user' : 'org'}_${id}`)).to.deep.equal([]);
    }
    const carol = await registerMember(platform, 'carol');
    for (const body of [
      { credit_limit_cents: 100, reason: '   ' },
      { credit_limit_cents: 100, reason: 'x'.repeat(501) },
      { credit_limit_cents: 1_000_000_001, reason: 'x' },
      { credit_limit_cents: '100', reason: 'x' },
      { credit_limit_cents: 100 },
    ]) {
      const r = await call('PUT', `/admin/ledger/user/${carol.userId}/credit-limit`, admin, body);
      expect(r.status, JSON.stringify(body)).to.equal(422);
    }
    expect((await call('PUT', `/admin/ledger/team/${carol.userId}/credit-limit`, admin, { credit_limit_cents: 1, reason: 'x' })).status).to.equal(422);
    for (const q of ['from=0001-01-01&to=0001-12-31', 'from=9999-01-01&to=9999-12-31&group_by=month']) {
      const r = await call('GET', `/admin/finance/profit?${q}`, admin);
      expect(r.status, `${q}: ${r.text}`).to.equal(200);
      expect(r.body.data.items).to.deep.equal([]);
    }
    for (const q of ['from=0000-12-31&to=0001-01-01', 'from=2026-01-01&to=2026-01-31&group_by=week', 'to=2026-01-31', 'from=2026-01-01&to=2036-12-31']) {
      expect((await call('GET', `/admin/finance/profit?${q}`, admin)).status, q).to.equal(422);
    }
  });

  it('a WeChat Pay top-up is deposited once; refunded, it is withdrawn past the limit and SMS are refused until topped up again', async () => {
    const dave = await registerMember(platform, 'dave');
    const key = randomUUID();
    const topUp = () => call('POST', '/ledger/top-ups', dave.token, { amount_cents: 200, provider: 'wechat' }, { 'Idempotency-Key': key });
    const placed = await topUp();
    expect(placed.status, placed.text).to.equal(201);
    expect(placed.body.data).to.include({ status: 'pending', amount_cents: 200, provider: 'wechat', channel: 'native', pay_url: null });
    expect(placed.body.data.holder).to.deep.equal({ kind: 'user', id: dave.userId });
    expect(placed.body.data.code_url).to.match(/^weixin:\/\//);
    const orderId = placed.body.data.order_id as string;
    expect(placed.headers.get('location')).to.equal(`/api/v1/payments/orders/${orderId}`);
    // the same request again under its Idempotency-Key: the same order, not a second one
    const again = await topUp();
    expect(again.headers.get('idempotent-replayed')).to.equal('true');
    expect(again.body.data.order_id).to.equal(orderId);
    // a channel the provider does not have
    const native = await call('POST', '/ledger/top-ups', dave.token, { amount_cents: 200, provider: 'alipay', channel: 'native' });
    expect(native.status).to.equal(422);
    expect(native.body.error.details.issues[0].path).to.deep.equal(['channel']);

    await payments.pay('wechat', orderId.replaceAll('-', ''));
    await balanceUntil(dave, (b) => b.balance_cents === 200, 'the deposit');
    expect((await send(dave, NUMBERS.CN!, 'x'.repeat(161))).status).to.equal(202);

    const refund = await call('POST', `/admin/payments/orders/${orderId}/refund`, admin, { reason: 'customer asked' });
    expect(refund.status, refund.text).to.equal(201);
    // withdrawn even past the credit limit (0): the balance goes below zero, nothing is available
    const after = await balanceUntil(dave, (b) => b.balance_cents < 190, 'the withdrawal');
    expect(after).to.include({ balance_cents: -10, available_cents: 0, credit_limit_cents: 0 });
    const withdrawals = (await call('GET', '/ledger/postings?kind=withdrawal', dave.token)).body.data.items;
    expect(withdrawals).to.have.length(1);
    expect(withdrawals[0]).to.include({ amount_cents: -200, balance_after_cents: -10, order_id: orderId });
    const refused = await send(dave, NUMBERS.CN!, 'one more');
    expect(refused.status, refused.text).to.equal(409);
    expect(refused.body.error.details).to.include({ reason: 'insufficient_balance', amount_cents: 5, available_cents: 0 });
    const statement = (await call('GET', `/ledger/statements/${month()}`, dave.token)).body.data;
    expect(statement).to.include({ deposits_cents: 200, withdrawals_cents: 200, charges_cents: 10, balance_cents: -10, postings: 3 });
    const order = (await call('GET', `/payments/orders/${orderId}`, dave.token)).body.data;
    expect(order).to.include({ service: 'ledger', plan: 'top_up', status: 'refunded', refunded_fen: 200 });
  });

  it("in an organization the balance is the organization's: the owner tops it up, a member's SMS is charged to it, keywords are every member's", async () => {
    const owner = await registerMember(platform, 'owner');
    const member = await registerMember(platform, 'member');
    const outsider = await registerMember(platform, 'outsider');
    const founded = await call('POST', '/organizations', owner.token, { name: 'Texters' });
    expect(founded.status, founded.text).to.equal(201);
    const organizationId = founded.body.data.id as string;
    await joinOrganization(platform, sink, { organizationId, inviter: owner, user: member, roles: ['operator'] });
    await membershipsSettle();

    // the member's own balance does not pay: the organization's (empty) does
    await depositFor(platform, member.userId, 1_000);
    const unpaid = await send(member, NUMBERS.CN!, 'from the team');
    expect(unpaid.status, unpaid.text).to.equal(409);
    expect(unpaid.body.error.details).to.include({ reason: 'insufficient_balance', available_cents: 0 });
    expect((await call('GET', '/ledger', member.token)).status).to.equal(403);

    const placed = await call('POST', '/ledger/top-ups', owner.token, { amount_cents: 100, provider: 'alipay' });
    expect(placed.status, placed.text).to.equal(201);
    expect(placed.body.data.holder).to.deep.equal({ kind: 'organization', id: organizationId });
    expect((await fetch(placed.body.data.pay_url)).status).to.equal(200);
    await payments.pay('alipay', placed.body.data.order_id);
    await balanceUntil(owner, (b) => b.balance_cents === 100, "the organization's deposit");
    const paid = await send(member, NUMBERS.CN!, 'from the team');
    expect(paid.status, paid.text).to.equal(202);
    const charged = await balanceUntil(owner, (b) => b.balance_cents === 95, "the member's SMS charged to the organization");
    expect(charged.holder).to.deep.equal({ kind: 'organization', id: organizationId });
    const charge = (await call('GET', '/ledger/postings?kind=charge', owner.token)).body.data.items[0];
    expect(charge).to.include({ item: 'sms', amount_cents: -5, source_stream: smsMessageStream(paid.body.data.message_id) });

    // a keyword one member reserves is the organization's: another member has it already (200), an outsider cannot (409)
    const keyword = `TEAM${randomUUID().slice(0, 8)}`.toUpperCase();
    expect((await call('POST', '/sms/keywords', member.token, { keyword })).status).to.equal(201);
    expect((await call('POST', '/sms/keywords', owner.token, { keyword: keyword.toLowerCase() })).status).to.equal(200);
    const taken = await call('POST', '/sms/keywords', outsider.token, { keyword });
    expect(taken.status).to.equal(409);
    expect(taken.body.error.details).to.include({ reason: 'keyword_taken' });
    await waitFor('the keyword listed', async () =>
      ((await call('GET', '/sms/keywords', owner.token)).body.data.items as any[]).some((k) => k.keyword === keyword && k.organization_id === organizationId),
    );
    expect((await call('DELETE', `/sms/keywords/${keyword}`, outsider.token)).status).to.equal(404);
    expect((await call('DELETE', `/sms/keywords/${keyword}`, owner.token)).status).to.equal(200);
  });

  it('concurrent sends never pass the balance nor the send window; of concurrent reservations of a keyword one wins', async () => {
    const erin = await registerMember(platform, 'erin');
    await depositFor(platform, erin.userId, 15);
    const paid = await Promise.all(Array.from({ length: 8 }, (_, i) => send(erin, NUMBERS.CN!, `paid ${i}`)));
    expect(paid.map((r) => r.status).sort()).to.deep.equal([202, 202, 202, 409, 409, 409, 409, 409]);
    expect((await balanceUntil(erin, (b) => b.balance_cents === 0, 'the three charges')).available_cents).to.equal(0);

    // SMS_SENDS_PER_ORGANIZATION_PER_MINUTE is 20 (a user outside one: their own window)
    const frank = await registerMember(platform, 'frank');
    await depositFor(platform, frank.userId, 10_000);
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 50_000) await new Promise((resolve) => setTimeout(resolve, 60_000 - intoMinute + 200));
    const limited = await Promise.all(Array.from({ length: 30 }, (_, i) => send(frank, NUMBERS.CN!, `window ${i}`)));
    expect(limited.filter((r) => r.status === 202)).to.have.length(20);
    expect(limited.filter((r) => r.status === 429)).to.have.length(10);
    expect(limited.find((r) => r.status === 429)!.body.error.details).to.include({ per: 'user', limit: 20 });
    await waitFor('the accepted sends listed', async () => (await call('GET', '/sms/messages?per_page=100', frank.token)).body.data.pagination.total === 20);

    const racers = await Promise.all(['g1', 'g2', 'g3', 'g4'].map((name) => registerMember(platform, name)));
    const keyword = `RACE${randomUUID().slice(0, 8)}`.toUpperCase();
    const reserved = await Promise.all(racers.map((r) => call('POST', '/sms/keywords', r.token, { keyword })));
    expect(reserved.map((r) => r.status).sort()).to.deep.equal([201, 409, 409, 409]);
  });

  it('a receipt or an inbound message with a time no store can keep (year 0000) is 400 MALFORMED and records nothing; 0001 and 9999 are kept', async () => {
    const gina = await registerMember(platform, 'gina');
    await depositFor(platform, gina.userId, 100);
    const sent = await send(gina, '+8613900000001', 'a receipt is coming');
    expect(sent.status, sent.text).to.equal(202);
    const id = sent.body.data.message_id as string;
    const receipt = { type: 'receipt', receipt_id: 'DR-year0', message_id: 'SM-year0', client_ref: id, to: '+8613900000001', status: 'DELIVERED' };
    // 0001-01-01 at +08:00 is still in year 0000 once taken to UTC
    for (const doneAt of ['0001-01-01T00:00:00+08:00', '0000-06-01T00:00:00Z']) {
      const refused = await callback('/api/v1/sms/callbacks/receipts', { ...receipt, done_at: doneAt });
      expect(refused.status, doneAt).to.equal(400);
      expect(refused.body.code).to.equal('MALFORMED');
    }
    const batch = await callback('/api/v1/sms/callbacks/receipts', { type: 'receipts', receipts: [{ ...receipt, done_at: '0000-12-31T23:59:59Z' }] });
    expect(batch.status).to.equal(400);
    expect((await platform.events(smsMessageStream(id))).map((e) => e.type)).to.deep.equal(['SmsRequested']);

    const inbound = { type: 'inbound', from: '+8613900000001', to: '+8610690000001', text: 'hi' };
    const year0 = `IN${randomUUID().replaceAll('-', '')}`;
    const refused = await callback('/api/v1/sms/callbacks/inbound', { ...inbound, message_id: year0, received_at: '0000-06-01T00:00:00Z' });
    expect(refused.status).to.equal(400);
    expect(refused.body.code).to.equal('MALFORMED');
    expect(await platform.events(smsInboundStream(year0))).to.deep.equal([]);

    // the first instant Postgres holds is kept, and the read model shows it
    const kept = await callback('/api/v1/sms/callbacks/receipts', { ...receipt, done_at: '0001-01-01T00:00:00Z' });
    expect(kept, JSON.stringify(kept.body)).to.deep.include({ status: 200, body: { received: true, recorded: true } });
    let shown: any;
    await waitFor('the delivery in the read model', async () => {
      shown = (await call('GET', `/sms/messages/${id}`, gina.token)).body.data;
      return shown.status === 'delivered';
    });
    expect(shown).to.include({ done_at: '0001-01-01T00:00:00.000Z', provider_message_id: 'SM-year0' });
    // the reply comes back at the last instant; routed to gina, listed
    const last = `IN${randomUUID().replaceAll('-', '')}`;
    const reply = await callback('/api/v1/sms/callbacks/inbound', { ...inbound, message_id: last, received_at: '9999-12-31T23:59:59.999Z' });
    expect(reply.status, JSON.stringify(reply.body)).to.equal(200);
    await waitFor('the reply listed', async () =>
      ((await call('GET', '/sms/inbound', gina.token)).body.data.items as any[]).some((m) => m.id === last && m.received_at === '9999-12-31T23:59:59.999Z'),
    );
  });

  it('an inbound message goes to a keyword behind punctuation or a symbol: its first word is split at them', async () => {
    const hank = await registerMember(platform, 'hank');
    const keyword = `JOIN${randomUUID().slice(0, 6)}`.toUpperCase();
    const reserved = await call('POST', '/sms/keywords', hank.token, { keyword: keyword.toLowerCase() });
    expect(reserved.status, reserved.text).to.equal(201);
    await waitFor('the keyword projected', async () => ((await call('GET', '/sms/keywords', hank.token)).body.data.items as any[]).length === 1);
    const texts = [`${keyword}-2025 please`, `(${keyword})`, `#${keyword.toLowerCase()}`, `"${keyword}", thanks`, `${keyword}！谢谢`, `${keyword} now`];
    const ids: string[] = [];
    for (const text of texts) {
      const id = `IN${randomUUID().replaceAll('-', '')}`;
      const r = await callback('/api/v1/sms/callbacks/inbound', {
        type: 'inbound',
        message_id: id,
        from: '+8613312340000',
        to: '+8610690000001',
        text,
        received_at: new Date().toISOString(),
      });
      expect(r.status, text).to.equal(200);
      const [event] = await platform.events(smsInboundStream(id));
      expect((event!.data as any).route, text).to.equal('keyword');
      ids.push(id);
    }
    // a longer word is another word
    const other = `IN${randomUUID().replaceAll('-', '')}`;
    await callback('/api/v1/sms/callbacks/inbound', {
      type: 'inbound',
      message_id: other,
      from: '+8613312340000',
      to: '+8610690000001',
      text: `${keyword}X`,
      received_at: new Date().toISOString(),
    });
    expect(((await platform.events(smsInboundStream(other)))[0]!.data as any).route).to.equal('unrouted');
    await waitFor('the keyword messages listed', async () => {
      const items = (await call('GET', '/sms/inbound?per_page=100', hank.token)).body.data.items as any[];
      return ids.every((id) => items.some((m) => m.id === id && m.route === 'keyword' && m.keyword === keyword)) && !items.some((m) => m.id === other);
    });
  });

  it('batches: sender ids, scheduled_at and recipients refused as documented; 10,000 numbers fit a request; a repeat under its Idempotency-Key is the same batch', async () => {
    const ivy = await registerMember(platform, 'ivy');
    const inAnHour = new Date(Date.now() + 3_600_000).toISOString();
    const batch = (body: Record<string, unknown>, headers?: Record<string, string>) =>
      call(
        'POST',
        '/sms/batches',
        ivy.token,
        { text: 'Store opens at nine', sender_id: 'ACME', recipients: [NUMBERS.CN], scheduled_at: inAnHour, ...body },
        headers,
      );
    for (const sender of ['ACME', 'Acme Shop 2', 'A', '123', '123456789012345']) expect((await batch({ sender_id: sender })).status, sender).to.equal(202);
    for (const sender of ['ACMECORPORAT', '12', '1234567890123456', 'ÄCME', 'AC-ME', ' ACME', 'ACME ', '12 34', '   ']) {
      const r = await batch({ sender_id: sender });
      expect(r.status, sender).to.equal(422);
      expect(r.body.error.details.issues[0].path, sender).to.deep.equal(['sender_id']);
    }
    const day = 86_400_000;
    expect((await batch({ scheduled_at: new Date(Date.now() + 89 * day).toISOString() })).status).to.equal(202);
    for (const at of [
      '0001-01-01T00:00:00Z',
      new Date(Date.now() - 1_000).toISOString(),
      new Date(Date.now() + 91 * day).toISOString(),
      '9999-12-31T23:59:59Z',
      '2030-01-01T00:00:00',
    ]) {
      const r = await batch({ scheduled_at: at });
      expect(r.status, at).to.equal(422);
      expect(r.body.error.details.issues[0].path, at).to.deep.equal(['scheduled_at']);
    }
    // ivy's six batches accepted so far, once the projection has them (counted from here would race it)
    const listed = async () => (await call('GET', '/sms/batches?per_page=1', ivy.token)).body.data.pagination.total as number;
    await waitFor('the six batches listed', async () => (await listed()) === 6);
    // any invalid number refuses the batch: the first 100 listed, all counted
    const invalid = await batch({ recipients: [NUMBERS.CN, ...Array.from({ length: 150 }, (_, i) => `bad ${i}`)] });
    expect(invalid.status).to.equal(422);
    expect(invalid.body.error.details.issues).to.have.length(100);
    expect(invalid.body.error.details.issues[0].path).to.deep.equal(['recipients', 1]);
    expect(invalid.body.error.details.invalid_count).to.equal(150);

    // 10,000 national numbers (about 160 KB): within HTTP_BODY_LIMIT_BYTES
    const many = Array.from({ length: 10_000 }, (_, i) => `138 ${String(i).padStart(4, '0')} ${String(9_999 - i).padStart(4, '0')}`);
    const big = await batch({ recipients: many });
    expect(big.status, big.text.slice(0, 300)).to.equal(202);
    expect(big.body.data).to.include({ recipient_count: 10_000, duplicates_removed: 0, invalid_skipped: 0 });
    const cancelled = await call('POST', `/sms/batches/${big.body.data.batch_id}/cancel`, ivy.token);
    expect(cancelled.status, cancelled.text).to.equal(200);

    const key = randomUUID();
    const first = await batch({ text: 'sent once' }, { 'Idempotency-Key': key });
    expect(first.status).to.equal(202);
    const repeat = await batch({ text: 'sent once' }, { 'Idempotency-Key': key });
    expect(repeat.headers.get('idempotent-replayed')).to.equal('true');
    expect(repeat.body.data.batch_id).to.equal(first.body.data.batch_id);
    const reused = await batch({ text: 'another text' }, { 'Idempotency-Key': key });
    expect(reused.status).to.equal(422);
    expect(reused.body.error.code).to.equal('IDEMPOTENCY_KEY_REUSED');
    // two more batches since: the 10,000 numbers and the one repeated (nothing of the refused ones)
    await waitFor('the batches listed', async () => (await listed()) === 8);
    for (const q of ['status=done', 'per_page=101', 'page=0']) expect((await call('GET', `/sms/batches?${q}`, ivy.token)).status, q).to.equal(422);
  });

  it('a batch cancelled while in review has its review withdrawn and is listed cancelled', async () => {
    const rule = await call('POST', '/review-rules', admin, {
      scope: 'platform',
      kind: 'banned_phrase',
      name: 'docs review',
      phrases: ['guaranteed winnings'],
    });
    expect(rule.status, rule.text).to.equal(201);
    const jane = await registerMember(platform, 'jane');
    const created = await call('POST', '/sms/batches', jane.token, { text: 'Guaranteed winnings inside', sender_id: 'LUCKY', recipients: [NUMBERS.CN] });
    expect(created.status, created.text).to.equal(202);
    const id = created.body.data.batch_id as string;
    let shown: any;
    await waitFor('in review', async () => {
      shown = (await call('GET', `/sms/batches/${id}`, jane.token)).body.data;
      return shown?.status === 'in_review';
    });
    const cancelled = await call('POST', `/sms/batches/${id}/cancel`, jane.token);
    expect(cancelled.status, cancelled.text).to.equal(200);
    await waitFor('the review withdrawn', async () => (await call('GET', `/reviews/${shown.review.id}`, admin)).body.data?.status === 'withdrawn');
    await waitFor('listed cancelled', async () =>
      ((await call('GET', '/sms/batches?status=cancelled', jane.token)).body.data.items as any[]).some((b) => b.id === id),
    );
    expect((await call('GET', `/sms/batches/${id}/messages`, jane.token)).body.data.items).to.deep.equal([]);
  });

  it('every route of both pages is in the OpenAPI document, under its tag, with the documented parameters', async () => {
    const doc = (await platform.call('GET', '/api/v1/openapi.json')).body;
    const routes: [string, string, string][] = [
      ['get', '/api/v1/ledger', 'ledger'],
      ['get', '/api/v1/ledger/postings', 'ledger'],
      ['post', '/api/v1/ledger/top-ups', 'ledger'],
      ['put', '/api/v1/ledger/settings', 'ledger'],
      ['get', '/api/v1/ledger/prices', 'ledger'],
      ['get', '/api/v1/ledger/statements', 'ledger'],
      ['get', '/api/v1/ledger/statements/{month}', 'ledger'],
      ['put', '/api/v1/admin/ledger/{holder_kind}/{holder_id}/credit-limit', 'ledger'],
      ['get', '/api/v1/admin/finance/profit', 'finance'],
      ['post', '/api/v1/sms/messages', 'sms'],
      ['get', '/api/v1/sms/messages', 'sms'],
      ['get', '/api/v1/sms/messages/{id}', 'sms'],
      ['get', '/api/v1/sms/inbound', 'sms'],
      ['post', '/api/v1/sms/batches', 'sms'],
      ['get', '/api/v1/sms/batches', 'sms'],
      ['get', '/api/v1/sms/batches/{id}', 'sms'],
      ['get', '/api/v1/sms/batches/{id}/messages', 'sms'],
      ['post', '/api/v1/sms/batches/{id}/cancel', 'sms'],
      ['post', '/api/v1/sms/keywords', 'sms'],
      ['get', '/api/v1/sms/keywords', 'sms'],
      ['delete', '/api/v1/sms/keywords/{keyword}', 'sms'],
      ['post', '/api/v1/sms/callbacks/receipts', 'sms'],
      ['post', '/api/v1/sms/callbacks/inbound', 'sms'],
    ];
    for (const [method, path, tag] of routes) {
      const operation = doc.paths[path]?.[method];
      expect(operation, `${method} ${path}`).to.not.equal(undefined);
      expect(operation.tags, `${method} ${path}`).to.include(tag);
    }
    const names = (method: string, path: string) => (doc.paths[path][method].parameters as { name: string }[]).map((p) => p.name);
    expect(names('get', '/api/v1/ledger/postings')).to.include.members(['period', 'kind', 'item', 'from', 'to', 'page', 'per_page']);
    expect(names('get', '/api/v1/sms/messages')).to.include.members(['status', 'page', 'per_page']);
    const format = (doc.paths['/api/v1/ledger/statements/{month}'].get.parameters as { name: string; schema: { enum?: string[] } }[]).find(
      (p) => p.name === 'format',
    );
    expect(format?.schema.enum).to.deep.equal(['json', 'xlsx', 'pdf']);
  });
});
