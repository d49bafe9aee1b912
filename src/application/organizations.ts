import { randomUUID } from 'node:crypto';
import type { EventStore } from '../event-store/port.js';
import type { Position } from '../event-store/position.js';
import { BUILT_IN_ORG_ROLES } from '../write-model/access/roles.js';
import type { DataScope } from '../write-model/access/permissions.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load, type HandleResult, type Loaded } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { invalid } from '../write-model/core/validate.js';
import type { OrganizationCommand } from '../write-model/organization/commands.js';
import { organizationAggregate, organizationDecider, organizationStream } from '../write-model/organization/decider.js';
import type { OrganizationEvent } from '../write-model/organization/events.js';
import { ALREADY_IN_AN_ORGANIZATION, membershipClaimAggregate, membershipClaimStream } from '../write-model/organization/membership-claim.js';
import { customRoleOf, memberOf, type OrganizationState } from '../write-model/organization/state.js';
import type { OrganizationMembership } from './ports/membership.js';

/**
 * Organizations as the routes use them: founding one, changing it, its
 * members and custom roles. Whether the caller may do it at all is the
 * route's permission (the RBAC policy); here the caller must be a member of
 * the organization named (anyone else is told it does not exist: 404), and
 * the decider keeps the domain's rules.
 *
 * One organization per user: the claim on `organization_member-{userId}` is
 * taken before the organization's append (which carries the claim's
 * revision as a condition, so it lands only while the claim stands) and
 * given back when that append fails, or after the member is removed or
 * leaves. A claim left behind by a crash between the two (its organization
 * does not list the user) is recognised and released by the next claim.
 */

export interface OrganizationDeps {
  store: EventStore;
  now?: () => Date;
}

export interface Written {
  revision: bigint;
  position: Position | undefined;
}

/** Anyone not a member is told the organization does not exist. */
export const organizationNotFound = (organizationId: string) => new DomainError('NOT_FOUND', 'organization not found', { organizationId });

/** A claim younger than this may belong to a request still on its way to the organization's append. */
const CLAIM_GRACE_MS = 30_000;

const BUILT_IN: readonly string[] = BUILT_IN_ORG_ROLES;

/** The organization the user is a member of (the claim, confirmed by the organization's members), or null. */
export async function organizationOf(store: EventStore, userId: string): Promise<(Loaded<OrganizationState> & { organizationId: string }) | null> {
  const claim = (await load(store, membershipClaimAggregate, userId)).state.organizationId;
  if (claim === null) return null;
  const loaded = await load(store, organizationAggregate, claim);
  return memberOf(loaded.state, userId) ? { ...loaded, organizationId: claim } : null;
}

/** The organization `organizationId` when the user is one of its members; NOT_FOUND otherwise. */
export async function myOrganization(store: EventStore, userId: string, organizationId: string): Promise<Loaded<OrganizationState>> {
  const loaded = await load(store, organizationAggregate, organizationId);
  if (!memberOf(loaded.state, userId)) throw organizationNotFound(organizationId);
  return loaded;
}

/** What data scopes and the RBAC policy need of a member (the MembershipDirectory's answer). */
export function membershipFrom(state: OrganizationState, userId: string): OrganizationMembership | null {
  const member = memberOf(state, userId);
  if (!member || state.organizationId === null) return null;
  const customRoles: Record<string, Readonly<Record<string, DataScope>>> = {};
  for (const [roleId, role] of Object.entries(state.customRoles)) {
    Object.defineProperty(customRoles, roleId, { value: role.grants, enumerable: true });
  }
  return {
    organizationId: state.organizationId,
    roles: [...member.roles],
    team: member.team,
    customRoles,
    mfaRequired: state.mfaRequired,
    members: Object.entries(state.members).map(([id, m]) => ({ userId: id, team: m.team })),
  };
}

/**
 * The organization as the owner of its own resources (their owner id is the
 * organization's): it holds its own subscription and balance, and has no
 * roles (it never signs in). null for an id that is not an organization's.
 */
export function organizationItself(state: OrganizationState): OrganizationMembership | null {
  if (state.organizationId === null) return null;
  return {
    organizationId: state.organizationId,
    roles: [],
    team: null,
    customRoles: {},
    mfaRequired: false,
    members: Object.entries(state.members).map(([id, m]) => ({ userId: id, team: m.team })),
  };
}

/**
 * Takes the user's claim for `organizationId`, releasing one left behind by
 * a crash first; CONFLICT when they are in another organization. Answers
 * the claim stream's revision, which the organization's append is made on.
 */
