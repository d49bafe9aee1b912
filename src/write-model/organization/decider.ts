import { DATA_SCOPES, isPermissionPattern, type DataScope } from '../access/permissions.js';
import { BUILT_IN_ORG_ROLES } from '../access/roles.js';
import { SNAPSHOT_EVERY, type Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { withoutInvisible } from '../core/invisible.js';
import { instant, invalid, requireOneOf, requireText } from '../core/validate.js';
import type {
  AddMember,
  ChangeCustomRole,
  ChangeMemberTeam,
  CreateOrganization,
  DefineCustomRole,
  DeleteCustomRole,
  GrantRole,
  OrganizationCommand,
  RemoveMember,
  RevokeRole,
  TransferOwnership,
} from './commands.js';
import {
  MAX_CUSTOM_ROLES,
  MAX_MEMBERS,
  MAX_NAME,
  MAX_ROLE_GRANTS,
  MAX_ROLE_NAME,
  MAX_ROLES_PER_MEMBER,
  MAX_TEAM,
  REMOVAL_REASONS,
  organizationEvents,
  type OrganizationEvent,
} from './events.js';
import { customRoleOf, initialState, memberOf, type MemberState, type OrganizationState } from './state.js';
import { characterCount } from '../core/characters.js';

/**
 * An organization: stream `organization-{id}`.
 *
 * Rules (tests/unit/organization.spec.test.ts):
 * - exactly one owner (`ownerId`), always a member holding role `owner`;
 *   only the owner transfers ownership (to a member) or grants or revokes
 *   `owner` (or removes another member holding it); the owner can be
 *   neither removed nor leave (CONFLICT: transfer first). A transfer grants
 *   the new owner `owner`, revokes it from the old one and leaves them
 *   `admin`.
 * - a member's roles are built-in role names (BUILT_IN_ORG_ROLES) or ids of
 *   this organization's custom roles, at most MAX_ROLES_PER_MEMBER; a new
 *   member never starts as `owner`.
 * - at most MAX_MEMBERS members and MAX_CUSTOM_ROLES custom roles (CONFLICT,
 *   details.limit).
 * - a custom role: a name of 1–64 characters no other role of the
 *   organization has, and 1–100 grants, each a permission pattern
 *   (isPermissionPattern) of a named module other than `platform`, at a
 *   data scope; deleting one revokes it from every member holding it first
 *   (one RoleRevoked each).
 * - team names: 1–64 characters, or null.
 * - names are never made only of invisible characters, and two role names
 *   that differ only by case or invisible characters are the same name.
 * Repeats of what already holds are no-ops (no events).
 */
export function organizationStream(organizationId: string): string {
  return `organization-${organizationId}`;
}

type State = OrganizationState;
type Event = OrganizationEvent;

const BUILT_IN: readonly string[] = BUILT_IN_ORG_ROLES;
const CONTROL = /\p{Cc}/u;

/** A display name: trimmed, 1..max characters, no control characters, not only invisible ones. */
export function normalizeName(value: unknown, field: string, max: number): string {
  const name = requireText(value, field).trim();
  // a name made only of characters that draw nothing shows as no name at all
  if (withoutInvisible(name).trim() === '') throw invalid(`${field} must not be blank`, { field });
  if (characterCount(name) > max) throw invalid(`${field} must be at most ${max} characters`, { field, max });
  if (CONTROL.test(name)) throw invalid(`${field} must not contain control characters`, { field });
  return name;
}

/** A team name (trimmed, 1–64 characters) or null. */
export function normalizeTeam(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return normalizeName(value, 'team', MAX_TEAM);
}

/**
 * Custom role grants as kept: 1–100 entries, each a valid permission
 * pattern of a named module other than `platform` (whose permissions no
 * organization role grants), at one of DATA_SCOPES.
 */
export function normalizeGrants(value: unknown): Record<string, DataScope> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('grants must be an object: pattern → scope', { field: 'grants' });
  const entries = Object.entries(value);
  if (entries.length < 1 || entries.length > MAX_ROLE_GRANTS)
    throw invalid(`a role has 1 to ${MAX_ROLE_GRANTS} grants`, { field: 'grants', min: 1, max: MAX_ROLE_GRANTS });
  const grants: Record<string, DataScope> = {};
  for (const [pattern, scope] of entries) {
    const module = pattern.split('.')[0];
    if (module === 'platform' || module === '*')
      throw invalid(`${JSON.stringify(pattern)}: an organization role grants no platform permission (name the module)`, { field: 'grants', pattern });
    if (!isPermissionPattern(pattern))
      throw invalid(`${JSON.stringify(pattern)} is not a permission pattern (module.resource.operation, * for a whole segment)`, {
        field: 'grants',
        pattern,
      });
    const s = requireOneOf(scope, DATA_SCOPES, `grants.${pattern}`);
    Object.defineProperty(grants, pattern, { value: s, enumerable: true, writable: true, configurable: true });
  }
  return grants;
}

