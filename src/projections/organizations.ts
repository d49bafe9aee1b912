import type { Knex } from 'knex';
import type { Consumer } from '../consumers/consumer.js';
import type { RecordedEvent } from '../event-store/port.js';
import { organizationEvents, type OrganizationEvent } from '../write-model/organization/events.js';
import { invitationEvents, type InvitationEvent } from '../write-model/organization/invitation.js';
import { deleteRows, patchRows, selectRows, upsertRows, type Row } from './sql-batch.js';

/**
 * Read models of organizations (migrations/20261210100000_organizations_read_model.ts),
 * projection `organizations-v1`.
 *
 * The organization streams' events touch three tables. A batch reads the
 * rows it touches once (locked), folds its events into them in memory — an
 * event at or below a row's `last_revision` of the same organization is
 * applied already — and writes each table with one upsert and one delete.
 * A member row belongs to one organization at a time (a user is in one at
 * most): an organization's events touch only the member rows it owns,
 * except MemberAdded, which takes the row over (the user left the other
 * organization before joining: their claim orders it).
 *
 * Invitations have a stream each: the sending inserts the row (an existing
 * one stays), the answers patch it, guarded by the stream revision.
 */
export const ORGANIZATIONS_PROJECTION = 'organizations-v1';

const ORGANIZATION_PREFIX = 'organization-';
const INVITATION_PREFIX = 'organization_invitation-';

interface OrgRow extends Row {
  id: string;
  name: string;
  owner_id: string;
  mfa_required: boolean;
  member_count: number;
  created_at: string;
  updated_at: string;
  last_revision: string;
}

interface MemberRow extends Row {
  user_id: string;
  organization_id: string;
  roles: string[];
  team: string | null;
  joined_at: string;
  last_revision: string;
}

interface RoleRow extends Row {
  organization_id: string;
  id: string;
  name: string;
  grants: Record<string, string>;
  created_at: string;
  updated_at: string;
  last_revision: string;
}

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : String(v));
const roleKey = (organizationId: string, id: string) => `${organizationId}\u0000${id}`;

/** When the event happened, as its data says. */
function atOf(event: OrganizationEvent): string {
  switch (event.type) {
    case 'OrganizationCreated':
      return event.data.createdAt;
    case 'MemberAdded':
      return event.data.addedAt;
    default:
      return event.data.at;
  }
}

