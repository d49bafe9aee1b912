import type { Knex } from 'knex';

/**
 * The read models of content review (src/projections/reviews.ts):
 *
 * - `reviews` (projection `reviews-v1`): one row per `review-{id}` stream,
 *   for GET /api/v1/reviews: the publication and article version reviewed,
 *   its owner, platform, region and title, the pre-review's hits (and the
 *   content when the opener passed it), the status (open, approved,
 *   rejected, withdrawn), who holds the claim, the decision and how long it
 *   waited.
 * - `review_rules` (projection `review-rules-v1`): one row per rule of a
 *   `review_rule_set-{scope}` stream, for GET /api/v1/review-rules; a removed
 *   rule stays as a tombstone (`removed`, phrases emptied) so a late copy of
 *   its older events cannot bring it back.
 *
 * `last_revision` is the stream revision a row reflects: an event at or
 * below it is not applied again.
 *
 * Indexes: the queue by status, oldest first (`reviews_queue`) and per
 * platform; an author's reviews, newest first; a scope's rules by name.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE reviews (
      id              text        PRIMARY KEY,
      publication_id  text        NOT NULL,
      article_id      text        NOT NULL,
      article_version integer     NOT NULL,
      owner_id        text        NOT NULL,
      platform        text        NOT NULL,
      region          text,
      title           text        NOT NULL,
      status          text        NOT NULL CHECK (status IN ('open', 'approved', 'rejected', 'withdrawn')),
      hit_count       integer     NOT NULL,
      hits            jsonb       NOT NULL,
      content         jsonb,
      opened_at       timestamptz NOT NULL,
      claimed_by      text,
      claimed_at      timestamptz,
      decided_by      text,
      decided_at      timestamptz,
      comment         text,
      waited_seconds  integer,
      last_revision   bigint      NOT NULL
    )`);
  await knex.raw('CREATE INDEX reviews_queue ON reviews (status, opened_at, id)');
  await knex.raw('CREATE INDEX reviews_platform_queue ON reviews (platform, status, opened_at, id)');
  await knex.raw('CREATE INDEX reviews_owner_newest ON reviews (owner_id, opened_at DESC, id DESC)');

  await knex.raw(`
    CREATE TABLE review_rules (
      scope          text        NOT NULL,
      id             text        NOT NULL,
      kind           text        NOT NULL,
      name           text        NOT NULL,
      category       text,
      phrases        text[]      NOT NULL DEFAULT '{}',
      phrase_count   integer     NOT NULL DEFAULT 0,
      platforms      text[]      NOT NULL DEFAULT '{}',
      regions        text[]      NOT NULL DEFAULT '{}',
      params         jsonb       NOT NULL DEFAULT '{}',
      enabled        boolean     NOT NULL,
      removed        boolean     NOT NULL DEFAULT false,
      created_at     timestamptz NOT NULL,
      updated_at     timestamptz NOT NULL,
      updated_by     text        NOT NULL,
      last_revision  bigint      NOT NULL,
      PRIMARY KEY (scope, id)
    )`);
  await knex.raw('CREATE INDEX review_rules_scope_name ON review_rules (scope, name, id) WHERE NOT removed');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS review_rules');
  await knex.raw('DROP TABLE IF EXISTS reviews');
}
