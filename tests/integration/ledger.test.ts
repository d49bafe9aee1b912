import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { EventStoreLedgerCharges } from '../../src/application/ledger/charges.js';
import { LedgerWriter } from '../../src/application/ledger/writer.js';
import type { ChargeResult } from '../../src/application/ports/ledger.js';
import { load } from '../../src/write-model/core/command-handler.js';
import { ledgerAccountAggregate } from '../../src/write-model/ledger-account/index.js';
import { ledgerAggregate, ledgerPeriodId, ledgerStream } from '../../src/write-model/ledger/index.js';
import { testDatabaseUrl } from '../setup/test-env.js';

const TZ = 'Asia/Shanghai';
const context = { correlationId: 'test', causationId: 'test', actor: 'test' };

describe('the balance ledger on Postgres: group commit, never overdrawn, never posted twice', function () {
  this.timeout(60_000);
  let a: PostgresEventStore;
  let b: PostgresEventStore;
  let clock = new Date('2026-12-10T08:00:00.000Z');
  const now = () => clock;

  before(() => {
    // two stores, two writers: two processes sharing one database
    a = createPostgresEventStore({ connectionString: testDatabaseUrl, poolSize: 6 });
    b = createPostgresEventStore({ connectionString: testDatabaseUrl, poolSize: 6 });
  });
  after(async () => {
    await a.close();
    await b.close();
  });
  beforeEach(() => {
    clock = new Date('2026-12-10T08:00:00.000Z');
  });

  const chargesOn = (writer: LedgerWriter, store: PostgresEventStore) => new EventStoreLedgerCharges({ store, writer });
  const holderOf = () => ({ kind: 'user' as const, id: randomUUID() });
  const sms = (holder: { kind: 'user'; id: string }, source: string, quantity = 1) => ({
    holder,
    item: 'sms' as const,
    country: 'CN',
    quantity,
    sourceEventId: source,
    sourceStream: `sms_message-${source}`,
    reason: 'test SMS',
  });
  const deposit = (writer: LedgerWriter, holder: { kind: 'user'; id: string }, cents: number, orderId = randomUUID()) =>
    writer.submit({ kind: 'deposit', holder, orderId, provider: 'alipay', amountCents: cents, reason: 'top-up', context });

  async function chargedEvents(store: PostgresEventStore, holder: { kind: 'user'; id: string }, period = '2026-12') {
    const events = await store.readStream(ledgerStream(ledgerPeriodId(holder, period)));
    return events.filter((e) => e.type === 'ChargePosted').map((e) => e.data as { sourceEventId: string; amountCents: number; balanceAfterCents: number });
  }

  it('32 writers in two processes against one balance: exactly what the balance covers is posted, the rest refused', async () => {
    const holder = holderOf();
    const w1 = new LedgerWriter(a, { timeZone: TZ, now });
    const w2 = new LedgerWriter(b, { timeZone: TZ, now });
    await deposit(w1, holder, 1_000); // 200 SMS segments to CN at 5
    const c1 = chargesOn(w1, a);
    const c2 = chargesOn(w2, b);
    const results: ChargeResult[] = [];
    await Promise.all(
      Array.from({ length: 32 }, async (_, writer) => {
        for (let i = 0; i < 10; i++) results.push(await (writer % 2 === 0 ? c1 : c2).charge(sms(holder, `w${writer}-${i}-${holder.id}`)));
      }),
    );
    const ok = results.filter((r) => r.ok);
    expect(ok).to.have.length(200);
    expect(results.filter((r) => !r.ok && r.reason === 'insufficient_balance')).to.have.length(120);
    const posted = await chargedEvents(a, holder);
    expect(posted).to.have.length(200);
    expect(Math.min(...posted.map((p) => p.balanceAfterCents))).to.equal(0);
    const { state } = await load(a, ledgerAggregate, ledgerPeriodId(holder, '2026-12'));
    expect(state.status === 'open' && state.balanceCents).to.equal(0);
  });

  it('the same source charged concurrently, from both processes, posts once; the others answer duplicate with the same posting', async () => {
    const holder = holderOf();
    const w1 = new LedgerWriter(a, { timeZone: TZ, now });
    const w2 = new LedgerWriter(b, { timeZone: TZ, now });
    await deposit(w1, holder, 10_000);
    const source = randomUUID();
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => chargesOn(i % 2 ? w2 : w1, i % 2 ? b : a).charge(sms(holder, source, 2))));
    // one posting in the store; both processes racing it at one revision may each be answered as its writer
    const fresh = results.filter((r) => r.ok && !r.duplicate);
    expect(fresh.length).to.be.within(1, 2);
    expect(results.every((r) => r.ok)).to.equal(true);
    expect(new Set(results.map((r) => (r.ok ? r.postingId : '')))).to.have.length(1);
    const posted = await chargedEvents(a, holder);
    expect(posted.filter((p) => p.sourceEventId === source)).to.have.length(1);
    const { state } = await load(a, ledgerAggregate, ledgerPeriodId(holder, '2026-12'));
    expect(state.status === 'open' && state.balanceCents).to.equal(10_000 - 10);
  });

  it('a repeat from another process that the balance could no longer pay is a duplicate, not a refusal (a paid SMS is never failed for its own payment)', async () => {
    const holder = holderOf();
    const w1 = new LedgerWriter(a, { timeZone: TZ, now });
    const w2 = new LedgerWriter(b, { timeZone: TZ, now });
    await deposit(w1, holder, 10); // two CN segments at 5
    const source = randomUUID();
    // the API's process charges it, spending the whole balance; pm-sms-messages, in another, charges it again
    const first = await chargesOn(w1, a).charge(sms(holder, source, 2));
    expect(first).to.include({ ok: true, duplicate: false, balanceCents: 0 });
    const again = await chargesOn(w2, b).charge(sms(holder, source, 2));
    expect(again).to.include({ ok: true, duplicate: true, amountCents: 10 });
    expect(again.ok && again.postingId).to.equal(first.ok && first.postingId);
    // a new source is still refused, and nothing was posted twice
    const other = await chargesOn(w2, b).charge(sms(holder, randomUUID(), 1));
    expect(other).to.include({ ok: false, reason: 'insufficient_balance' });
    expect((await chargedEvents(a, holder)).filter((p) => p.sourceEventId === source)).to.have.length(1);
  });

  it('a repeat hidden in a batch of new charges is split out: the new ones post, the repeat does not', async () => {
    const holder = holderOf();
    const w1 = new LedgerWriter(a, { timeZone: TZ, now });
    await deposit(w1, holder, 10_000);
    const old = randomUUID();
    await chargesOn(w1, a).charge(sms(holder, old));
    // another process (its memory empty) gets the repeat among new charges in one batch
    const w2 = new LedgerWriter(b, { timeZone: TZ, now });
    const c2 = chargesOn(w2, b);
    const results = await Promise.all([
      c2.charge(sms(holder, randomUUID())),
      c2.charge(sms(holder, randomUUID())),
      c2.charge(sms(holder, old)),
      c2.charge(sms(holder, randomUUID())),
    ]);
    expect(results.map((r) => r.ok && r.duplicate)).to.deep.equal([false, false, true, false]);
    const posted = await chargedEvents(a, holder);
    expect(posted).to.have.length(4);
    expect(posted.at(-1)!.balanceAfterCents).to.equal(10_000 - 4 * 5);
  });

  it('a new month closes the old one and carries its balance and credit limit; a source charged last month is still a duplicate', async () => {
    const holder = holderOf();
    const w1 = new LedgerWriter(a, { timeZone: TZ, now });
    await deposit(w1, holder, 500);
    const limit = await w1.submit({ kind: 'credit_limit', holder, creditLimitCents: 100, changedBy: 'admin', reason: 'terms', context });
    expect(limit.status).to.equal('posted');
    const source = randomUUID();
    await chargesOn(w1, a).charge(sms(holder, source, 10)); // 50
    clock = new Date('2026-12-31T16:30:00.000Z'); // 2027-01-01 00:30 in Shanghai
    const w2 = new LedgerWriter(b, { timeZone: TZ, now });
    const again = await chargesOn(w2, b).charge(sms(holder, source, 10));
    expect(again.ok && again.duplicate).to.equal(true);
    const next = await chargesOn(w2, b).charge(sms(holder, randomUUID(), 110)); // 550: 450 + 100 credit covers it
    expect(next).to.deep.include({ ok: true, balanceCents: -100, duplicate: false });
    const over = await chargesOn(w2, b).charge(sms(holder, randomUUID()));
    expect(over).to.deep.include({ ok: false, reason: 'insufficient_balance', availableCents: 0 });
    const dec = await load(a, ledgerAggregate, ledgerPeriodId(holder, '2026-12'));
    expect(dec.state).to.deep.include({ status: 'closed', balanceCents: 450, creditLimitCents: 100, nextPeriod: '2027-01' });
    const jan = await a.readStream(ledgerStream(ledgerPeriodId(holder, '2027-01')));
    expect(jan[0]!.type).to.equal('LedgerPeriodOpened');
    expect(jan[0]!.data).to.deep.include({ openingBalanceCents: 450, creditLimitCents: 100, previousPeriod: '2026-12' });
    // the process still in December learns the month moved on: its charge lands in January
    clock = new Date('2026-12-31T15:59:00.000Z');
    await deposit(w1, holder, 1_000);
    const late = await load(a, ledgerAggregate, ledgerPeriodId(holder, '2027-01'));
    expect(late.state).to.deep.include({ status: 'open', balanceCents: 900 });
    const account = await load(a, ledgerAccountAggregate, `user_${holder.id}`);
    expect(account.state).to.deep.include({ period: '2027-01', previousPeriod: '2026-12' });
  });

  it('a deposit is posted once per order, however often it is delivered', async () => {
    const holder = holderOf();
    const w1 = new LedgerWriter(a, { timeZone: TZ, now });
    const w2 = new LedgerWriter(b, { timeZone: TZ, now });
    const orderId = randomUUID();
    const outcomes = await Promise.all([deposit(w1, holder, 700, orderId), deposit(w2, holder, 700, orderId), deposit(w1, holder, 700, orderId)]);
    // the two requests of one process share one answer; the other process may be answered as the writer too (one posting either way)
    expect(outcomes.filter((o) => o.status === 'posted').length).to.be.within(1, 2);
    expect(outcomes.filter((o) => o.status === 'duplicate').length).to.be.within(1, 2);
    expect(new Set(outcomes.map((o) => ('postingId' in o ? o.postingId : '')))).to.have.length(1);
    const deposits = (await a.readStream(ledgerStream(ledgerPeriodId(holder, '2026-12')))).filter((e) => e.type === 'FundsDeposited');
    expect(deposits).to.have.length(1);
    const { state } = await load(a, ledgerAggregate, ledgerPeriodId(holder, '2026-12'));
    expect(state.status === 'open' && state.balanceCents).to.equal(700);
  });

  it("a holder's refused first charge writes no month; the first posting opens it, and a charge then decides on it", async () => {
    const holder = holderOf();
    const w1 = new LedgerWriter(a, { timeZone: TZ, now });
    const refused = await chargesOn(w1, a).charge(sms(holder, randomUUID()));
    expect(refused).to.deep.include({ ok: false, reason: 'insufficient_balance', amountCents: 5, availableCents: 0 });
    expect(await a.readStream(ledgerStream(ledgerPeriodId(holder, '2026-12'))).catch((e: Error) => e.name)).to.equal('StreamNotFoundError');
    expect((await load(a, ledgerAccountAggregate, `user_${holder.id}`)).revision).to.equal(-1n);
    // another process tops up: this writer's refusal is not kept, its next charge is paid
    await deposit(new LedgerWriter(b, { timeZone: TZ, now }), holder, 10);
    expect(await chargesOn(w1, a).charge(sms(holder, randomUUID()))).to.deep.include({ ok: true, balanceCents: 5, duplicate: false });
    const month = await a.readStream(ledgerStream(ledgerPeriodId(holder, '2026-12')));
    expect(month.map((e) => e.type)).to.deep.equal(['LedgerPeriodOpened', 'FundsDeposited', 'ChargePosted']);
    expect((await load(a, ledgerAccountAggregate, `user_${holder.id}`)).state).to.deep.include({ period: '2026-12', previousPeriod: null });
  });

  it('bad charges are refused before anything is written', async () => {
    const holder = holderOf();
    const c = chargesOn(new LedgerWriter(a, { timeZone: TZ, now }), a);
    for (const bad of [{ quantity: 0 }, { quantity: 1.5 }, { sourceEventId: '' }, { reason: '' }, { item: 'gold' }]) {
      let error: unknown;
      try {
        await c.charge({ ...sms(holder, randomUUID()), ...bad } as never);
      } catch (e) {
        error = e;
      }
      expect((error as { code?: string }).code, JSON.stringify(bad)).to.equal('VALIDATION_ERROR');
    }
    let missing: unknown;
    try {
      await a.readStream(ledgerStream(ledgerPeriodId(holder, '2026-12')));
    } catch (e) {
      missing = e;
    }
    expect((missing as Error).name).to.equal('StreamNotFoundError');
  });
});
