import type { Knex } from 'knex';
import { pageOf, type Page, type PageRequest } from './page.js';
import { selectPage } from './page-query.js';
import type { InvitationStatus } from '../write-model/organization/invitation.js';

/**
 * Queries over the organizations read model (projection `organizations-v1`):
 * an organization's members, invitations and custom roles, and the
 * invitations addressed to an email (by its hash). The caller's membership
 * of the organization is checked before (src/adapters/http/routes/organizations.ts).
 */

export interface MemberView {
  user_id: string;
  roles: string[];
  team: string | null;
  joined_at: string;
  display_name: string | null;
  email: string | null;
}

export interface InvitationView {
  id: string;
  organization_id: string;
  email: string;
  roles: string[];
  team: string | null;
  invited_by: string;
  status: InvitationStatus;
  expired: boolean;
  expires_at: string;
  sent_at: string;
  answered_at: string | null;
}

export interface CustomRoleView {
  id: string;
  name: string;
  grants: Record<string, string>;
  created_at: string;
  updated_at: string;
}

const iso = (v: unknown): string | null => (v instanceof Date ? v.toISOString() : typeof v === 'string' ? new Date(v).toISOString() : null);

const MEMBER_COLUMNS = ['m.user_id', 'm.roles', 'm.team', 'm.joined_at', 'u.display_name', 'u.email'];

function memberView(r: Record<string, any>): MemberView {
  return {
    user_id: r.user_id,
    roles: r.roles ?? [],
    team: r.team ?? null,
    joined_at: iso(r.joined_at)!,
    display_name: r.display_name ?? null,
    email: r.email ?? null,
  };
}

/** The organization's members, longest-standing first; `role` and `team` narrow it. */
export async function listMembers(
  knex: Knex,
  organizationId: string,
  /** userIds: only these members (the caller's data scope); absent: all of them */
  filter: { role?: string | undefined; team?: string | undefined; userIds?: readonly string[] | undefined },
  page: PageRequest,
): Promise<Page<MemberView>> {
  const q = knex('organization_members as m').leftJoin('users as u', 'u.id', 'm.user_id').where('m.organization_id', organizationId);
  if (filter.role !== undefined) q.andWhereRaw('? = ANY(m.roles)', [filter.role]);
  if (filter.team !== undefined) q.andWhere('m.team', filter.team);
  // one array binding: the statement keeps one shape whatever the scope's size (it is prepared)
  if (filter.userIds) q.andWhereRaw('m.user_id = ANY(?::text[])', [[...filter.userIds]]);
  const ordered = q.select(MEMBER_COLUMNS).orderBy([
    { column: 'm.joined_at', order: 'asc' },
    { column: 'm.user_id', order: 'asc' },
  ]);
  const { rows, total } = await selectPage<Record<string, any>>(knex, ordered, page);
  return pageOf(rows.map(memberView), page, total);
}

export async function findMember(knex: Knex, organizationId: string, userId: string): Promise<MemberView | null> {
  const row = await knex('organization_members as m')
    .leftJoin('users as u', 'u.id', 'm.user_id')
    .where({ 'm.organization_id': organizationId, 'm.user_id': userId })
    .first(MEMBER_COLUMNS);
  return row ? memberView(row) : null;
}

const INVITATION_COLUMNS = ['id', 'organization_id', 'email_masked', 'roles', 'team', 'invited_by', 'status', 'expires_at', 'sent_at', 'answered_at'];

function invitationView(r: Record<string, any>, now: Date): InvitationView {
  const expiresAt = iso(r.expires_at)!;
  return {
    id: r.id,
    organization_id: r.organization_id,
    email: r.email_masked,
    roles: r.roles ?? [],
    team: r.team ?? null,
    invited_by: r.invited_by,
    status: r.status,
    expired: r.status === 'pending' && Date.parse(expiresAt) <= now.getTime(),
    expires_at: expiresAt,
    sent_at: iso(r.sent_at)!,
    answered_at: iso(r.answered_at),
  };
}

/** The organization's invitations, newest first; `status` narrows it. */
export async function listInvitations(
  knex: Knex,
  organizationId: string,
  /** sentBy: only those sent by these members (the caller's data scope); absent: all of them */
  filter: { status?: InvitationStatus | undefined; sentBy?: readonly string[] | undefined },
  page: PageRequest,
  now: Date = new Date(),
): Promise<Page<InvitationView>> {
  const q = knex('organization_invitations').where('organization_id', organizationId);
  if (filter.status) q.andWhere('status', filter.status);
  // one array binding: the statement keeps one shape whatever the scope's size (it is prepared)
  if (filter.sentBy) q.whereRaw('invited_by = ANY(?)', [[...filter.sentBy]]);
  const ordered = q.select(INVITATION_COLUMNS).orderBy([
    { column: 'sent_at', order: 'desc' },
    { column: 'id', order: 'desc' },
  ]);
  const { rows, total } = await selectPage<Record<string, any>>(knex, ordered, page);
  return pageOf(
    rows.map((r) => invitationView(r, now)),
    page,
    total,
  );
}

/** Invitations addressed to the email with this hash, newest first, with their organization's name. */
export async function listInvitationsTo(
  knex: Knex,
  emailHash: string,
  filter: { status?: InvitationStatus | undefined },
  page: PageRequest,
  now: Date = new Date(),
): Promise<Page<InvitationView & { organization_name: string | null }>> {
  const q = knex('organization_invitations as i').leftJoin('organizations as o', 'o.id', 'i.organization_id').where('i.email_hash', emailHash);
  if (filter.status) q.andWhere('i.status', filter.status);
  const ordered = q.select([...INVITATION_COLUMNS.map((c) => `i.${c}`), 'o.name as organization_name']).orderBy([
    { column: 'i.sent_at', order: 'desc' },
    { column: 'i.id', order: 'desc' },
  ]);
  const { rows, total } = await selectPage<Record<string, any>>(knex, ordered, page);
  return pageOf(
    rows.map((r) => ({ ...invitationView(r, now), organization_name: r.organization_name ?? null })),
    page,
    total,
  );
}

/** The organization's custom roles, by name. */
export async function listCustomRoles(knex: Knex, organizationId: string): Promise<CustomRoleView[]> {
  const rows = await knex('organization_roles')
    .where('organization_id', organizationId)
    .select(['id', 'name', 'grants', 'created_at', 'updated_at'])
    .orderBy([
      { column: 'name', order: 'asc' },
      { column: 'id', order: 'asc' },
    ]);
  return rows.map((r: Record<string, any>) => ({
    id: r.id,
    name: r.name,
    grants: r.grants,
    created_at: iso(r.created_at)!,
    updated_at: iso(r.updated_at)!,
  }));
}
