import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';
import type { SealedSecret } from '../core/sealed-secret.js';

/**
 * The User aggregate's events, stream `user-{userId}`: the
 * account's lifecycle only. Logins live in their own streams
 * (`session-{sessionId}`, src/write-model/session).
 * Times are ISO-8601 strings. Secrets never appear here: passwords arrive as
 * argon2id hashes and refresh / reset tokens as sha256 hex hashes, computed by
 * the adapters. The password hash is in the events because the state folded
 * from them is what a login is verified against; read models must never
 * project `passwordHash`, `refreshTokenHash`, `resetTokenHash`, `verifyTokenHash`, the
 * TOTP `secret` (sealed: its box never leaves the write side), recovery-code hashes
 * or the phone verification's `codeHash`.
 *
 * Every event names its user (`userId`) so a projection reading `$all` needs
 * nothing from the stream name.
 */
/** `reviewer`: works the content review queue (as admins do), nothing else of the admin API. */
export const USER_ROLES = ['user', 'reviewer', 'admin'] as const;
export type UserRole = (typeof USER_ROLES)[number];

export const PASSWORD_CHANGE_VIAS = ['reset', 'profile'] as const;
export type PasswordChangeVia = (typeof PASSWORD_CHANGE_VIAS)[number];

/** A session that survives mass revocations from `sinceEpoch` on (see session/decider.ts isRevoked). */
export interface KeptSession {
  sessionId: string;
  sinceEpoch: number;
}

export interface UserRegisteredData {
  userId: string;
  /** normalised: trimmed, lower-case */
  email: string;
  /** argon2id */
  passwordHash: string;
  displayName: string;
  /** normalised (see username.ts); absent: registered without one */
  username?: string;
  role: UserRole;
  registeredAt: string;
}

/** How the user wants to hear of one kind of notification. */
export interface NotificationChannels {
  inApp: boolean;
  mail: boolean;
  /** also by SMS to the verified phone; absent: off */
  sms?: boolean;
}

/** Per notification kind; a kind left out is delivered on every channel. */
export type NotificationPreferences = Readonly<Record<string, NotificationChannels>>;

/**
 * Only the fields that changed are present. `avatarUrl` and `timezone` may be
 * null: cleared (the read side then shows no avatar / the platform's zone).
 * `username` is the new name, already reserved (username-reservation.ts);
 * `previousUsername` the one given up (null: there was none).
 * `notificationPreferences` is the whole map after the change.
 */
export interface ProfileUpdatedData {
  userId: string;
  displayName?: string;
  avatarUrl?: string | null;
  timezone?: string | null;
  username?: string;
  previousUsername?: string | null;
  notificationPreferences?: NotificationPreferences;
  updatedAt: string;
}

/** A reset link was sent; it supersedes every earlier one. */
export interface PasswordResetRequestedData {
  userId: string;
  /** sha256 of the single-use reset token */
  resetTokenHash: string;
  expiresAt: string;
  requestedAt: string;
}

/**
 * The password hash to verify logins against from now on; any pending reset
 * token is void. A mass revocation: every session of the user started before
 * it ends (the end-sessions process manager records each), except the one
 * the change was made from.
 */
export interface PasswordChangedData {
  userId: string;
  /** argon2id */
  passwordHash: string;
  via: PasswordChangeVia;
  /**
   * The session the change was made from (it stays signed in) and the epoch
   * it has survived since (earlier than the last one when it made the
   * previous changes too); null: none is kept (a reset, or no session named).
   */
  keptSession: KeptSession | null;
  /** the user's session epoch from now on (one more than before) */
  sessionEpoch: number;
  changedAt: string;
}

export interface RoleChangedData {
  userId: string;
  role: UserRole;
  previousRole: UserRole;
  changedAt: string;
}

/** A mass revocation: every session of the user ends (the end-sessions process manager records each). */
export interface UserSuspendedData {
  userId: string;
  reason: string;
  /** the user's session epoch from now on (one more than before) */
  sessionEpoch: number;
  suspendedAt: string;
}

/** A verification link was mailed; it supersedes every earlier one. */
export interface EmailVerificationRequestedData {
  userId: string;
  /** sha256 of the single-use verification token */
  verifyTokenHash: string;
  expiresAt: string;
  requestedAt: string;
}

/** The user proved the mailbox is theirs. */
export interface EmailVerifiedData {
  userId: string;
  /** the address verified (the account's at that time) */
  email: string;
  verifiedAt: string;
}

