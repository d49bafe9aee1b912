import { SNAPSHOT_EVERY, type Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, requireText, optionalText, requireOneOf } from '../core/validate.js';
import type {
  ChangePassword,
  ChangeRole,
  RegisterUser,
  ReactivateUser,
  RequestEmailVerification,
  RequestPasswordReset,
  ResetPassword,
  SuspendUser,
  UpdateProfile,
  UserCommand,
  VerifyEmail,
} from './commands.js';
import { NOTIFICATION_KINDS } from '../notification/events.js';
import { USER_ROLES, userEvents, type NotificationChannels, type NotificationPreferences, type ProfileUpdatedData, type UserEvent } from './events.js';
import { requirePasswordHash, requireTokenHash } from './hashes.js';
import { initialState, keptAfterChange, type UserAccount, type UserState } from './state.js';
import { requireUsername } from './username.js';
import { confirmTotp, disableTotp, evolveTotp, regenerateRecoveryCodes, startTotpEnrollment, useRecoveryCode, type TotpDecisionContext } from './totp.js';
import { disableSmsMfa, enableSmsMfa, evolvePhone, removePhoneNumber, resetMfa, startPhoneVerification, verifyPhoneNumber } from './phone.js';

/**
 * The User aggregate: an account, its profile, role and status, its
 * password resets, and the epoch that revokes its sessions. Sessions
 * themselves are the Session aggregate's (`session-{id}`).
 *
 * Rules the decisions follow (see also tests/unit/user.spec.test.ts):
 * - An unknown user is NOT_FOUND; a suspended one is PERMISSION_DENIED
 *   (details.reason 'user_suspended') for everything a user does for
 *   themselves (profile, password reset and change). Changing the role,
 *   suspending and reactivating stay possible.
 * - Suspension and every password change (reset or from the profile) are
 *   mass revocations: the event carries the next session epoch, so a
 *   session started before it can no longer be refreshed (session decider,
 *   which gets the epoch with its command), and the end-sessions process
 *   manager records SessionEnded for each live one. A change from the
 *   profile names the session it came from: that one is kept.
 * - Password reset: only the latest request's token is valid (a newer
 *   request supersedes it), once (any PasswordChanged clears it), until its
 *   expiry. Refusals are PERMISSION_DENIED with details.reason
 *   'reset_token_invalid' (unknown, superseded or used) or
 *   'reset_token_expired'.
 * - Secrets arrive hashed: passwords as argon2id PHC strings
 *   (`$argon2id$…`), tokens as sha256 hex. Anything else is a
 *   VALIDATION_ERROR — a guard against an adapter passing a secret in clear.
 * - The second factor (TOTP and recovery codes): see totp.ts; the phone
 *   number, the SMS factor and the admin's MFA reset: see phone.ts.
 * - Idempotent repeats return []: RegisterUser with the same id, email and
 *   hash; ChangePassword to the hash already in force; RequestPasswordReset
 *   with the pending hash; and the no-change cases of the brief.
 */

export function userStream(userId: string): string {
  return `user-${userId}`;
}

type Event = UserEvent;

/** details.reason of a refused VerifyEmail (always PERMISSION_DENIED). */
export const VERIFY_REFUSALS = ['verify_token_invalid', 'verify_token_expired'] as const;
export type VerifyRefusal = (typeof VERIFY_REFUSALS)[number];

/** details.reason of a refused ResetPassword (always PERMISSION_DENIED). */
export const RESET_REFUSALS = ['reset_token_invalid', 'reset_token_expired'] as const;
export type ResetRefusal = (typeof RESET_REFUSALS)[number];

function requireEmail(value: unknown): string {
  const email = requireText(value, 'email');
  const at = email.indexOf('@');
  if (email !== email.trim().toLowerCase() || at <= 0 || at === email.length - 1 || /\s/.test(email)) {
    throw new DomainError('VALIDATION_ERROR', 'email must be a normalised (trimmed, lower-case) address', { field: 'email' });
  }
  return email;
}

function requireFuture(ms: number, nowMs: number, field: string): void {
  if (ms <= nowMs) throw new DomainError('VALIDATION_ERROR', `${field} must be after now`, { field });
}

