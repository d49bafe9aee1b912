import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { organizationsProjection } from '../../src/projections/organizations.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { projectionSpec, recorded } from '../support/projection-spec.js';

describe('organizations-v1 projection (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const T0 = '2026-12-10T10:00:00.000Z';
  const T1 = '2026-12-10T11:00:00.000Z';

  function org(organizationId = randomUUID()) {
    const stream = `organization-${organizationId}`;
    const e = (type: string, data: Record<string, unknown>) => recorded(stream, type, { organizationId, ...data });
    return {
      organizationId,
      created: (ownerId: string) => e('OrganizationCreated', { name: 'Acme', ownerId, createdAt: T0 }),
      added: (userId: string, roles: string[], team: string | null = null) => e('MemberAdded', { userId, roles, team, invitationId: null, addedAt: T0 }),
      granted: (userId: string, role: string) => e('RoleGranted', { userId, role, by: 'o', at: T1 }),
      revoked: (userId: string, role: string) => e('RoleRevoked', { userId, role, by: 'o', at: T1 }),
      team: (userId: string, team: string | null) => e('MemberTeamChanged', { userId, team, by: 'o', at: T1 }),
      removed: (userId: string) => e('MemberRemoved', { userId, by: 'o', reason: 'removed', at: T1 }),
      renamed: (name: string) => e('OrganizationRenamed', { name, by: 'o', at: T1 }),
      mfa: (required: boolean) => e('MfaRequirementChanged', { required, by: 'o', at: T1 }),
      transferred: (from: string, to: string) => e('OwnershipTransferred', { from, to, at: T1 }),
      defined: (roleId: string, name: string, grants: Record<string, string>) => e('CustomRoleDefined', { roleId, name, grants, by: 'o', at: T0 }),
      changed: (roleId: string, name: string, grants: Record<string, string>) => e('CustomRoleChanged', { roleId, name, grants, by: 'o', at: T1 }),
      deleted: (roleId: string) => e('CustomRoleDeleted', { roleId, by: 'o', at: T1 }),
    };
  }

  for (const batchSize of [undefined, 1]) {
    const label = batchSize ? ' (one event per batch)' : '';

    it(`keeps the organization, its members and their roles${label}`, async () => {
      const a = org();
      const [owner, ann, bob] = [randomUUID(), randomUUID(), randomUUID()];
      await projectionSpec(knex, organizationsProjection, { batchSize })
        .given([
          a.created(owner),
          a.added(ann, ['operator'], 'north'),
          a.added(bob, ['analyst']),
          a.granted(ann, 'admin'),
          a.revoked(ann, 'operator'),
          a.team(bob, 'south'),
          a.removed(bob),
          a.renamed('Acme Ltd'),
          a.mfa(true),
          a.granted(ann, 'owner'),
          a.transferred(owner, ann),
          a.revoked(owner, 'owner'),
          a.granted(owner, 'admin'),
        ])
        .thenAll([
          {
            table: 'organizations',
            query: { where: { id: a.organizationId }, columns: ['name', 'owner_id', 'mfa_required', 'member_count', 'last_revision'] },
            expected: [{ name: 'Acme Ltd', owner_id: ann, mfa_required: true, member_count: 2, last_revision: '12' }],
          },
          {
            table: 'organization_members',
            query: { where: { organization_id: a.organizationId }, columns: ['user_id', 'roles', 'team'], orderBy: ['roles'] },
            expected: [
              { user_id: ann, roles: ['admin', 'owner'], team: 'north' },
              { user_id: owner, roles: ['admin'], team: null },
            ].sort((x, y) => (x.roles.join() < y.roles.join() ? -1 : 1)),
          },
        ]);
    });

    it(`moves a member row to the organization they join next${label}`, async () => {
      const [a, b] = [org(), org()];
      const [ownerA, ownerB, ann] = [randomUUID(), randomUUID(), randomUUID()];
      await projectionSpec(knex, organizationsProjection, { batchSize })
        .given([a.created(ownerA), b.created(ownerB), a.added(ann, ['operator']), a.removed(ann), b.added(ann, ['analyst'], 'west'), a.granted(ann, 'admin')])
        .thenAll([
          {
            table: 'organization_members',
            query: { where: { user_id: ann }, columns: ['organization_id', 'roles', 'team'] },
            expected: [{ organization_id: b.organizationId, roles: ['analyst'], team: 'west' }],
          },
          {
            table: 'organizations',
            query: { where: { id: a.organizationId }, columns: ['member_count'] },
            expected: [{ member_count: 1 }],
          },
          {
            table: 'organizations',
            query: { where: { id: b.organizationId }, columns: ['member_count'] },
            expected: [{ member_count: 2 }],
          },
        ]);
    });

    it(`keeps custom roles; a deleted one goes${label}`, async () => {
      const a = org();
      await projectionSpec(knex, organizationsProjection, { batchSize })
        .given([
          a.created(randomUUID()),
          a.defined('r1', 'Editor', { 'publishing.articles.*': 'team' }),
          a.defined('r2', 'Watcher', { 'collection.*.view': 'own' }),
          a.changed('r1', 'Chief editor', { 'publishing.*.*': 'organization' }),
          a.deleted('r2'),
        ])
        .then('organization_roles', { where: { organization_id: a.organizationId }, columns: ['id', 'name', 'grants', 'last_revision'] }, [
          { id: 'r1', name: 'Chief editor', grants: { 'publishing.*.*': 'organization' }, last_revision: '3' },
        ]);
    });
  }

  it('a custom role deleted and defined again is a new role: created when defined again, however the events are batched', async () => {
    const T2 = '2026-12-10T12:00:00.000Z';
    for (const batchSize of [undefined, 1, 2]) {
      const a = org();
      const stream = `organization-${a.organizationId}`;
      await projectionSpec(knex, organizationsProjection, { batchSize })
        .given([
          a.created(randomUUID()),
          a.defined('r1', 'Editor', { 'publishing.articles.*': 'team' }),
          // with two events a batch, the deletion and the new definition come together
          a.deleted('r1'),
          recorded(stream, 'CustomRoleDefined', { organizationId: a.organizationId, roleId: 'r1', name: 'Editor', grants: {}, by: 'o', at: T2 }),
        ])
        .then('organization_roles', { where: { organization_id: a.organizationId }, columns: ['id', 'created_at', 'updated_at', 'last_revision'] }, [
          { id: 'r1', created_at: new Date(T2), updated_at: new Date(T2), last_revision: '3' },
        ]);
    }
  });

  it('keeps invitations without the address or the token, and their answers', async () => {
    const [i1, i2, i3] = [randomUUID(), randomUUID(), randomUUID()];
    const organizationId = randomUUID();
    const sent = (invitationId: string) =>
      recorded(`organization_invitation-${invitationId}`, 'InvitationSent', {
        invitationId,
        organizationId,
        emailHash: 'a'.repeat(64),
        emailMasked: 'a*n@example.com',
        roles: ['operator'],
        team: 'north',
        invitedBy: 'owner',
        expiresAt: '2026-12-17T10:00:00.000Z',
        tokenHash: 'b'.repeat(64),
        sentAt: T0,
      });
    await projectionSpec(knex, organizationsProjection)
      .given([
        sent(i1),
        sent(i2),
        sent(i3),
        recorded(`organization_invitation-${i1}`, 'InvitationAccepted', { invitationId: i1, organizationId, userId: 'ann', at: T1 }),
        recorded(`organization_invitation-${i2}`, 'InvitationRevoked', { invitationId: i2, organizationId, by: 'owner', at: T1 }),
      ])
      .thenQuery(
        (tx) =>
          tx('organization_invitations')
            .where({ organization_id: organizationId })
            .select('id', 'email_masked', 'roles', 'team', 'status', 'answered_by')
            .orderBy('status'),
        [
          { id: i1, email_masked: 'a*n@example.com', roles: ['operator'], team: 'north', status: 'accepted', answered_by: 'ann' },
          { id: i3, email_masked: 'a*n@example.com', roles: ['operator'], team: 'north', status: 'pending', answered_by: null },
          { id: i2, email_masked: 'a*n@example.com', roles: ['operator'], team: 'north', status: 'revoked', answered_by: 'owner' },
        ],
      );
  });
});
