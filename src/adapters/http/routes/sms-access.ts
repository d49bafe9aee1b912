import type { MembershipDirectory } from '../../../application/ports/membership.js';
import { organizationOf } from '../../../application/sms/org-key.js';
import type { AppContext } from '../state.js';

/** What the permission policy puts on the context (when it runs): the owners the caller's data scope covers. */
interface GrantedAccess {
  ownerIds: readonly string[];
  organizationId: string | null;
  scope?: 'own' | 'team' | 'organization';
}

/**
 * Whose SMS rows the caller sees: the owners of their granted data scope
 * (ctx.state.access, the permission policy's), else themselves; and their
 * organization for what is routed to it as a whole (keywords, inbound)
 * when the scope is the organization's.
 */
export async function smsAccessOf(
  ctx: AppContext,
  userId: string,
  membership?: MembershipDirectory | null,
): Promise<{ ownerIds: readonly string[]; organizationId: string | null; memberOf: string | null }> {
  const access = (ctx.state as { access?: GrantedAccess }).access;
  const memberOf = access ? access.organizationId : await organizationOf(membership, userId);
  const ownerIds = access?.ownerIds && access.ownerIds.length > 0 ? access.ownerIds : [userId];
  // a member limited to their own (or their team's) rows sees only what is routed to those owners
  const wide = access ? access.scope === undefined || access.scope === 'organization' : true;
  return { ownerIds, organizationId: wide ? memberOf : null, memberOf };
}
