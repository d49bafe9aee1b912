import type { Knex } from 'knex';

/**
 * The balance ledger's read model (projection `ledger-v1`, src/projections/ledger.ts)
 * and the operators' finance records (projection `finance-v1`, src/projections/finance.ts):
 *
 * - `ledger_accounts`: one row per holder (organization or user): the current
 *   month, its balance and credit limit, the overage setting (GET /ledger).
 * - `ledger_periods`: one row per holder and month: opening and current (or
 *   closing) balance, totals of deposits, withdrawals and charges (statements).
 * - `ledger_postings`: every deposit, withdrawal, charge and credit-limit
 *   change, with its reason and source (GET /ledger/postings, statements).
 * - `finance_records`: one row per fact of revenue or cost (plan payments and
 *   refunds, ledger charges, top-ups, proxy uses, SMS sent), by day in
 *   QUOTA_TIME_ZONE (GET /admin/finance/profit).
 * - `finance_sms`: each requested SMS's country and segments, for its cost once sent.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE ledger_accounts (
      holder_kind         text        NOT NULL,
      holder_id           text        NOT NULL,
      period              text,
      balance_cents       bigint      NOT NULL DEFAULT 0,
      credit_limit_cents  bigint      NOT NULL DEFAULT 0,
      last_revision       bigint      NOT NULL DEFAULT -1,
      overage             boolean     NOT NULL DEFAULT false,
      settings_revision   bigint      NOT NULL DEFAULT -1,
      updated_at          timestamptz NOT NULL,
      PRIMARY KEY (holder_kind, holder_id)
    );
    CREATE TABLE ledger_periods (
      holder_kind           text        NOT NULL,
      holder_id             text        NOT NULL,
      period                text        NOT NULL,
      status                text        NOT NULL,
      opening_balance_cents bigint      NOT NULL DEFAULT 0,
      balance_cents         bigint      NOT NULL DEFAULT 0,
      credit_limit_cents    bigint      NOT NULL DEFAULT 0,
      deposits_cents        bigint      NOT NULL DEFAULT 0,
      withdrawals_cents     bigint      NOT NULL DEFAULT 0,
      charges_cents         bigint      NOT NULL DEFAULT 0,
      postings              integer     NOT NULL DEFAULT 0,
      last_revision         bigint      NOT NULL DEFAULT -1,
      opened_at             timestamptz,
      closed_at             timestamptz,
      PRIMARY KEY (holder_kind, holder_id, period)
    );
    CREATE TABLE ledger_postings (
      posting_id          text        PRIMARY KEY,
      holder_kind         text        NOT NULL,
      holder_id           text        NOT NULL,
      period              text        NOT NULL,
      revision            bigint      NOT NULL,
      kind                text        NOT NULL,
      item                text,
      quantity            integer,
      unit_price_cents    bigint,
      country             text,
      amount_cents        bigint      NOT NULL,
      balance_after_cents bigint      NOT NULL,
      credit_limit_cents  bigint,
      source_event_id     text,
      source_stream       text,
      order_id            text,
      reason              text        NOT NULL,
      posted_at           timestamptz NOT NULL
    );
    CREATE INDEX ledger_postings_holder_period ON ledger_postings (holder_kind, holder_id, period, revision);
    CREATE INDEX ledger_postings_holder_time ON ledger_postings (holder_kind, holder_id, posted_at DESC, revision DESC);
    CREATE TABLE finance_records (
      record_id     text        PRIMARY KEY,
      kind          text        NOT NULL,
      day           date        NOT NULL,
      at            timestamptz NOT NULL,
      amount_cents  bigint      NOT NULL DEFAULT 0,
      units         integer     NOT NULL DEFAULT 0,
      proxy_id      text,
      country       text
    );
    CREATE INDEX finance_records_day ON finance_records (day, kind);
    CREATE TABLE finance_sms (
      message_id  text    PRIMARY KEY,
      country     text    NOT NULL,
      segments    integer NOT NULL
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS finance_sms, finance_records, ledger_postings, ledger_periods, ledger_accounts');
}
