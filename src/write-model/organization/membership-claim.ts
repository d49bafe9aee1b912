import { z } from 'zod';
import type { Aggregate } from '../core/aggregate.js';
import type { Decider, DomainEvent } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { eventCodec } from '../core/event-codec.js';
import { requireText } from '../core/validate.js';

/**
 * One organization per user: stream `organization_member-{userId}`, whose
 * last event says which organization the user belongs to. A user claims it
 * before they are added to an organization (or found one) and release it
 * when they are removed or leave. Like the email reservation, uniqueness
 * rests on the append's expected revision: of two concurrent claims only
 * one lands; the other is decided again on the fresh state and refused
 * (CONFLICT). The organization's append then carries the claim's revision
 * as a condition (application/organizations.ts), so a claim taken away
 * meanwhile never leaves a member without one. The stream holds a claim
 * and a release per organization the user ever joined: a few events.
 */

export interface MembershipClaimedData {
  userId: string;
  organizationId: string;
}

export type MembershipReleasedData = MembershipClaimedData;

export type MembershipClaimEvent = DomainEvent<'MembershipClaimed', MembershipClaimedData> | DomainEvent<'MembershipReleased', MembershipReleasedData>;

const shape = z.object({ userId: z.string(), organizationId: z.string() });

/** The decode boundary of the claim's stored events (see core/event-codec.ts). */
export const membershipClaimEvents = eventCodec<MembershipClaimEvent>({
  MembershipClaimed: { schema: shape },
  MembershipReleased: { schema: shape },
});

export interface ClaimMembership {
  type: 'ClaimMembership';
  userId: string;
  organizationId: string;
}

/** Gives the claim up; a no-op unless it is held for `organizationId`. */
export interface ReleaseMembership {
  type: 'ReleaseMembership';
  userId: string;
  organizationId: string;
}

export type MembershipClaimCommand = ClaimMembership | ReleaseMembership;

export interface MembershipClaimState {
  /** the organization the claim is held for; null: free */
  organizationId: string | null;
}

export function initialMembershipClaimState(): MembershipClaimState {
  return { organizationId: null };
}

export function membershipClaimStream(userId: string): string {
  return `organization_member-${userId}`;
}

/** The refusal of a second organization (the caller may say more). */
export const ALREADY_IN_AN_ORGANIZATION = 'you are a member of an organization already: leave it first (a user belongs to one organization at most)';

function decide(command: MembershipClaimCommand, state: MembershipClaimState): MembershipClaimEvent[] {
  const data = { userId: requireText(command.userId, 'userId'), organizationId: requireText(command.organizationId, 'organizationId') };
  switch (command.type) {
    case 'ClaimMembership':
      if (state.organizationId === data.organizationId) return [];
      if (state.organizationId !== null)
        throw new DomainError('CONFLICT', ALREADY_IN_AN_ORGANIZATION, { reason: 'already_in_organization', organizationId: state.organizationId });
      return [{ type: 'MembershipClaimed', data }];
    case 'ReleaseMembership':
      return state.organizationId === data.organizationId ? [{ type: 'MembershipReleased', data }] : [];
  }
}

function evolve(state: MembershipClaimState, event: MembershipClaimEvent): MembershipClaimState {
  state.organizationId = event.type === 'MembershipClaimed' ? event.data.organizationId : null;
  return state;
}

export const membershipClaimDecider: Decider<MembershipClaimState, MembershipClaimCommand, MembershipClaimEvent> = {
  initialState: initialMembershipClaimState,
  decide,
  evolve,
};

/** The binding the command handler uses: stream `organization_member-{userId}`, a few events (no snapshots). */
export const membershipClaimAggregate: Aggregate<MembershipClaimState, MembershipClaimCommand, MembershipClaimEvent> = {
  name: 'organization_member',
  streamName: membershipClaimStream,
  decider: membershipClaimDecider,
  events: membershipClaimEvents,
};
