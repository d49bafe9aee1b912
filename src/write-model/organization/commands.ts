import type { DataScope } from '../access/permissions.js';
import type { RemovalReason } from './events.js';

/**
 * Commands of one organization (stream `organization-{id}`). `by` is the
 * acting user; whether they may act at all (their permission) is the
 * caller's check — the decider keeps the domain's own rules (one owner, who
 * alone hands ownership on and grants `owner`; the bounds).
 */

/** Founds the organization; the founder becomes its owner. The same again is a no-op. */
export interface CreateOrganization {
  type: 'CreateOrganization';
  organizationId: string;
  name: string;
  ownerId: string;
  now: string;
}

export interface RenameOrganization {
  type: 'RenameOrganization';
  name: string;
  by: string;
  now: string;
}

export interface SetMfaRequirement {
  type: 'SetMfaRequirement';
  required: boolean;
  by: string;
  now: string;
}

/** A new member (from an accepted invitation); a member already added by the same invitation is a no-op. */
export interface AddMember {
  type: 'AddMember';
  userId: string;
  roles: readonly string[];
  team: string | null;
  invitationId: string | null;
  now: string;
}

export interface GrantRole {
  type: 'GrantRole';
  userId: string;
  role: string;
  by: string;
  now: string;
}

export interface RevokeRole {
  type: 'RevokeRole';
  userId: string;
  role: string;
  by: string;
  now: string;
}

export interface ChangeMemberTeam {
  type: 'ChangeMemberTeam';
  userId: string;
  team: string | null;
  by: string;
  now: string;
}

/** `removed` by someone else, or `left` (by the member themselves). */
export interface RemoveMember {
  type: 'RemoveMember';
  userId: string;
  by: string;
  reason: RemovalReason;
  now: string;
}

/** Only the owner; the new owner must be a member. */
export interface TransferOwnership {
  type: 'TransferOwnership';
  to: string;
  by: string;
  now: string;
}

export interface DefineCustomRole {
  type: 'DefineCustomRole';
  roleId: string;
  name: string;
  grants: Readonly<Record<string, DataScope>>;
  by: string;
  now: string;
}

/** What is given changes; the rest stays. */
export interface ChangeCustomRole {
  type: 'ChangeCustomRole';
  roleId: string;
  name?: string;
  grants?: Readonly<Record<string, DataScope>>;
  by: string;
  now: string;
}

/** The role goes, revoked from every member holding it first. */
export interface DeleteCustomRole {
  type: 'DeleteCustomRole';
  roleId: string;
  by: string;
  now: string;
}

export type OrganizationCommand =
  | CreateOrganization
  | RenameOrganization
  | SetMfaRequirement
  | AddMember
  | GrantRole
  | RevokeRole
  | ChangeMemberTeam
  | RemoveMember
  | TransferOwnership
  | DefineCustomRole
  | ChangeCustomRole
  | DeleteCustomRole;
