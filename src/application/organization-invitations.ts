import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { deliverOrDrop } from './deliver-mail.js';
import { invitationMail } from './mail/invitation-template.js';
import { generateOpaqueToken, hashToken } from './opaque-tokens.js';
import type { Mailer } from './ports/mailer.js';
import type { SealedSecret, SecretBox } from './ports/secret-box.js';
import { isRoleOf, organizationNotFound, withClaim, type Written } from './organizations.js';
import { ConditionFailedError, WrongExpectedVersionError } from '../event-store/errors.js';
import type { EventStore } from '../event-store/port.js';
import type { Logger } from '../logger.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { invalid } from '../write-model/core/validate.js';
import { organizationAggregate, organizationStream } from '../write-model/organization/decider.js';
import {
  invitationAggregate,
  invitationDecider,
  invitationStream,
  isExpired,
  type InvitationCommand,
  type InvitationState,
} from '../write-model/organization/invitation.js';
import type { OrganizationCommand } from '../write-model/organization/commands.js';
import { membershipClaimStream } from '../write-model/organization/membership-claim.js';
import { memberOf } from '../write-model/organization/state.js';
import { userAggregate } from '../write-model/user/decider.js';
import { emailReservationAggregate } from '../write-model/user/email-reservation.js';

/**
 * Invitations by mail. A member invites an address with the roles (and
 * team) the new member will have; the mail carries a single-use link
 * `PUBLIC_WEB_URL/invitations/accept?invitation=<token>`, the token being
 * `<invitationId>.<secret>`. Only the token's sha256 and the address's
 * sha256 (as the email reservation hashes it) reach the event; the job in
 * the mail queue carries both sealed with the encryption keyring.
 * Accepting needs a signed-in user whose account email is the invited one;
 * it claims their one organization, adds them (on the organization and
 * invitation revisions read), then records the acceptance.
 */

export const MAX_PENDING_INVITATIONS = 200;

export interface InvitationMailJob {
  invitationId: string;
  /** the address, sealed (bound to the invitation) */
  to: SealedSecret;
  /** the link's token, sealed (bound to the invitation) */
  token: SealedSecret;
}

export interface InvitationOutbox {
  enqueueInvitationMail(job: InvitationMailJob): Promise<void>;
}

const tokenContext = (invitationId: string) => `organization-invitation:${invitationId}`;
const addressContext = (invitationId: string) => `organization-invitation-to:${invitationId}`;

/** `ada@example.com` → `a*a@example.com`, `bo@x.cn` → `b*@x.cn`: enough to recognise, not to read. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  const local = at < 0 ? email : email.slice(0, at);
  const domain = at < 0 ? '' : email.slice(at);
  const chars = [...local];
  const masked = chars.length <= 2 ? `${chars[0] ?? ''}*` : `${chars[0]}${'*'.repeat(Math.min(chars.length - 2, 5))}${chars.at(-1)}`;
  return `${masked}${domain}`;
}

/** The hash an account's (normalised) email is known by: as the email reservation keys it. */
export const emailHashOf = (normalisedEmail: string): string => hashToken(normalisedEmail);

/** The invitation id a token names; null for anything not shaped like one of ours. */
export function invitationIdOf(token: string): string | null {
  const dot = token.indexOf('.');
  if (dot <= 0) return null;
  const id = token.slice(0, dot);
  return /^[0-9a-f-]{36}$/.test(id) ? id : null;
}

export interface InvitationDeps {
  store: EventStore;
  knex: Knex;
  outbox: InvitationOutbox;
  secretBox: SecretBox;
  /** INVITATION_TTL_HOURS */
  ttlHours: number;
  now?: () => Date;
}

export interface Invited extends Written {
  invitationId: string;
  emailMasked: string;
  expiresAt: string;
}

/** Pending, unexpired invitations of the organization, as the read model has them. */
async function pendingInvitations(knex: Knex, organizationId: string, now: Date): Promise<number> {
  const row = await knex('organization_invitations')
    .where({ organization_id: organizationId, status: 'pending' })
    .andWhere('expires_at', '>', now)
    .count<{ count: string }[]>('* as count')
    .first();
  return Number(row?.count ?? 0);
}

