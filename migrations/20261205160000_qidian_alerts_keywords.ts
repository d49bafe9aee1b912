import type { Knex } from 'knex';

/**
 * Qidian alerts and keyword watches.
 *
 * Read model `qidian-alerts-v1` (src/projections/qidian-alerts.ts):
 * - `qidian_alerts`: one row per alert rule (`novel_alert-{id}`), deleted
 *   rules kept with status `deleted`; `last_revision` is the stream's
 *   revision last applied;
 * - `qidian_keywords`: one row per keyword watch (`qidian_keyword-{id}`),
 *   unwatched rows kept (a re-watch revives them).
 *
 * Process managers' own tables (written outside their batch transaction,
 * every write idempotent):
 * - `pm_qidian_watchlist` (pm-qidian-watchlist): per tracking and keyword
 *   watch stream, what a watch-list run collects (kind novel | keyword),
 *   active or not, guarded by the stream revision;
 * - `pm_qidian_alert_rules` (pm-qidian-alerts): the alert rules by novel;
 * - `pm_qidian_novel_marks` (pm-qidian-alerts): per owner and novel the
 *   latest snapshot seen (chapters, words, status), what the next one is
 *   compared with;
 * - `pm_qidian_keyword_seen` (pm-qidian-alerts): per owner and keyword the
 *   books a search already found (the first search of a keyword is the
 *   baseline: nothing is new yet).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE qidian_alerts (
      id            text        PRIMARY KEY,
      user_id       text        NOT NULL,
      novel_id      text        NOT NULL,
      kind          text        NOT NULL,
      words         bigint,
      status        text        NOT NULL,
      created_at    timestamptz NOT NULL,
      updated_at    timestamptz NOT NULL,
      last_revision bigint      NOT NULL
    )`);
  await knex.raw(`CREATE INDEX qidian_alerts_user_newest ON qidian_alerts (user_id, created_at DESC, id DESC) WHERE status = 'active'`);
  await knex.raw(`
    CREATE TABLE qidian_keywords (
      id            text        PRIMARY KEY,
      user_id       text        NOT NULL,
      keyword       text        NOT NULL,
      status        text        NOT NULL,
      created_at    timestamptz NOT NULL,
      updated_at    timestamptz NOT NULL,
      last_revision bigint      NOT NULL
    )`);
  await knex.raw(`CREATE INDEX qidian_keywords_user_newest ON qidian_keywords (user_id, created_at DESC, id DESC) WHERE status = 'watching'`);

  await knex.raw(`
    CREATE TABLE pm_qidian_watchlist (
      stream_id     text        PRIMARY KEY,
      user_id       text        NOT NULL,
      kind          text        NOT NULL,
      value         text        NOT NULL,
      active        boolean     NOT NULL,
      since         timestamptz NOT NULL,
      last_revision bigint      NOT NULL
    )`);
  await knex.raw('CREATE INDEX pm_qidian_watchlist_user ON pm_qidian_watchlist (user_id, kind, since, value) WHERE active');
  await knex.raw(`
    CREATE TABLE pm_qidian_alert_rules (
      alert_id      text        PRIMARY KEY,
      user_id       text        NOT NULL,
      novel_id      text        NOT NULL,
      kind          text        NOT NULL,
      words         bigint,
      active        boolean     NOT NULL,
      last_revision bigint      NOT NULL
    )`);
  await knex.raw('CREATE INDEX pm_qidian_alert_rules_novel ON pm_qidian_alert_rules (user_id, novel_id) WHERE active');
  await knex.raw(`
    CREATE TABLE pm_qidian_novel_marks (
      user_id       text        NOT NULL,
      novel_id      text        NOT NULL,
      chapters      integer     NOT NULL,
      word_count    bigint      NOT NULL,
      status        text        NOT NULL,
      captured_at   timestamptz NOT NULL,
      PRIMARY KEY (user_id, novel_id)
    )`);
  await knex.raw(`
    CREATE TABLE pm_qidian_keyword_seen (
      user_id       text        NOT NULL,
      keyword       text        NOT NULL,
      novel_id      text        NOT NULL,
      first_seen_at timestamptz NOT NULL,
      PRIMARY KEY (user_id, keyword, novel_id)
    )`);
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['pm_qidian_keyword_seen', 'pm_qidian_novel_marks', 'pm_qidian_alert_rules', 'pm_qidian_watchlist', 'qidian_keywords', 'qidian_alerts']) {
    await knex.raw(`DROP TABLE IF EXISTS ${table}`);
  }
}
