import type { Knex } from 'knex';
import type { BalanceHolder } from '../application/ports/ledger.js';
import { pageOf, type Page, type PageRequest } from './page.js';
import { selectPage } from './page-query.js';

/** Queries over the ledger's read model (projection ledger-v1, src/projections/ledger.ts). */

export interface LedgerAccountView {
  holder: { kind: 'organization' | 'user'; id: string };
  /** the current month (YYYY-MM); null before the first posting */
  period: string | null;
  balance_cents: number;
  credit_limit_cents: number;
  /** balance + credit limit, never below 0: what charges may still take */
  available_cents: number;
  overage: boolean;
  currency: 'CNY';
}

export async function ledgerAccount(knex: Knex, holder: BalanceHolder): Promise<LedgerAccountView> {
  const row = (await knex('ledger_accounts')
    .where({ holder_kind: holder.kind, holder_id: holder.id })
    .first('period', 'balance_cents', 'credit_limit_cents', 'overage')) as
    | { period: string | null; balance_cents: string; credit_limit_cents: string; overage: boolean }
    | undefined;
  const balance = Number(row?.balance_cents ?? 0);
  const limit = Number(row?.credit_limit_cents ?? 0);
  return {
    holder: { kind: holder.kind, id: holder.id },
    period: row?.period ?? null,
    balance_cents: balance,
    credit_limit_cents: limit,
    available_cents: Math.max(0, balance + limit),
    overage: row?.overage ?? false,
    currency: 'CNY',
  };
}

export const POSTING_KINDS = ['deposit', 'withdrawal', 'charge'] as const;

export interface PostingView {
  posting_id: string;
  period: string;
  kind: (typeof POSTING_KINDS)[number];
  item: string | null;
  quantity: number | null;
  unit_price_cents: number | null;
  country: string | null;
  /** signed: deposits positive, charges and withdrawals negative */
  amount_cents: number;
  balance_after_cents: number;
  reason: string;
  source_event_id: string | null;
  source_stream: string | null;
  order_id: string | null;
  posted_at: string;
}

const POSTING_COLUMNS = [
  'posting_id',
  'period',
  'kind',
  'item',
  'quantity',
  'unit_price_cents',
  'country',
  'amount_cents',
  'balance_after_cents',
  'reason',
  'source_event_id',
  'source_stream',
  'order_id',
  'posted_at',
  'revision',
] as const;

function postingView(row: Record<string, unknown>): PostingView {
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    posting_id: String(row.posting_id),
    period: String(row.period),
    kind: row.kind as PostingView['kind'],
    item: (row.item as string | null) ?? null,
    quantity: num(row.quantity),
    unit_price_cents: num(row.unit_price_cents),
    country: (row.country as string | null) ?? null,
    amount_cents: Number(row.amount_cents),
    balance_after_cents: Number(row.balance_after_cents),
    reason: String(row.reason),
    source_event_id: (row.source_event_id as string | null) ?? null,
    source_stream: (row.source_stream as string | null) ?? null,
    order_id: (row.order_id as string | null) ?? null,
    posted_at: new Date(row.posted_at as string).toISOString(),
  };
}

export interface PostingFilters {
  period?: string | undefined;
  kind?: PostingView['kind'] | undefined;
  item?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
}

/** The holder's postings, the newest first. */
export async function listPostings(knex: Knex, holder: BalanceHolder, filters: PostingFilters, page: PageRequest): Promise<Page<PostingView>> {
  const query = knex('ledger_postings')
    .where({ holder_kind: holder.kind, holder_id: holder.id })
    .modify((q) => {
      if (filters.period) q.where('period', filters.period);
      if (filters.kind) q.where('kind', filters.kind);
      if (filters.item) q.where('item', filters.item);
      if (filters.from) q.where('posted_at', '>=', filters.from);
      if (filters.to) q.where('posted_at', '<', filters.to);
    })
    .select(...POSTING_COLUMNS)
    .orderBy([
      { column: 'posted_at', order: 'desc' },
      { column: 'revision', order: 'desc' },
    ]);
  const { rows, total } = await selectPage<Record<string, unknown>>(knex, query, page);
  return pageOf(rows.map(postingView), page, total);
}

export interface StatementSummary {
  period: string;
  status: 'open' | 'closed';
  opening_balance_cents: number;
  /** the closing balance once closed; the balance so far while open */
  balance_cents: number;
  credit_limit_cents: number;
  deposits_cents: number;
  withdrawals_cents: number;
  charges_cents: number;
  postings: number;
}

function summaryView(row: Record<string, unknown>): StatementSummary {
  return {
    period: String(row.period),
    status: row.status as StatementSummary['status'],
    opening_balance_cents: Number(row.opening_balance_cents),
    balance_cents: Number(row.balance_cents),
    credit_limit_cents: Number(row.credit_limit_cents),
    deposits_cents: Number(row.deposits_cents),
    withdrawals_cents: Number(row.withdrawals_cents),
    charges_cents: Number(row.charges_cents),
    postings: Number(row.postings),
  };
}

const PERIOD_COLUMNS = [
  'period',
  'status',
  'opening_balance_cents',
  'balance_cents',
  'credit_limit_cents',
  'deposits_cents',
  'withdrawals_cents',
  'charges_cents',
  'postings',
] as const;

/** The holder's months, the newest first (at most 10 years of them). */
export async function listStatements(knex: Knex, holder: BalanceHolder): Promise<StatementSummary[]> {
  const rows = await knex('ledger_periods')
    .where({ holder_kind: holder.kind, holder_id: holder.id })
    .select(...PERIOD_COLUMNS)
    .orderBy('period', 'desc')
    .limit(120);
  return rows.map(summaryView);
}