export async function claimMembership(store: EventStore, userId: string, organizationId: string, context: CommandContext): Promise<bigint> {
  return (await takeClaim(store, userId, organizationId, context)).revision;
}

/** claimMembership, telling too whether this call took the claim (false: it was held for that organization already). */
async function takeClaim(store: EventStore, userId: string, organizationId: string, context: CommandContext): Promise<{ revision: bigint; taken: boolean }> {
  for (let attempt = 1; ; attempt++) {
    const read = await load(store, membershipClaimAggregate, userId);
    const held = read.state.organizationId;
    if (held !== null && held !== organizationId) {
      const holder = await load(store, organizationAggregate, held);
      if (memberOf(holder.state, userId) || attempt > 3) {
        throw new DomainError('CONFLICT', ALREADY_IN_AN_ORGANIZATION, { reason: 'already_in_organization', organizationId: held });
      }
      const [last] = await store.readStream(membershipClaimStream(userId), { direction: 'backwards', maxCount: 1 });
      if (last && Date.now() - last.created.getTime() < CLAIM_GRACE_MS) {
        throw new DomainError('CONFLICT', 'you are joining an organization in another request right now; try again in a minute', {
          reason: 'membership_in_progress',
        });
      }
      // left behind by a crash: its organization does not list the user; released on the revision read
      try {
        await handle(
          store,
          membershipClaimAggregate,
          userId,
          { type: 'ReleaseMembership', userId, organizationId: held },
          { context, expectedRevision: read.revision },
        );
      } catch {
        // moved meanwhile: read again
      }
      continue;
    }
    const claimed = await handle(store, membershipClaimAggregate, userId, { type: 'ClaimMembership', userId, organizationId }, { context });
    // held for this organization already (a member joining it again): nothing taken, nothing to give back
    return { revision: claimed.revision, taken: claimed.events.length > 0 };
  }
}

/** Gives the claim back (a no-op unless it is held for that organization). */
export async function releaseMembership(store: EventStore, userId: string, organizationId: string, context: CommandContext): Promise<void> {
  await handle(store, membershipClaimAggregate, userId, { type: 'ReleaseMembership', userId, organizationId }, { context });
}

/**
 * An append to the organization that makes `userId` a member (founding it,
 * joining it): made only while the user's claim still stands at `claimRevision`;
 * on failure the claim this call took is given back (one held before stays:
 * its membership stands) and the error thrown on.
 */
export async function withClaim<T>(
  store: EventStore,
  userId: string,
  organizationId: string,
  context: CommandContext,
  append: (claimRevision: bigint) => Promise<T>,
): Promise<T> {
  const claim = await takeClaim(store, userId, organizationId, context);
  try {
    return await append(claim.revision);
  } catch (error) {
    // a concurrent join of the same user (a repeated acceptance) may have landed on the claim this call took: it stays with that membership
    if (claim.taken && !(await isMember(store, organizationId, userId).catch(() => false)))
      await releaseMembership(store, userId, organizationId, context).catch(() => undefined);
    throw error;
  }
}

async function isMember(store: EventStore, organizationId: string, userId: string): Promise<boolean> {
  return memberOf((await load(store, organizationAggregate, organizationId)).state, userId) !== undefined;
}

export interface Created extends Written {
  organizationId: string;
}

/** Founds an organization with the caller as its owner; CONFLICT when they are in one already. */
export async function createOrganization(deps: OrganizationDeps, input: { userId: string; name: string; context: CommandContext }): Promise<Created> {
  const { store } = deps;
  const organizationId = randomUUID();
  const now = (deps.now?.() ?? new Date()).toISOString();
  const command: OrganizationCommand = { type: 'CreateOrganization', organizationId, name: input.name, ownerId: input.userId, now };
  // a founding the decider refuses (a bad name) is refused before the claim, so it writes nothing
  organizationDecider.decide(command, organizationDecider.initialState());
  const result = await withClaim(store, input.userId, organizationId, input.context, (claimRevision) =>
    handle(store, organizationAggregate, organizationId, command, {
      context: input.context,
      expectedRevision: 'no_stream',
      conditions: [{ streamName: membershipClaimStream(input.userId), revision: claimRevision }],
    }),
  );
  return { organizationId, revision: result.revision, position: result.position };
}

