import type { Knex } from 'knex';
import type { Consumer } from '../consumers/consumer.js';
import type { RecordedEvent } from '../event-store/port.js';
import { ledgerAccountEvents, type LedgerAccountEvent } from '../write-model/ledger-account/events.js';
import { ledgerEvents, type LedgerEvent } from '../write-model/ledger/events.js';
import { insertNewRows, upsertRows, type Row } from './sql-batch.js';

/**
 * Read model of the balance ledger (streams `ledger-{holder}_{YYYYMM}` and
 * `ledger_account-{holder}`): `ledger_postings` (one row per money movement
 * or credit-limit change), `ledger_periods` (a holder's month: opening,
 * balance, totals) and `ledger_accounts` (a holder's current month, balance,
 * credit limit and overage setting).
 *
 * A batch takes three to six statements whatever its size: the postings
 * inserted (ON CONFLICT DO NOTHING, returning the new ones: a redelivered
 * posting adds nothing to the totals), the months upserted with the totals
 * of the new postings added and the balance of the newest event set (guarded
 * by the stream revision; a month of which the batch saw only credit-limit
 * changes keeps its balance: a second statement leaves it out), the
 * accounts upserted likewise with their newest month's
 * balance (guarded by month, then revision) and their settings (guarded by
 * the account stream's revision); an account's updated_at is the time of
 * the newest event that changed it (never the clock: a rebuild gives it again).
 */
export const LEDGER_PROJECTION = 'ledger-v1';

const PERIOD_PREFIX = 'ledger-';
const ACCOUNT_PREFIX = 'ledger_account-';

interface PeriodFold {
  holder_kind: string;
  holder_id: string;
  period: string;
  status: string | null;
  opening_balance_cents: number | null;
  balance_cents: number;
  credit_limit_cents: number;
  last_revision: string;
  opened_at: string | null;
  closed_at: string | null;
}

export function createLedgerProjection(name: string = LEDGER_PROJECTION): Consumer {
  return {
    name,
    filter: { streamPrefixes: [PERIOD_PREFIX, ACCOUNT_PREFIX], eventTypes: [...ledgerEvents.types, ...ledgerAccountEvents.types] },
    async handle(events, { tx }) {
      const periods: { event: LedgerEvent; recorded: RecordedEvent }[] = [];
      const accounts: { event: LedgerAccountEvent; recorded: RecordedEvent }[] = [];
      for (const recorded of events) {
        if (recorded.streamName.startsWith(ACCOUNT_PREFIX) && ledgerAccountEvents.owns(recorded.type)) {
          accounts.push({ event: ledgerAccountEvents.decode(recorded), recorded });
        } else if (recorded.streamName.startsWith(PERIOD_PREFIX) && ledgerEvents.owns(recorded.type)) {
          periods.push({ event: ledgerEvents.decode(recorded), recorded });
        }
      }
      await writePeriods(tx, periods);
      await writeSettings(tx, accounts);
    },
  };
}

export const ledgerProjection: Consumer = createLedgerProjection();

function postingRow(event: LedgerEvent, recorded: RecordedEvent): Row | null {
  const base = {
    posting_id: recorded.id,
    holder_kind: event.data.holderKind,
    holder_id: event.data.holderId,
    period: event.data.period,
    revision: recorded.revision.toString(),
  };
  const none = {
    item: null,
    quantity: null,
    unit_price_cents: null,
    country: null,
    credit_limit_cents: null,
    source_event_id: null,
    source_stream: null,
    order_id: null,
  };
  switch (event.type) {
    case 'ChargePosted': {
      const d = event.data;
      return {
        ...base,
        ...none,
        kind: 'charge',
        item: d.item,
        quantity: d.quantity,
        unit_price_cents: d.unitPriceCents,
        country: d.country,
        amount_cents: -d.amountCents,
        balance_after_cents: d.balanceAfterCents,
        source_event_id: d.sourceEventId,
        source_stream: d.sourceStream,
        reason: d.reason,
        posted_at: d.postedAt,
      };
    }
    case 'FundsDeposited': {
      const d = event.data;
      return {
        ...base,
        ...none,
        kind: 'deposit',
        amount_cents: d.amountCents,
        balance_after_cents: d.balanceAfterCents,
        order_id: d.source.orderId,
        source_stream: `payment-${d.source.orderId}`,
        reason: d.reason,
        posted_at: d.depositedAt,
      };
    }
    case 'FundsWithdrawn': {
      const d = event.data;
      return {
        ...base,
        ...none,
        kind: 'withdrawal',
        amount_cents: -d.amountCents,
        balance_after_cents: d.balanceAfterCents,
        order_id: d.source.orderId,
        source_stream: `payment-${d.source.orderId}`,
        reason: d.reason,
        posted_at: d.withdrawnAt,
      };
    }
    case 'CreditLimitChanged':
      return null; // kept on the month; the posting row has no balance of its own
    default:
      return null;
  }
}