function requireAccount(state: UserState, userId: string): UserAccount {
  if (state.account === null || state.account.userId !== userId) {
    throw new DomainError('NOT_FOUND', 'user not found', { userId });
  }
  return state.account;
}

function requireNotSuspended(state: UserState): void {
  if (state.status === 'suspended') {
    throw new DomainError('PERMISSION_DENIED', 'the user is suspended', { reason: 'user_suspended' });
  }
}

function refuseReset(reason: ResetRefusal, message: string): never {
  throw new DomainError('PERMISSION_DENIED', message, { reason });
}

function registerUser(command: RegisterUser, state: UserState): Event[] {
  instant(command.now, 'now');
  const userId = requireText(command.userId, 'userId');
  const email = requireEmail(command.email);
  const passwordHash = requirePasswordHash(command.passwordHash, 'passwordHash');
  const displayName = requireText(command.displayName, 'displayName');
  const username = command.username === undefined ? undefined : requireUsername(command.username);
  const role = requireOneOf(command.role, USER_ROLES, 'role');
  if (state.account !== null) {
    const account = state.account;
    if (account.userId === userId && account.email === email && account.passwordHash === passwordHash) return [];
    throw new DomainError('CONFLICT', 'the user is already registered', { userId });
  }
  return [
    {
      type: 'UserRegistered',
      data: { userId, email, passwordHash, displayName, ...(username !== undefined ? { username } : {}), role, registeredAt: command.now },
    },
  ];
}

function updateProfile(command: UpdateProfile, state: UserState): Event[] {
  instant(command.now, 'now');
  const account = requireAccount(state, command.userId);
  requireNotSuspended(state);
  const data: ProfileUpdatedData = { userId: account.userId, updatedAt: command.now };
  let changed = false;
  if (command.displayName !== undefined) {
    const displayName = requireText(command.displayName, 'displayName');
    if (displayName !== account.profile.displayName) {
      data.displayName = displayName;
      changed = true;
    }
  }
  if (command.avatarUrl !== undefined) {
    const avatarUrl = optionalText(command.avatarUrl, 'avatarUrl');
    if (avatarUrl !== account.profile.avatarUrl) {
      data.avatarUrl = avatarUrl;
      changed = true;
    }
  }
  if (command.timezone !== undefined) {
    const timezone = optionalText(command.timezone, 'timezone');
    if (timezone !== account.profile.timezone) {
      data.timezone = timezone;
      changed = true;
    }
  }
  if (command.username !== undefined) {
    const username = requireUsername(command.username);
    if (username !== account.profile.username) {
      data.username = username;
      data.previousUsername = account.profile.username;
      changed = true;
    }
  }
  if (command.notificationPreferences !== undefined) {
    const merged = mergePreferences(account.profile.notificationPreferences, command.notificationPreferences);
    if (!samePreferences(merged, account.profile.notificationPreferences)) {
      data.notificationPreferences = merged;
      changed = true;
    }
  }
  return changed ? [{ type: 'ProfileUpdated', data }] : [];
}

/** The current preferences with the given kinds replaced; an unknown kind or a non-boolean channel is VALIDATION_ERROR. */
function mergePreferences(current: NotificationPreferences, given: NotificationPreferences): Record<string, NotificationChannels> {
  const merged: Record<string, NotificationChannels> = { ...current };
  if (typeof given !== 'object' || given === null)
    throw new DomainError('VALIDATION_ERROR', 'notificationPreferences must be an object', { field: 'notificationPreferences' });
  for (const [kind, channels] of Object.entries(given)) {
    requireOneOf(kind, NOTIFICATION_KINDS, 'notificationPreferences');
    if (typeof channels?.inApp !== 'boolean' || typeof channels.mail !== 'boolean' || (channels.sms !== undefined && typeof channels.sms !== 'boolean')) {
      throw new DomainError('VALIDATION_ERROR', `notificationPreferences.${kind} needs inApp and mail as booleans (sms optional)`, {
        field: `notificationPreferences.${kind}`,
      });
    }
    // sms is kept only when on: off and absent mean the same
    merged[kind] = { inApp: channels.inApp, mail: channels.mail, ...(channels.sms === true ? { sms: true } : {}) };
  }
  return merged;
}