const sameGrants = (a: Readonly<Record<string, DataScope>>, b: Readonly<Record<string, DataScope>>): boolean =>
  JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

function requireOrganization(state: State): string {
  if (state.organizationId === null) throw new DomainError('NOT_FOUND', 'organization not found', {});
  return state.organizationId;
}

function requireMember(state: State, userId: unknown, field = 'userId'): { userId: string; member: MemberState } {
  const id = requireText(userId, field);
  const member = memberOf(state, id);
  if (!member) throw new DomainError('NOT_FOUND', `${id} is not a member of this organization`, { field, userId: id });
  return { userId: id, member };
}

/** A role this organization knows: a built-in name or one of its custom role ids. */
function requireRole(state: State, role: unknown, field: string): string {
  const r = requireText(role, field);
  if (!BUILT_IN.includes(r) && !customRoleOf(state, r))
    throw invalid(`${JSON.stringify(r)} is neither a built-in role (${BUILT_IN.join(', ')}) nor a custom role of this organization`, { field, role: r });
  return r;
}

function create(command: CreateOrganization, state: State): Event[] {
  const organizationId = requireText(command.organizationId, 'organizationId');
  const name = normalizeName(command.name, 'name', MAX_NAME);
  const ownerId = requireText(command.ownerId, 'ownerId');
  instant(command.now, 'now');
  if (state.organizationId !== null) {
    if (state.organizationId === organizationId && state.ownerId === ownerId && state.name === name) return [];
    throw new DomainError('CONFLICT', 'the organization exists already', { organizationId: state.organizationId });
  }
  return [{ type: 'OrganizationCreated', data: { organizationId, name, ownerId, createdAt: command.now } }];
}

function addMember(command: AddMember, state: State): Event[] {
  const organizationId = requireOrganization(state);
  const userId = requireText(command.userId, 'userId');
  instant(command.now, 'now');
  const invitationId = command.invitationId === null ? null : requireText(command.invitationId, 'invitationId');
  const existing = memberOf(state, userId);
  if (existing) {
    if (invitationId !== null && existing.joinedBy === invitationId) return [];
    throw new DomainError('CONFLICT', 'the user is a member of this organization already', { reason: 'already_member', userId });
  }
  if (!Array.isArray(command.roles)) throw invalid('roles must be a list', { field: 'roles' });
  const roles = [...new Set(command.roles.map((role, i) => requireRole(state, role, `roles.${i}`)))];
  if (roles.includes('owner')) throw invalid('a new member never starts as owner (the owner transfers ownership)', { field: 'roles', role: 'owner' });
  if (roles.length > MAX_ROLES_PER_MEMBER)
    throw invalid(`a member holds at most ${MAX_ROLES_PER_MEMBER} roles`, { field: 'roles', limit: MAX_ROLES_PER_MEMBER });
  if (state.memberCount >= MAX_MEMBERS)
    throw new DomainError('CONFLICT', `the organization has ${MAX_MEMBERS} members, the most it may have`, { limit: MAX_MEMBERS });
  return [{ type: 'MemberAdded', data: { organizationId, userId, roles, team: normalizeTeam(command.team), invitationId, addedAt: command.now } }];
}