async function writePeriods(tx: Knex.Transaction, events: { event: LedgerEvent; recorded: RecordedEvent }[]): Promise<void> {
  if (events.length === 0) return;
  const postings: Row[] = [];
  const folds = new Map<string, PeriodFold>();
  // per month, the time of its newest event in the batch: the account's updated_at when that month is its newest
  const latestAt = new Map<string, string>();
  const keyOf = (d: { holderKind: string; holderId: string; period: string }) => `${d.holderKind}\u0000${d.holderId}\u0000${d.period}`;
  for (const { event, recorded } of events) {
    const row = postingRow(event, recorded);
    if (row) postings.push(row);
    const d = event.data;
    const key = keyOf(d);
    let fold = folds.get(key);
    if (!fold) {
      fold = {
        holder_kind: d.holderKind,
        holder_id: d.holderId,
        period: d.period,
        status: null,
        opening_balance_cents: null,
        balance_cents: 0,
        credit_limit_cents: 0,
        last_revision: '-1',
        opened_at: null,
        closed_at: null,
      };
      folds.set(key, fold);
    }
    // events of a stream come in revision order: the last one seen sets the balance
    fold.last_revision = recorded.revision.toString();
    latestAt.set(key, timeOf(event));
    switch (event.type) {
      case 'LedgerPeriodOpened':
        fold.status = 'open';
        fold.opening_balance_cents = event.data.openingBalanceCents;
        fold.balance_cents = event.data.openingBalanceCents;
        fold.credit_limit_cents = event.data.creditLimitCents;
        fold.opened_at = event.data.openedAt;
        break;
      case 'ChargePosted':
      case 'FundsDeposited':
      case 'FundsWithdrawn':
        fold.balance_cents = event.data.balanceAfterCents;
        break;
      case 'CreditLimitChanged':
        fold.credit_limit_cents = event.data.creditLimitCents;
        break;
      case 'LedgerPeriodClosed':
        fold.status = 'closed';
        fold.balance_cents = event.data.closingBalanceCents;
        fold.credit_limit_cents = event.data.creditLimitCents;
        fold.closed_at = event.data.closedAt;
        break;
    }
  }
  // a credit limit is the month's until changed: -1 where the batch did not see it (the row's stays)
  const limitSeen = new Set<string>();
  for (const { event } of events)
    if (event.type === 'LedgerPeriodOpened' || event.type === 'CreditLimitChanged' || event.type === 'LedgerPeriodClosed') limitSeen.add(keyOf(event.data));
  for (const [key, fold] of folds) if (!limitSeen.has(key)) fold.credit_limit_cents = -1;
  // so is the balance: a month of which the batch saw only limit changes keeps the row's (its writes leave it out)
  const balanceSeen = new Set<string>();
  for (const { event } of events) if (event.type !== 'CreditLimitChanged') balanceSeen.add(keyOf(event.data));
  const withBalance = (r: { holder_kind: string; holder_id: string; period: string }) =>
    balanceSeen.has(keyOf({ holderKind: r.holder_kind, holderId: r.holder_id, period: r.period }));

  const fresh = await insertNewRows<{ holder_kind: string; holder_id: string; period: string; kind: string; amount_cents: string }>(
    tx,
    'ledger_postings',
    postings,
    {
      conflict: ['posting_id'],
      returning: ['holder_kind', 'holder_id', 'period', 'kind', 'amount_cents'],
    },
  );
  const totals = new Map<string, { deposits: number; withdrawals: number; charges: number; postings: number }>();
  for (const p of fresh) {
    const key = keyOf({ holderKind: p.holder_kind, holderId: p.holder_id, period: p.period });
    const t = totals.get(key) ?? { deposits: 0, withdrawals: 0, charges: 0, postings: 0 };
    const amount = Number(p.amount_cents);
    if (p.kind === 'deposit') t.deposits += amount;
    else if (p.kind === 'withdrawal') t.withdrawals -= amount;
    else t.charges -= amount;
    t.postings += 1;
    totals.set(key, t);
  }
  const rows = [...folds.entries()].map(([key, f]) => {
    const t = totals.get(key) ?? { deposits: 0, withdrawals: 0, charges: 0, postings: 0 };
    return {
      ...f,
      status: f.status ?? 'open',
      opening_balance_cents: f.opening_balance_cents ?? 0,
      deposits_cents: t.deposits,
      withdrawals_cents: t.withdrawals,
      charges_cents: t.charges,
      postings: t.postings,
    };
  });
  const newer = 'excluded.last_revision > t.last_revision';
  const periodUpdate = (balance: boolean) => ({
    status: `CASE WHEN ${newer} THEN excluded.status ELSE t.status END`,
    opening_balance_cents: `CASE WHEN excluded.opened_at IS NOT NULL THEN excluded.opening_balance_cents ELSE t.opening_balance_cents END`,
    opened_at: 'coalesce(t.opened_at, excluded.opened_at)',
    closed_at: 'coalesce(t.closed_at, excluded.closed_at)',
    ...(balance ? { balance_cents: `CASE WHEN ${newer} THEN excluded.balance_cents ELSE t.balance_cents END` } : {}),
    credit_limit_cents: `CASE WHEN ${newer} AND excluded.credit_limit_cents >= 0 THEN excluded.credit_limit_cents ELSE t.credit_limit_cents END`,
    deposits_cents: 't.deposits_cents + excluded.deposits_cents',
    withdrawals_cents: 't.withdrawals_cents + excluded.withdrawals_cents',
    charges_cents: 't.charges_cents + excluded.charges_cents',
    postings: 't.postings + excluded.postings',
    last_revision: 'GREATEST(t.last_revision, excluded.last_revision)',
  });
  const conflict = ['holder_kind', 'holder_id', 'period'];
  for (const balance of [true, false])
    await upsertRows(
      tx,
      'ledger_periods',
      rows.filter((r) => withBalance(r) === balance),
      { conflict, update: periodUpdate(balance) },
    );
  // the account: its newest month's balance and limit
  const newest = new Map<string, (typeof rows)[number]>();
  for (const r of rows) {
    const key = `${r.holder_kind}\u0000${r.holder_id}`;
    const seen = newest.get(key);
    if (!seen || r.period > seen.period) newest.set(key, r);
  }
  const accounts = [...newest.values()].map((r) => ({
    holder_kind: r.holder_kind,
    holder_id: r.holder_id,
    period: r.period,
    balance_cents: r.balance_cents,
    credit_limit_cents: r.credit_limit_cents,
    last_revision: r.last_revision,
    overage: false,
    settings_revision: -1,
    updated_at: latestAt.get(keyOf({ holderKind: r.holder_kind, holderId: r.holder_id, period: r.period })),
  }));
  for (const balance of [true, false]) {
    await upsertRows(
      tx,
      'ledger_accounts',
      accounts.filter((r) => withBalance(r) === balance),
      {
        conflict: ['holder_kind', 'holder_id'],
        update: {
          period: 'excluded.period',
          ...(balance ? { balance_cents: 'excluded.balance_cents' } : {}),
          credit_limit_cents: 'CASE WHEN excluded.credit_limit_cents >= 0 THEN excluded.credit_limit_cents ELSE t.credit_limit_cents END',
          last_revision: 'excluded.last_revision',
          // the newest time of what changed the row (its month or its settings), whichever batch brought it
          updated_at: 'GREATEST(t.updated_at, excluded.updated_at)',
        },
        guard: 't.period IS NULL OR excluded.period > t.period OR (excluded.period = t.period AND excluded.last_revision > t.last_revision)',
      },
    );
  }
}

