import type { Knex } from 'knex';

/**
 * The Qidian read model (projection `qidian-data-v1`, src/projections/qidian-data.ts):
 * the users' novel trackings (NovelTracking aggregate) and what their
 * workflows collected (ItemsCollected of kinds qidian.novel_snapshot and
 * qidian.ranking_entry). Collected data is per owner: every user's own runs.
 *
 * Redelivery adds nothing: trackings move only forward (`last_revision`),
 * snapshots are keyed by (owner, novel, captured_at) and ranking rows by
 * (owner, ranking, day, rank).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE qidian_trackings (
      id            text        PRIMARY KEY,
      stream_name   text        NOT NULL,
      user_id       text        NOT NULL,
      novel_id      text        NOT NULL,
      title         text,
      settings      jsonb       NOT NULL,
      status        text        NOT NULL CHECK (status IN ('tracking', 'untracked')),
      created_at    timestamptz NOT NULL,
      updated_at    timestamptz NOT NULL,
      untracked_at  timestamptz,
      last_revision bigint      NOT NULL,
      UNIQUE (user_id, novel_id)
    )`);
  await knex.raw('CREATE INDEX qidian_trackings_user_status ON qidian_trackings (user_id, status, created_at DESC)');

  await knex.raw(`
    CREATE TABLE qidian_novel_snapshots (
      owner_id         text        NOT NULL,
      novel_id         text        NOT NULL,
      captured_at      timestamptz NOT NULL,
      title            text        NOT NULL,
      author           text        NOT NULL,
      category         text        NOT NULL,
      status           text        NOT NULL,
      word_count       bigint      NOT NULL,
      chapters         integer     NOT NULL,
      clicks           bigint,
      recommendations  bigint,
      collections      bigint,
      monthly_tickets  bigint,
      last_updated_at  timestamptz,
      execution_id     text        NOT NULL,
      workflow_id      text        NOT NULL,
      PRIMARY KEY (owner_id, novel_id, captured_at)
    )`);

  await knex.raw(`
    CREATE TABLE qidian_novels (
      owner_id         text        NOT NULL,
      novel_id         text        NOT NULL,
      title            text        NOT NULL,
      author           text        NOT NULL,
      category         text        NOT NULL,
      status           text        NOT NULL,
      word_count       bigint      NOT NULL,
      chapters         integer     NOT NULL,
      last_captured_at timestamptz NOT NULL,
      PRIMARY KEY (owner_id, novel_id)
    )`);

  await knex.raw(`
    CREATE TABLE qidian_rankings (
      owner_id     text        NOT NULL,
      ranking      text        NOT NULL,
      day          date        NOT NULL,
      rank         integer     NOT NULL,
      captured_at  timestamptz NOT NULL,
      novel_id     text        NOT NULL,
      title        text        NOT NULL,
      author       text        NOT NULL,
      category     text        NOT NULL,
      sub_category text,
      status       text,
      score        double precision,
      score_label  text,
      execution_id text        NOT NULL,
      PRIMARY KEY (owner_id, ranking, day, rank)
    )`);
  await knex.raw('CREATE INDEX qidian_rankings_owner_novel ON qidian_rankings (owner_id, novel_id, day)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS qidian_rankings');
  await knex.raw('DROP TABLE IF EXISTS qidian_novels');
  await knex.raw('DROP TABLE IF EXISTS qidian_novel_snapshots');
  await knex.raw('DROP TABLE IF EXISTS qidian_trackings');
}
