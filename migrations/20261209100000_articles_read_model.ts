import type { Knex } from 'knex';

/**
 * The read model of articles and uploaded media (projection `articles-v1`,
 * src/projections/articles.ts), for /api/v1/articles and /api/v1/media:
 *
 * - `articles`: one row per `article-{id}` stream, its current version's
 *   title, summary, tags and word count (the body is in article_versions);
 *   `status` active or deleted.
 * - `article_versions`: every version's whole content, by (article, version).
 * - `media`: one row per `media-{id}` stream (the bytes are in media storage
 *   under `storage_key`).
 *
 * `last_revision` is the stream revision a row reflects: an event at or
 * below it is not applied again.
 *
 * Indexes: a user's articles by last change (`articles_owner_updated`), by
 * tag (`articles_tags`, GIN); a user's media, newest first.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE articles (
      id              text        PRIMARY KEY,
      owner_id        text        NOT NULL,
      status          text        NOT NULL CHECK (status IN ('active', 'deleted')),
      version         integer     NOT NULL,
      title           text        NOT NULL,
      summary         text,
      tags            text[]      NOT NULL DEFAULT '{}',
      cover_media_id  text,
      image_count     integer     NOT NULL DEFAULT 0,
      word_count      integer     NOT NULL DEFAULT 0,
      created_at      timestamptz NOT NULL,
      updated_at      timestamptz NOT NULL,
      deleted_at      timestamptz,
      last_revision   bigint      NOT NULL
    )`);
  await knex.raw('CREATE INDEX articles_owner_updated ON articles (owner_id, updated_at DESC, id DESC)');
  await knex.raw('CREATE INDEX articles_tags ON articles USING gin (tags)');

  await knex.raw(`
    CREATE TABLE article_versions (
      article_id      text        NOT NULL,
      version         integer     NOT NULL,
      owner_id        text        NOT NULL,
      title           text        NOT NULL,
      body            text        NOT NULL,
      summary         text,
      tags            text[]      NOT NULL DEFAULT '{}',
      cover_media_id  text,
      image_media_ids text[]      NOT NULL DEFAULT '{}',
      word_count      integer     NOT NULL DEFAULT 0,
      created_at      timestamptz NOT NULL,
      PRIMARY KEY (article_id, version)
    )`);

  await knex.raw(`
    CREATE TABLE media (
      id            text        PRIMARY KEY,
      owner_id      text        NOT NULL,
      status        text        NOT NULL CHECK (status IN ('active', 'deleted')),
      content_type  text        NOT NULL,
      size_bytes    bigint      NOT NULL,
      sha256        text        NOT NULL,
      width         integer,
      height        integer,
      storage_key   text        NOT NULL,
      uploaded_at   timestamptz NOT NULL,
      deleted_at    timestamptz,
      last_revision bigint      NOT NULL
    )`);
  await knex.raw('CREATE INDEX media_owner_newest ON media (owner_id, uploaded_at DESC, id DESC)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS media');
  await knex.raw('DROP TABLE IF EXISTS article_versions');
  await knex.raw('DROP TABLE IF EXISTS articles');
}