/** Most postings a statement lists (a month beyond it says so: `truncated`). */
export const STATEMENT_MAX_POSTINGS = 20_000;

export interface Statement extends StatementSummary {
  holder: { kind: 'organization' | 'user'; id: string };
  /** by item: units and amount charged */
  charges_by_item: { item: string; quantity: number; amount_cents: number }[];
  postings: number;
  lines: PostingView[];
  truncated: boolean;
}

/** One month's statement: its totals, charges by item and postings in order; undefined when the holder has no such month. */
export async function statement(knex: Knex, holder: BalanceHolder, period: string): Promise<Statement | undefined> {
  const row = await knex('ledger_periods')
    .where({ holder_kind: holder.kind, holder_id: holder.id, period })
    .first(...PERIOD_COLUMNS);
  if (!row) return undefined;
  const where = { holder_kind: holder.kind, holder_id: holder.id, period };
  const [lines, byItem] = await Promise.all([
    knex('ledger_postings')
      .where(where)
      .select(...POSTING_COLUMNS)
      .orderBy('revision', 'asc')
      .limit(STATEMENT_MAX_POSTINGS + 1),
    knex('ledger_postings')
      .where({ ...where, kind: 'charge' })
      .groupBy('item')
      .select('item', knex.raw('sum(quantity)::bigint AS quantity'), knex.raw('-sum(amount_cents)::bigint AS amount_cents'))
      .orderBy('item'),
  ]);
  return {
    holder: { kind: holder.kind, id: holder.id },
    ...summaryView(row),
    charges_by_item: byItem.map((r: { item: string; quantity: string; amount_cents: string }) => ({
      item: r.item,
      quantity: Number(r.quantity),
      amount_cents: Number(r.amount_cents),
    })),
    lines: lines.slice(0, STATEMENT_MAX_POSTINGS).map(postingView),
    truncated: lines.length > STATEMENT_MAX_POSTINGS,
  };
}

// ---------------------------------------------------------------- operators' profit

/** What a use costs us, in cents (config PROXY_COST_PER_USE_CENTS, PROXY_COSTS_CENTS, SMS_COST_CENTS_DEFAULT, SMS_COSTS_CENTS). */
export interface CostPrices {
  proxyPerUse: number;
  proxies: Readonly<Record<string, number>>;
  smsDefault: number;
  sms: Readonly<Record<string, number>>;
}

export interface ProfitRow {
  /** YYYY-MM-DD or YYYY-MM */
  period: string;
  revenue_cents: number;
  plan_payments_cents: number;
  plan_refunds_cents: number;
  ledger_charges_cents: number;
  cost_cents: number;
  proxy_cost_cents: number;
  proxy_uses: number;
  sms_cost_cents: number;
  sms_segments: number;
  profit_cents: number;
  /** top-ups paid less refunded: cash held for customers, not revenue */
  top_ups_cents: number;
}

/** Revenue (plan payments less refunds, ledger charges) against cost (proxy uses, SMS sent) per day or month, days [from, to]. */
export async function profit(knex: Knex, range: { from: string; to: string; groupBy: 'day' | 'month' }, prices: CostPrices): Promise<ProfitRow[]> {
  const bucket = range.groupBy === 'day' ? "to_char(day, 'YYYY-MM-DD')" : "to_char(day, 'YYYY-MM')";
  const rows = (await knex('finance_records')
    .whereBetween('day', [range.from, range.to])
    .groupByRaw(`1, kind, proxy_id, country`)
    .select(
      knex.raw(`${bucket} AS period`),
      'kind',
      'proxy_id',
      'country',
      knex.raw('sum(amount_cents)::bigint AS amount'),
      knex.raw('sum(units)::bigint AS units'),
    )
    .orderByRaw('1')) as { period: string; kind: string; proxy_id: string | null; country: string | null; amount: string; units: string }[];
  const out = new Map<string, ProfitRow>();
  for (const r of rows) {
    let p = out.get(r.period);
    if (!p) {
      p = {
        period: r.period,
        revenue_cents: 0,
        plan_payments_cents: 0,
        plan_refunds_cents: 0,
        ledger_charges_cents: 0,
        cost_cents: 0,
        proxy_cost_cents: 0,
        proxy_uses: 0,
        sms_cost_cents: 0,
        sms_segments: 0,
        profit_cents: 0,
        top_ups_cents: 0,
      };
      out.set(r.period, p);
    }
    const amount = Number(r.amount);
    const units = Number(r.units);
    switch (r.kind) {
      case 'plan_payment':
        p.plan_payments_cents += amount;
        break;
      case 'plan_refund':
        p.plan_refunds_cents += amount;
        break;
      case 'ledger_charge':
        p.ledger_charges_cents += amount;
        break;
      case 'top_up':
      case 'top_up_refund':
        p.top_ups_cents += amount;
        break;
      case 'proxy_use':
        p.proxy_uses += units;
        p.proxy_cost_cents += units * (r.proxy_id !== null && Object.hasOwn(prices.proxies, r.proxy_id) ? prices.proxies[r.proxy_id]! : prices.proxyPerUse);
        break;
      case 'sms_message':
        p.sms_segments += units;
        p.sms_cost_cents += units * (r.country !== null && Object.hasOwn(prices.sms, r.country) ? prices.sms[r.country]! : prices.smsDefault);
        break;
    }
  }
  for (const p of out.values()) {
    p.revenue_cents = p.plan_payments_cents + p.plan_refunds_cents + p.ledger_charges_cents;
    p.cost_cents = p.proxy_cost_cents + p.sms_cost_cents;
    p.profit_cents = p.revenue_cents - p.cost_cents;
  }
  return [...out.values()];
}
