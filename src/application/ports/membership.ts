import type { Grants } from '../../write-model/access/roles.js';

/** One member of an organization, as data scopes need them. */
export interface OrganizationMemberRef {
  userId: string;
  team: string | null;
}

/** A user's place in their organization (a user belongs to at most one), read from the event store. */
export interface OrganizationMembership {
  organizationId: string;
  /** built-in role names (owner, admin, …) and custom role ids */
  roles: readonly string[];
  team: string | null;
  /** the organization's custom roles: id → grants */
  customRoles: Readonly<Record<string, Grants>>;
  /** the organization requires a second factor of its members */
  mfaRequired: boolean;
  /** every member (for team and organization data scopes) */
  members: readonly OrganizationMemberRef[];
}

export interface MembershipDirectory {
  /** null: the user is in no organization */
  of(userId: string): Promise<OrganizationMembership | null>;
}
