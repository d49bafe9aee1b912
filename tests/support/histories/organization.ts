import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  invitationAggregate,
  membershipClaimAggregate,
  organizationAggregate,
  type InvitationCommand,
  type MembershipClaimCommand,
  type OrganizationCommand,
} from '../../../src/write-model/organization/index.js';
import { historySource, minutesAfterStart, sequence } from './harness.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const USERS = ['owner', 'ann', 'bob', 'cy'] as const;
const ROLES = ['admin', 'operator', 'analyst', 'owner', 'r1', 'r2', 'nope'] as const;

/**
 * An organization's life: founded (sometimes again, or not at all), members
 * joining and going, roles granted and revoked by the owner or others,
 * teams, ownership handed on, custom roles defined, changed and deleted
 * while members hold them — refusals included (the decider skips them).
 */
export const organizationHistories = historySource(
  organizationAggregate,
  sequence(
    fc.record({
      kind: fc.constantFrom('create', 'add', 'add', 'grant', 'grant', 'revoke', 'team', 'remove', 'transfer', 'define', 'change', 'delete', 'rename', 'mfa'),
      user: fc.constantFrom(...USERS),
      by: fc.constantFrom(...USERS),
      role: fc.constantFrom(...ROLES),
      team: fc.constantFrom(null, 'north', 'south'),
      flag: fc.boolean(),
    }),
    (c, now, i): OrganizationCommand => {
      switch (c.kind) {
        case 'create':
          return { type: 'CreateOrganization', organizationId: 'org-1', name: 'Acme', ownerId: 'owner', now };
        case 'add':
          return { type: 'AddMember', userId: c.user, roles: [c.role === 'owner' ? 'operator' : c.role], team: c.team, invitationId: `inv-${i}`, now };
        case 'grant':
          return { type: 'GrantRole', userId: c.user, role: c.role, by: c.by, now };
        case 'revoke':
          return { type: 'RevokeRole', userId: c.user, role: c.role, by: c.by, now };
        case 'team':
          return { type: 'ChangeMemberTeam', userId: c.user, team: c.team, by: c.by, now };
        case 'remove':
          return { type: 'RemoveMember', userId: c.user, by: c.flag ? c.user : c.by, reason: c.flag ? 'left' : 'removed', now };
        case 'transfer':
          return { type: 'TransferOwnership', to: c.user, by: c.by, now };
        case 'define':
          return {
            type: 'DefineCustomRole',
            roleId: c.flag ? 'r1' : 'r2',
            name: c.flag ? 'Editor' : 'Watcher',
            grants: { 'collection.*.view': 'team' },
            by: c.by,
            now,
          };
        case 'change':
          return {
            type: 'ChangeCustomRole',
            roleId: c.flag ? 'r1' : 'r2',
            grants: { 'publishing.articles.*': c.flag ? 'own' : 'organization' },
            by: c.by,
            now,
          };
        case 'delete':
          return { type: 'DeleteCustomRole', roleId: c.flag ? 'r1' : 'r2', by: c.by, now };
        case 'rename':
          return { type: 'RenameOrganization', name: c.flag ? 'Acme' : 'Acme Ltd', by: c.by, now };
        default:
          return { type: 'SetMfaRequirement', required: c.flag, by: c.by, now };
      }
    },
  ),
);

/** One user's claim passing between organizations. */
export const membershipClaimHistories = historySource(
  membershipClaimAggregate,
  sequence(
    fc.record({ release: fc.boolean(), organizationId: fc.constantFrom('a', 'b') }),
    (c): MembershipClaimCommand => ({ type: c.release ? 'ReleaseMembership' : 'ClaimMembership', userId: 'ann', organizationId: c.organizationId }),
    10,
  ),
);

/** An invitation sent, then answered (by the right or wrong account or token), revoked, or left to expire. */
export const invitationHistories = historySource(
  invitationAggregate,
  sequence(
    fc.record({ kind: fc.constantFrom('send', 'accept', 'decline', 'revoke'), right: fc.boolean() }),
    (c, now): InvitationCommand => {
      const emailHash = sha(c.right ? 'ann@example.com' : 'eve@example.com');
      switch (c.kind) {
        case 'send':
          return {
            type: 'SendInvitation',
            invitationId: 'inv-1',
            organizationId: 'org-1',
            emailHash: sha('ann@example.com'),
            emailMasked: 'a*n@example.com',
            roles: ['operator'],
            team: null,
            invitedBy: 'owner',
            expiresAt: minutesAfterStart(3_000),
            tokenHash: sha('token'),
            now,
          };
        case 'accept':
          return { type: 'AcceptInvitation', userId: c.right ? 'ann' : 'eve', emailHash, tokenHash: sha('token'), now };
        case 'decline':
          return { type: 'DeclineInvitation', userId: c.right ? 'ann' : 'eve', emailHash, now };
        default:
          return { type: 'RevokeInvitation', by: 'owner', now };
      }
    },
    8,
  ),
);