async function applyOrganizationEvents(tx: Knex.Transaction, decoded: { event: OrganizationEvent; revision: bigint }[]): Promise<void> {
  if (decoded.length === 0) return;
  const orgIds = [...new Set(decoded.map((e) => e.event.data.organizationId))];
  const userIds = new Set<string>();
  const roleKeys = new Map<string, { organization_id: string; id: string }>();
  for (const { event } of decoded) {
    if (event.type === 'OrganizationCreated') userIds.add(event.data.ownerId);
    else if ('userId' in event.data) userIds.add(event.data.userId);
    else if (event.type === 'OwnershipTransferred') userIds.add(event.data.to);
    if ('roleId' in event.data)
      roleKeys.set(roleKey(event.data.organizationId, event.data.roleId), { organization_id: event.data.organizationId, id: event.data.roleId });
  }
  const orgs = new Map(
    (
      await selectRows<OrgRow>(
        tx,
        'organizations',
        orgIds.map((id) => ({ id })),
        {
          key: ['id'],
          columns: ['id', 'name', 'owner_id', 'mfa_required', 'member_count', 'created_at', 'updated_at', 't.last_revision::text AS last_revision'],
          forUpdate: true,
        },
      )
    ).map((r) => [r.id, { ...r, created_at: iso(r.created_at), updated_at: iso(r.updated_at) }]),
  );
  const members = new Map<string, MemberRow | null>(
    (
      await selectRows<MemberRow>(
        tx,
        'organization_members',
        [...userIds].map((user_id) => ({ user_id })),
        {
          key: ['user_id'],
          columns: ['user_id', 'organization_id', 'roles', 'team', 'joined_at', 't.last_revision::text AS last_revision'],
          forUpdate: true,
        },
      )
    ).map((r) => [r.user_id, { ...r, roles: [...r.roles], joined_at: iso(r.joined_at) }]),
  );
  const roles = new Map<string, RoleRow | null>(
    (
      await selectRows<RoleRow>(tx, 'organization_roles', [...roleKeys.values()], {
        key: ['organization_id', 'id'],
        columns: ['organization_id', 'id', 'name', 'grants', 'created_at', 'updated_at', 't.last_revision::text AS last_revision'],
        forUpdate: true,
      })
    ).map((r) => [roleKey(r.organization_id, r.id), { ...r, created_at: iso(r.created_at), updated_at: iso(r.updated_at) }]),
  );
  const touchedOrgs = new Set<string>();
  const touchedMembers = new Set<string>();
  const touchedRoles = new Set<string>();
  // a member row of this organization that has not seen this revision yet
  const memberOf = (orgId: string, userId: string, revision: bigint): MemberRow | undefined => {
    const row = members.get(userId);
    return row && row.organization_id === orgId && BigInt(row.last_revision) < revision ? row : undefined;
  };

  for (const { event, revision } of decoded) {
    const orgId = event.data.organizationId;
    const rev = revision.toString();
    const at = atOf(event);
    const org = orgs.get(orgId);
    if (event.type === 'OrganizationCreated') {
      if (org) continue;
      const d = event.data;
      orgs.set(orgId, {
        id: orgId,
        name: d.name,
        owner_id: d.ownerId,
        mfa_required: false,
        member_count: 1,
        created_at: d.createdAt,
        updated_at: d.createdAt,
        last_revision: rev,
      });
      members.set(d.ownerId, { user_id: d.ownerId, organization_id: orgId, roles: ['owner'], team: null, joined_at: d.createdAt, last_revision: rev });
      touchedOrgs.add(orgId);
      touchedMembers.add(d.ownerId);
      continue;
    }
    if (!org || BigInt(org.last_revision) >= revision) continue; // applied already (or its creation never seen)
    org.last_revision = rev;
    org.updated_at = at;
    touchedOrgs.add(orgId);
    switch (event.type) {
      case 'OrganizationRenamed':
        org.name = event.data.name;
        break;
      case 'MfaRequirementChanged':
        org.mfa_required = event.data.required;
        break;
      case 'OwnershipTransferred':
        org.owner_id = event.data.to;
        break;
      case 'MemberAdded': {
        const d = event.data;
        const before = members.get(d.userId);
        if (before?.organization_id === orgId) break; // already this organization's
        org.member_count += 1;
        members.set(d.userId, { user_id: d.userId, organization_id: orgId, roles: [...d.roles], team: d.team, joined_at: d.addedAt, last_revision: rev });
        touchedMembers.add(d.userId);
        break;
      }
      case 'RoleGranted':
      case 'RoleRevoked':
      case 'MemberTeamChanged': {
        const row = memberOf(orgId, event.data.userId, revision);
        if (!row) break;
        if (event.type === 'MemberTeamChanged') row.team = event.data.team;
        else if (event.type === 'RoleGranted') {
          if (!row.roles.includes(event.data.role)) row.roles.push(event.data.role);
        } else row.roles = row.roles.filter((r) => r !== event.data.role);
        row.last_revision = rev;
        touchedMembers.add(row.user_id);
        break;
      }
      case 'MemberRemoved': {
        const row = members.get(event.data.userId);
        if (row?.organization_id !== orgId) break;
        org.member_count -= 1;
        members.set(event.data.userId, null);
        touchedMembers.add(event.data.userId);
        break;
      }
      case 'CustomRoleDefined':
      case 'CustomRoleChanged': {
        const d = event.data;
        const key = roleKey(orgId, d.roleId);
        const before = roles.get(key);
        roles.set(key, {
          organization_id: orgId,
          id: d.roleId,
          name: d.name,
          grants: d.grants,
          created_at: before?.created_at ?? at,
          updated_at: at,
          last_revision: rev,
        });
        touchedRoles.add(key);
        break;
      }
      case 'CustomRoleDeleted':
        roles.set(roleKey(orgId, event.data.roleId), null);
        touchedRoles.add(roleKey(orgId, event.data.roleId));
        break;
    }
  }

  await upsertRows(
    tx,
    'organizations',
    [...touchedOrgs].map((id) => orgs.get(id)!),
    { conflict: ['id'], update: ['name', 'owner_id', 'mfa_required', 'member_count', 'updated_at', 'last_revision'] },
  );
  const memberRows = [...touchedMembers].map((id) => members.get(id)).filter((r): r is MemberRow => r != null);
  const goneMembers = [...touchedMembers].filter((id) => members.get(id) === null);
  await deleteRows(
    tx,
    'organization_members',
    goneMembers.map((user_id) => ({ user_id })),
    { key: ['user_id'] },
  );
  await upsertRows(tx, 'organization_members', memberRows, {
    conflict: ['user_id'],
    update: ['organization_id', 'roles', 'team', 'joined_at', 'last_revision'],
  });
  const roleRows = [...touchedRoles].map((k) => roles.get(k)).filter((r): r is RoleRow => r != null);
  const goneRoles = [...touchedRoles].filter((k) => roles.get(k) === null).map((k) => roleKeys.get(k)!);
  await deleteRows(tx, 'organization_roles', goneRoles, { key: ['organization_id', 'id'] });
  // created_at too: a role deleted and defined again in one batch is a new role, though its old row is still there to update
  await upsertRows(tx, 'organization_roles', roleRows, {
    conflict: ['organization_id', 'id'],
    update: ['name', 'grants', 'created_at', 'updated_at', 'last_revision'],
  });
}

