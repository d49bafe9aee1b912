import { randomUUID } from 'node:crypto';
import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import { inviteMember, revokeInvitation, type InvitationOutbox } from '../../../application/organization-invitations.js';
import {
  actOnOrganization,
  changeMember,
  createOrganization,
  myOrganization,
  organizationOf,
  removeMember,
  updateOrganization,
} from '../../../application/organizations.js';
import type { SecretBox } from '../../../application/ports/secret-box.js';
import { reaches } from '../../../application/data-scope.js';
import { emailSchema } from '../../../application/register-user.js';
import type { MembershipDirectory } from '../../../application/ports/membership.js';
import type { EventStore } from '../../../event-store/port.js';
import { ORGANIZATIONS_PROJECTION } from '../../../projections/organizations.js';
import type { Turns } from '../../../application/ports/turns.js';
import { countedCreation } from '../counted-creation.js';
import { findMember, listCustomRoles, listInvitations, listMembers } from '../../../read-api/organizations.js';
import { DATA_SCOPES, type Permission } from '../../../write-model/access/permissions.js';
import { BUILT_IN_ORG_GRANTS, BUILT_IN_ORG_ROLES } from '../../../write-model/access/roles.js';
import { DomainError } from '../../../write-model/core/domain-error.js';
import { accessOf, type Access } from '../access.js';
import { MAX_NAME, MAX_ROLE_GRANTS, MAX_ROLE_NAME, MAX_ROLES_PER_MEMBER, MAX_TEAM } from '../../../write-model/organization/events.js';
import { INVITATION_STATUSES } from '../../../write-model/organization/invitation.js';
import { customRoleOf, memberOf, type OrganizationState } from '../../../write-model/organization/state.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { defineRoute, type HttpApi, type RouteDefinition, type RouteHandler } from '../define-route.js';
import { pageOf, pageSchema, paginationQuery } from '../pagination.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import { commandResult, ifMatchRevision } from '../revision.js';
import type { AppContext, AppState } from '../state.js';

/**
 * Organizations (docs/organizations.md): an enterprise customer with member
 * users. The permission each route needs is checked by the RBAC policy
 * (`permission:`); here the caller must be a member of the organization the
 * path names — for anyone else it does not exist (404) — and the decider
 * keeps the domain's rules (one owner, who alone hands ownership on and
 * grants `owner`; the bounds). `/customers/…` are documented aliases.
 */

export interface OrganizationRouteDeps {
  store: EventStore;
  knex: Knex;
  outbox: InvitationOutbox;
  secretBox: SecretBox;
  /** INVITATION_TTL_HOURS */
  invitationTtlHours: number;
  /** the access policy's membership answers, forgotten after a change here (kept up to a second otherwise) */
  memberships?: MembershipDirectory & { forget?(userId?: string): void };
  /** an organization's invitations are sent one at a time (Redis): the pending limit and one invitation per address hold */
  turns?: Turns;
  now?: () => Date;
}

const tags = ['organizations'];
const ID = /^[A-Za-z0-9_-]{1,100}$/;
const idParam = z.string().regex(ID, 'an id is 1-100 letters, digits, _ and -');
const orgParams = z.object({ id: idParam });
const memberParams = z.object({ id: idParam, userId: idParam });
const invitationParams = z.object({ id: idParam, invitationId: idParam });
const roleParams = z.object({ id: idParam, roleId: idParam });

const name = z.string().trim().min(1).max(MAX_NAME);
const team = z.string().trim().min(1).max(MAX_TEAM).nullable().describe(`1-${MAX_TEAM} characters, or null for none`);
const roleList = z
  .array(z.string().min(1).max(100))
  .max(MAX_ROLES_PER_MEMBER)
  .describe(`built-in role names (${BUILT_IN_ORG_ROLES.join(', ')}) and custom role ids of this organization; at most ${MAX_ROLES_PER_MEMBER}`);
