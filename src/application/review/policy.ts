import { DomainError } from '../../write-model/core/domain-error.js';
import type { UserRole } from '../../write-model/user/events.js';

/**
 * Who may do what in content review, in one place. Every refusal is 403
 * PERMISSION_DENIED with `details.reason` (and `details.required` for a role):
 *
 * | action                                         | who                                                  |
 * | ---------------------------------------------- | ---------------------------------------------------- |
 * | the queue, any review, claim/release/decide    | reviewers and admins (`reviewer_role`)               |
 * | a review of one's own content: decide or claim | nobody (the decider: `own_content`)                  |
 * | one's own reviews (`?mine=true`, GET one)      | the author                                           |
 * | read the platform's rules                      | reviewers and admins                                 |
 * | change the platform's rules                    | admins (`admin_role`)                                |
 * | one's own rule set (read, change)              | enterprise tenants (plan-gates: `review_rules`)      |
 * | dry run (POST /review-rules/test)              | any signed-in user, on their own text                |
 */

export interface Actor {
  userId: string;
  role: UserRole;
}

export const REVIEWER_ROLES: readonly UserRole[] = ['reviewer', 'admin'];

export function isReviewer(actor: Actor): boolean {
  return REVIEWER_ROLES.includes(actor.role);
}

/** PERMISSION_DENIED unless the actor works the review queue. */
export function requireReviewer(actor: Actor, what = 'the review queue'): void {
  if (isReviewer(actor)) return;
  throw new DomainError('PERMISSION_DENIED', `${what} is for reviewers and admins`, { reason: 'reviewer_role', required: REVIEWER_ROLES, role: actor.role });
}

/** PERMISSION_DENIED unless the actor is an admin (the platform's rules change only by an admin). */
export function requireAdmin(actor: Actor, what: string): void {
  if (actor.role === 'admin') return;
  throw new DomainError('PERMISSION_DENIED', `${what} is for admins`, { reason: 'admin_role', required: ['admin'], role: actor.role });
}

/** Whether the actor may see a review: reviewers and admins any, an author their own. */
export function maySeeReview(actor: Actor, ownerId: string): boolean {
  return isReviewer(actor) || actor.userId === ownerId;
}