export interface UserReactivatedData {
  userId: string;
  reactivatedAt: string;
}

/** How many recovery codes one set holds: a set is used up after that many RecoveryCodeUsed, which keeps the stream bounded. */
export const RECOVERY_CODES_PER_SET = 10;

/**
 * A TOTP (RFC 6238) enrollment began: the secret the user's authenticator
 * app was given, sealed by the secret box with the user id as context. It
 * replaces a pending enrollment; it is not a second factor until confirmed.
 */
export interface TotpEnrollmentStartedData {
  userId: string;
  secret: SealedSecret;
  startedAt: string;
}

/**
 * The pending enrollment was confirmed with a code from the app: logins now
 * need a second step. `recoveryCodeHashes` are the sha256 hex of the
 * RECOVERY_CODES_PER_SET single-use codes the user was shown once.
 */
export interface TotpEnabledData {
  userId: string;
  recoveryCodeHashes: string[];
  enabledAt: string;
}

/** One recovery code stood in for a TOTP code; it never works again. */
export interface RecoveryCodeUsedData {
  userId: string;
  codeHash: string;
  /** unused codes of the set after this one */
  recoveryCodesLeft: number;
  usedAt: string;
}

/** A new set of recovery codes replaces the old one (used or not). */
export interface RecoveryCodesRegeneratedData {
  userId: string;
  recoveryCodeHashes: string[];
  regeneratedAt: string;
}

export const TOTP_DISABLE_VIAS = ['totp', 'recovery_code'] as const;
export type TotpDisableVia = (typeof TOTP_DISABLE_VIAS)[number];

/** TOTP is off (or a pending enrollment dropped): the secret and the recovery codes are void. */
export interface TotpDisabledData {
  userId: string;
  /** what proved the factor besides the password (informational) */
  via: TotpDisableVia;
  disabledAt: string;
}

/**
 * A code was sent by SMS to `phoneE164` to prove the user holds it; it
 * supersedes every earlier one. `codeHash` is the HMAC-SHA256 hex of the
 * 6-digit code (keyed by a server secret: six digits hashed plainly could be
 * tried offline); the code itself is only in the sealed SMS.
 */
export interface PhoneVerificationStartedData {
  userId: string;
  /** E.164 */
  phoneE164: string;
  codeHash: string;
  expiresAt: string;
  startedAt: string;
}

/** The code matched: the number is the user's (notifications and login codes go to it). It replaces an earlier verified one. */
export interface PhoneNumberVerifiedData {
  userId: string;
  phoneE164: string;
  verifiedAt: string;
}

/** The user dropped the number (verified or pending). */
export interface PhoneNumberRemovedData {
  userId: string;
  phoneE164: string;
  removedAt: string;
}

/** Logins now need a code sent by SMS to the verified number (or a TOTP / recovery code, when TOTP is on too). */
export interface SmsMfaEnabledData {
  userId: string;
  phoneE164: string;
  enabledAt: string;
}

export interface SmsMfaDisabledData {
  userId: string;
  disabledAt: string;
}

/**
 * An admin turned every second factor off (TOTP with its secret and recovery
 * codes, SMS): the user lost them. `by` is the admin's user id.
 */
export interface MfaResetData {
  userId: string;
  by: string;
  reason: string;
  resetAt: string;
}

export type UserEvent =
  | DomainEvent<'UserRegistered', UserRegisteredData>
  | DomainEvent<'ProfileUpdated', ProfileUpdatedData>
  | DomainEvent<'PasswordResetRequested', PasswordResetRequestedData>
  | DomainEvent<'PasswordChanged', PasswordChangedData>
  | DomainEvent<'RoleChanged', RoleChangedData>
  | DomainEvent<'UserSuspended', UserSuspendedData>
  | DomainEvent<'UserReactivated', UserReactivatedData>
  | DomainEvent<'EmailVerificationRequested', EmailVerificationRequestedData>
  | DomainEvent<'EmailVerified', EmailVerifiedData>
  | DomainEvent<'TotpEnrollmentStarted', TotpEnrollmentStartedData>
  | DomainEvent<'TotpEnabled', TotpEnabledData>
  | DomainEvent<'RecoveryCodeUsed', RecoveryCodeUsedData>
  | DomainEvent<'RecoveryCodesRegenerated', RecoveryCodesRegeneratedData>
  | DomainEvent<'TotpDisabled', TotpDisabledData>
  | DomainEvent<'PhoneVerificationStarted', PhoneVerificationStartedData>
  | DomainEvent<'PhoneNumberVerified', PhoneNumberVerifiedData>
  | DomainEvent<'PhoneNumberRemoved', PhoneNumberRemovedData>
  | DomainEvent<'SmsMfaEnabled', SmsMfaEnabledData>
  | DomainEvent<'SmsMfaDisabled', SmsMfaDisabledData>
  | DomainEvent<'MfaReset', MfaResetData>;

