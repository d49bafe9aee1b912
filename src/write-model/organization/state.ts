import type { DataScope } from '../access/permissions.js';

export interface MemberState {
  /** built-in role names and custom role ids, in the order granted */
  roles: string[];
  team: string | null;
  joinedAt: string;
  /** the invitation they joined by (a repeat of its acceptance is a no-op); null for the founder */
  joinedBy: string | null;
}

export interface CustomRoleState {
  name: string;
  grants: Record<string, DataScope>;
}

/**
 * An organization as decisions need it: members and custom roles by id
 * (plain objects updated in place: O(1) per event, bar a member's ≤ 10
 * roles), with their counts, which bound them.
 */
export interface OrganizationState {
  /** null until created */
  organizationId: string | null;
  name: string;
  ownerId: string | null;
  mfaRequired: boolean;
  createdAt: string | null;
  members: Record<string, MemberState>;
  memberCount: number;
  customRoles: Record<string, CustomRoleState>;
  customRoleCount: number;
}

export function initialState(): OrganizationState {
  return {
    organizationId: null,
    name: '',
    ownerId: null,
    mfaRequired: false,
    createdAt: null,
    members: {},
    memberCount: 0,
    customRoles: {},
    customRoleCount: 0,
  };
}

/** The member's entry, own keys only (an id like `__proto__` is never an inherited one). */
export function memberOf(state: OrganizationState, userId: string): MemberState | undefined {
  return Object.hasOwn(state.members, userId) ? state.members[userId] : undefined;
}

export function customRoleOf(state: OrganizationState, roleId: string): CustomRoleState | undefined {
  return Object.hasOwn(state.customRoles, roleId) ? state.customRoles[roleId] : undefined;
}