function samePreferences(a: NotificationPreferences, b: NotificationPreferences): boolean {
  const kinds = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const kind of kinds) {
    if (a[kind]?.inApp !== b[kind]?.inApp || a[kind]?.mail !== b[kind]?.mail || (a[kind]?.sms ?? false) !== (b[kind]?.sms ?? false)) return false;
  }
  return true;
}

function requestPasswordReset(command: RequestPasswordReset, state: UserState): Event[] {
  const nowMs = instant(command.now, 'now');
  const account = requireAccount(state, command.userId);
  requireNotSuspended(state);
  const resetTokenHash = requireTokenHash(command.resetTokenHash, 'resetTokenHash');
  const expiresAtMs = instant(command.expiresAt, 'expiresAt');
  if (state.passwordReset?.resetTokenHash === resetTokenHash) return [];
  requireFuture(expiresAtMs, nowMs, 'expiresAt');
  return [
    {
      type: 'PasswordResetRequested',
      data: { userId: account.userId, resetTokenHash, expiresAt: command.expiresAt, requestedAt: command.now },
    },
  ];
}

/**
 * Why a reset token would be refused, or null: not the latest request's, or
 * expired. The route asks before hashing the new password; the decision asks
 * again.
 */
export function resetTokenRefusal(state: UserState, resetTokenHash: string, nowMs: number): ResetRefusal | null {
  const pending = state.passwordReset;
  if (pending === null || pending.resetTokenHash !== resetTokenHash) return 'reset_token_invalid';
  if (Date.parse(pending.expiresAt) <= nowMs) return 'reset_token_expired';
  return null;
}

/**
 * A new verification link supersedes the last; once verified there is none
 * to send (CONFLICT, details.reason 'email_verified').
 */
function requestEmailVerification(command: RequestEmailVerification, state: UserState): Event[] {
  const nowMs = instant(command.now, 'now');
  const account = requireAccount(state, command.userId);
  requireNotSuspended(state);
  const verifyTokenHash = requireTokenHash(command.verifyTokenHash, 'verifyTokenHash');
  const expiresAtMs = instant(command.expiresAt, 'expiresAt');
  if (state.emailVerifiedAt !== null) throw new DomainError('CONFLICT', 'the email is verified already', { reason: 'email_verified' });
  if (state.emailVerification?.verifyTokenHash === verifyTokenHash) return [];
  requireFuture(expiresAtMs, nowMs, 'expiresAt');
  return [{ type: 'EmailVerificationRequested', data: { userId: account.userId, verifyTokenHash, expiresAt: command.expiresAt, requestedAt: command.now } }];
}

/** Why a verification token would be refused, or null (the route asks first; the decision asks again). */
export function verifyTokenRefusal(state: UserState, verifyTokenHash: string, nowMs: number): VerifyRefusal | null {
  const pending = state.emailVerification;
  if (pending === null || pending.verifyTokenHash !== verifyTokenHash) return 'verify_token_invalid';
  if (Date.parse(pending.expiresAt) <= nowMs) return 'verify_token_expired';
  return null;
}

/** Following the link twice is fine: the second time there is nothing left to do. */
function verifyEmail(command: VerifyEmail, state: UserState): Event[] {
  const nowMs = instant(command.now, 'now');
  const account = requireAccount(state, command.userId);
  requireNotSuspended(state);
  const verifyTokenHash = requireTokenHash(command.verifyTokenHash, 'verifyTokenHash');
  if (state.emailVerifiedAt !== null) return [];
  const refusal = verifyTokenRefusal(state, verifyTokenHash, nowMs);
  if (refusal !== null) {
    throw new DomainError(
      'PERMISSION_DENIED',
      refusal === 'verify_token_expired' ? 'the verification link has expired' : 'the verification link is not valid',
      { reason: refusal },
    );
  }
  return [{ type: 'EmailVerified', data: { userId: account.userId, email: account.email, verifiedAt: command.now } }];
}