function grant(command: GrantRole, state: State): Event[] {
  const organizationId = requireOrganization(state);
  const { userId, member } = requireMember(state, command.userId);
  const role = requireRole(state, command.role, 'role');
  const by = requireText(command.by, 'by');
  instant(command.now, 'now');
  if (role === 'owner' && by !== state.ownerId)
    throw new DomainError('PERMISSION_DENIED', 'only the owner grants the owner role', { reason: 'owner_only', role });
  if (member.roles.includes(role)) return [];
  if (member.roles.length >= MAX_ROLES_PER_MEMBER)
    throw invalid(`a member holds at most ${MAX_ROLES_PER_MEMBER} roles`, { field: 'roles', limit: MAX_ROLES_PER_MEMBER, userId });
  return [{ type: 'RoleGranted', data: { organizationId, userId, role, by, at: command.now } }];
}

function revoke(command: RevokeRole, state: State): Event[] {
  const organizationId = requireOrganization(state);
  const { userId, member } = requireMember(state, command.userId);
  const role = requireText(command.role, 'role');
  const by = requireText(command.by, 'by');
  instant(command.now, 'now');
  if (!member.roles.includes(role)) return [];
  if (role === 'owner') {
    if (userId === state.ownerId)
      throw new DomainError('CONFLICT', 'the owner always holds the owner role: transfer the ownership first', { reason: 'owner', userId });
    if (by !== state.ownerId) throw new DomainError('PERMISSION_DENIED', 'only the owner revokes the owner role', { reason: 'owner_only', role });
  }
  return [{ type: 'RoleRevoked', data: { organizationId, userId, role, by, at: command.now } }];
}

function changeTeam(command: ChangeMemberTeam, state: State): Event[] {
  const organizationId = requireOrganization(state);
  const { userId, member } = requireMember(state, command.userId);
  const team = normalizeTeam(command.team);
  const by = requireText(command.by, 'by');
  instant(command.now, 'now');
  if (member.team === team) return [];
  return [{ type: 'MemberTeamChanged', data: { organizationId, userId, team, by, at: command.now } }];
}

function remove(command: RemoveMember, state: State): Event[] {
  const organizationId = requireOrganization(state);
  const userId = requireText(command.userId, 'userId');
  const by = requireText(command.by, 'by');
  const reason = requireOneOf(command.reason, REMOVAL_REASONS, 'reason');
  instant(command.now, 'now');
  if (reason === 'left' && by !== userId) throw invalid('only the member themselves leaves', { field: 'by' });
  const member = memberOf(state, userId);
  if (!member) return [];
  if (userId === state.ownerId)
    throw new DomainError('CONFLICT', 'the owner can be neither removed nor leave: transfer the ownership first', { reason: 'owner', userId });
  // removing a holder of owner takes the role away with them: the owner's alone to do, as revoking it
  if (reason === 'removed' && member.roles.includes('owner') && by !== state.ownerId)
    throw new DomainError('PERMISSION_DENIED', 'only the owner removes a member holding the owner role', { reason: 'owner_only', role: 'owner' });
  return [{ type: 'MemberRemoved', data: { organizationId, userId, by, reason, at: command.now } }];
}

function transfer(command: TransferOwnership, state: State): Event[] {
  const organizationId = requireOrganization(state);
  const by = requireText(command.by, 'by');
  instant(command.now, 'now');
  const from = state.ownerId!;
  if (by !== from) throw new DomainError('PERMISSION_DENIED', 'only the owner transfers the ownership', { reason: 'owner_only' });
  const { userId: to, member } = requireMember(state, command.to, 'to');
  if (to === from) return [];
  const at = command.now;
  const events: Event[] = [];
  if (!member.roles.includes('owner')) {
    if (member.roles.length >= MAX_ROLES_PER_MEMBER)
      throw invalid(`the new owner holds ${MAX_ROLES_PER_MEMBER} roles already: revoke one first`, { field: 'to', limit: MAX_ROLES_PER_MEMBER });
    events.push({ type: 'RoleGranted', data: { organizationId, userId: to, role: 'owner', by, at } });
  }
  events.push({ type: 'OwnershipTransferred', data: { organizationId, from, to, at } });
  events.push({ type: 'RoleRevoked', data: { organizationId, userId: from, role: 'owner', by, at } });
  // the former owner stays in charge of the organization, no longer of its ownership
  if (!memberOf(state, from)?.roles.includes('admin')) events.push({ type: 'RoleGranted', data: { organizationId, userId: from, role: 'admin', by, at } });
  return events;
}