async function applyInvitationEvents(tx: Knex.Transaction, decoded: { event: InvitationEvent; revision: bigint }[]): Promise<void> {
  const inserts = new Map<string, Row>();
  const patches = new Map<string, Row>();
  for (const { event, revision } of decoded) {
    const id = event.data.invitationId;
    const rev = revision.toString();
    if (event.type === 'InvitationSent') {
      const d = event.data;
      // the token's hash and the address's hash beside its mask only: never the address or the token
      inserts.set(id, {
        id,
        organization_id: d.organizationId,
        email_hash: d.emailHash,
        email_masked: d.emailMasked,
        roles: d.roles,
        team: d.team,
        invited_by: d.invitedBy,
        status: 'pending',
        expires_at: d.expiresAt,
        sent_at: d.sentAt,
        answered_by: null,
        answered_at: null,
        last_revision: rev,
      });
      continue;
    }
    const patch: Row =
      event.type === 'InvitationRevoked'
        ? { id, status: 'revoked', answered_by: event.data.by, answered_at: event.data.at, last_revision: rev }
        : {
            id,
            status: event.type === 'InvitationAccepted' ? 'accepted' : 'declined',
            answered_by: event.data.userId,
            answered_at: event.data.at,
            last_revision: rev,
          };
    const inserted = inserts.get(id);
    if (inserted) Object.assign(inserted, patch);
    else patches.set(id, patch);
  }
  await upsertRows(tx, 'organization_invitations', [...inserts.values()], { conflict: ['id'] });
  await patchRows(tx, 'organization_invitations', [...patches.values()], { key: ['id'], guard: 't.last_revision < n.last_revision' });
}

export function createOrganizationsProjection(name: string = ORGANIZATIONS_PROJECTION): Consumer {
  return {
    name,
    filter: { streamPrefixes: [ORGANIZATION_PREFIX, INVITATION_PREFIX], eventTypes: [...organizationEvents.types, ...invitationEvents.types] },
    async handle(events: readonly RecordedEvent[], { tx }) {
      const orgs: { event: OrganizationEvent; revision: bigint }[] = [];
      const invitations: { event: InvitationEvent; revision: bigint }[] = [];
      for (const recorded of events) {
        if (recorded.streamName.startsWith(ORGANIZATION_PREFIX) && organizationEvents.owns(recorded.type))
          orgs.push({ event: organizationEvents.decode(recorded), revision: recorded.revision });
        else if (recorded.streamName.startsWith(INVITATION_PREFIX) && invitationEvents.owns(recorded.type))
          invitations.push({ event: invitationEvents.decode(recorded), revision: recorded.revision });
      }
      await applyOrganizationEvents(tx, orgs);
      await applyInvitationEvents(tx, invitations);
    },
  };
}

export const organizationsProjection: Consumer = createOrganizationsProjection();