function resetPassword(command: ResetPassword, state: UserState): Event[] {
  const nowMs = instant(command.now, 'now');
  const account = requireAccount(state, command.userId);
  requireNotSuspended(state);
  const resetTokenHash = requireTokenHash(command.resetTokenHash, 'resetTokenHash');
  const passwordHash = requirePasswordHash(command.newPasswordHash, 'newPasswordHash');
  const refusal = resetTokenRefusal(state, resetTokenHash, nowMs);
  if (refusal === 'reset_token_invalid') refuseReset(refusal, 'the reset token is not valid');
  if (refusal === 'reset_token_expired') refuseReset(refusal, 'the reset token has expired');
  return [
    {
      type: 'PasswordChanged',
      data: { userId: account.userId, passwordHash, via: 'reset', keptSession: null, sessionEpoch: state.sessionEpoch + 1, changedAt: command.now },
    },
  ];
}

function changePassword(command: ChangePassword, state: UserState): Event[] {
  instant(command.now, 'now');
  const account = requireAccount(state, command.userId);
  requireNotSuspended(state);
  const passwordHash = requirePasswordHash(command.newPasswordHash, 'newPasswordHash');
  const keep = optionalText(command.keepSessionId, 'keepSessionId');
  if (passwordHash === account.passwordHash) return [];
  return [
    {
      type: 'PasswordChanged',
      data: {
        userId: account.userId,
        passwordHash,
        via: 'profile',
        keptSession: keptAfterChange(state.keptSession, keep, state.sessionEpoch),
        sessionEpoch: state.sessionEpoch + 1,
        changedAt: command.now,
      },
    },
  ];
}

function changeRole(command: ChangeRole, state: UserState): Event[] {
  instant(command.now, 'now');
  const account = requireAccount(state, command.userId);
  const role = requireOneOf(command.role, USER_ROLES, 'role');
  if (role === account.role) return [];
  return [{ type: 'RoleChanged', data: { userId: account.userId, role, previousRole: account.role, changedAt: command.now } }];
}

function suspendUser(command: SuspendUser, state: UserState): Event[] {
  instant(command.now, 'now');
  const account = requireAccount(state, command.userId);
  const reason = requireText(command.reason, 'reason');
  if (state.status === 'suspended') return [];
  return [{ type: 'UserSuspended', data: { userId: account.userId, reason, sessionEpoch: state.sessionEpoch + 1, suspendedAt: command.now } }];
}

function reactivateUser(command: ReactivateUser, state: UserState): Event[] {
  instant(command.now, 'now');
  const account = requireAccount(state, command.userId);
  if (state.status !== 'suspended') return [];
  return [{ type: 'UserReactivated', data: { userId: account.userId, reactivatedAt: command.now } }];
}

/** The account checks the second-factor decisions (totp.ts) share with the others. */
const totpChecks: TotpDecisionContext = { requireAccount, requireNotSuspended };

