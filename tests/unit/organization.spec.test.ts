import { expect } from 'chai';
import { PERMISSIONS } from '../../src/write-model/access/permissions.js';
import { fold } from '../../src/write-model/core/decider.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  MAX_CUSTOM_ROLES,
  MAX_MEMBERS,
  MAX_ROLES_PER_MEMBER,
  organizationDecider,
  type OrganizationCommand,
  type OrganizationEvent,
} from '../../src/write-model/organization/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(organizationDecider);
const ORG = 'org-1';
const T0 = '2026-12-10T10:00:00.000Z';
const T1 = '2026-12-10T11:00:00.000Z';
const organizationId = ORG;

const created: OrganizationEvent = { type: 'OrganizationCreated', data: { organizationId, name: 'Acme', ownerId: 'owner', createdAt: T0 } };
const added = (
  userId: string,
  roles: string[] = ['operator'],
  team: string | null = null,
  invitationId: string | null = `inv-${userId}`,
): OrganizationEvent => ({
  type: 'MemberAdded',
  data: { organizationId, userId, roles, team, invitationId, addedAt: T0 },
});
const defined = (
  roleId: string,
  name = 'Editor',
  grants: Record<string, 'own' | 'team' | 'organization'> = { 'publishing.articles.*': 'team' },
): OrganizationEvent => ({
  type: 'CustomRoleDefined',
  data: { organizationId, roleId, name, grants, by: 'owner', at: T0 },
});
const granted = (userId: string, role: string, by = 'owner'): OrganizationEvent => ({
  type: 'RoleGranted',
  data: { organizationId, userId, role, by, at: T1 },
});
const revoked = (userId: string, role: string, by = 'owner'): OrganizationEvent => ({
  type: 'RoleRevoked',
  data: { organizationId, userId, role, by, at: T1 },
});

const code = (c: string) => (e: DomainError) => e.code === c;

