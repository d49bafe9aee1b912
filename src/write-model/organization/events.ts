import { z } from 'zod';
import type { DataScope } from '../access/permissions.js';
import { DATA_SCOPES } from '../access/permissions.js';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';

/**
 * An organization (an enterprise customer): stream `organization-{id}`. It
 * keeps the organization's lifecycle, its members with their roles and
 * teams, and its custom roles. Every role granted or revoked is an event of
 * its own, so the history says who gave whom what and when. The stream
 * grows with membership changes (bounded by MAX_MEMBERS live members) and
 * carries a snapshot policy.
 */

/** Bounds that keep one organization's state small enough to snapshot and decide on quickly. */
export const MAX_MEMBERS = 1_000;
export const MAX_CUSTOM_ROLES = 50;
export const MAX_ROLES_PER_MEMBER = 10;
export const MAX_ROLE_GRANTS = 100;
export const MAX_NAME = 100;
export const MAX_TEAM = 64;
export const MAX_ROLE_NAME = 64;

/** Why a member is no longer one: removed by someone, or left by themselves. */
export const REMOVAL_REASONS = ['removed', 'left'] as const;
export type RemovalReason = (typeof REMOVAL_REASONS)[number];

export interface OrganizationCreatedData {
  organizationId: string;
  name: string;
  /** the founder: the first member, holding role `owner` */
  ownerId: string;
  createdAt: string;
}

export interface OrganizationRenamedData {
  organizationId: string;
  name: string;
  by: string;
  at: string;
}

export interface MfaRequirementChangedData {
  organizationId: string;
  /** members must have a second factor */
  required: boolean;
  by: string;
  at: string;
}

export interface MemberAddedData {
  organizationId: string;
  userId: string;
  /** built-in role names and custom role ids (never `owner`) */
  roles: string[];
  team: string | null;
  /** the invitation accepted; null when added otherwise */
  invitationId: string | null;
  addedAt: string;
}

export interface RoleGrantedData {
  organizationId: string;
  userId: string;
  role: string;
  by: string;
  at: string;
}

export type RoleRevokedData = RoleGrantedData;

export interface MemberTeamChangedData {
  organizationId: string;
  userId: string;
  team: string | null;
  by: string;
  at: string;
}

export interface MemberRemovedData {
  organizationId: string;
  userId: string;
  by: string;
  reason: RemovalReason;
  at: string;
}

export interface OwnershipTransferredData {
  organizationId: string;
  from: string;
  to: string;
  at: string;
}

export interface CustomRoleDefinedData {
  organizationId: string;
  roleId: string;
  name: string;
  /** permission pattern → data scope */
  grants: Record<string, DataScope>;
  by: string;
  at: string;
}

/** The whole role as it now stands. */
export type CustomRoleChangedData = CustomRoleDefinedData;

export interface CustomRoleDeletedData {
  organizationId: string;
  roleId: string;
  by: string;
  at: string;
}

export type OrganizationEvent =
  | DomainEvent<'OrganizationCreated', OrganizationCreatedData>
  | DomainEvent<'OrganizationRenamed', OrganizationRenamedData>
  | DomainEvent<'MfaRequirementChanged', MfaRequirementChangedData>
  | DomainEvent<'MemberAdded', MemberAddedData>
  | DomainEvent<'RoleGranted', RoleGrantedData>
  | DomainEvent<'RoleRevoked', RoleRevokedData>
  | DomainEvent<'MemberTeamChanged', MemberTeamChangedData>
  | DomainEvent<'MemberRemoved', MemberRemovedData>
  | DomainEvent<'OwnershipTransferred', OwnershipTransferredData>
  | DomainEvent<'CustomRoleDefined', CustomRoleDefinedData>
  | DomainEvent<'CustomRoleChanged', CustomRoleChangedData>
  | DomainEvent<'CustomRoleDeleted', CustomRoleDeletedData>;

export type OrganizationEventType = OrganizationEvent['type'];

// ---------------------------------------------------------------- decoding

/** Grants kept as stored: a plain object (z.record would drop a `__proto__` key). */
const grantsSchema = z.custom<Record<string, DataScope>>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((scope) => (DATA_SCOPES as readonly unknown[]).includes(scope)),
  { message: 'expected grants: pattern → own | team | organization' },
);

const roleChange = z.object({ organizationId: z.string(), userId: z.string(), role: z.string(), by: z.string(), at: z.string() });
const customRole = z.object({ organizationId: z.string(), roleId: z.string(), name: z.string(), grants: grantsSchema, by: z.string(), at: z.string() });

/** The decode boundary of this aggregate's stored events (see core/event-codec.ts). */
export const organizationEvents = eventCodec<OrganizationEvent>({
  OrganizationCreated: { schema: z.object({ organizationId: z.string(), name: z.string(), ownerId: z.string(), createdAt: z.string() }) },
  OrganizationRenamed: { schema: z.object({ organizationId: z.string(), name: z.string(), by: z.string(), at: z.string() }) },
  MfaRequirementChanged: { schema: z.object({ organizationId: z.string(), required: z.boolean(), by: z.string(), at: z.string() }) },
  MemberAdded: {
    schema: z.object({
      organizationId: z.string(),
      userId: z.string(),
      roles: z.array(z.string()),
      team: z.string().nullable(),
      invitationId: z.string().nullable(),
      addedAt: z.string(),
    }),
  },
  RoleGranted: { schema: roleChange },
  RoleRevoked: { schema: roleChange },
  MemberTeamChanged: {
    schema: z.object({ organizationId: z.string(), userId: z.string(), team: z.string().nullable(), by: z.string(), at: z.string() }),
  },
  MemberRemoved: {
    schema: z.object({ organizationId: z.string(), userId: z.string(), by: z.string(), reason: z.enum(REMOVAL_REASONS), at: z.string() }),
  },
  OwnershipTransferred: { schema: z.object({ organizationId: z.string(), from: z.string(), to: z.string(), at: z.string() }) },
  CustomRoleDefined: { schema: customRole },
  CustomRoleChanged: { schema: customRole },
  CustomRoleDeleted: { schema: z.object({ organizationId: z.string(), roleId: z.string(), by: z.string(), at: z.string() }) },
});