const grants = z
  .record(z.string().min(1).max(100), z.enum(DATA_SCOPES))
  .refine((g) => Object.keys(g).length >= 1 && Object.keys(g).length <= MAX_ROLE_GRANTS, `1 to ${MAX_ROLE_GRANTS} grants`)
  .describe(
    'permission pattern (module.resource.operation, `*` for a whole segment: `collection.*.view`) → data scope (own, team, organization); never the platform module',
  );

const organizationSchema = z.object({
  id: z.string(),
  name: z.string(),
  owner_id: z.string(),
  mfa_required: z.boolean(),
  member_count: z.number().int(),
  created_at: z.string(),
  my_roles: z.array(z.string()),
  my_team: z.string().nullable(),
  revision: z.string(),
});

const memberSchema = z.object({
  user_id: z.string(),
  roles: z.array(z.string()),
  team: z.string().nullable(),
  joined_at: z.string(),
  display_name: z.string().nullable(),
  email: z.string().nullable(),
});

const invitationSchema = z.object({
  id: z.string(),
  organization_id: z.string(),
  email: z.string().describe('masked: a***e@example.com'),
  roles: z.array(z.string()),
  team: z.string().nullable(),
  invited_by: z.string(),
  status: z.enum(INVITATION_STATUSES),
  expired: z.boolean().describe('pending, but past expires_at: it can no longer be accepted'),
  expires_at: z.string(),
  sent_at: z.string(),
  answered_at: z.string().nullable(),
});

const roleSchema = z.object({
  id: z.string().describe('a built-in role name, or a custom role id'),
  name: z.string(),
  built_in: z.boolean(),
  grants: z.record(z.string(), z.enum(DATA_SCOPES)),
});

const written = { revision: z.string(), position: z.string().nullable() };
const commandSchema = z.object({ id: z.string(), ...written });

function organizationView(state: OrganizationState, userId: string, revision: bigint): z.input<typeof organizationSchema> {
  const me = memberOf(state, userId);
  return {
    id: state.organizationId!,
    name: state.name,
    owner_id: state.ownerId!,
    mfa_required: state.mfaRequired,
    member_count: state.memberCount,
    created_at: state.createdAt!,
    my_roles: me ? [...me.roles] : [],
    my_team: me?.team ?? null,
    revision: revision.toString(),
  };
}

const NOT_MINE = 'An organization the caller is not a member of is 404, like one that does not exist.';