/** Commands decided on the organization's current state, by a member of it (NOT_FOUND for anyone else). */
export async function actOnOrganization(
  deps: OrganizationDeps,
  organizationId: string,
  /** expectedRevision: the caller's If-Match (a stale one is refused before anything is decided) */
  actor: { userId: string; context: CommandContext; expectedRevision?: bigint | undefined },
  commands: (state: OrganizationState, now: string) => OrganizationCommand | readonly OrganizationCommand[],
): Promise<HandleResult<OrganizationState, OrganizationEvent>> {
  const now = (deps.now?.() ?? new Date()).toISOString();
  // with If-Match, a stranger is told 404 as without it, not 412 (which would tell the organization exists)
  const loaded = actor.expectedRevision === undefined ? undefined : await load(deps.store, organizationAggregate, organizationId);
  if (loaded && !memberOf(loaded.state, actor.userId)) throw organizationNotFound(organizationId);
  return handle(
    deps.store,
    organizationAggregate,
    organizationId,
    (state) => {
      if (!memberOf(state, actor.userId)) throw organizationNotFound(organizationId);
      return commands(state, now);
    },
    { context: actor.context, expectedRevision: actor.expectedRevision, ...(loaded ? { loaded } : {}) },
  );
}

/** Name and MFA requirement, as given. */
export async function updateOrganization(
  deps: OrganizationDeps,
  organizationId: string,
  actor: { userId: string; context: CommandContext; expectedRevision?: bigint | undefined },
  change: { name?: string | undefined; mfaRequired?: boolean | undefined },
): Promise<HandleResult<OrganizationState, OrganizationEvent>> {
  return actOnOrganization(deps, organizationId, actor, (_state, now) => [
    ...(change.name !== undefined ? [{ type: 'RenameOrganization' as const, name: change.name, by: actor.userId, now }] : []),
    ...(change.mfaRequired !== undefined ? [{ type: 'SetMfaRequirement' as const, required: change.mfaRequired, by: actor.userId, now }] : []),
  ]);
}

/** Removes a member (`removed`) or the caller themselves (`left`), then gives their claim back; expectedRevision: the organization's, as for actOnOrganization. */
export async function removeMember(
  deps: OrganizationDeps,
  organizationId: string,
  actor: { userId: string; context: CommandContext; expectedRevision?: bigint | undefined },
  userId: string,
  reason: 'removed' | 'left',
): Promise<HandleResult<OrganizationState, OrganizationEvent>> {
  const result = await actOnOrganization(deps, organizationId, actor, (state, now) => {
    if (!memberOf(state, userId)) throw new DomainError('NOT_FOUND', `${userId} is not a member of this organization`, { userId });
    return { type: 'RemoveMember', userId, by: actor.userId, reason, now };
  });
  await releaseMembership(deps.store, userId, organizationId, actor.context);
  return result;
}

export interface MemberChange {
  granted: string[];
  revoked: string[];
  team: string | null;
  written: Written;
}

/**
 * A member's roles set to `roles` (each revoke and grant its own event,
 * revokes first so the bound on roles holds throughout) and their team.
 */
export async function changeMember(
  deps: OrganizationDeps,
  organizationId: string,
  actor: { userId: string; context: CommandContext; expectedRevision?: bigint | undefined },
  userId: string,
  change: { roles?: readonly string[] | undefined; team?: string | null | undefined },
): Promise<MemberChange> {
  const result = await actOnOrganization(deps, organizationId, actor, (state, now) => {
    const member = memberOf(state, userId);
    if (!member) throw new DomainError('NOT_FOUND', `${userId} is not a member of this organization`, { userId });
    const commands: OrganizationCommand[] = [];
    if (change.roles !== undefined) {
      // named as the body has it (roles.<i>), like an invitation's roles
      change.roles.forEach((role, i) => {
        if (!isRoleOf(state, role))
          throw invalid(`${JSON.stringify(role)} is neither a built-in role nor a custom role of this organization`, { field: `roles.${i}`, role });
      });
      const wanted = [...new Set(change.roles)];
      for (const role of member.roles) if (!wanted.includes(role)) commands.push({ type: 'RevokeRole', userId, role, by: actor.userId, now });
      for (const role of wanted) if (!member.roles.includes(role)) commands.push({ type: 'GrantRole', userId, role, by: actor.userId, now });
    }
    if (change.team !== undefined) commands.push({ type: 'ChangeMemberTeam', userId, team: change.team, by: actor.userId, now });
    return commands;
  });
  const granted: string[] = [];
  const revoked: string[] = [];
  for (const event of result.events) {
    if (event.type === 'RoleGranted') granted.push(event.data.role);
    if (event.type === 'RoleRevoked') revoked.push(event.data.role);
  }
  return { granted, revoked, team: memberOf(result.state, userId)?.team ?? null, written: result };
}

/** Whether `role` names a role of this organization (built-in or custom). */
export function isRoleOf(state: OrganizationState, role: string): boolean {
  return BUILT_IN.includes(role) || customRoleOf(state, role) !== undefined;
}

export { organizationStream };
