import { expect } from 'chai';
import ExcelJS from 'exceljs';
import { randomUUID } from 'node:crypto';
import { overageCharger } from '../../src/application/ledger/overage.js';
import { TOKENS } from '../../src/tokens.js';
import { generateMerchant, generateProviderKeys, platformEnv, registrationOf } from '../../sandbox/payment-provider/keys.js';
import { startPaymentSandbox, type PaymentSandbox } from '../../sandbox/payment-provider/server.js';
import { startPlatform, type Platform } from '../support/platform.js';

async function pdfText(bytes: Buffer): Promise<string> {
  const { extractText, getDocumentProxy } = await import('unpdf');
  const { text } = await extractText(await getDocumentProxy(new Uint8Array(bytes)), { mergePages: true });
  return text.replace(/\s+/g, '');
}

/**
 * The prepaid balance over HTTP, the whole platform running (API,
 * projections, process managers) against the payment sandbox: a top-up paid
 * at the Alipay cashier is deposited once, usage past the quota is charged
 * once opted in, statements come as json, xlsx and pdf, operators set credit
 * limits and read revenue against cost, and bad input writes nothing.
 */
describe('ledger API (e2e, payment sandbox)', function () {
  this.timeout(120_000);
  const merchant = generateMerchant();
  const keys = generateProviderKeys();
  let sandbox: PaymentSandbox;
  let platform: Platform;
  let admin: string;

  before(async () => {
    sandbox = await startPaymentSandbox({ merchant: registrationOf(merchant), keys, timeScale: 0.0005, refundSettleMs: 300 });
    platform = await startPlatform({
      proxies: 1,
      config: platformEnv({ merchant, keys, sandboxUrl: sandbox.url, notifyBaseUrl: 'http://collector-api.test' }),
    });
    sandbox.resolve.set('collector-api.test', platform.url);
    platform.startConsumers();
    admin = await platform.adminToken();
  });
  after(async () => {
    await sandbox?.stop();
    await platform?.stop();
  });

  async function eventually<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`${what}: not in time (last: ${JSON.stringify(value)})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const balance = async (token: string) => (await platform.call('GET', '/api/v1/ledger', { token })).body.data;
  const month = () => new Intl.DateTimeFormat('en-CA', { timeZone: platform.config.QUOTA_TIME_ZONE, year: 'numeric', month: '2-digit' }).format(new Date());
  const file = async (token: string, path: string) => {
    const res = await fetch(`${platform.url}${path}`, { headers: { Authorization: `Bearer ${token}` } });
    return { status: res.status, type: res.headers.get('content-type'), bytes: Buffer.from(await res.arrayBuffer()) };
  };

  async function topUp(token: string, cents: number): Promise<string> {
    const r = await platform.call('POST', '/api/v1/ledger/top-ups', { token, body: { amount_cents: cents, provider: 'alipay' } });
    expect(r.status, r.text).to.equal(201);
    const placed = r.body.data;
    expect(placed).to.include({ status: 'pending', amount_cents: cents, currency: 'CNY', provider: 'alipay', channel: 'page', code_url: null });
    expect(JSON.parse(new URL(placed.pay_url).searchParams.get('biz_content')!)).to.include({
      out_trade_no: placed.order_id,
      total_amount: (cents / 100).toFixed(2),
    });
    // the buyer's browser: the cashier (it opens the trade), then its pay button
    const cashier = await fetch(placed.pay_url);
    expect(cashier.status).to.equal(200);
    expect(await cashier.text()).to.include((cents / 100).toFixed(2));
    const pay = await fetch(`${sandbox.url}/sandbox/alipay/pay`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `out_trade_no=${placed.order_id}`,
    });
    expect(pay.status).to.equal(302);
    return placed.order_id as string;
  }

  it('a top-up paid at the Alipay cashier is deposited once; the payment order tells it is a top-up', async () => {
    const user = await platform.signUp('ledger-topup');
    expect(await balance(user.token)).to.deep.include({ balance_cents: 0, credit_limit_cents: 0, available_cents: 0, overage: false, period: null });
    const orderId = await topUp(user.token, 1_000);
    const after = await eventually(
      'deposit',
      () => balance(user.token),
      (b) => b.balance_cents === 1_000,
    );
    expect(after).to.deep.include({ holder: { kind: 'user', id: user.userId }, period: month(), available_cents: 1_000 });
    const events = await platform.events(`payment-${orderId}`);
    expect(events.map((e) => e.type)).to.include.members(['TopUpOrderCreated', 'PaymentOrderPlaced', 'TopUpPaid']);
    expect(events.map((e) => e.type)).to.not.include('PaymentSucceeded');
    const order = (await platform.call('GET', `/api/v1/payments/orders/${orderId}`, { token: user.token })).body.data;
    expect(order).to.include({ status: 'paid', service: 'ledger', plan: 'top_up', amount_fen: 1_000 });
    // Alipay repeats its notification: nothing more is deposited
    const delivered = await sandbox.waitForDelivery((d) => d.provider === 'alipay' && d.acknowledged && d.request.body.includes(orderId));
    const replay = await fetch(`${platform.url}/api/v1/payments/callback/alipay`, {
      method: 'POST',
      headers: delivered.request.headers,
      body: delivered.request.body,
    });
    expect(await replay.text()).to.equal('success');
    await new Promise((r) => setTimeout(r, 500));
    const postings = (await platform.call('GET', '/api/v1/ledger/postings?kind=deposit', { token: user.token })).body.data;
    expect(postings.items).to.have.length(1);
    expect(postings.items[0]).to.include({ kind: 'deposit', amount_cents: 1_000, balance_after_cents: 1_000, order_id: orderId });
  });

  it('usage past the quota is charged once opted in, refused when the balance does not cover it; a statement lists it (json, xlsx, pdf)', async () => {
    const user = await platform.signUp('ledger-overage');
    await topUp(user.token, 100);
    await eventually(
      'deposit',
      () => balance(user.token),
      (b) => b.balance_cents === 100,
    );
    const charger = overageCharger(platform.store, platform.container.get(TOKENS.LedgerCharges));
    const use = (source: string) => ({
      userId: user.userId,
      item: 'collection_run' as const,
      quantity: 1,
      sourceEventId: source,
      sourceStream: `workflow_execution-${source}`,
      reason: 'collection run past the daily_api_calls quota',
    });
    // not opted in: refused as ever, nothing charged
    expect(await charger(use(randomUUID()))).to.equal(null);
    const settings = await platform.call('PUT', '/api/v1/ledger/settings', { token: user.token, body: { overage: true } });
    expect(settings.status, settings.text).to.equal(200);
    expect(settings.body.data.overage).to.equal(true);
    const source = randomUUID();
    const first = await charger(use(source));
    expect(first).to.deep.include({ ok: true, amountCents: 20, balanceCents: 80, duplicate: false });
    expect(await charger(use(source))).to.deep.include({ ok: true, duplicate: true, balanceCents: 80 });
    for (let i = 0; i < 4; i++) expect((await charger(use(randomUUID())))?.ok).to.equal(true);
    expect(await charger(use(randomUUID()))).to.deep.include({ ok: false, reason: 'insufficient_balance', amountCents: 20, availableCents: 0 });
    await eventually(
      'charges',
      () => balance(user.token),
      (b) => b.balance_cents === 0,
    );

    const charges = (await platform.call('GET', '/api/v1/ledger/postings?kind=charge&item=collection_run&per_page=10', { token: user.token })).body.data;
    expect(charges.pagination.total).to.equal(5);
    expect(charges.items.find((p: { source_event_id: string }) => p.source_event_id === source)).to.include({
      amount_cents: -20,
      unit_price_cents: 20,
      quantity: 1,
      source_stream: `workflow_execution-${source}`,
    });

    const months = (await platform.call('GET', '/api/v1/ledger/statements', { token: user.token })).body.data.items;
    expect(months[0]).to.include({
      period: month(),
      status: 'open',
      opening_balance_cents: 0,
      deposits_cents: 100,
      charges_cents: 100,
      balance_cents: 0,
      postings: 6,
    });
    const json = (await platform.call('GET', `/api/v1/ledger/statements/${month()}`, { token: user.token })).body.data;
    expect(json.charges_by_item).to.deep.equal([{ item: 'collection_run', quantity: 5, amount_cents: 100 }]);
    expect(json.lines.map((l: { kind: string }) => l.kind)).to.deep.equal(['deposit', 'charge', 'charge', 'charge', 'charge', 'charge']);

    const xlsx = await file(user.token, `/api/v1/ledger/statements/${month()}?format=xlsx`);
    expect(xlsx.status).to.equal(200);
    expect(xlsx.type).to.include('spreadsheetml');
    const book = new ExcelJS.Workbook();
    await book.xlsx.load(xlsx.bytes as unknown as ArrayBuffer);
    const sheetNames = book.worksheets.map((w) => w.name);
    expect(sheetNames[0]).to.equal('概览 Summary');
    const lines = book.worksheets.find((w) => w.name.startsWith('明细'))!;
    const rows: unknown[][] = [];
    lines.eachRow((row) => rows.push((row.values as unknown[]).slice(1)));
    expect(rows.filter((r) => r.includes('charge'))).to.have.length(5);
    expect(rows.filter((r) => r.includes(-0.2))).to.have.length(5);

    const pdf = await file(user.token, `/api/v1/ledger/statements/${month()}?format=pdf`);
    expect(pdf.status).to.equal(200);
    expect(pdf.type).to.equal('application/pdf');
    const text = await pdfText(pdf.bytes);
    expect(text).to.include(`Statement${month()}`);
    expect(text).to.include('collection_run');
    // the postings table: the deposit and the five charges of 0.20
    expect(text.split('-0.2').length - 1, text).to.equal(5);
    expect(text).to.include('deposit');
  });

  it('operators set a credit limit (the balance may go below zero to it) and read revenue against cost', async () => {
    const user = await platform.signUp('ledger-credit');
    const path = `/api/v1/admin/ledger/user/${user.userId}/credit-limit`;
    expect((await platform.call('PUT', path, { token: user.token, body: { credit_limit_cents: 500, reason: 'mine' } })).status).to.equal(403);
    const set = await platform.call('PUT', path, { token: admin, body: { credit_limit_cents: 500, reason: 'enterprise terms' } });
    expect(set.status, set.text).to.equal(200);
    expect(set.body.data).to.include({ credit_limit_cents: 500, balance_cents: 0, changed: true, period: month() });
    expect((await platform.call('PUT', path, { token: admin, body: { credit_limit_cents: 500, reason: 'again' } })).body.data.changed).to.equal(false);
    await eventually(
      'limit',
      () => balance(user.token),
      (b) => b.credit_limit_cents === 500 && b.available_cents === 500,
    );
    await platform.call('PUT', '/api/v1/ledger/settings', { token: user.token, body: { overage: true } });
    const charger = overageCharger(platform.store, platform.container.get(TOKENS.LedgerCharges));
    const charged = await charger({
      userId: user.userId,
      item: 'publication',
      quantity: 2,
      sourceEventId: randomUUID(),
      sourceStream: 'publication-x',
      reason: 'publications past daily_publications',
    });
    expect(charged).to.deep.include({ ok: true, amountCents: 100, balanceCents: -100 });
    await eventually(
      'negative balance',
      () => balance(user.token),
      (b) => b.balance_cents === -100 && b.available_cents === 400,
    );

    const today = new Intl.DateTimeFormat('en-CA', { timeZone: platform.config.QUOTA_TIME_ZONE }).format(new Date());
    expect((await platform.call('GET', `/api/v1/admin/finance/profit?from=${today}&to=${today}`, { token: user.token })).status).to.equal(403);
    const profit = await eventually(
      'profit',
      async () => (await platform.call('GET', `/api/v1/admin/finance/profit?from=${today}&to=${today}&group_by=month`, { token: admin })).body.data,
      (p) => p?.totals?.ledger_charges_cents >= 100 && p.totals.top_ups_cents >= 1_100,
    );
    expect(profit.items).to.have.length(1);
    expect(profit.items[0].period).to.equal(today.slice(0, 7));
    expect(profit.totals.revenue_cents).to.equal(profit.totals.plan_payments_cents + profit.totals.plan_refunds_cents + profit.totals.ledger_charges_cents);
    expect(profit.totals.profit_cents).to.equal(profit.totals.revenue_cents - profit.totals.cost_cents);
  });

  it('prices come from the catalogue; bad input is refused and writes nothing', async () => {
    const user = await platform.signUp('ledger-bad');
    const prices = (await platform.call('GET', '/api/v1/ledger/prices', { token: user.token })).body.data;
    expect(prices).to.deep.include({ currency: 'CNY', collection_run_cents: 20, publication_cents: 50 });
    expect(prices.sms.countries.CN).to.equal(5);
    const before = (await platform.events(`ledger_account-user_${user.userId}`)).length;
    for (const body of [
      { amount_cents: 0, provider: 'alipay' },
      { amount_cents: 99, provider: 'alipay' },
      { amount_cents: 1.5, provider: 'alipay' },
      { amount_cents: 1000, provider: 'paypal' },
      { amount_cents: 1000 },
      { amount_cents: 1000, provider: 'alipay', extra: 1 },
    ]) {
      const r = await platform.call('POST', '/api/v1/ledger/top-ups', { token: user.token, body });
      expect(r.status, JSON.stringify(body)).to.equal(422);
      expect(r.body.error.code).to.equal('VALIDATION_ERROR');
    }
    expect((await platform.call('PUT', '/api/v1/ledger/settings', { token: user.token, body: { overage: 'yes' } })).status).to.equal(422);
    expect((await platform.call('GET', '/api/v1/ledger/statements/2026-13', { token: user.token })).status).to.equal(422);
    expect((await platform.call('GET', '/api/v1/ledger/statements/2001-01', { token: user.token })).status).to.equal(404);
    expect((await platform.call('GET', '/api/v1/ledger/postings?kind=gift', { token: user.token })).status).to.equal(422);
    // a time Postgres cannot hold, and a period that ends before it starts: the caller's mistake (422), never a 500 or an empty page
    for (const query of ['from=0000-01-01T00:00:00Z', 'to=0000-06-01T00:00:00Z', 'from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z']) {
      const r = await platform.call('GET', `/api/v1/ledger/postings?${query}`, { token: user.token });
      expect(r.status, `${query}: ${r.text}`).to.equal(422);
      expect(r.body.error.details.issues[0].path, query).to.deep.equal([query.startsWith('to') ? 'to' : 'from']);
    }
    expect(
      (await platform.call('PUT', `/api/v1/admin/ledger/user/${user.userId}/credit-limit`, { token: admin, body: { credit_limit_cents: -1, reason: 'x' } }))
        .status,
    ).to.equal(422);
    expect(
      (await platform.call('PUT', '/api/v1/admin/ledger/user/not-a-uuid/credit-limit', { token: admin, body: { credit_limit_cents: 1, reason: 'x' } })).status,
    ).to.equal(422);
    expect((await platform.call('GET', '/api/v1/admin/finance/profit?from=2026-12-10&to=2026-12-01', { token: admin })).status).to.equal(422);
    expect((await platform.call('GET', '/api/v1/admin/finance/profit?from=2026-02-30&to=2026-03-01', { token: admin })).status).to.equal(422);
    expect((await platform.events(`ledger_account-user_${user.userId}`)).length).to.equal(before);
    expect(await platform.events(`ledger-user_${user.userId}_${month().replace('-', '')}`)).to.have.length(0);
    expect((await balance(user.token)).period).to.equal(null);
  });
});
