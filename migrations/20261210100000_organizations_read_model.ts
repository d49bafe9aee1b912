import type { Knex } from 'knex';

/**
 * The read model of organizations (projection `organizations-v1`,
 * src/projections/organizations.ts):
 *
 * - `organizations`: one row per `organization-{id}` stream: name, owner,
 *   MFA requirement, member count.
 * - `organization_members`: one row per member (a user belongs to one
 *   organization at most, so the user id is the key): roles (built-in names
 *   and custom role ids), team, when they joined. Listed by organization.
 * - `organization_invitations`: one row per `organization_invitation-{id}`
 *   stream: the address only masked and hashed (never in clear), roles,
 *   team, status (pending, accepted, declined, revoked), expiry. No token.
 * - `organization_roles`: an organization's custom roles with their grants.
 *
 * `last_revision` is the revision of the stream the row reflects (members and
 * roles: their organization's stream): an event at or below it is not
 * applied again.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE organizations (
      id             text        PRIMARY KEY,
      name           text        NOT NULL,
      owner_id       text        NOT NULL,
      mfa_required   boolean     NOT NULL,
      member_count   integer     NOT NULL,
      created_at     timestamptz NOT NULL,
      updated_at     timestamptz NOT NULL,
      last_revision  bigint      NOT NULL
    )`);
  await knex.raw(`
    CREATE TABLE organization_members (
      user_id          text        PRIMARY KEY,
      organization_id  text        NOT NULL,
      roles            text[]      NOT NULL,
      team             text,
      joined_at        timestamptz NOT NULL,
      last_revision    bigint      NOT NULL
    )`);
  await knex.raw('CREATE INDEX organization_members_by_organization ON organization_members (organization_id, joined_at, user_id)');
  await knex.raw(`
    CREATE TABLE organization_invitations (
      id               text        PRIMARY KEY,
      organization_id  text        NOT NULL,
      email_hash       text        NOT NULL,
      email_masked     text        NOT NULL,
      roles            text[]      NOT NULL,
      team             text,
      invited_by       text        NOT NULL,
      status           text        NOT NULL,
      expires_at       timestamptz NOT NULL,
      sent_at          timestamptz NOT NULL,
      answered_by      text,
      answered_at      timestamptz,
      last_revision    bigint      NOT NULL
    )`);
  await knex.raw('CREATE INDEX organization_invitations_by_organization ON organization_invitations (organization_id, status, sent_at DESC)');
  await knex.raw('CREATE INDEX organization_invitations_by_email ON organization_invitations (email_hash, sent_at DESC)');
  await knex.raw(`
    CREATE TABLE organization_roles (
      organization_id  text        NOT NULL,
      id               text        NOT NULL,
      name             text        NOT NULL,
      grants           jsonb       NOT NULL,
      created_at       timestamptz NOT NULL,
      updated_at       timestamptz NOT NULL,
      last_revision    bigint      NOT NULL,
      PRIMARY KEY (organization_id, id)
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS organization_roles');
  await knex.raw('DROP TABLE IF EXISTS organization_invitations');
  await knex.raw('DROP TABLE IF EXISTS organization_members');
  await knex.raw('DROP TABLE IF EXISTS organizations');
}