/** When the event happened. */
function timeOf(event: LedgerEvent): string {
  switch (event.type) {
    case 'LedgerPeriodOpened':
      return event.data.openedAt;
    case 'FundsDeposited':
      return event.data.depositedAt;
    case 'FundsWithdrawn':
      return event.data.withdrawnAt;
    case 'ChargePosted':
      return event.data.postedAt;
    case 'CreditLimitChanged':
      return event.data.changedAt;
    case 'LedgerPeriodClosed':
      return event.data.closedAt;
  }
}

async function writeSettings(tx: Knex.Transaction, events: { event: LedgerAccountEvent; recorded: RecordedEvent }[]): Promise<void> {
  const latest = new Map<string, Row>();
  for (const { event, recorded } of events) {
    if (event.type !== 'LedgerSettingsChanged') continue;
    const d = event.data;
    latest.set(`${d.holderKind}\u0000${d.holderId}`, {
      holder_kind: d.holderKind,
      holder_id: d.holderId,
      period: null,
      balance_cents: 0,
      credit_limit_cents: 0,
      last_revision: -1,
      overage: d.overage,
      settings_revision: recorded.revision.toString(),
      updated_at: d.changedAt,
    });
  }
  await upsertRows(tx, 'ledger_accounts', [...latest.values()], {
    conflict: ['holder_kind', 'holder_id'],
    update: { overage: 'excluded.overage', settings_revision: 'excluded.settings_revision', updated_at: 'GREATEST(t.updated_at, excluded.updated_at)' },
    guard: 'excluded.settings_revision > t.settings_revision',
  });
}