/**
 * The organization's pending, unexpired invitation to this address, if any:
 * found on the read model, confirmed on its stream, so one revoked or
 * declined a moment ago (the projection behind) no longer counts.
 */
async function pendingInvitationTo(
  deps: Pick<InvitationDeps, 'store' | 'knex'>,
  organizationId: string,
  emailHash: string,
  now: Date,
): Promise<{ id: string; expires_at: Date } | undefined> {
  const rows = await deps
    .knex('organization_invitations')
    .where({ organization_id: organizationId, email_hash: emailHash, status: 'pending' })
    .andWhere('expires_at', '>', now)
    .select<{ id: string; expires_at: Date }[]>('id', 'expires_at');
  for (const row of rows) {
    if ((await load(deps.store, invitationAggregate, row.id)).state.status === 'pending') return row;
  }
  return undefined;
}

/** Tries at sending an invitation while the organization changes beside it (a member joining, a role defined). */
const INVITE_ATTEMPTS = 4;

export async function inviteMember(deps: InvitationDeps, input: InvitationInput): Promise<Invited> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await inviteOnce(deps, input);
    } catch (error) {
      // the organization moved on after it was read: the roles and the membership are checked again on its new state
      if (!(error instanceof ConditionFailedError) || attempt >= INVITE_ATTEMPTS) throw error;
    }
  }
}

interface InvitationInput {
  organizationId: string;
  by: string;
  email: string;
  roles: readonly string[];
  team: string | null;
  context: CommandContext;
}

async function inviteOnce(deps: InvitationDeps, input: InvitationInput): Promise<Invited> {
  const { store } = deps;
  const now = deps.now?.() ?? new Date();
  const org = await load(store, organizationAggregate, input.organizationId);
  if (!memberOf(org.state, input.by)) throw organizationNotFound(input.organizationId);
  input.roles.forEach((role, i) => {
    if (role === 'owner') throw invalid('nobody is invited as owner (the owner transfers ownership)', { field: `roles.${i}`, role });
    if (!isRoleOf(org.state, role))
      throw invalid(`${JSON.stringify(role)} is neither a built-in role nor a custom role of this organization`, { field: `roles.${i}`, role });
  });
  const emailHash = emailHashOf(input.email);
  const holder = (await load(store, emailReservationAggregate, emailHash)).state.reservation?.userId;
  if (holder !== undefined && memberOf(org.state, holder))
    throw new DomainError('CONFLICT', 'that address belongs to a member of this organization already', { reason: 'already_member', field: 'email' });
  const earlier = await pendingInvitationTo(deps, input.organizationId, emailHash, now);
  if (earlier !== undefined)
    throw new DomainError('CONFLICT', 'that address has a pending invitation to this organization already: revoke it to send a new one', {
      reason: 'already_invited',
      field: 'email',
      invitation_id: earlier.id,
      expires_at: earlier.expires_at.toISOString(),
    });
  if ((await pendingInvitations(deps.knex, input.organizationId, now)) >= MAX_PENDING_INVITATIONS)
    throw new DomainError('CONFLICT', `the organization has ${MAX_PENDING_INVITATIONS} pending invitations, the most it may have: revoke some first`, {
      limit: MAX_PENDING_INVITATIONS,
    });
  const invitationId = randomUUID();
  const token = `${invitationId}.${generateOpaqueToken()}`;
  const expiresAt = new Date(now.getTime() + deps.ttlHours * 3_600_000).toISOString();
  const emailMasked = maskEmail(input.email);
  const result = await handle(
    store,
    invitationAggregate,
    invitationId,
    {
      type: 'SendInvitation',
      invitationId,
      organizationId: input.organizationId,
      emailHash,
      emailMasked,
      roles: input.roles,
      team: input.team,
      invitedBy: input.by,
      expiresAt,
      tokenHash: hashToken(token),
      now: now.toISOString(),
    },
    // the roles were checked on this revision of the organization
    {
      context: input.context,
      expectedRevision: 'no_stream',
      conditions: [{ streamName: organizationStream(input.organizationId), revision: org.revision < 0n ? 'no_stream' : org.revision }],
    },
  );
  await deps.outbox.enqueueInvitationMail({
    invitationId,
    to: deps.secretBox.encrypt(input.email, addressContext(invitationId)),
    token: deps.secretBox.encrypt(token, tokenContext(invitationId)),
  });
  return { invitationId, emailMasked, expiresAt, revision: result.revision, position: result.position };
}