function requireRoleId(value: unknown): string {
  const roleId = requireText(value, 'roleId');
  if (characterCount(roleId) > 100) throw invalid('roleId must be at most 100 characters', { field: 'roleId' });
  if (BUILT_IN.includes(roleId)) throw invalid(`${roleId} is a built-in role`, { field: 'roleId' });
  return roleId;
}

/** How a role's name reads: case and characters that draw nothing do not tell two names apart. */
const roleNameKey = (name: string): string => withoutInvisible(name).toLowerCase();

function requireFreeRoleName(state: State, name: string, except: string | null): void {
  const wanted = roleNameKey(name);
  if (BUILT_IN.includes(wanted)) throw new DomainError('CONFLICT', `${name} is the name of a built-in role`, { field: 'name' });
  for (const [id, role] of Object.entries(state.customRoles)) {
    if (id !== except && roleNameKey(role.name) === wanted)
      throw new DomainError('CONFLICT', `the organization has a role named ${role.name} already`, { field: 'name', roleId: id });
  }
}

function defineRole(command: DefineCustomRole, state: State): Event[] {
  const organizationId = requireOrganization(state);
  const roleId = requireRoleId(command.roleId);
  const name = normalizeName(command.name, 'name', MAX_ROLE_NAME);
  const grants = normalizeGrants(command.grants);
  const by = requireText(command.by, 'by');
  instant(command.now, 'now');
  const existing = customRoleOf(state, roleId);
  if (existing) {
    if (existing.name === name && sameGrants(existing.grants, grants)) return [];
    throw new DomainError('CONFLICT', `role ${roleId} exists with other content`, { roleId });
  }
  requireFreeRoleName(state, name, null);
  if (state.customRoleCount >= MAX_CUSTOM_ROLES)
    throw new DomainError('CONFLICT', `the organization has ${MAX_CUSTOM_ROLES} custom roles, the most it may have`, { limit: MAX_CUSTOM_ROLES });
  return [{ type: 'CustomRoleDefined', data: { organizationId, roleId, name, grants, by, at: command.now } }];
}

function changeRole(command: ChangeCustomRole, state: State): Event[] {
  const organizationId = requireOrganization(state);
  const roleId = requireText(command.roleId, 'roleId');
  const by = requireText(command.by, 'by');
  instant(command.now, 'now');
  const existing = customRoleOf(state, roleId);
  if (!existing) throw new DomainError('NOT_FOUND', `role ${roleId} not found`, { roleId });
  const name = command.name === undefined ? existing.name : normalizeName(command.name, 'name', MAX_ROLE_NAME);
  const grants = command.grants === undefined ? existing.grants : normalizeGrants(command.grants);
  if (name === existing.name && sameGrants(existing.grants, grants)) return [];
  if (roleNameKey(name) !== roleNameKey(existing.name)) requireFreeRoleName(state, name, roleId);
  return [{ type: 'CustomRoleChanged', data: { organizationId, roleId, name, grants: { ...grants }, by, at: command.now } }];
}

function deleteRole(command: DeleteCustomRole, state: State): Event[] {
  const organizationId = requireOrganization(state);
  const roleId = requireText(command.roleId, 'roleId');
  const by = requireText(command.by, 'by');
  instant(command.now, 'now');
  if (!customRoleOf(state, roleId)) return [];
  const at = command.now;
  const events: Event[] = [];
  for (const [userId, member] of Object.entries(state.members)) {
    if (member.roles.includes(roleId)) events.push({ type: 'RoleRevoked', data: { organizationId, userId, role: roleId, by, at } });
  }
  events.push({ type: 'CustomRoleDeleted', data: { organizationId, roleId, by, at } });
  return events;
}

