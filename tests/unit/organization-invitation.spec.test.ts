import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { maskEmail, invitationIdOf } from '../../src/application/organization-invitations.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  invitationDecider,
  membershipClaimDecider,
  type InvitationCommand,
  type InvitationEvent,
  type MembershipClaimEvent,
} from '../../src/write-model/organization/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const spec = deciderSpec(invitationDecider);
const T0 = '2026-12-10T10:00:00.000Z';
const T1 = '2026-12-10T11:00:00.000Z';
const LATE = '2026-12-20T10:00:00.000Z';
const EXPIRES = '2026-12-17T10:00:00.000Z';
const EMAIL = sha('ann@example.com');
const TOKEN = sha('inv-1.secret');
const base = { invitationId: 'inv-1', organizationId: 'org-1' };

const send: InvitationCommand = {
  type: 'SendInvitation',
  ...base,
  emailHash: EMAIL,
  emailMasked: 'a*n@example.com',
  roles: ['operator', 'r1'],
  team: 'north',
  invitedBy: 'owner',
  expiresAt: EXPIRES,
  tokenHash: TOKEN,
  now: T0,
};
const sent: InvitationEvent = {
  type: 'InvitationSent',
  data: {
    ...base,
    emailHash: EMAIL,
    emailMasked: 'a*n@example.com',
    roles: ['operator', 'r1'],
    team: 'north',
    invitedBy: 'owner',
    expiresAt: EXPIRES,
    tokenHash: TOKEN,
    sentAt: T0,
  },
};
const accept = (over: Partial<Extract<InvitationCommand, { type: 'AcceptInvitation' }>> = {}): InvitationCommand => ({
  type: 'AcceptInvitation',
  userId: 'ann',
  emailHash: EMAIL,
  tokenHash: TOKEN,
  now: T1,
  ...over,
});
const accepted: InvitationEvent = { type: 'InvitationAccepted', data: { ...base, userId: 'ann', at: T1 } };
const revoked: InvitationEvent = { type: 'InvitationRevoked', data: { ...base, by: 'owner', at: T1 } };
const declined: InvitationEvent = { type: 'InvitationDeclined', data: { ...base, userId: 'ann', at: T1 } };
const reason = (r: string) => (e: DomainError) => e.code === 'CONFLICT' && e.details.reason === r;

