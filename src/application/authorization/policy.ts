import { matchesPattern, widerScope, type DataScope, type Permission } from '../../write-model/access/permissions.js';
import { ACCOUNT_GRANTS, BUILT_IN_ORG_GRANTS, PERSONAL_GRANTS, PLATFORM_GRANTS, type BuiltInOrgRole, type Grants } from '../../write-model/access/roles.js';
import type { UserRole } from '../../write-model/user/events.js';
import type { OrganizationMembership } from '../ports/membership.js';

/**
 * The one access policy (docs/rbac.md): who may use which permission, and at
 * which data scope. Pure: the caller brings the principal (the user, how they
 * signed in, their membership) and gets a decision. Grants are
 *
 *   ACCOUNT_GRANTS
 *   ∪ (in an organization: the union of their roles' grants; outside one: PERSONAL_GRANTS)
 *   ∪ (a session only: PLATFORM_GRANTS of their platform role — an API key never does platform work)
 *
 * and the widest scope among the grants matching the permission wins.
 */

/** Who is asking. */
export interface Principal {
  userId: string;
  /** the user's platform role now (an API key acts as `user`) */
  platformRole: UserRole;
  credential: 'session' | 'api_key';
  membership: OrganizationMembership | null;
  /** the user has a second factor (their organization may require one) */
  mfaEnabled: boolean;
}

/** Why a permission is refused: no grant reaches it (`role`), or the organization wants a second factor first. */
export type DenialReason = 'role' | 'mfa_required';

export type Decision = { allowed: true; scope: DataScope } | { allowed: false; reason: DenialReason };

/** The role name a user outside any organization is shown with (docs, 403 details). */
export const PERSONAL_ROLE = 'personal';

/**
 * What a member may still do while their organization requires a second
 * factor they have not set up: set it up, see their organization, and see,
 * accept or decline the invitations addressed to them — not send or revoke
 * the organization's.
 */
export function exemptFromMfa(permission: Permission): boolean {
  return (
    permission.startsWith('account.') ||
    permission === 'organization.organizations.view' ||
    permission === 'organization.invitations.view' ||
    permission === 'organization.invitations.approve'
  );
}

/** Whether the permission is a platform operator's: no organization role grants those, and an API key never reaches them (a session alone carries the platform role). */
export function isPlatformPermission(permission: Permission): boolean {
  return permission.startsWith('platform.');
}

const isBuiltIn = (role: string): role is BuiltInOrgRole => Object.hasOwn(BUILT_IN_ORG_GRANTS, role);

/** Every grant set the principal holds (see the module comment). */
export function grantsOf(principal: Pick<Principal, 'platformRole' | 'credential' | 'membership'>): Grants[] {
  const sets: Grants[] = [ACCOUNT_GRANTS];
  const { membership } = principal;
  if (membership) {
    for (const role of membership.roles) {
      // a custom role id shadows nothing: built-in names are reserved
      const grants = isBuiltIn(role) ? BUILT_IN_ORG_GRANTS[role] : membership.customRoles[role];
      if (grants) sets.push(grants);
    }
  } else {
    sets.push(PERSONAL_GRANTS);
  }
  // a role this build does not know grants nothing
  const platform = principal.credential === 'session' && principal.platformRole !== 'user' ? PLATFORM_GRANTS[principal.platformRole] : undefined;
  if (platform) sets.push(platform);
  return sets;
}

/** The widest scope any of the grants gives the permission; null: none reaches it. */
export function scopeOf(grants: readonly Grants[], permission: Permission): DataScope | null {
  let scope: DataScope | null = null;
  for (const set of grants) {
    for (const [pattern, granted] of Object.entries(set)) {
      if (matchesPattern(pattern, permission)) scope = scope === null ? granted : widerScope(scope, granted);
    }
  }
  return scope;
}

/** Whether the principal may use the permission, and at which data scope. */
export function authorize(principal: Principal, permission: Permission): Decision {
  const scope = scopeOf(grantsOf(principal), permission);
  if (scope === null) return { allowed: false, reason: 'role' };
  if (principal.membership?.mfaRequired && !principal.mfaEnabled && !exemptFromMfa(permission)) return { allowed: false, reason: 'mfa_required' };
  return { allowed: true, scope };
}

/** The roles a principal is shown with: their organization roles, or `personal` outside one. */
export function rolesOf(principal: Pick<Principal, 'membership'>): readonly string[] {
  return principal.membership ? principal.membership.roles : [PERSONAL_ROLE];
}

/**
 * Whose resources a scope reaches: `own` the user's; `team` the members of
 * the user's team (no team: their own); `organization` every member's and
 * the organization's own (a resource the organization owns has its id as
 * owner: docs/organizations.md). Outside an organization every scope is the
 * user's own. The user is always among them.
 */
export function ownerIdsFor(scope: DataScope, userId: string, membership: OrganizationMembership | null): readonly string[] {
  if (!membership || scope === 'own') return [userId];
  if (scope === 'organization') return [...new Set([userId, ...membership.members.map((member) => member.userId), membership.organizationId])];
  const team = membership.team === null ? [] : membership.members.filter((member) => member.team === membership.team);
  return [...new Set([userId, ...team.map((member) => member.userId)])];
}
