import { DomainError } from '../../write-model/core/domain-error.js';
import type { Permission } from '../../write-model/access/permissions.js';
import { authorize, rolesOf, type Principal } from '../authorization/policy.js';

/**
 * Who may do what in content review, decided by the one access policy
 * (src/application/authorization/policy.ts, docs/rbac.md). The routes'
 * permissions are checked before the handler; what depends on the input —
 * the platform's queue or set rather than one's own — is checked here, with
 * the same policy. Every refusal is 403 PERMISSION_DENIED with
 * `details.reason` and `details.permission`:
 *
 * | action                                         | permission                                           |
 * | ---------------------------------------------- | ---------------------------------------------------- |
 * | the queue, any review                          | platform.reviews.view (`reviewer_role`)              |
 * | claim/release/decide any review                | platform.reviews.approve (platform reviewers, admins) |
 * | claim/release/decide reviews in my data scope  | publishing.reviews.approve (the route's; ownerIds)   |
 * | a review of one's own content: decide or claim | nobody (the decider: `own_content`)                  |
 * | reviews of content in my data scope            | publishing.reviews.view (the route's; ownerIds)      |
 * | read the platform's rules                      | platform.review-rules.view (`reviewer_role`)         |
 * | change the platform's rules                    | platform.review-rules.edit (`admin_role`)            |
 * | one's own rule set (read, change)              | enterprise tenants (plan-gates: `review_rules`)      |
 * | dry run (POST /review-rules/test)              | publishing.review-rules.run, on their own text       |
 */

export interface Actor {
  userId: string;
  /** the caller as the access policy sees them */
  principal: Principal;
  /** whose content the caller's data scope reaches (ctx.state.access.ownerIds) */
  ownerIds: readonly string[];
}

/** Whether the actor works the platform's review queue. */
export function isReviewer(actor: Actor): boolean {
  return authorize(actor.principal, 'platform.reviews.view').allowed;
}

/** PERMISSION_DENIED (details.reason `reason`, or mfa_required) unless the policy grants the permission. */
export function requirePermission(actor: Actor, permission: Permission, what: string, reason: string): void {
  const decision = authorize(actor.principal, permission);
  if (decision.allowed) return;
  const why = decision.reason === 'mfa_required' ? 'mfa_required' : reason;
  throw new DomainError('PERMISSION_DENIED', `${what} needs the permission ${permission}`, {
    reason: why,
    permission,
    roles: rolesOf(actor.principal),
    platform_role: actor.principal.platformRole,
  });
}

/** PERMISSION_DENIED unless the actor works the platform's review queue. */
export function requireReviewer(actor: Actor, what = 'the review queue'): void {
  requirePermission(actor, 'platform.reviews.view', what, 'reviewer_role');
}

/** Whether the actor decides any review of the platform's queue (claim, release, approve, reject). */
export function isPlatformDecider(actor: Actor): boolean {
  return authorize(actor.principal, 'platform.reviews.approve').allowed;
}

/**
 * Whether the actor may claim, release or decide a review of content owned
 * by `ownerId`: platform reviewers and admins any; an organization's
 * reviewers (publishing.reviews.approve, the route's permission) those of
 * content in their data scope. One's own content passes here: the review's
 * decider refuses it (own_content).
 */
export function mayDecideReview(actor: Actor, ownerId: string): boolean {
  return isPlatformDecider(actor) || actor.ownerIds.includes(ownerId);
}

/** PERMISSION_DENIED unless the actor reads the platform's rule set. */
export function requirePlatformRuleReader(actor: Actor, what: string): void {
  requirePermission(actor, 'platform.review-rules.view', what, 'reviewer_role');
}

/** PERMISSION_DENIED unless the actor changes the platform's rule set (platform admins). */
export function requirePlatformRuleEditor(actor: Actor, what: string): void {
  requirePermission(actor, 'platform.review-rules.edit', what, 'admin_role');
}

/** Whether the actor may see a review: platform reviewers any, others those of content in their data scope. */
export function maySeeReview(actor: Actor, ownerId: string): boolean {
  return isReviewer(actor) || actor.ownerIds.includes(ownerId);
}
