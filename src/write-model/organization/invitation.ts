import { z } from 'zod';
import type { Aggregate } from '../core/aggregate.js';
import type { Decider, DomainEvent } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { eventCodec } from '../core/event-codec.js';
import { instant, invalid, requireText } from '../core/validate.js';
import { requireTokenHash } from '../user/hashes.js';
import { MAX_ROLES_PER_MEMBER } from './events.js';
import { normalizeTeam } from './decider.js';

/**
 * An invitation to join an organization, sent by mail: stream
 * `organization_invitation-{invitationId}`. The address is kept only as its
 * sha256 (hashed as the email reservation hashes it, so an account's email
 * is recognised) and masked for display; the link's token only as its
 * sha256. Which roles are valid is the organization's to say (the caller
 * decides on its state); this stream keeps the invitation's life: sent,
 * then accepted, declined or revoked — once.
 *
 * Rules (tests/unit/organization-invitation.spec.test.ts):
 * - AcceptInvitation: the token must hash to the invitation's (else
 *   NOT_FOUND: nothing about the invitation is told), the account's email to
 *   the invited one (PERMISSION_DENIED); accepted by the same user again is a
 *   no-op; used, declined or revoked (CONFLICT, details.reason
 *   accepted / declined / revoked) or expired (CONFLICT, reason expired).
 * - DeclineInvitation: by the invited address; the same again a no-op.
 * - RevokeInvitation: while pending; revoked again a no-op.
 */

export const INVITATION_STATUSES = ['pending', 'accepted', 'declined', 'revoked'] as const;
export type InvitationStatus = (typeof INVITATION_STATUSES)[number];

export interface InvitationSentData {
  invitationId: string;
  organizationId: string;
  /** sha256 hex of the normalised address */
  emailHash: string;
  /** for display: `a***e@example.com` */
  emailMasked: string;
  roles: string[];
  team: string | null;
  invitedBy: string;
  expiresAt: string;
  /** sha256 hex of the link's token */
  tokenHash: string;
  sentAt: string;
}

export interface InvitationAcceptedData {
  invitationId: string;
  organizationId: string;
  userId: string;
  at: string;
}

export type InvitationDeclinedData = InvitationAcceptedData;

export interface InvitationRevokedData {
  invitationId: string;
  organizationId: string;
  by: string;
  at: string;
}

export type InvitationEvent =
  | DomainEvent<'InvitationSent', InvitationSentData>
  | DomainEvent<'InvitationAccepted', InvitationAcceptedData>
  | DomainEvent<'InvitationDeclined', InvitationDeclinedData>
  | DomainEvent<'InvitationRevoked', InvitationRevokedData>;

const answered = z.object({ invitationId: z.string(), organizationId: z.string(), userId: z.string(), at: z.string() });

/** The decode boundary of the invitation's stored events (see core/event-codec.ts). */
export const invitationEvents = eventCodec<InvitationEvent>({
  InvitationSent: {
    schema: z.object({
      invitationId: z.string(),
      organizationId: z.string(),
      emailHash: z.string(),
      emailMasked: z.string(),
      roles: z.array(z.string()),
      team: z.string().nullable(),
      invitedBy: z.string(),
      expiresAt: z.string(),
      tokenHash: z.string(),
      sentAt: z.string(),
    }),
  },
  InvitationAccepted: { schema: answered },
  InvitationDeclined: { schema: answered },
  InvitationRevoked: { schema: z.object({ invitationId: z.string(), organizationId: z.string(), by: z.string(), at: z.string() }) },
});

/** Roles checked against the organization by the caller; the same invitation again is a no-op. */
export interface SendInvitation {
  type: 'SendInvitation';
  invitationId: string;
  organizationId: string;
  emailHash: string;
  emailMasked: string;
  roles: readonly string[];
  team: string | null;
  invitedBy: string;
  expiresAt: string;
  tokenHash: string;
  now: string;
}

export interface AcceptInvitation {
  type: 'AcceptInvitation';
  userId: string;
  /** sha256 of the accepting account's email */
  emailHash: string;
  /** sha256 of the token the link carried */
  tokenHash: string;
  now: string;
}

export interface DeclineInvitation {
  type: 'DeclineInvitation';
  userId: string;
  emailHash: string;
  now: string;
}

export interface RevokeInvitation {
  type: 'RevokeInvitation';
  by: string;
  now: string;
}

export type InvitationCommand = SendInvitation | AcceptInvitation | DeclineInvitation | RevokeInvitation;

export interface InvitationState {
  /** null until sent */
  invitation: Omit<InvitationSentData, 'sentAt'> | null;
  status: InvitationStatus;
  /** who accepted or declined it */
  answeredBy: string | null;
}

export function initialInvitationState(): InvitationState {
  return { invitation: null, status: 'pending', answeredBy: null };
}

export function invitationStream(invitationId: string): string {
  return `organization_invitation-${invitationId}`;
}

/** Whether a pending invitation can still be accepted at `now` (ms). */
export function isExpired(state: InvitationState, nowMs: number): boolean {
  return state.invitation !== null && nowMs >= Date.parse(state.invitation.expiresAt);
}

function requireInvitation(state: InvitationState): NonNullable<InvitationState['invitation']> {
  if (!state.invitation) throw new DomainError('NOT_FOUND', 'invitation not found', {});
  return state.invitation;
}

const notPending = (state: InvitationState) =>
  new DomainError('CONFLICT', `the invitation was ${state.status} already`, { reason: state.status, status: state.status });