describe('organization decider (given/when/then)', () => {
  describe('CreateOrganization', () => {
    const create: OrganizationCommand = { type: 'CreateOrganization', organizationId, name: '  Acme ', ownerId: 'owner', now: T0 };
    it('founds it with the founder as owner (name trimmed)', () => spec.given([]).when(create).then([created]));
    it('the same again is a no-op', () => spec.given([created]).when(create).then([]));
    it('another founding of the same id is CONFLICT', () =>
      spec
        .given([created])
        .when({ ...create, ownerId: 'other' })
        .thenThrows(DomainError, code('CONFLICT')));
    it('refuses an empty or overlong name, or control characters', () => {
      for (const name of ['', '   ', 'x'.repeat(101), 'a\u0007b'])
        spec
          .given([])
          .when({ ...create, name })
          .thenThrows(DomainError, code('VALIDATION_ERROR'));
    });
    it('the founder is a member holding owner', () => {
      const state = fold(organizationDecider, [created]);
      expect(state.members.owner).to.deep.include({ roles: ['owner'], team: null });
      expect(state.memberCount).to.equal(1);
      expect(state.ownerId).to.equal('owner');
    });
  });

  describe('RenameOrganization / SetMfaRequirement', () => {
    it('renames; the same name again is a no-op', () => {
      spec
        .given([created])
        .when({ type: 'RenameOrganization', name: 'Acme Ltd', by: 'owner', now: T1 })
        .then([{ type: 'OrganizationRenamed', data: { organizationId, name: 'Acme Ltd', by: 'owner', at: T1 } }]);
      spec.given([created]).when({ type: 'RenameOrganization', name: 'Acme', by: 'owner', now: T1 }).then([]);
    });
    it('requires MFA; unchanged is a no-op', () => {
      spec
        .given([created])
        .when({ type: 'SetMfaRequirement', required: true, by: 'owner', now: T1 })
        .then([{ type: 'MfaRequirementChanged', data: { organizationId, required: true, by: 'owner', at: T1 } }]);
      spec.given([created]).when({ type: 'SetMfaRequirement', required: false, by: 'owner', now: T1 }).then([]);
    });
    it('an organization that does not exist is NOT_FOUND', () =>
      spec.given([]).when({ type: 'RenameOrganization', name: 'X', by: 'owner', now: T1 }).thenThrows(DomainError, code('NOT_FOUND')));
  });

  describe('AddMember', () => {
    const add = (over: Partial<Extract<OrganizationCommand, { type: 'AddMember' }>> = {}): OrganizationCommand => ({
      type: 'AddMember',
      userId: 'ann',
      roles: ['operator', 'operator', 'analyst'],
      team: ' north ',
      invitationId: 'inv-ann',
      now: T0,
      ...over,
    });
    it('adds with unique roles and a trimmed team', () =>
      spec
        .given([created])
        .when(add())
        .then([added('ann', ['operator', 'analyst'], 'north')]));
    it('the same invitation again is a no-op; another one is CONFLICT', () => {
      spec
        .given([created, added('ann')])
        .when(add())
        .then([]);
      spec
        .given([created, added('ann')])
        .when(add({ invitationId: 'inv-2' }))
        .thenThrows(DomainError, (e: DomainError) => e.code === 'CONFLICT' && e.details.reason === 'already_member');
    });
    it('takes custom roles of this organization, refuses unknown ones and owner', () => {
      spec
        .given([created, defined('r1')])
        .when(add({ roles: ['r1'], team: null }))
        .then([added('ann', ['r1'], null)]);
      spec
        .given([created])
        .when(add({ roles: ['r1'] }))
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
      spec
        .given([created])
        .when(add({ roles: ['owner'] }))
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
    });
    it(`refuses more than ${MAX_ROLES_PER_MEMBER} roles and a team over 64 characters`, () => {
      const many = [...Array.from({ length: 6 }, (_, i) => `r${i}`), 'admin', 'operator', 'reviewer', 'analyst', 'billing'];
      spec
        .given([created, ...many.slice(0, 6).map((r) => defined(r, `Role ${r}`))])
        .when(add({ roles: many }))
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
      spec
        .given([created])
        .when(add({ team: 'x'.repeat(65) }))
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
    });
    it(`refuses the ${MAX_MEMBERS + 1}st member`, () => {
      const full = [created, ...Array.from({ length: MAX_MEMBERS - 1 }, (_, i) => added(`u${i}`))];
      spec
        .given(full)
        .when(add())
        .thenThrows(DomainError, (e: DomainError) => e.code === 'CONFLICT' && e.details.limit === MAX_MEMBERS);
    });
  });

  describe('GrantRole / RevokeRole', () => {
    const grant = (role: string, by = 'owner', userId = 'ann'): OrganizationCommand => ({ type: 'GrantRole', userId, role, by, now: T1 });
    const revoke = (role: string, by = 'owner', userId = 'ann'): OrganizationCommand => ({ type: 'RevokeRole', userId, role, by, now: T1 });
    it('grants each role as its own event; held already: a no-op', () => {
      spec
        .given([created, added('ann')])
        .when(grant('admin', 'bob'))
        .then([granted('ann', 'admin', 'bob')]);
      spec
        .given([created, added('ann')])
        .when(grant('operator'))
        .then([]);
    });
    it('only the owner grants owner', () => {
      spec
        .given([created, added('ann'), added('bob', ['admin'])])
        .when(grant('owner', 'bob'))
        .thenThrows(DomainError, code('PERMISSION_DENIED'));
      spec
        .given([created, added('ann')])
        .when(grant('owner'))
        .then([granted('ann', 'owner')]);
    });
    it('refuses an unknown role, a non-member and an eleventh role', () => {
      spec
        .given([created, added('ann')])
        .when(grant('superuser'))
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
      spec.given([created]).when(grant('admin')).thenThrows(DomainError, code('NOT_FOUND'));
      const roles = Array.from({ length: 10 }, (_, i) => `r${i}`);
      spec
        .given([created, ...roles.map((r) => defined(r, `Role ${r}`)), added('ann', roles)])
        .when(grant('admin'))
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
    });
    it('revokes; not held: a no-op', () => {
      spec
        .given([created, added('ann')])
        .when(revoke('operator', 'bob'))
        .then([revoked('ann', 'operator', 'bob')]);
      spec
        .given([created, added('ann')])
        .when(revoke('admin'))
        .then([]);
    });
    it("never revokes owner from the owner; only the owner revokes another's owner", () => {
      spec
        .given([created])
        .when(revoke('owner', 'owner', 'owner'))
        .thenThrows(DomainError, code('CONFLICT'));
      spec
        .given([created, added('ann'), granted('ann', 'owner'), added('bob', ['admin'])])
        .when(revoke('owner', 'bob'))
        .thenThrows(DomainError, code('PERMISSION_DENIED'));
      spec
        .given([created, added('ann'), granted('ann', 'owner')])
        .when(revoke('owner'))
        .then([revoked('ann', 'owner')]);
    });
    it('the fold keeps the roles in step', () => {
      const state = fold(organizationDecider, [created, added('ann'), granted('ann', 'admin'), revoked('ann', 'operator')]);
      expect(state.members.ann!.roles).to.deep.equal(['admin']);
    });
  });

  describe('ChangeMemberTeam', () => {
    it('changes the team; the same team a no-op; null clears it', () => {
      spec
        .given([created, added('ann')])
        .when({ type: 'ChangeMemberTeam', userId: 'ann', team: 'south', by: 'owner', now: T1 })
        .then([{ type: 'MemberTeamChanged', data: { organizationId, userId: 'ann', team: 'south', by: 'owner', at: T1 } }]);
      spec
        .given([created, added('ann')])
        .when({ type: 'ChangeMemberTeam', userId: 'ann', team: null, by: 'owner', now: T1 })
        .then([]);
      spec
        .given([created, added('ann', ['operator'], 'north')])
        .when({ type: 'ChangeMemberTeam', userId: 'ann', team: null, by: 'owner', now: T1 })
        .then([{ type: 'MemberTeamChanged', data: { organizationId, userId: 'ann', team: null, by: 'owner', at: T1 } }]);
    });
  });

  describe('RemoveMember', () => {
    const remove = (userId: string, by: string, reason: 'removed' | 'left'): OrganizationCommand => ({ type: 'RemoveMember', userId, by, reason, now: T1 });
    it('removes a member, or the member leaves', () => {
      spec
        .given([created, added('ann')])
        .when(remove('ann', 'owner', 'removed'))
        .then([{ type: 'MemberRemoved', data: { organizationId, userId: 'ann', by: 'owner', reason: 'removed', at: T1 } }]);
      spec
        .given([created, added('ann')])
        .when(remove('ann', 'ann', 'left'))
        .then([{ type: 'MemberRemoved', data: { organizationId, userId: 'ann', by: 'ann', reason: 'left', at: T1 } }]);
    });
    it('the owner can be neither removed nor leave', () => {
      spec
        .given([created, added('ann', ['admin'])])
        .when(remove('owner', 'ann', 'removed'))
        .thenThrows(DomainError, code('CONFLICT'));
      spec
        .given([created])
        .when(remove('owner', 'owner', 'left'))
        .thenThrows(DomainError, code('CONFLICT'));
    });
    it('only the owner removes another member holding owner; such a member may leave', () => {
      const coOwner = [created, added('ann', ['admin']), added('cy'), granted('cy', 'owner')];
      spec
        .given(coOwner)
        .when(remove('cy', 'ann', 'removed'))
        .thenThrows(DomainError, (e: DomainError) => e.code === 'PERMISSION_DENIED' && e.details.reason === 'owner_only');
      spec
        .given(coOwner)
        .when(remove('cy', 'owner', 'removed'))
        .then([{ type: 'MemberRemoved', data: { organizationId, userId: 'cy', by: 'owner', reason: 'removed', at: T1 } }]);
      spec
        .given(coOwner)
        .when(remove('cy', 'cy', 'left'))
        .then([{ type: 'MemberRemoved', data: { organizationId, userId: 'cy', by: 'cy', reason: 'left', at: T1 } }]);
    });
    it('someone else cannot make a member leave; a non-member is a no-op', () => {
      spec
        .given([created, added('ann')])
        .when(remove('ann', 'bob', 'left'))
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
      spec
        .given([created])
        .when(remove('ann', 'owner', 'removed'))
        .then([]);
    });
    it('the member count follows', () => {
      const state = fold(organizationDecider, [
        created,
        added('ann'),
        added('bob'),
        { type: 'MemberRemoved', data: { organizationId, userId: 'ann', by: 'owner', reason: 'removed', at: T1 } },
      ]);
      expect(state.memberCount).to.equal(2);
      expect(Object.keys(state.members)).to.deep.equal(['owner', 'bob']);
    });
  });

  describe('TransferOwnership', () => {
    const transfer = (to: string, by = 'owner'): OrganizationCommand => ({ type: 'TransferOwnership', to, by, now: T1 });
    it('grants the new owner owner, revokes it from the old one, who keeps admin', () =>
      spec
        .given([created, added('ann')])
        .when(transfer('ann'))
        .then([
          granted('ann', 'owner'),
          { type: 'OwnershipTransferred', data: { organizationId, from: 'owner', to: 'ann', at: T1 } },
          revoked('owner', 'owner'),
          granted('owner', 'admin'),
        ]));
    it('only the owner transfers, only to a member; to themselves a no-op', () => {
      spec
        .given([created, added('ann', ['admin'])])
        .when(transfer('ann', 'ann'))
        .thenThrows(DomainError, code('PERMISSION_DENIED'));
      spec.given([created]).when(transfer('nobody')).thenThrows(DomainError, code('NOT_FOUND'));
      spec.given([created]).when(transfer('owner')).then([]);
    });
    it('afterwards the new owner is the owner, and the old one may leave', () => {
      const history = [created, added('ann'), ...organizationDecider.decide(transfer('ann'), fold(organizationDecider, [created, added('ann')]))];
      const state = fold(organizationDecider, history);
      expect(state.ownerId).to.equal('ann');
      expect(state.members.owner!.roles).to.deep.equal(['admin']);
      expect(state.members.ann!.roles).to.deep.equal(['operator', 'owner']);
      spec
        .given(history)
        .when({ type: 'RemoveMember', userId: 'owner', by: 'owner', reason: 'left', now: T1 })
        .then([{ type: 'MemberRemoved', data: { organizationId, userId: 'owner', by: 'owner', reason: 'left', at: T1 } }]);
    });
  });

  describe('custom roles', () => {
    const define = (over: Partial<Extract<OrganizationCommand, { type: 'DefineCustomRole' }>> = {}): OrganizationCommand => ({
      type: 'DefineCustomRole',
      roleId: 'r1',
      name: 'Editor',
      grants: { 'publishing.articles.*': 'team' },
      by: 'owner',
      now: T0,
      ...over,
    });
    it('takes a role id of 100 characters (code points), not 101', () => {
      spec
        .given([created])
        .when(define({ roleId: '😀'.repeat(100) }))
        .then([defined('😀'.repeat(100))]);
      spec
        .given([created])
        .when(define({ roleId: '😀'.repeat(101) }))
        .thenThrows(DomainError, (e: DomainError) => e.code === 'VALIDATION_ERROR' && e.details.field === 'roleId');
    });
    it('defines; the same again is a no-op; other content under the id CONFLICT', () => {
      spec
        .given([created])
        .when(define())
        .then([defined('r1')]);
      spec
        .given([created, defined('r1')])
        .when(define())
        .then([]);
      spec
        .given([created, defined('r1')])
        .when(define({ name: 'Writer' }))
        .thenThrows(DomainError, code('CONFLICT'));
    });
    it('refuses a name taken (case-insensitively) or a built-in one', () => {
      spec
        .given([created, defined('r1')])
        .when(define({ roleId: 'r2', name: 'EDITOR' }))
        .thenThrows(DomainError, code('CONFLICT'));
      spec
        .given([created])
        .when(define({ name: 'Admin' }))
        .thenThrows(DomainError, code('CONFLICT'));
      spec
        .given([created])
        .when(define({ roleId: 'admin' }))
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
    });
    it('refuses bad grants: none, over 100, unknown patterns, platform, a wildcard module, a bad scope', () => {
      const tooMany = Object.fromEntries(
        PERMISSIONS.filter((p) => !p.startsWith('platform.'))
          .slice(0, 101)
          .map((p) => [p, 'own' as const]),
      );
      expect(Object.keys(tooMany)).to.have.length(101);
      for (const grants of [
        {},
        tooMany,
        { 'collection.nothing.view': 'own' },
        { 'collection.workflows': 'own' },
        { 'platform.users.view': 'organization' },
        { '*.*.view': 'own' },
        { 'collection.workflows.view': 'everyone' },
      ]) {
        spec
          .given([created])
          .when(define({ grants: grants as never }))
          .thenThrows(DomainError, code('VALIDATION_ERROR'));
      }
    });
    it(`refuses the ${MAX_CUSTOM_ROLES + 1}st`, () => {
      const full = [created, ...Array.from({ length: MAX_CUSTOM_ROLES }, (_, i) => defined(`r${i}`, `Role ${i}`))];
      spec
        .given(full)
        .when(define({ roleId: 'new', name: 'New' }))
        .thenThrows(DomainError, (e: DomainError) => e.code === 'CONFLICT' && e.details.limit === MAX_CUSTOM_ROLES);
    });
    it('changes name or grants; unchanged a no-op; unknown NOT_FOUND', () => {
      spec
        .given([created, defined('r1')])
        .when({ type: 'ChangeCustomRole', roleId: 'r1', grants: { 'collection.*.view': 'organization' }, by: 'owner', now: T1 })
        .then([
          {
            type: 'CustomRoleChanged',
            data: { organizationId, roleId: 'r1', name: 'Editor', grants: { 'collection.*.view': 'organization' }, by: 'owner', at: T1 },
          },
        ]);
      spec
        .given([created, defined('r1')])
        .when({ type: 'ChangeCustomRole', roleId: 'r1', name: 'Editor', by: 'owner', now: T1 })
        .then([]);
      spec.given([created]).when({ type: 'ChangeCustomRole', roleId: 'r1', name: 'X', by: 'owner', now: T1 }).thenThrows(DomainError, code('NOT_FOUND'));
    });
    it('deleting revokes it from every member holding it first', () => {
      spec
        .given([created, defined('r1'), added('ann', ['r1', 'operator']), added('bob'), added('cy', ['r1'])])
        .when({ type: 'DeleteCustomRole', roleId: 'r1', by: 'owner', now: T1 })
        .then([revoked('ann', 'r1'), revoked('cy', 'r1'), { type: 'CustomRoleDeleted', data: { organizationId, roleId: 'r1', by: 'owner', at: T1 } }]);
      spec.given([created]).when({ type: 'DeleteCustomRole', roleId: 'r1', by: 'owner', now: T1 }).then([]);
    });
    it('a deleted role can no longer be granted', () => {
      spec
        .given([created, defined('r1'), added('ann'), { type: 'CustomRoleDeleted', data: { organizationId, roleId: 'r1', by: 'owner', at: T1 } }])
        .when({ type: 'GrantRole', userId: 'ann', role: 'r1', by: 'owner', now: T1 })
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
    });
  });
});
