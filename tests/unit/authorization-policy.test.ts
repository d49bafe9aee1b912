import { expect } from 'chai';
import { authorize, exemptFromMfa, grantsOf, ownerIdsFor, rolesOf, type Principal } from '../../src/application/authorization/policy.js';
import type { OrganizationMembership } from '../../src/application/ports/membership.js';
import { PERMISSIONS, type Permission } from '../../src/write-model/access/permissions.js';

const MEMBERS = [
  { userId: 'u-owner', team: null },
  { userId: 'u-op', team: 'north' },
  { userId: 'u-op2', team: 'north' },
  { userId: 'u-south', team: 'south' },
  { userId: 'u-analyst', team: null },
];

const membership = (roles: string[], more: Partial<OrganizationMembership> = {}): OrganizationMembership => ({
  organizationId: 'org-1',
  roles,
  team: null,
  customRoles: {},
  mfaRequired: false,
  members: MEMBERS,
  ...more,
});

const principal = (more: Partial<Principal> = {}): Principal => ({
  userId: 'u-op',
  platformRole: 'user',
  credential: 'session',
  membership: null,
  mfaEnabled: false,
  ...more,
});

const allowed = (p: Principal, permission: Permission) => authorize(p, permission);

describe('the access policy (authorize)', () => {
  describe('outside an organization (personal grants)', () => {
    const me = principal();

    it('keeps every business permission on their own resources', () => {
      for (const permission of [
        'collection.workflows.run',
        'publishing.articles.delete',
        'billing.payments.create',
        'reports.reports.run',
        'messaging.sms.create',
      ] as const) {
        expect(allowed(me, permission), permission).to.deep.equal({ allowed: true, scope: 'own' });
      }
    });

    it('has their account and may found an organization, but not run one', () => {
      expect(allowed(me, 'account.api-keys.create')).to.deep.equal({ allowed: true, scope: 'own' });
      expect(allowed(me, 'organization.organizations.create')).to.deep.equal({ allowed: true, scope: 'own' });
      expect(allowed(me, 'organization.members.edit')).to.deep.equal({ allowed: false, reason: 'role' });
    });

    it('does no platform work', () => {
      expect(allowed(me, 'platform.users.view')).to.deep.equal({ allowed: false, reason: 'role' });
      expect(allowed(me, 'platform.reviews.approve')).to.deep.equal({ allowed: false, reason: 'role' });
    });
  });

  describe('platform roles (a session only)', () => {
    it('a platform admin does every platform thing, and keeps their personal grants', () => {
      const admin = principal({ platformRole: 'admin' });
      expect(allowed(admin, 'platform.proxies.delete').allowed).to.equal(true);
      expect(allowed(admin, 'platform.review-rules.edit').allowed).to.equal(true);
      expect(allowed(admin, 'collection.workflows.create')).to.deep.equal({ allowed: true, scope: 'own' });
    });

    it('a platform reviewer works the review queue and reads the platform rules, nothing more of the platform', () => {
      const reviewer = principal({ platformRole: 'reviewer' });
      expect(allowed(reviewer, 'platform.reviews.approve').allowed).to.equal(true);
      expect(allowed(reviewer, 'platform.review-rules.view').allowed).to.equal(true);
      expect(allowed(reviewer, 'platform.review-rules.edit')).to.deep.equal({ allowed: false, reason: 'role' });
      expect(allowed(reviewer, 'platform.users.view')).to.deep.equal({ allowed: false, reason: 'role' });
    });

    it('an API key never carries platform grants', () => {
      const key = principal({ platformRole: 'admin', credential: 'api_key' });
      expect(allowed(key, 'platform.operations.view')).to.deep.equal({ allowed: false, reason: 'role' });
      expect(allowed(key, 'collection.workflows.view')).to.deep.equal({ allowed: true, scope: 'own' });
    });

    it('a platform role this build does not know grants nothing', () => {
      const odd = principal({ platformRole: 'auditor' as never });
      expect(allowed(odd, 'platform.operations.view')).to.deep.equal({ allowed: false, reason: 'role' });
    });
  });

  describe('in an organization (built-in roles)', () => {
    it('replaces the personal grants by the roles: an analyst reads the organization, writes nothing', () => {
      const analyst = principal({ membership: membership(['analyst']) });
      expect(allowed(analyst, 'collection.workflows.view')).to.deep.equal({ allowed: true, scope: 'organization' });
      expect(allowed(analyst, 'collection.workflows.create')).to.deep.equal({ allowed: false, reason: 'role' });
      expect(allowed(analyst, 'organization.organizations.create')).to.deep.equal({ allowed: false, reason: 'role' });
      expect(allowed(analyst, 'account.profile.edit')).to.deep.equal({ allowed: true, scope: 'own' });
    });

    it('an operator writes their own, reads their team', () => {
      const operator = principal({ membership: membership(['operator'], { team: 'north' }) });
      expect(allowed(operator, 'collection.workflows.edit')).to.deep.equal({ allowed: true, scope: 'own' });
      expect(allowed(operator, 'collection.workflows.view')).to.deep.equal({ allowed: true, scope: 'team' });
      expect(allowed(operator, 'billing.payments.view')).to.deep.equal({ allowed: false, reason: 'role' });
    });

    it('unions several roles and the widest scope wins', () => {
      const both = principal({ membership: membership(['operator', 'analyst']) });
      expect(allowed(both, 'collection.workflows.view')).to.deep.equal({ allowed: true, scope: 'organization' });
      expect(allowed(both, 'collection.workflows.run')).to.deep.equal({ allowed: true, scope: 'own' });
      expect(allowed(both, 'reports.reports.create')).to.deep.equal({ allowed: true, scope: 'organization' });
    });

    it('an owner does everything of the organization; an admin cannot delete it', () => {
      const owner = principal({ membership: membership(['owner']) });
      const admin = principal({ membership: membership(['admin']) });
      expect(allowed(owner, 'organization.organizations.delete')).to.deep.equal({ allowed: true, scope: 'organization' });
      expect(allowed(admin, 'organization.organizations.delete')).to.deep.equal({ allowed: false, reason: 'role' });
      expect(allowed(admin, 'collection.workflows.delete')).to.deep.equal({ allowed: true, scope: 'organization' });
      expect(allowed(owner, 'platform.users.view')).to.deep.equal({ allowed: false, reason: 'role' });
    });

    it('custom roles grant what the organization defined; an unknown role id grants nothing', () => {
      const custom = principal({
        membership: membership(['role-collector', 'role-gone'], {
          customRoles: { 'role-collector': { 'collection.*.*': 'team', 'reports.statistics.view': 'own' } },
        }),
      });
      expect(allowed(custom, 'collection.executions.run')).to.deep.equal({ allowed: true, scope: 'team' });
      expect(allowed(custom, 'reports.statistics.view')).to.deep.equal({ allowed: true, scope: 'own' });
      expect(allowed(custom, 'publishing.articles.view')).to.deep.equal({ allowed: false, reason: 'role' });
      expect(grantsOf(custom)).to.have.length(2);
    });

    it('a member who is a platform admin keeps the platform grants', () => {
      const p = principal({ platformRole: 'admin', membership: membership(['analyst']) });
      expect(allowed(p, 'platform.queues.edit').allowed).to.equal(true);
    });

    it('names the roles in refusals: the organization roles, or personal', () => {
      expect(rolesOf(principal({ membership: membership(['billing']) }))).to.deep.equal(['billing']);
      expect(rolesOf(principal())).to.deep.equal(['personal']);
    });
  });

  describe('an organization requiring a second factor', () => {
    const strict = (mfaEnabled: boolean) => principal({ mfaEnabled, membership: membership(['owner'], { mfaRequired: true }) });

    it('refuses everything but the account and the organization view to a member without one', () => {
      expect(allowed(strict(false), 'collection.workflows.view')).to.deep.equal({ allowed: false, reason: 'mfa_required' });
      expect(allowed(strict(false), 'organization.members.edit')).to.deep.equal({ allowed: false, reason: 'mfa_required' });
      expect(allowed(strict(false), 'account.mfa.create')).to.deep.equal({ allowed: true, scope: 'own' });
      expect(allowed(strict(false), 'organization.organizations.view')).to.deep.equal({ allowed: true, scope: 'organization' });
      expect(allowed(strict(false), 'organization.invitations.approve').allowed).to.equal(true);
    });

    it('lets a member with one through', () => {
      expect(allowed(strict(true), 'collection.workflows.view')).to.deep.equal({ allowed: true, scope: 'organization' });
    });

    it('says role, not mfa_required, for what the roles do not grant anyway', () => {
      const analyst = principal({ membership: membership(['analyst'], { mfaRequired: true }) });
      expect(allowed(analyst, 'collection.workflows.delete')).to.deep.equal({ allowed: false, reason: 'role' });
    });

    it('exempts exactly the account module, the organization view and seeing, accepting or declining invitations', () => {
      const exempt = PERMISSIONS.filter(exemptFromMfa);
      const invitations = ['organization.invitations.view', 'organization.invitations.approve'];
      expect(exempt.every((p) => p.startsWith('account.') || p === 'organization.organizations.view' || invitations.includes(p))).to.equal(true);
      expect(exempt).to.include.members(invitations);
      expect(exempt).not.to.include('organization.organizations.edit');
      // sending and revoking the organization's invitations wait for the second factor
      expect(exempt).not.to.include.members(['organization.invitations.create']);
      expect(exempt).not.to.include('organization.invitations.delete');
    });

    it("refuses an admin without one sending or revoking the organization's invitations (mfa_required)", () => {
      const admin = principal({ membership: membership(['admin'], { mfaRequired: true }) });
      expect(allowed(admin, 'organization.invitations.create')).to.deep.equal({ allowed: false, reason: 'mfa_required' });
      expect(allowed(admin, 'organization.invitations.delete')).to.deep.equal({ allowed: false, reason: 'mfa_required' });
      expect(allowed(admin, 'organization.invitations.view').allowed).to.equal(true);
    });
  });

  describe('data scopes → owner ids', () => {
    const north = membership(['operator'], { team: 'north' });

    it('own: the user alone; outside an organization always the user alone', () => {
      expect(ownerIdsFor('own', 'u-op', north)).to.deep.equal(['u-op']);
      expect(ownerIdsFor('organization', 'u-x', null)).to.deep.equal(['u-x']);
    });

    it("team: the members of the user's team; no team: the user alone", () => {
      expect(ownerIdsFor('team', 'u-op', north)).to.have.members(['u-op', 'u-op2']);
      expect(ownerIdsFor('team', 'u-analyst', membership(['analyst']))).to.deep.equal(['u-analyst']);
    });

    it("organization: every member and the organization's own resources", () => {
      expect(ownerIdsFor('organization', 'u-op', north)).to.have.members([...MEMBERS.map((m) => m.userId), north.organizationId]);
    });

    it("team and own never reach the organization's own resources", () => {
      expect(ownerIdsFor('team', 'u-op', north)).not.to.include(north.organizationId);
      expect(ownerIdsFor('own', 'u-op', north)).not.to.include(north.organizationId);
    });
  });
});
