/**
 * Ledger benchmark: `npm run bench:ledger [-- --json]`. Progress goes to
 * stderr, the tables (or JSON) to stdout.
 *
 * 32 writers charge ONE balance at once through LedgerCharges (the
 * application's own, group commit per holder in this process, on the
 * Postgres event store). Every 20th charge re-sends one of the last 2,000
 * sources charged (a retry: it must answer duplicate and post nothing). The balance is topped up
 * short of what all charges would cost, so the last ones are refused.
 * Then it checks what the stream holds: no overdraft (no posting's balance
 * below −credit limit; the final balance = deposit − the sum of charges),
 * no double posting (one ChargePosted per source), every re-send answered
 * duplicate. Target: ≥ 2,000 postings/s. Fresh database `bench_ledger`.
 *
 * Env: BENCH_LEDGER (charges, default 20000), BENCH_LEDGER_WRITERS (default 32), BENCH_PG.
 */
import { randomUUID } from 'node:crypto';
import { createPostgresEventStore } from '../src/adapters/event-store/postgres/index.js';
import { EventStoreLedgerCharges } from '../src/application/ledger/charges.js';
import { LedgerWriter } from '../src/application/ledger/writer.js';
import { ledgerPeriodId, ledgerStream, unitPriceCents } from '../src/write-model/ledger/index.js';
import { migrate, recreateDatabase } from './lib/db.js';
import { envNumber } from './lib/env.js';
import { fmtRate, renderTable } from './lib/table.js';
import { progress } from './lib/timing.js';

export const TARGET_POSTINGS_PER_SECOND = 2_000;

const asJson = process.argv.includes('--json');
const count = Math.round(envNumber('BENCH_LEDGER', 20_000, { integer: true }));
const writers = Math.round(envNumber('BENCH_LEDGER_WRITERS', 32, { integer: true }));
const RESEND_EVERY = 20;
const SHORT_BY = 200; // charges the deposit does not cover

async function main(): Promise<void> {
  progress('ledger bench: fresh database bench_ledger');
  const databaseUrl = await recreateDatabase('bench_ledger');
  await migrate(databaseUrl);
  const store = createPostgresEventStore({ connectionString: databaseUrl, poolSize: 8 });
  const writer = new LedgerWriter(store, { timeZone: 'Asia/Shanghai' });
  const charges = new EventStoreLedgerCharges({ store, writer });
  const holder = { kind: 'organization' as const, id: randomUUID() };
  const unit = unitPriceCents('sms', 'CN');
  const resends = Math.floor(count / RESEND_EVERY);
  const unique = count - resends;
  const deposit = (unique - SHORT_BY) * unit;
  const context = { correlationId: 'bench', causationId: 'bench', actor: 'bench' };
  await writer.submit({ kind: 'deposit', holder, orderId: randomUUID(), provider: 'alipay', amountCents: deposit, reason: 'bench top-up', context });

  const sent: string[] = [];
  let next = 0;
  let posted = 0;
  let duplicates = 0;
  let resendsAnswered = 0;
  let refused = 0;
  let resendsPosted = 0;
  let resendsMade = 0;
  progress(`ledger bench: ${fmtRate(count)} charges (${fmtRate(resends)} re-sends) by ${writers} writers against one balance of ${fmtRate(deposit)} cents`);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      for (let i = next++; i < count; i = next++) {
        const resend = i % RESEND_EVERY === RESEND_EVERY - 1 && sent.length > 0;
        // a retry: one of the last 2,000 charged
        const source = resend ? sent[sent.length - 1 - Math.floor(Math.random() * Math.min(2_000, sent.length))]! : randomUUID();
        if (resend) resendsMade++;
        const result = await charges.charge({
          holder,
          item: 'sms',
          country: 'CN',
          quantity: 1,
          sourceEventId: source,
          sourceStream: `sms_message-${source}`,
          reason: 'bench SMS',
        });
        if (!result.ok) refused++;
        else if (result.duplicate) {
          duplicates++;
          if (resend) resendsAnswered++;
        } else {
          posted++;
          if (resend) resendsPosted++;
          else sent.push(source);
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const perSecond = posted / seconds;

  progress('ledger bench: checking the stream');
  const events = await store.readStream(ledgerStream(ledgerPeriodId(holder, writer.periodAt(new Date()))));
  const charged = events
    .filter((e) => e.type === 'ChargePosted')
    .map((e) => e.data as { sourceEventId: string; amountCents: number; balanceAfterCents: number });
  const sources = new Set(charged.map((c) => c.sourceEventId));
  const lowest = Math.min(...charged.map((c) => c.balanceAfterCents));
  const spent = charged.reduce((sum, c) => sum + c.amountCents, 0);
  const final = charged.at(-1)?.balanceAfterCents ?? deposit;
  const checks = {
    noOverdraft: lowest >= 0 && final === deposit - spent && final >= 0,
    noDoublePosting: sources.size === charged.length && charged.length === posted && resendsPosted === 0,
    resendsAnsweredDuplicate: resendsAnswered === resendsMade,
    refusedOnlyWhenShort: refused > 0 && final < unit,
  };
  await store.close();

  const result = {
    charges: count,
    writers,
    seconds: Number(seconds.toFixed(2)),
    postings: posted,
    postingsPerSecond: Math.round(perSecond),
    duplicates,
    resends: resendsMade,
    refused,
    checks,
    target: { wanted: `>= ${TARGET_POSTINGS_PER_SECOND} postings/s`, met: perSecond >= TARGET_POSTINGS_PER_SECOND && Object.values(checks).every(Boolean) },
  };
  if (asJson) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    console.log(`\nLedger (${fmtRate(count)} charges by ${writers} writers against one balance; every ${RESEND_EVERY}th re-sends a source):\n`);
    console.log(
      renderTable(
        ['measure', 'value'],
        [
          ['postings', fmtRate(posted)],
          ['duplicates answered', fmtRate(duplicates)],
          ['refused (balance short)', fmtRate(refused)],
          ['seconds', seconds.toFixed(2)],
          ['postings/s', `${fmtRate(perSecond)} (target ≥ ${fmtRate(TARGET_POSTINGS_PER_SECOND)})`],
        ],
      ),
    );
    console.log('');
    console.log(
      renderTable(
        ['target', 'wanted', 'got', 'met'],
        [
          [
            'postings/s, 32 writers, one balance',
            `≥ ${fmtRate(TARGET_POSTINGS_PER_SECOND)}`,
            fmtRate(perSecond),
            perSecond >= TARGET_POSTINGS_PER_SECOND ? 'yes' : 'NO',
          ],
          ['no overdraft', 'lowest balance ≥ 0', `${fmtRate(lowest)} (final ${fmtRate(final)})`, checks.noOverdraft ? 'yes' : 'NO'],
          [
            'no double posting',
            'one posting per source',
            `${fmtRate(charged.length)} postings, ${fmtRate(sources.size)} sources`,
            checks.noDoublePosting ? 'yes' : 'NO',
          ],
          ['re-sends answered duplicate', fmtRate(resendsMade), fmtRate(resendsAnswered), checks.resendsAnsweredDuplicate ? 'yes' : 'NO'],
          ['refused only when short', 'final < one charge', fmtRate(final), checks.refusedOnlyWhenShort ? 'yes' : 'NO'],
        ],
      ),
    );
  }
  if (!result.target.met) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