export type UserEventType = UserEvent['type'];

// ---------------------------------------------------------------- decoding

const epoch = z.number().int().nonnegative();
const sealed = z.object({ keyId: z.string(), iv: z.string(), tag: z.string(), ciphertext: z.string() });

/** The decode boundary of this aggregate's stored events (see core/event-codec.ts). */
export const userEvents = eventCodec<UserEvent>({
  UserRegistered: {
    schema: z.object({
      userId: z.string(),
      email: z.string(),
      passwordHash: z.string(),
      displayName: z.string(),
      username: z.string().optional(),
      role: z.enum(USER_ROLES),
      registeredAt: z.string(),
    }),
  },
  ProfileUpdated: {
    schema: z.object({
      userId: z.string(),
      displayName: z.string().optional(),
      avatarUrl: z.string().nullable().optional(),
      timezone: z.string().nullable().optional(),
      username: z.string().optional(),
      previousUsername: z.string().nullable().optional(),
      notificationPreferences: z.record(z.string(), z.object({ inApp: z.boolean(), mail: z.boolean(), sms: z.boolean().optional() })).optional(),
      updatedAt: z.string(),
    }),
  },
  PasswordResetRequested: { schema: z.object({ userId: z.string(), resetTokenHash: z.string(), expiresAt: z.string(), requestedAt: z.string() }) },
  PasswordChanged: {
    schema: z.object({
      userId: z.string(),
      passwordHash: z.string(),
      via: z.enum(PASSWORD_CHANGE_VIAS),
      keptSession: z.object({ sessionId: z.string(), sinceEpoch: epoch }).nullable(),
      sessionEpoch: epoch,
      changedAt: z.string(),
    }),
  },
  RoleChanged: { schema: z.object({ userId: z.string(), role: z.enum(USER_ROLES), previousRole: z.enum(USER_ROLES), changedAt: z.string() }) },
  UserSuspended: { schema: z.object({ userId: z.string(), reason: z.string(), sessionEpoch: epoch, suspendedAt: z.string() }) },
  UserReactivated: { schema: z.object({ userId: z.string(), reactivatedAt: z.string() }) },
  EmailVerificationRequested: { schema: z.object({ userId: z.string(), verifyTokenHash: z.string(), expiresAt: z.string(), requestedAt: z.string() }) },
  EmailVerified: { schema: z.object({ userId: z.string(), email: z.string(), verifiedAt: z.string() }) },
  TotpEnrollmentStarted: { schema: z.object({ userId: z.string(), secret: sealed, startedAt: z.string() }) },
  TotpEnabled: { schema: z.object({ userId: z.string(), recoveryCodeHashes: z.array(z.string()), enabledAt: z.string() }) },
  RecoveryCodeUsed: { schema: z.object({ userId: z.string(), codeHash: z.string(), recoveryCodesLeft: epoch, usedAt: z.string() }) },
  RecoveryCodesRegenerated: { schema: z.object({ userId: z.string(), recoveryCodeHashes: z.array(z.string()), regeneratedAt: z.string() }) },
  TotpDisabled: { schema: z.object({ userId: z.string(), via: z.enum(TOTP_DISABLE_VIAS), disabledAt: z.string() }) },
  PhoneVerificationStarted: {
    schema: z.object({ userId: z.string(), phoneE164: z.string(), codeHash: z.string(), expiresAt: z.string(), startedAt: z.string() }),
  },
  PhoneNumberVerified: { schema: z.object({ userId: z.string(), phoneE164: z.string(), verifiedAt: z.string() }) },
  PhoneNumberRemoved: { schema: z.object({ userId: z.string(), phoneE164: z.string(), removedAt: z.string() }) },
  SmsMfaEnabled: { schema: z.object({ userId: z.string(), phoneE164: z.string(), enabledAt: z.string() }) },
  SmsMfaDisabled: { schema: z.object({ userId: z.string(), disabledAt: z.string() }) },
  MfaReset: { schema: z.object({ userId: z.string(), by: z.string(), reason: z.string(), resetAt: z.string() }) },
});