describe('organization invitation decider (given/when/then)', () => {
  describe('SendInvitation', () => {
    it('records the hashes, never the address or the token', () => spec.given([]).when(send).then([sent]));
    it('the same again is a no-op; another under the id CONFLICT', () => {
      spec.given([sent]).when(send).then([]);
      spec
        .given([sent])
        .when({ ...send, tokenHash: sha('other') })
        .thenThrows(DomainError, (e: DomainError) => e.code === 'CONFLICT');
    });
    it('refuses an address or token in clear, owner, an expiry in the past, eleven roles', () => {
      for (const bad of [
        { emailHash: 'ann@example.com' },
        { tokenHash: 'inv-1.secret' },
        { roles: ['owner'] },
        { expiresAt: T0 },
        { roles: Array.from({ length: 11 }, (_, i) => `r${i}`) },
        { team: '' },
      ]) {
        spec
          .given([])
          .when({ ...send, ...bad } as InvitationCommand)
          .thenThrows(DomainError, (e: DomainError) => e.code === 'VALIDATION_ERROR');
      }
    });
  });

  describe('AcceptInvitation', () => {
    it('accepts with the token and the invited account', () => spec.given([sent]).when(accept()).then([accepted]));
    it('the same user again is a no-op', () => spec.given([sent, accepted]).when(accept()).then([]));
    it('another token is NOT_FOUND; another account email PERMISSION_DENIED', () => {
      spec
        .given([sent])
        .when(accept({ tokenHash: sha('guess') }))
        // as for an id that does not exist: a wrong secret does not tell that this one does
        .thenThrows(DomainError, (e: DomainError) => e.code === 'NOT_FOUND' && e.message === 'invitation not found (check the link, or ask for a new one)');
      spec
        .given([sent])
        .when(accept({ emailHash: sha('eve@example.com') }))
        .thenThrows(DomainError, (e: DomainError) => e.code === 'PERMISSION_DENIED' && e.details.reason === 'other_email');
    });
    it('used by someone else, revoked, declined or expired is CONFLICT with the reason', () => {
      spec
        .given([sent, accepted])
        .when(accept({ userId: 'bob' }))
        .thenThrows(DomainError, reason('accepted'));
      spec.given([sent, revoked]).when(accept()).thenThrows(DomainError, reason('revoked'));
      spec.given([sent, declined]).when(accept()).thenThrows(DomainError, reason('declined'));
      spec
        .given([sent])
        .when(accept({ now: LATE }))
        .thenThrows(DomainError, reason('expired'));
    });
    it('an invitation never sent is NOT_FOUND', () =>
      spec
        .given([])
        .when(accept())
        .thenThrows(DomainError, (e: DomainError) => e.code === 'NOT_FOUND'));
  });

  describe('DeclineInvitation / RevokeInvitation', () => {
    const decline = (emailHash = EMAIL): InvitationCommand => ({ type: 'DeclineInvitation', userId: 'ann', emailHash, now: T1 });
    it('the invited address declines; again a no-op; anyone else NOT_FOUND', () => {
      spec.given([sent]).when(decline()).then([declined]);
      spec.given([sent, declined]).when(decline()).then([]);
      spec
        .given([sent])
        .when(decline(sha('eve@example.com')))
        .thenThrows(DomainError, (e: DomainError) => e.code === 'NOT_FOUND');
    });
    it('revokes while pending; revoked again a no-op; answered CONFLICT', () => {
      spec.given([sent]).when({ type: 'RevokeInvitation', by: 'owner', now: T1 }).then([revoked]);
      spec.given([sent, revoked]).when({ type: 'RevokeInvitation', by: 'owner', now: T1 }).then([]);
      spec.given([sent, accepted]).when({ type: 'RevokeInvitation', by: 'owner', now: T1 }).thenThrows(DomainError, reason('accepted'));
    });
  });

  it('masks addresses and reads the id from a token', () => {
    expect(maskEmail('ann@example.com')).to.equal('a*n@example.com');
    expect(maskEmail('bo@x.cn')).to.equal('b*@x.cn');
    expect(maskEmail('alexander@example.com')).to.equal('a*****r@example.com');
    const id = '0b0e6a36-8f0a-4b8e-9a55-4b3f9c1d2e3f';
    expect(invitationIdOf(`${id}.abc`)).to.equal(id);
    expect(invitationIdOf('nonsense')).to.equal(null);
    expect(invitationIdOf('../../x.abc')).to.equal(null);
  });
});

describe('organization membership claim decider (given/when/then)', () => {
  const claimSpec = deciderSpec(membershipClaimDecider);
  const claimed = (organizationId: string): MembershipClaimEvent => ({ type: 'MembershipClaimed', data: { userId: 'ann', organizationId } });
  const released = (organizationId: string): MembershipClaimEvent => ({ type: 'MembershipReleased', data: { userId: 'ann', organizationId } });
  it('claims a free membership; the same organization again is a no-op', () => {
    claimSpec
      .given([])
      .when({ type: 'ClaimMembership', userId: 'ann', organizationId: 'a' })
      .then([claimed('a')]);
    claimSpec
      .given([claimed('a')])
      .when({ type: 'ClaimMembership', userId: 'ann', organizationId: 'a' })
      .then([]);
  });
  it('a second organization is CONFLICT until the first is released', () => {
    claimSpec
      .given([claimed('a')])
      .when({ type: 'ClaimMembership', userId: 'ann', organizationId: 'b' })
      .thenThrows(DomainError, (e: DomainError) => e.code === 'CONFLICT' && e.details.reason === 'already_in_organization');
    claimSpec
      .given([claimed('a'), released('a')])
      .when({ type: 'ClaimMembership', userId: 'ann', organizationId: 'b' })
      .then([claimed('b')]);
  });
  it("releases only the organization's claim", () => {
    claimSpec
      .given([claimed('a')])
      .when({ type: 'ReleaseMembership', userId: 'ann', organizationId: 'b' })
      .then([]);
    claimSpec
      .given([claimed('a')])
      .when({ type: 'ReleaseMembership', userId: 'ann', organizationId: 'a' })
      .then([released('a')]);
  });
});