/** The normalised email of a signed-in user's account, hashed. */
async function accountEmailHash(store: EventStore, userId: string): Promise<string> {
  const account = (await load(store, userAggregate, userId)).state.account;
  if (!account) throw new DomainError('NOT_FOUND', 'user not found', {});
  return emailHashOf(account.email.trim().toLowerCase());
}

export { accountEmailHash };

export interface Accepted extends Written {
  organizationId: string;
  invitationId: string;
  roles: string[];
  team: string | null;
}

const unknownInvitation = () => new DomainError('NOT_FOUND', 'invitation not found (check the link, or ask for a new one)', {});

/**
 * The signed-in user takes the invitation the token names: errors the
 * invitation's decider gives (wrong account, used, revoked, expired) come
 * before anything is written.
 */
export async function acceptInvitation(
  deps: { store: EventStore; now?: () => Date },
  input: { userId: string; token: string; context: CommandContext },
): Promise<Accepted> {
  try {
    return await acceptOnce(deps, input);
  } catch (error) {
    // the same acceptance landed concurrently (the link opened twice at once): read again, and answer it as a repeat
    if (error instanceof WrongExpectedVersionError || error instanceof ConditionFailedError) return acceptOnce(deps, input);
    throw error;
  }
}

async function acceptOnce(deps: { store: EventStore; now?: () => Date }, input: { userId: string; token: string; context: CommandContext }): Promise<Accepted> {
  const { store } = deps;
  const invitationId = invitationIdOf(input.token);
  if (invitationId === null) throw unknownInvitation();
  const read = await load(store, invitationAggregate, invitationId);
  const invitation = read.state.invitation;
  if (!invitation) throw unknownInvitation();
  const now = (deps.now?.() ?? new Date()).toISOString();
  const accept = {
    type: 'AcceptInvitation' as const,
    userId: input.userId,
    emailHash: await accountEmailHash(store, input.userId),
    tokenHash: hashToken(input.token),
    now,
  };
  // refused here, nothing is claimed; [] is this user's own acceptance again
  const again = invitationDecider.decide(accept, read.state).length === 0;
  const { organizationId } = invitation;
  const joined = again
    ? await loadStillMember(store, organizationId, input.userId)
    : await withClaim(store, input.userId, organizationId, input.context, (claimRevision) =>
        handle(
          store,
          organizationAggregate,
          organizationId,
          (state): OrganizationCommand => ({
            type: 'AddMember',
            userId: input.userId,
            // a custom role deleted since the invitation was sent is left out
            roles: invitation.roles.filter((role) => isRoleOf(state, role) && role !== 'owner'),
            team: invitation.team,
            invitationId,
            now,
          }),
          {
            context: input.context,
            conditions: [
              { streamName: membershipClaimStream(input.userId), revision: claimRevision },
              { streamName: invitationStream(invitationId), revision: read.revision },
            ],
          },
        ),
      );
  let written: Written = { revision: joined.revision, position: (joined as { position?: Written['position'] }).position };
  if (!again) {
    try {
      const result = await handle(store, invitationAggregate, invitationId, accept, { context: input.context, expectedRevision: read.revision });
      written = { revision: written.revision, position: result.position ?? written.position };
    } catch {
      // revoked in the moment after the member was added: the membership stands, the revocation came after it
    }
  }
  const member = memberOf(joined.state, input.userId);
  return { organizationId, invitationId, roles: member ? [...member.roles] : [], team: member?.team ?? null, ...written };
}

/** Accepted before by this user: the same answer while they are still a member; once they left, the link is used up. */
async function loadStillMember(store: EventStore, organizationId: string, userId: string) {
  const loaded = await load(store, organizationAggregate, organizationId);
  if (!memberOf(loaded.state, userId)) throw new DomainError('CONFLICT', 'the invitation was accepted already', { reason: 'accepted', status: 'accepted' });
  return loaded;
}