function decide(command: OrganizationCommand, state: State): Event[] {
  switch (command.type) {
    case 'CreateOrganization':
      return create(command, state);
    case 'RenameOrganization': {
      const organizationId = requireOrganization(state);
      const name = normalizeName(command.name, 'name', MAX_NAME);
      const by = requireText(command.by, 'by');
      instant(command.now, 'now');
      return name === state.name ? [] : [{ type: 'OrganizationRenamed', data: { organizationId, name, by, at: command.now } }];
    }
    case 'SetMfaRequirement': {
      const organizationId = requireOrganization(state);
      if (typeof command.required !== 'boolean') throw invalid('required must be a boolean', { field: 'required' });
      const by = requireText(command.by, 'by');
      instant(command.now, 'now');
      return command.required === state.mfaRequired
        ? []
        : [{ type: 'MfaRequirementChanged', data: { organizationId, required: command.required, by, at: command.now } }];
    }
    case 'AddMember':
      return addMember(command, state);
    case 'GrantRole':
      return grant(command, state);
    case 'RevokeRole':
      return revoke(command, state);
    case 'ChangeMemberTeam':
      return changeTeam(command, state);
    case 'RemoveMember':
      return remove(command, state);
    case 'TransferOwnership':
      return transfer(command, state);
    case 'DefineCustomRole':
      return defineRole(command, state);
    case 'ChangeCustomRole':
      return changeRole(command, state);
    case 'DeleteCustomRole':
      return deleteRole(command, state);
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

function put<T>(record: Record<string, T>, key: string, value: T): void {
  // defined, not assigned: an id like __proto__ stays an ordinary key
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}

/** O(1) per event (a member's ≤ 10 roles aside); a fold owns its state. */
function evolve(state: State, event: Event): State {
  switch (event.type) {
    case 'OrganizationCreated': {
      const d = event.data;
      state.organizationId = d.organizationId;
      state.name = d.name;
      state.ownerId = d.ownerId;
      state.createdAt = d.createdAt;
      put(state.members, d.ownerId, { roles: ['owner'], team: null, joinedAt: d.createdAt, joinedBy: null });
      state.memberCount = 1;
      return state;
    }
    case 'OrganizationRenamed':
      state.name = event.data.name;
      return state;
    case 'MfaRequirementChanged':
      state.mfaRequired = event.data.required;
      return state;
    case 'MemberAdded': {
      const d = event.data;
      if (!memberOf(state, d.userId)) state.memberCount += 1;
      // the roles are the state's own (≤ 10): later grants change them, never the event's data
      put(state.members, d.userId, { roles: [...d.roles], team: d.team, joinedAt: d.addedAt, joinedBy: d.invitationId });
      return state;
    }
    case 'RoleGranted': {
      const member = memberOf(state, event.data.userId);
      if (member && !member.roles.includes(event.data.role)) member.roles.push(event.data.role);
      return state;
    }
    case 'RoleRevoked': {
      const member = memberOf(state, event.data.userId);
      const at = member ? member.roles.indexOf(event.data.role) : -1;
      if (member && at >= 0) member.roles.splice(at, 1);
      return state;
    }
    case 'MemberTeamChanged': {
      const member = memberOf(state, event.data.userId);
      if (member) member.team = event.data.team;
      return state;
    }
    case 'MemberRemoved':
      if (memberOf(state, event.data.userId)) {
        delete state.members[event.data.userId];
        state.memberCount -= 1;
      }
      return state;
    case 'OwnershipTransferred':
      state.ownerId = event.data.to;
      return state;
    case 'CustomRoleDefined':
    case 'CustomRoleChanged': {
      const d = event.data;
      if (!customRoleOf(state, d.roleId)) state.customRoleCount += 1;
      put(state.customRoles, d.roleId, { name: d.name, grants: d.grants });
      return state;
    }
    case 'CustomRoleDeleted':
      if (customRoleOf(state, event.data.roleId)) {
        delete state.customRoles[event.data.roleId];
        state.customRoleCount -= 1;
      }
      return state;
  }
}

export const organizationDecider: Decider<OrganizationState, OrganizationCommand, OrganizationEvent> = {
  initialState,
  decide,
  evolve,
};

/**
 * The binding the command handler uses: stream `organization-{id}`. It
 * lives as long as the customer and every membership change adds an
 * event, so it snapshots like a lifecycle stream (the state keeps only
 * the current members and roles).
 */
export const organizationAggregate: Aggregate<OrganizationState, OrganizationCommand, OrganizationEvent> = {
  name: 'organization',
  streamName: organizationStream,
  decider: organizationDecider,
  events: organizationEvents,
  snapshot: { version: 1, every: SNAPSHOT_EVERY.lifecycle },
};