function decide(command: UserCommand, state: UserState): Event[] {
  switch (command.type) {
    case 'RegisterUser':
      return registerUser(command, state);
    case 'UpdateProfile':
      return updateProfile(command, state);
    case 'RequestPasswordReset':
      return requestPasswordReset(command, state);
    case 'ResetPassword':
      return resetPassword(command, state);
    case 'RequestEmailVerification':
      return requestEmailVerification(command, state);
    case 'VerifyEmail':
      return verifyEmail(command, state);
    case 'ChangePassword':
      return changePassword(command, state);
    case 'ChangeRole':
      return changeRole(command, state);
    case 'SuspendUser':
      return suspendUser(command, state);
    case 'ReactivateUser':
      return reactivateUser(command, state);
    case 'StartTotpEnrollment':
      return startTotpEnrollment(command, state, totpChecks);
    case 'ConfirmTotp':
      return confirmTotp(command, state, totpChecks);
    case 'UseRecoveryCode':
      return useRecoveryCode(command, state, totpChecks);
    case 'RegenerateRecoveryCodes':
      return regenerateRecoveryCodes(command, state, totpChecks);
    case 'DisableTotp':
      return disableTotp(command, state, totpChecks);
    case 'StartPhoneVerification':
      return startPhoneVerification(command, state, totpChecks);
    case 'VerifyPhoneNumber':
      return verifyPhoneNumber(command, state, totpChecks);
    case 'RemovePhoneNumber':
      return removePhoneNumber(command, state, totpChecks);
    case 'EnableSmsMfa':
      return enableSmsMfa(command, state, totpChecks);
    case 'DisableSmsMfa':
      return disableSmsMfa(command, state, totpChecks);
    case 'ResetMfa':
      return resetMfa(command, state, totpChecks);
    default: {
      const unknown: never = command;
      throw new DomainError('VALIDATION_ERROR', 'unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

/**
 * O(1) per event, in place (the fold owns its state). Every event changes
 * the state; the decider writes events only for a registered user, so the
 * `account === null` guards never apply to a stream it wrote.
 */
function evolve(state: UserState, event: Event): UserState {
  if (event.type === 'UserRegistered') {
    const d = event.data;
    state.status = 'active';
    state.account = {
      userId: d.userId,
      email: d.email,
      passwordHash: d.passwordHash,
      role: d.role,
      profile: { displayName: d.displayName, avatarUrl: null, timezone: null, username: d.username ?? null, notificationPreferences: {} },
      registeredAt: d.registeredAt,
      passwordChangedAt: null,
    };
    return state;
  }
  const account = state.account;
  switch (event.type) {
    case 'ProfileUpdated': {
      const d = event.data;
      if (account === null) return state;
      if (d.displayName !== undefined) account.profile.displayName = d.displayName;
      if (d.avatarUrl !== undefined) account.profile.avatarUrl = d.avatarUrl;
      if (d.timezone !== undefined) account.profile.timezone = d.timezone;
      if (d.username !== undefined) account.profile.username = d.username;
      if (d.notificationPreferences !== undefined) account.profile.notificationPreferences = d.notificationPreferences;
      return state;
    }
    case 'PasswordResetRequested': {
      const d = event.data;
      state.passwordReset = { resetTokenHash: d.resetTokenHash, expiresAt: d.expiresAt, requestedAt: d.requestedAt };
      return state;
    }
    case 'PasswordChanged': {
      const d = event.data;
      if (account !== null) {
        account.passwordHash = d.passwordHash;
        account.passwordChangedAt = d.changedAt;
      }
      state.passwordReset = null;
      state.keptSession = d.keptSession === null ? null : { sessionId: d.keptSession.sessionId, sinceEpoch: d.keptSession.sinceEpoch };
      state.sessionEpoch = d.sessionEpoch;
      return state;
    }
    case 'RoleChanged':
      if (account !== null) account.role = event.data.role;
      return state;
    case 'UserSuspended': {
      const d = event.data;
      state.status = 'suspended';
      state.suspension = { reason: d.reason, suspendedAt: d.suspendedAt };
      state.sessionEpoch = d.sessionEpoch;
      state.keptSession = null;
      return state;
    }
    case 'UserReactivated':
      state.status = 'active';
      state.suspension = null;
      return state;
    case 'EmailVerificationRequested': {
      const d = event.data;
      state.emailVerification = { verifyTokenHash: d.verifyTokenHash, expiresAt: d.expiresAt };
      return state;
    }
    case 'EmailVerified':
      state.emailVerifiedAt = event.data.verifiedAt;
      state.emailVerification = null;
      return state;
    case 'TotpEnrollmentStarted':
    case 'TotpEnabled':
    case 'RecoveryCodeUsed':
    case 'RecoveryCodesRegenerated':
    case 'TotpDisabled':
      return evolveTotp(state, event);
    case 'PhoneVerificationStarted':
    case 'PhoneNumberVerified':
    case 'PhoneNumberRemoved':
    case 'SmsMfaEnabled':
    case 'SmsMfaDisabled':
    case 'MfaReset':
      return evolvePhone(state, event);
  }
}

export const userDecider: Decider<UserState, UserCommand, UserEvent> = { initialState, decide, evolve };

/** The binding the command handler uses: stream `user-{userId}`, long-lived (lifecycle facts only), snapshotted. */
export const userAggregate: Aggregate<UserState, UserCommand, UserEvent> = {
  name: 'user',
  streamName: userStream,
  decider: userDecider,
  events: userEvents,
  // version 3: the profile learned the username and notification preferences; version 4: the TOTP factor;
  // version 5: the phone number and the SMS factor (older snapshots are ignored, the stream is folded)
  snapshot: { version: 5, every: SNAPSHOT_EVERY.lifecycle },
};