export function organizationsRouter(api: HttpApi, deps: OrganizationRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1' });
  const { store, knex } = deps;
  const clock = () => deps.now?.() ?? new Date();
  const actor = (ctx: AppContext) => {
    const userId = currentUser(ctx).id;
    // If-Match, where given: the organization's revision (its ETag) the change was decided on
    return { userId, context: commandContext(ctx, userId), expectedRevision: ifMatchRevision(ctx) };
  };
  /** the same handler under a second, documented path */
  const twice = <R extends object, Res extends Record<number, { description: string }>>(
    definition: RouteDefinition<R, Res>,
    alias: { path: string; summary: string } | null,
    handler: RouteHandler<R, Res>,
  ) => {
    defineRoute(router, api, definition, handler);
    if (alias) {
      const canonical = `/api/v1${definition.path.replace(/:(\w+)/g, '{$1}')}`;
      defineRoute(
        router,
        api,
        {
          ...definition,
          path: alias.path,
          summary: alias.summary,
          description: `Alias of ${definition.method.toUpperCase()} ${canonical}. ${definition.description ?? ''}`,
        },
        handler,
      );
    }
  };
  const perm = (permission: Permission) => ({ auth: true as const, permission });
  /** this process's kept memberships: one user's, or everyone's (a role's grants, the owner, MFA) */
  const changed = (userId?: string) => (deps.memberships as { forget?(userId?: string): void } | undefined)?.forget?.(userId);

  // ---------------------------------------------------------------- the organization

  twice(
    {
      method: 'post',
      path: '/organizations',
      summary: 'Found an organization',
      description:
        'The caller becomes its owner (role owner). A user belongs to one organization at most: 409 CONFLICT (details.reason already_in_organization) while they are in one.',
      tags,
      ...perm('organization.organizations.create'),
      request: { body: z.object({ name }).strict() },
      responses: { 201: { description: 'founded', schema: commandSchema } },
      errors: [409],
    },
    { path: '/customers/enterprises', summary: 'Found an enterprise (alias)' },
    async ({ body }, ctx) => {
      const { userId, context } = actor(ctx);
      const created = await createOrganization({ store, now: clock }, { userId, name: body.name, context });
      changed(userId);
      ctx.set('Location', `/api/v1/organizations/${created.organizationId}`);
      commandResult(ctx, created, { status: 201, extra: { id: created.organizationId } });
    },
  );

  twice(
    {
      method: 'get',
      path: '/organizations',
      summary: 'My organizations',
      description: 'The organization the caller is a member of, as a page of 0 or 1 (a user belongs to one at most).',
      tags,
      ...perm('organization.organizations.view'),
      request: { query: paginationQuery },
      responses: { 200: { description: 'a page of organizations', schema: pageSchema(organizationSchema) } },
    },
    { path: '/customers/enterprises', summary: 'My enterprises (alias)' },
    async ({ query }, ctx) => {
      const userId = currentUser(ctx).id;
      const mine = await organizationOf(store, userId);
      const all = mine ? [organizationView(mine.state, userId, mine.revision)] : [];
      return pageOf(all.slice((query.page - 1) * query.per_page, query.page * query.per_page), query, all.length);
    },
  );

  twice(
    {
      method: 'get',
      path: '/organizations/:id',
      summary: 'One organization',
      description: `Name, owner, MFA requirement, member count and the caller's roles and team, from the event store (no lag). ${NOT_MINE}`,
      tags,
      ...perm('organization.organizations.view'),
      request: { params: orgParams },
      responses: { 200: { description: 'the organization', schema: organizationSchema } },
      errors: [404],
    },
    { path: '/customers/enterprises/:id', summary: 'One enterprise (alias)' },
    async ({ params }, ctx) => {
      const userId = currentUser(ctx).id;
      const org = await myOrganization(store, userId, params.id);
      ctx.set('ETag', `"${org.revision}"`);
      return organizationView(org.state, userId, org.revision);
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'patch',
      path: '/organizations/:id',
      summary: 'Rename an organization, or require MFA of its members',
      description: `What is given changes; the same values again change nothing. ${NOT_MINE}`,
      tags,
      ...perm('organization.organizations.edit'),
      ifMatch: true,
      request: {
        params: orgParams,
        body: z
          .object({ name: name.optional(), mfa_required: z.boolean().optional().describe('members must have a second factor') })
          .strict()
          .refine((b) => b.name !== undefined || b.mfa_required !== undefined, 'give name or mfa_required'),
      },
      responses: { 200: { description: 'the organization as it now stands', schema: organizationSchema.extend({ position: z.string().nullable() }) } },
      // 409: without If-Match, concurrent changes that kept conflicting through the retries
      errors: [404, 409],
    },
    async ({ params, body }, ctx) => {
      const who = actor(ctx);
      const result = await updateOrganization({ store, now: clock }, params.id, who, { name: body.name, mfaRequired: body.mfa_required });
      changed();
      commandResult(ctx, result, { extra: organizationView(result.state, who.userId, result.revision) });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/organizations/:id/ownership',
      summary: 'Transfer the ownership',
      description:
        'Only the owner, to a member (404 otherwise). Anyone else is 403 PERMISSION_DENIED: details.reason role (of the built-in roles only owner grants ' +
        'organization.organizations.approve), or owner_only for another member whose roles grant it. The new owner is granted owner; the former owner ' +
        `loses it and keeps admin. ${NOT_MINE}`,
      tags,
      ...perm('organization.organizations.approve'),
      ifMatch: true,
      request: { params: orgParams, body: z.object({ user_id: idParam }).strict() },
      responses: { 200: { description: 'transferred', schema: z.object({ owner_id: z.string(), ...written }) } },
      errors: [403, 404],
    },
    async ({ params, body }, ctx) => {
      const who = actor(ctx);
      const result = await actOnOrganization({ store, now: clock }, params.id, who, (_s, now) => ({
        type: 'TransferOwnership',
        to: body.user_id,
        by: who.userId,
        now,
      }));
      changed();
      commandResult(ctx, result, { extra: { owner_id: result.state.ownerId } });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/organizations/:id/leave',
      summary: 'Leave the organization',
      description: `The caller stops being a member (the owner cannot: 409, transfer the ownership first). ${NOT_MINE}`,
      tags,
      ...perm('organization.organizations.view'),
      ifMatch: true,
      request: { params: orgParams },
      responses: { 200: { description: 'left', schema: commandSchema } },
      errors: [404, 409],
    },
    async ({ params }, ctx) => {
      const who = actor(ctx);
      const result = await removeMember({ store, now: clock }, params.id, who, who.userId, 'left');
      changed(who.userId);
      commandResult(ctx, result, { extra: { id: params.id } });
    },
  );

  // ---------------------------------------------------------------- members

  /**
   * members.view's access when its scope narrows the members, to its ownerIds as the invitations list does (team: the
   * caller's team and the caller; own: the caller). Null at organization scope: every member, as the organization has
   * them rather than as the membership answer kept a second lists them.
   */
  const narrowedScope = (ctx: AppContext): Access | null => {
    const access = accessOf(ctx);
    return access.scope === 'organization' ? null : access;
  };
  const listMembersRoute = async (organizationId: string, query: z.output<typeof membersQuery>, ctx: AppContext) => {
    await myOrganization(store, currentUser(ctx).id, organizationId);
    await awaitPosition(ctx, knex, ORGANIZATIONS_PROJECTION);
    const userIds = narrowedScope(ctx)?.ownerIds;
    return listMembers(knex, organizationId, { role: query.role, team: query.team, userIds }, query);
  };
  const membersQuery = paginationQuery
    .extend({
      role: z.string().min(1).max(100).optional().describe('only members holding this role (a built-in name or a custom role id)'),
      team: z.string().min(1).max(MAX_TEAM).optional().describe('only members of this team'),
    })
    .extend(afterPositionQuery.shape);

  twice(
    {
      method: 'get',
      path: '/organizations/:id/members',
      summary: 'Members of an organization',
      description:
        "Longest-standing first, with their roles and team; role and team narrow the list. The members the caller's scope for organization.members.view " +
        `reaches: organization every member (the built-in roles granting it), team those of the caller's team and the caller, own the caller. ${NOT_MINE}`,
      tags,
      ...perm('organization.members.view'),
      request: { params: orgParams, query: membersQuery },
      responses: { 200: { description: 'a page of members', schema: pageSchema(memberSchema) } },
      errors: [404],
    },
    { path: '/customers/enterprises/:id/sending', summary: "An enterprise's sending sub-accounts (alias)" },
    ({ params, query }, ctx) => listMembersRoute(params.id, query, ctx),
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/customers/sending',
      summary: 'The sending sub-accounts of my enterprise',
      description:
        'Alias of GET /api/v1/organizations/{id}/members for the organization the caller is a member of (the members their scope reaches). A user in no organization holds no ' +
        'organization.members.view: 403 PERMISSION_DENIED (details.reason role).',
      tags,
      ...perm('organization.members.view'),
      request: { query: membersQuery },
      responses: { 200: { description: 'a page of members', schema: pageSchema(memberSchema) } },
    },
    async ({ query }, ctx) => {
      const mine = await organizationOf(store, currentUser(ctx).id);
      if (!mine) return pageOf([], query, 0);
      return listMembersRoute(mine.organizationId, query, ctx);
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/organizations/:id/members/:userId',
      summary: 'One member',
      description: `404 for a user who is not a member, and for a member the caller's scope for organization.members.view does not reach (as for the list). ${NOT_MINE}`,
      tags,
      ...perm('organization.members.view'),
      request: { params: memberParams, query: afterPositionQuery },
      responses: { 200: { description: 'the member', schema: memberSchema } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      const org = await myOrganization(store, currentUser(ctx).id, params.id);
      await awaitPosition(ctx, knex, ORGANIZATIONS_PROJECTION);
      const member = memberOf(org.state, params.userId);
      const scope = narrowedScope(ctx);
      // out of the caller's scope: the same 404 as a non-member, so it does not tell that they are one
      if (!member || (scope && !reaches(scope, params.userId)))
        throw new DomainError('NOT_FOUND', `${params.userId} is not a member of this organization`, { user_id: params.userId });
      // roles and team from the event store (no lag); the name and address from the read model
      const row = await findMember(knex, params.id, params.userId);
      return {
        user_id: params.userId,
        roles: [...member.roles],
        team: member.team,
        joined_at: member.joinedAt,
        display_name: row?.display_name ?? null,
        email: row?.email ?? null,
      };
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'patch',
      path: '/organizations/:id/members/:userId',
      summary: "Change a member's roles or team",
      description:
        'roles: the whole set the member should hold (each role revoked or granted is recorded on its own; the answer lists them); team: a name or null. ' +
        'Only the owner grants or revokes owner (403), and the owner always holds it (409). ' +
        NOT_MINE,
      tags,
      ...perm('organization.members.edit'),
      ifMatch: true,
      request: {
        params: memberParams,
        body: z
          .object({ roles: roleList.optional(), team: team.optional() })
          .strict()
          .refine((b) => b.roles !== undefined || b.team !== undefined, 'give roles or team'),
      },
      responses: {
        200: {
          description: 'what was granted and revoked',
          schema: z.object({ user_id: z.string(), granted: z.array(z.string()), revoked: z.array(z.string()), team: z.string().nullable(), ...written }),
        },
      },
      errors: [403, 404, 409],
    },
    async ({ params, body }, ctx) => {
      const change = await changeMember({ store, now: clock }, params.id, actor(ctx), params.userId, { roles: body.roles, team: body.team });
      // a team is in every member's answer (team data scopes)
      changed(body.team !== undefined ? undefined : params.userId);
      commandResult(ctx, change.written, { extra: { user_id: params.userId, granted: change.granted, revoked: change.revoked, team: change.team } });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'delete',
      path: '/organizations/:id/members/:userId',
      summary: 'Remove a member',
      description: `The owner cannot be removed (409: transfer the ownership first). If-Match: the organization's revision. ${NOT_MINE}`,
      tags,
      ...perm('organization.members.delete'),
      ifMatch: true,
      request: { params: memberParams },
      responses: { 200: { description: 'removed', schema: commandSchema } },
      errors: [404, 409],
    },
    async ({ params }, ctx) => {
      const who = actor(ctx);
      const reason = params.userId === who.userId ? 'left' : 'removed';
      const result = await removeMember({ store, now: clock }, params.id, who, params.userId, reason);
      changed();
      commandResult(ctx, result, { extra: { id: params.userId } });
    },
  );

  // ---------------------------------------------------------------- invitations

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/organizations/:id/invitations',
      summary: 'Invite someone by mail',
      description:
        'Mails a single-use link (valid INVITATION_TTL_HOURS) to the address; whoever signs in with an account of that address may accept it and joins with ' +
        `these roles and team. At most 200 pending invitations per organization (409). An address that is a member's (409, details.reason already_member) ` +
        `or has a pending invitation already (409, details.reason already_invited with details.invitation_id: revoke it to send a new one) is refused. ` +
        `The address is kept only hashed and masked. ${NOT_MINE}`,
      tags,
      ...perm('organization.invitations.create'),
      request: {
        params: orgParams,
        body: z.object({ email: emailSchema, roles: roleList, team: team.optional() }).strict(),
      },
      responses: {
        201: {
          description: 'sent (the mail leaves through the mail queue)',
          schema: z.object({ id: z.string(), email: z.string(), expires_at: z.string(), ...written }),
        },
      },
      errors: [404, 409],
    },
    async ({ params, body }, ctx) => {
      const who = actor(ctx);
      // both checks (pending limit, address invited already) read the read model: each invitation waits until it counts the one before
      const invited = await countedCreation(
        { turns: deps.turns, knex },
        `organization-invitations:${params.id}`,
        ORGANIZATIONS_PROJECTION,
        () =>
          inviteMember(
            { store, knex, outbox: deps.outbox, secretBox: deps.secretBox, ttlHours: deps.invitationTtlHours, now: clock },
            { organizationId: params.id, by: who.userId, email: body.email, roles: body.roles, team: body.team ?? null, context: who.context },
          ),
        'another invitation to this organization is being sent: try again',
      );
      commandResult(ctx, invited, { status: 201, extra: { id: invited.invitationId, email: invited.emailMasked, expires_at: invited.expiresAt } });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/organizations/:id/invitations',
      summary: "An organization's invitations",
      description:
        'Newest first; status narrows the list. Addresses are masked. The owner and admins (organization scope) see every invitation; ' +
        `any other member those sent by the members their scope reaches (own: their own, none unless they may invite). ${NOT_MINE}`,
      tags,
      ...perm('organization.invitations.view'),
      request: { params: orgParams, query: paginationQuery.extend({ status: z.enum(INVITATION_STATUSES).optional() }).extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'a page of invitations', schema: pageSchema(invitationSchema) } },
      errors: [404],
    },
    async ({ params, query }, ctx) => {
      await myOrganization(store, currentUser(ctx).id, params.id);
      await awaitPosition(ctx, knex, ORGANIZATIONS_PROJECTION);
      // everyone holds invitations.view (for the ones addressed to them): the organization's list is the scope's
      const access = accessOf(ctx);
      const sentBy = access.scope === 'organization' ? undefined : access.ownerIds;
      return listInvitations(knex, params.id, { status: query.status, sentBy }, query, clock());
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'delete',
      path: '/organizations/:id/invitations/:invitationId',
      summary: 'Revoke an invitation',
      description:
        'Its link stops working. An answered invitation cannot be revoked (409); one revoked already: 200 with position null. ' +
        `If-Match: the invitation's revision (its sending answered it; a stale one is 412, a repeat included). ${NOT_MINE}`,
      tags,
      ...perm('organization.invitations.delete'),
      ifMatch: true,
      request: { params: invitationParams },
      responses: { 200: { description: 'revoked', schema: commandSchema } },
      errors: [404, 409],
    },
    async ({ params }, ctx) => {
      const who = actor(ctx);
      const result = await revokeInvitation(
        { store, now: clock },
        { organizationId: params.id, invitationId: params.invitationId, by: who.userId, context: who.context, expectedRevision: who.expectedRevision },
      );
      commandResult(ctx, result, { extra: { id: params.invitationId } });
    },
  );

  // ---------------------------------------------------------------- roles

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/organizations/:id/roles',
      summary: "An organization's roles",
      description: `The built-in roles with their grants, then the organization's custom roles. ${NOT_MINE}`,
      tags,
      ...perm('organization.roles.view'),
      request: { params: orgParams, query: afterPositionQuery },
      responses: { 200: { description: 'the roles', schema: z.object({ items: z.array(roleSchema) }) } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      await myOrganization(store, currentUser(ctx).id, params.id);
      await awaitPosition(ctx, knex, ORGANIZATIONS_PROJECTION);
      const builtIn = BUILT_IN_ORG_ROLES.map((role) => ({ id: role, name: role, built_in: true, grants: { ...BUILT_IN_ORG_GRANTS[role] } }));
      const custom = (await listCustomRoles(knex, params.id)).map((r) => ({
        id: r.id,
        name: r.name,
        built_in: false,
        grants: r.grants as Record<string, 'own'>,
      }));
      return { items: [...builtIn, ...custom] };
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/organizations/:id/roles',
      summary: 'Define a custom role',
      description:
        `A name (1-${MAX_ROLE_NAME} characters, unlike the organization's other roles) and 1-${MAX_ROLE_GRANTS} grants. At most 50 custom roles (409). ` +
        `Members are given it by its id. ${NOT_MINE}`,
      tags,
      ...perm('organization.roles.create'),
      request: { params: orgParams, body: z.object({ name: z.string().trim().min(1).max(MAX_ROLE_NAME), grants }).strict() },
      responses: { 201: { description: 'defined', schema: commandSchema } },
      errors: [404, 409],
    },
    async ({ params, body }, ctx) => {
      const who = actor(ctx);
      const roleId = randomUUID();
      const result = await actOnOrganization({ store, now: clock }, params.id, who, (_s, now) => ({
        type: 'DefineCustomRole',
        roleId,
        name: body.name,
        grants: body.grants,
        by: who.userId,
        now,
      }));
      changed();
      commandResult(ctx, result, { status: 201, extra: { id: roleId } });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'patch',
      path: '/organizations/:id/roles/:roleId',
      summary: 'Change a custom role',
      description: `Its name or its grants (the whole set); members holding it get the new grants at once. ${NOT_MINE}`,
      tags,
      ...perm('organization.roles.edit'),
      ifMatch: true,
      request: {
        params: roleParams,
        body: z
          .object({ name: z.string().trim().min(1).max(MAX_ROLE_NAME).optional(), grants: grants.optional() })
          .strict()
          .refine((b) => b.name !== undefined || b.grants !== undefined, 'give name or grants'),
      },
      responses: { 200: { description: 'changed', schema: commandSchema } },
      errors: [404, 409],
    },
    async ({ params, body }, ctx) => {
      const who = actor(ctx);
      const result = await actOnOrganization({ store, now: clock }, params.id, who, (_s, now) => ({
        type: 'ChangeCustomRole',
        roleId: params.roleId,
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(body.grants !== undefined ? { grants: body.grants } : {}),
        by: who.userId,
        now,
      }));
      changed();
      commandResult(ctx, result, { extra: { id: params.roleId } });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'delete',
      path: '/organizations/:id/roles/:roleId',
      summary: 'Delete a custom role',
      description: `It is revoked from every member holding it (each revocation recorded), then deleted. If-Match: the organization's revision. ${NOT_MINE}`,
      tags,
      ...perm('organization.roles.delete'),
      ifMatch: true,
      request: { params: roleParams },
      responses: { 200: { description: 'deleted', schema: z.object({ id: z.string(), revoked_from: z.array(z.string()), ...written }) } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      const who = actor(ctx);
      const result = await actOnOrganization({ store, now: clock }, params.id, who, (state, now) => {
        if (!customRoleOf(state, params.roleId)) throw new DomainError('NOT_FOUND', `role ${params.roleId} not found`, { role_id: params.roleId });
        return { type: 'DeleteCustomRole', roleId: params.roleId, by: who.userId, now };
      });
      changed();
      const revokedFrom = result.events.flatMap((e) => (e.type === 'RoleRevoked' ? [e.data.userId] : []));
      commandResult(ctx, result, { extra: { id: params.roleId, revoked_from: revokedFrom } });
    },
  );

  return router;
}