/** The invited user turns it down (their account's email must be the invited one; anyone else: NOT_FOUND). */
export async function declineInvitation(
  deps: { store: EventStore; now?: () => Date },
  input: { userId: string; invitationId: string; context: CommandContext },
): Promise<Written> {
  const emailHash = await accountEmailHash(deps.store, input.userId);
  const now = (deps.now?.() ?? new Date()).toISOString();
  const result = await handle(
    deps.store,
    invitationAggregate,
    input.invitationId,
    { type: 'DeclineInvitation', userId: input.userId, emailHash, now },
    { context: input.context },
  );
  return result;
}

/**
 * A member takes back an invitation of their organization (NOT_FOUND for another organization's).
 * expectedRevision: the caller's If-Match, the invitation's revision (its sending answered it).
 */
export async function revokeInvitation(
  deps: { store: EventStore; now?: () => Date },
  input: { organizationId: string; invitationId: string; by: string; context: CommandContext; expectedRevision?: bigint | undefined },
): Promise<Written> {
  const org = await load(deps.store, organizationAggregate, input.organizationId);
  if (!memberOf(org.state, input.by)) throw organizationNotFound(input.organizationId);
  const now = (deps.now?.() ?? new Date()).toISOString();
  const ours = (state: InvitationState): void => {
    if (state.invitation?.organizationId !== input.organizationId)
      throw new DomainError('NOT_FOUND', 'invitation not found', { invitationId: input.invitationId });
  };
  // another organization's invitation is 404 before a stale If-Match could tell that it exists
  const loaded = input.expectedRevision === undefined ? undefined : await load(deps.store, invitationAggregate, input.invitationId);
  if (loaded) ours(loaded.state);
  return handle(
    deps.store,
    invitationAggregate,
    input.invitationId,
    (state: InvitationState): InvitationCommand => {
      ours(state);
      return { type: 'RevokeInvitation', by: input.by, now };
    },
    { context: input.context, expectedRevision: input.expectedRevision, ...(loaded ? { loaded } : {}) },
  );
}

export interface InvitationMailDeps {
  store: EventStore;
  mailer: Mailer;
  secretBox: SecretBox;
  /** PUBLIC_WEB_URL: links point at its /invitations/accept */
  webUrl: string;
  logger?: Pick<Logger, 'info' | 'warn'>;
  now?: () => Date;
}

export type InvitationMailOutcome = 'sent' | 'answered' | 'expired' | 'refused';

/**
 * Sends a queued invitation unless it no longer matters (accepted, declined,
 * revoked or expired meanwhile). A refusal by the relay for the recipient is
 * dropped; any other failure is thrown for the queue to retry.
 */
export async function sendInvitationMail(deps: InvitationMailDeps, job: InvitationMailJob): Promise<InvitationMailOutcome> {
  const token = deps.secretBox.decrypt(job.token, tokenContext(job.invitationId));
  const to = deps.secretBox.decrypt(job.to, addressContext(job.invitationId));
  const { state } = await load(deps.store, invitationAggregate, job.invitationId);
  if (!state.invitation || state.status !== 'pending' || state.invitation.tokenHash !== hashToken(token)) return 'answered';
  const nowMs = (deps.now?.() ?? new Date()).getTime();
  if (isExpired(state, nowMs)) return 'expired';
  const org = (await load(deps.store, organizationAggregate, state.invitation.organizationId)).state;
  const acceptUrl = `${deps.webUrl.replace(/\/+$/, '')}/invitations/accept?invitation=${encodeURIComponent(token)}`;
  const sent = await deliverOrDrop(
    deps.mailer,
    { to, ...invitationMail({ organizationName: org.name, acceptUrl, expiresInHours: (Date.parse(state.invitation.expiresAt) - nowMs) / 3_600_000 }) },
    { logger: deps.logger, what: 'invitation mail', context: { invitationId: job.invitationId } },
  );
  return sent === 'refused' ? 'refused' : 'sent';
}
