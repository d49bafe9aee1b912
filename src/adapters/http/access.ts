import type { Middleware } from 'koa';
import { authorize, ownerIdsFor, rolesOf, type Decision, type Principal } from '../../application/authorization/policy.js';
import type { MembershipDirectory } from '../../application/ports/membership.js';
import type { DataScope, Permission } from '../../write-model/access/permissions.js';
import { currentUser } from './authenticate.js';
import { HttpError } from './http-error.js';
import type { AppContext, AppState } from './state.js';

/**
 * The access policy on the HTTP side: defineRoute runs `requirePermission`
 * after the credential's scope on every `auth: true` route, so the route's
 * permission is decided in one place (src/application/authorization/policy.ts)
 * before its input is validated. What the handler may touch is then on
 * `ctx.state.access`.
 */

/** What a permitted request may reach: list and load by `ownerIds`, never by the caller's id alone. */
export interface Access {
  permission: Permission;
  scope: DataScope;
  userId: string;
  organizationId: string | null;
  /** the owners whose resources the scope reaches (own: the caller; team: their team; organization: every member) */
  ownerIds: readonly string[];
}

declare module './state.js' {
  interface AppState {
    /** set on `auth: true` routes once the route's permission is granted */
    access?: Access;
    /** the caller as the policy saw them (for a handler's further checks: `can`, `demand`) */
    principal?: Principal;
  }
}

export interface AccessOptions {
  /** the caller's organization (none given: everyone is outside one — test APIs) */
  memberships?: MembershipDirectory;
  /** whether a user has a second factor, when the credential did not say (API keys); asked only of members of organizations that require one */
  hasSecondFactor?: (userId: string) => Promise<boolean>;
}

/** The path a member enables their second factor at (named in the mfa_required refusal). */
export const MFA_SETUP_PATH = '/api/v1/users/mfa/totp';

/** The 403 a refused permission is answered with (details.reason: role, mfa_required, or a route's own). */
export function permissionDenied(principal: Principal, permission: Permission, reason: string): HttpError {
  const roles = rolesOf(principal);
  const message =
    reason === 'mfa_required'
      ? `your organization requires a second factor: enable MFA at ${MFA_SETUP_PATH} (POST, then confirm) before using ${permission}`
      : `this needs the permission ${permission}, which your roles (${roles.join(', ')}) do not grant`;
  return new HttpError(403, 'PERMISSION_DENIED', message, { permission, reason, roles, platform_role: principal.platformRole });
}

/** The caller as the policy sees them: read once a request (membership from the directory). */
export async function principalOf(ctx: AppContext, options: AccessOptions): Promise<Principal> {
  if (ctx.state.principal) return ctx.state.principal;
  const user = currentUser(ctx);
  const membership = (await options.memberships?.of(user.id)) ?? null;
  let mfaEnabled = user.mfaEnabled ?? false;
  if (membership?.mfaRequired && user.mfaEnabled === undefined && options.hasSecondFactor) mfaEnabled = await options.hasSecondFactor(user.id);
  const principal: Principal = { userId: user.id, platformRole: user.role, credential: user.credential.kind, membership, mfaEnabled };
  ctx.state.principal = principal;
  return principal;
}

/** The access a granted decision gives. */
export function accessFor(principal: Principal, permission: Permission, scope: DataScope): Access {
  // platform permissions reach the platform, not an organization's owners: the caller's own id stands for them
  const ownerIds = permission.startsWith('platform.') ? [principal.userId] : ownerIdsFor(scope, principal.userId, principal.membership);
  return { permission, scope, userId: principal.userId, organizationId: principal.membership?.organizationId ?? null, ownerIds };
}

/** After authenticate and the scope check: 403 unless the policy grants the permission; otherwise ctx.state.access. */
export function requirePermission(permission: Permission, options: AccessOptions): Middleware<AppState> {
  return async (ctx, next) => {
    const principal = await principalOf(ctx, options);
    const decision = authorize(principal, permission);
    if (!decision.allowed) throw permissionDenied(principal, permission, decision.reason);
    ctx.state.access = accessFor(principal, permission, decision.scope);
    await next();
  };
}

/** The access the route's permission gave (a 403-free route always has it after requirePermission). */
export function accessOf(ctx: AppContext): Access {
  const access = ctx.state.access;
  if (!access) throw new Error('accessOf: the route declares no permission (auth: true routes all do)');
  return access;
}

/** A further permission a handler asks of the same policy (e.g. the platform's review queue on a route anyone may use for their own). */
export function decide(ctx: AppContext, permission: Permission): Decision {
  const principal = ctx.state.principal;
  if (!principal) return { allowed: false, reason: 'role' };
  return authorize(principal, permission);
}

export function can(ctx: AppContext, permission: Permission): boolean {
  return decide(ctx, permission).allowed;
}

/**
 * 403 unless the policy grants the further permission: `reason` names the
 * refusal the route documents (a refused grant is `role` by default; a
 * missing second factor is always `mfa_required`).
 */
export function demand(ctx: AppContext, permission: Permission, reason = 'role'): Access {
  const principal = ctx.state.principal;
  const decision = decide(ctx, permission);
  if (!principal) throw new HttpError(403, 'PERMISSION_DENIED', `this needs the permission ${permission}`, { permission, reason });
  if (!decision.allowed) throw permissionDenied(principal, permission, decision.reason === 'mfa_required' ? 'mfa_required' : reason);
  return accessFor(principal, permission, decision.scope);
}

/** The caller as the application's policies take them (content review): who, as the policy saw them, and whose resources they reach. */
export function policyActor(ctx: AppContext): { userId: string; principal: Principal; ownerIds: readonly string[] } {
  const access = accessOf(ctx);
  const principal = ctx.state.principal;
  if (!principal) throw new Error('policyActor: the policy did not run');
  return { userId: access.userId, principal, ownerIds: access.ownerIds };
}
