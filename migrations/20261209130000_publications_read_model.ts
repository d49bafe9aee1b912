import type { Knex } from 'knex';

/**
 * The read model of publications (projection `publications-v1`,
 * src/projections/publications.ts) for GET /api/v1/publications[/{id}]:
 *
 * - `publications`: one row per `publication-{id}` stream: the target
 *   (article version, account, platform), the status, the review (its id,
 *   state and the pre-review's hit count), attempts and the last error, the
 *   post (id, URL, time), the failure, and the latest metrics.
 *   `last_revision` is the stream revision the row reflects: an event at or
 *   below it is not applied again.
 * - `publication_history`: one row per lifecycle event (metrics readings
 *   aside), keyed by the stream revision, so a repeat inserts nothing; a
 *   publication's stream is bounded (a few tens of events), so is this.
 *
 * Indexes: a user's publications newest first, and by status, article and
 * account (the list's filters).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE publications (
      id                   text        PRIMARY KEY,
      owner_id             text        NOT NULL,
      article_id           text        NOT NULL,
      article_version      integer     NOT NULL,
      account_id           text        NOT NULL,
      platform             text        NOT NULL,
      region               text        NOT NULL,
      title                text        NOT NULL,
      status               text        NOT NULL,
      scheduled_at         timestamptz,
      pre_review           text,
      review_id            text,
      review_status        text,
      review_hits          integer,
      attempts             integer     NOT NULL DEFAULT 0,
      last_error           text,
      next_attempt_at      timestamptz,
      post_id              text,
      post_url             text,
      published_at         timestamptz,
      recovered            boolean     NOT NULL DEFAULT false,
      failure_code         text,
      failure_reason       text,
      unpublish_requested  boolean     NOT NULL DEFAULT false,
      views                bigint,
      likes                bigint,
      comments             bigint,
      metrics_extra        jsonb,
      metrics_read_at      timestamptz,
      requested_at         timestamptz NOT NULL,
      updated_at           timestamptz NOT NULL,
      last_revision        bigint      NOT NULL
    )`);
  await knex.raw('CREATE INDEX publications_owner_newest ON publications (owner_id, requested_at DESC, id DESC)');
  await knex.raw('CREATE INDEX publications_owner_status ON publications (owner_id, status, requested_at DESC)');
  await knex.raw('CREATE INDEX publications_owner_article ON publications (owner_id, article_id, requested_at DESC)');
  await knex.raw('CREATE INDEX publications_owner_account ON publications (owner_id, account_id, requested_at DESC)');
  await knex.raw(`
    CREATE TABLE publication_history (
      publication_id  text        NOT NULL,
      revision        bigint      NOT NULL,
      event           text        NOT NULL,
      status          text        NOT NULL,
      at              timestamptz NOT NULL,
      detail          jsonb       NOT NULL DEFAULT '{}'::jsonb,
      PRIMARY KEY (publication_id, revision)
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS publication_history');
  await knex.raw('DROP TABLE IF EXISTS publications');
}
