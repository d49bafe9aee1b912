import type { MembershipDirectory } from '../ports/membership.js';

/** The user's organization (null outside one, or where organizations are not wired). */
export async function organizationOf(membership: MembershipDirectory | null | undefined, userId: string): Promise<string | null> {
  if (!membership) return null;
  return (await membership.of(userId))?.organizationId ?? null;
}

/** What per-organization limits count by: the organization, else the user alone. */
export function sendLimitKey(organizationId: string | null | undefined, userId: string): string {
  return organizationId ? `org:${organizationId}` : `user:${userId}`;
}
