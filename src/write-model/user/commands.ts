import type { SealedSecret } from '../core/sealed-secret.js';
import type { NotificationPreferences, TotpDisableVia, UserRole } from './events.js';

/**
 * Commands of the User aggregate. Each names its user (the stream is
 * `user-{userId}`) and carries `now` (ISO-8601): every one of them records a
 * time, and the reset commands compare against expiries. Logins are the
 * Session aggregate's (src/write-model/session).
 *
 * The adapters do the secret work before a command is built: argon2id for
 * passwords (and verifying the current password on login / password change),
 * sha256 for opaque reset tokens, email normalisation.
 */

export interface RegisterUser {
  type: 'RegisterUser';
  userId: string;
  /** already normalised (trimmed, lower-case) and reserved (see email-reservation.ts) */
  email: string;
  passwordHash: string;
  displayName: string;
  /** normalised (username.ts) and already reserved by this user (username-reservation.ts) */
  username?: string;
  role: UserRole;
  now: string;
}

/** Fields left out are not changed; null clears avatarUrl / timezone. */
export interface UpdateProfile {
  type: 'UpdateProfile';
  userId: string;
  displayName?: string;
  avatarUrl?: string | null;
  /** an IANA zone name (validated by the adapter) */
  timezone?: string | null;
  /** normalised (username.ts) and already reserved by this user (username-reservation.ts) */
  username?: string;
  /** the kinds to change; the others keep their channels */
  notificationPreferences?: NotificationPreferences;
  now: string;
}

export interface RequestPasswordReset {
  type: 'RequestPasswordReset';
  userId: string;
  resetTokenHash: string;
  expiresAt: string;
  now: string;
}

/** A verification link for the account's email was sent; it supersedes every earlier one. */
export interface RequestEmailVerification {
  type: 'RequestEmailVerification';
  userId: string;
  /** sha256 of the single-use verification token */
  verifyTokenHash: string;
  expiresAt: string;
  now: string;
}

/** The link was followed: the token's hash proves the mailbox is the user's. */
export interface VerifyEmail {
  type: 'VerifyEmail';
  userId: string;
  verifyTokenHash: string;
  now: string;
}

export interface ResetPassword {
  type: 'ResetPassword';
  userId: string;
  resetTokenHash: string;
  newPasswordHash: string;
  now: string;
}

/** A signed-in user changes the password (the adapter verified the current one). */
export interface ChangePassword {
  type: 'ChangePassword';
  userId: string;
  newPasswordHash: string;
  /** the session the request came from: it stays signed in */
  keepSessionId?: string;
  now: string;
}

export interface ChangeRole {
  type: 'ChangeRole';
  userId: string;
  role: UserRole;
  now: string;
}

export interface SuspendUser {
  type: 'SuspendUser';
  userId: string;
  reason: string;
  now: string;
}

export interface ReactivateUser {
  type: 'ReactivateUser';
  userId: string;
  now: string;
}

/**
 * Second factor (TOTP, RFC 6238). The adapters make and seal the secret, and
 * check every code against the opened secret before a command is built: a
 * decider never sees a code or a secret in clear, only the sealed box and
 * sha256 hashes of recovery codes.
 */

/** A new secret for the user's authenticator app; replaces a pending enrollment. */
export interface StartTotpEnrollment {
  type: 'StartTotpEnrollment';
  userId: string;
  /** sealed with the user id as context */
  secret: SealedSecret;
  now: string;
}

/** The app's first code matched the pending secret (checked by the application): TOTP is on. */
export interface ConfirmTotp {
  type: 'ConfirmTotp';
  userId: string;
  /** the pending enrollment's box the code was checked against: a newer enrollment meanwhile is a CONFLICT */
  secret: SealedSecret;
  /** sha256 hex of the RECOVERY_CODES_PER_SET recovery codes the user is shown */
  recoveryCodeHashes: string[];
  now: string;
}

/** A recovery code stands in for a TOTP code (login's second step). */
export interface UseRecoveryCode {
  type: 'UseRecoveryCode';
  userId: string;
  /** sha256 hex of the normalised code */
  codeHash: string;
  now: string;
}

/** A new set of recovery codes (the application checked a current TOTP code). */
export interface RegenerateRecoveryCodes {
  type: 'RegenerateRecoveryCodes';
  userId: string;
  recoveryCodeHashes: string[];
  now: string;
}

/** TOTP off (the application checked the password and a current code or an unused recovery code). */
export interface DisableTotp {
  type: 'DisableTotp';
  userId: string;
  via: TotpDisableVia;
  now: string;
}

/**
 * Phone numbers and the SMS second factor (phone.ts). The application makes
 * the code, sends it sealed in the SMS and hands the decider only its HMAC;
 * a wrong code's attempts are counted outside the stream (Redis), so the
 * stream keeps lifecycle facts only.
 */

/** A code was sent to the (normalised) number; supersedes a pending verification. */
export interface StartPhoneVerification {
  type: 'StartPhoneVerification';
  userId: string;
  /** E.164, normalised by the adapter */
  phoneE164: string;
  /** HMAC-SHA256 hex of the code */
  codeHash: string;
  expiresAt: string;
  now: string;
}

/** The user typed the code back. */
export interface VerifyPhoneNumber {
  type: 'VerifyPhoneNumber';
  userId: string;
  codeHash: string;
  now: string;
}

export interface RemovePhoneNumber {
  type: 'RemovePhoneNumber';
  userId: string;
  now: string;
}

/** SMS as a second factor (the application re-checked the password). */
export interface EnableSmsMfa {
  type: 'EnableSmsMfa';
  userId: string;
  now: string;
}

/** SMS second factor off (the application re-checked the password). */
export interface DisableSmsMfa {
  type: 'DisableSmsMfa';
  userId: string;
  now: string;
}

/** An admin clears every second factor of a user who lost them. */
export interface ResetMfa {
  type: 'ResetMfa';
  userId: string;
  /** the admin's user id */
  by: string;
  reason: string;
  now: string;
}

export type UserCommand =
  | RegisterUser
  | UpdateProfile
  | RequestPasswordReset
  | RequestEmailVerification
  | VerifyEmail
  | ResetPassword
  | ChangePassword
  | ChangeRole
  | SuspendUser
  | ReactivateUser
  | StartTotpEnrollment
  | ConfirmTotp
  | UseRecoveryCode
  | RegenerateRecoveryCodes
  | DisableTotp
  | StartPhoneVerification
  | VerifyPhoneNumber
  | RemovePhoneNumber
  | EnableSmsMfa
  | DisableSmsMfa
  | ResetMfa;

export type UserCommandType = UserCommand['type'];