function send(command: SendInvitation, state: InvitationState): InvitationEvent[] {
  const invitationId = requireText(command.invitationId, 'invitationId');
  const organizationId = requireText(command.organizationId, 'organizationId');
  const emailHash = requireTokenHash(command.emailHash, 'emailHash');
  const tokenHash = requireTokenHash(command.tokenHash, 'tokenHash');
  const emailMasked = requireText(command.emailMasked, 'emailMasked');
  const invitedBy = requireText(command.invitedBy, 'invitedBy');
  const now = instant(command.now, 'now');
  if (instant(command.expiresAt, 'expiresAt') <= now) throw invalid('expiresAt must be after now', { field: 'expiresAt' });
  if (!Array.isArray(command.roles)) throw invalid('roles must be a list', { field: 'roles' });
  const roles = [...new Set(command.roles.map((r, i) => requireText(r, `roles.${i}`)))];
  if (roles.includes('owner')) throw invalid('nobody is invited as owner (the owner transfers ownership)', { field: 'roles', role: 'owner' });
  if (roles.length > MAX_ROLES_PER_MEMBER)
    throw invalid(`a member holds at most ${MAX_ROLES_PER_MEMBER} roles`, { field: 'roles', limit: MAX_ROLES_PER_MEMBER });
  const team = normalizeTeam(command.team);
  if (state.invitation) {
    if (state.invitation.tokenHash === tokenHash && state.invitation.organizationId === organizationId) return [];
    throw new DomainError('CONFLICT', `invitation ${invitationId} exists already`, { invitationId });
  }
  return [
    {
      type: 'InvitationSent',
      data: { invitationId, organizationId, emailHash, emailMasked, roles, team, invitedBy, expiresAt: command.expiresAt, tokenHash, sentAt: command.now },
    },
  ];
}

function accept(command: AcceptInvitation, state: InvitationState): InvitationEvent[] {
  const invitation = requireInvitation(state);
  const userId = requireText(command.userId, 'userId');
  const tokenHash = requireTokenHash(command.tokenHash, 'tokenHash');
  const emailHash = requireTokenHash(command.emailHash, 'emailHash');
  const now = instant(command.now, 'now');
  // worded as for an invitation that does not exist: a wrong secret must not tell that the id does
  if (tokenHash !== invitation.tokenHash) throw new DomainError('NOT_FOUND', 'invitation not found (check the link, or ask for a new one)', {});
  if (emailHash !== invitation.emailHash)
    throw new DomainError('PERMISSION_DENIED', `this invitation was sent to ${invitation.emailMasked}, not to your account's email address`, {
      reason: 'other_email',
    });
  if (state.status === 'accepted' && state.answeredBy === userId) return [];
  if (state.status !== 'pending') throw notPending(state);
  if (isExpired(state, now))
    throw new DomainError('CONFLICT', `the invitation expired at ${invitation.expiresAt}: ask for a new one`, {
      reason: 'expired',
      expiresAt: invitation.expiresAt,
    });
  return [{ type: 'InvitationAccepted', data: { invitationId: invitation.invitationId, organizationId: invitation.organizationId, userId, at: command.now } }];
}

function decline(command: DeclineInvitation, state: InvitationState): InvitationEvent[] {
  const invitation = requireInvitation(state);
  const userId = requireText(command.userId, 'userId');
  const emailHash = requireTokenHash(command.emailHash, 'emailHash');
  const now = instant(command.now, 'now');
  // someone else's invitation is not theirs to see
  if (emailHash !== invitation.emailHash) throw new DomainError('NOT_FOUND', 'invitation not found', {});
  if (state.status === 'declined' && state.answeredBy === userId) return [];
  if (state.status !== 'pending') throw notPending(state);
  if (isExpired(state, now))
    throw new DomainError('CONFLICT', `the invitation expired at ${invitation.expiresAt}`, { reason: 'expired', expiresAt: invitation.expiresAt });
  return [{ type: 'InvitationDeclined', data: { invitationId: invitation.invitationId, organizationId: invitation.organizationId, userId, at: command.now } }];
}

function revoke(command: RevokeInvitation, state: InvitationState): InvitationEvent[] {
  const invitation = requireInvitation(state);
  const by = requireText(command.by, 'by');
  instant(command.now, 'now');
  if (state.status === 'revoked') return [];
  if (state.status !== 'pending') throw notPending(state);
  return [{ type: 'InvitationRevoked', data: { invitationId: invitation.invitationId, organizationId: invitation.organizationId, by, at: command.now } }];
}

function decide(command: InvitationCommand, state: InvitationState): InvitationEvent[] {
  switch (command.type) {
    case 'SendInvitation':
      return send(command, state);
    case 'AcceptInvitation':
      return accept(command, state);
    case 'DeclineInvitation':
      return decline(command, state);
    case 'RevokeInvitation':
      return revoke(command, state);
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

function evolve(state: InvitationState, event: InvitationEvent): InvitationState {
  switch (event.type) {
    case 'InvitationSent': {
      const { sentAt: _sentAt, ...invitation } = event.data;
      state.invitation = invitation;
      state.status = 'pending';
      return state;
    }
    case 'InvitationAccepted':
      state.status = 'accepted';
      state.answeredBy = event.data.userId;
      return state;
    case 'InvitationDeclined':
      state.status = 'declined';
      state.answeredBy = event.data.userId;
      return state;
    case 'InvitationRevoked':
      state.status = 'revoked';
      return state;
  }
}

export const invitationDecider: Decider<InvitationState, InvitationCommand, InvitationEvent> = {
  initialState: initialInvitationState,
  decide,
  evolve,
};

/** The binding the command handler uses: stream `organization_invitation-{id}`, ≤ 2 events (no snapshots). */
export const invitationAggregate: Aggregate<InvitationState, InvitationCommand, InvitationEvent> = {
  name: 'organization_invitation',
  streamName: invitationStream,
  decider: invitationDecider,
  events: invitationEvents,
};
