import type { SealedSecret } from '../core/sealed-secret.js';
import type { UserStanding } from '../session/commands.js';
import type { KeptSession, NotificationPreferences, UserRole } from './events.js';

/** `unregistered`: no UserRegistered in this stream yet. */
export type UserStatus = 'unregistered' | 'active' | 'suspended';

export interface UserProfile {
  displayName: string;
  avatarUrl: string | null;
  /** null: the platform's default zone */
  timezone: string | null;
  /** null: none chosen yet (the user signs in by email only) */
  username: string | null;
  /** per notification kind; a kind left out is delivered on every channel */
  notificationPreferences: NotificationPreferences;
}

/** Who the user is; fixed at registration except where an event says otherwise. */
export interface UserAccount {
  userId: string;
  email: string;
  /** argon2id; what a login is verified against */
  passwordHash: string;
  role: UserRole;
  profile: UserProfile;
  registeredAt: string;
  /** the last PasswordChanged (an auth adapter may refuse access tokens issued before it); null before any */
  passwordChangedAt: string | null;
}

export interface Suspension {
  reason: string;
  suspendedAt: string;
}

/** The latest reset request; a newer one replaces it, a password change clears it. */
export interface PendingPasswordReset {
  resetTokenHash: string;
  expiresAt: string;
  requestedAt: string;
}

/** One recovery code of the current set, by its sha256; kept when used, so a used code is told from an unknown one. */
export interface RecoveryCode {
  hash: string;
  used: boolean;
}

/**
 * The TOTP factor: `pending` from TotpEnrollmentStarted until confirmed
 * (logins need no code yet), `on` after TotpEnabled. `secret` is the sealed
 * box the codes are checked against; `recoveryCodes` the current set
 * (RECOVERY_CODES_PER_SET; empty while pending).
 */
export interface TotpFactor {
  status: 'pending' | 'on';
  secret: SealedSecret;
  /** when the enrollment started (pending) or TOTP was turned on */
  since: string;
  recoveryCodes: RecoveryCode[];
}

/** The number the user proved to hold: login codes and SMS notifications go to it. */
export interface VerifiedPhone {
  e164: string;
  verifiedAt: string;
}

/** The latest code sent to prove a number; a newer one replaces it, verifying or removing clears it. */
export interface PendingPhoneVerification {
  phoneE164: string;
  codeHash: string;
  expiresAt: string;
  startedAt: string;
}

/**
 * Plain JSON (the stream is snapshotted). Sessions are not here: each lives
 * in its own stream; the user keeps only what revokes them all at once.
 */
export interface UserState {
  status: UserStatus;
  /** null while unregistered */
  account: UserAccount | null;
  /** null unless suspended */
  suspension: Suspension | null;
  passwordReset: PendingPasswordReset | null;
  /** when the email was verified; null until then (and for accounts from before verification existed) */
  emailVerifiedAt: string | null;
  /** the latest verification link, while the email is not verified */
  emailVerification: { verifyTokenHash: string; expiresAt: string } | null;
  /** mass revocations so far (password changes and resets, suspensions): a session started in an earlier epoch is revoked */
  sessionEpoch: number;
  /** the session the latest password changes were made from, and the epoch it started in (see UserStanding) */
  keptSession: KeptSession | null;
  /** null: no second factor, nor one being enrolled */
  totp: TotpFactor | null;
  /** null: no verified number */
  phone: VerifiedPhone | null;
  phoneVerification: PendingPhoneVerification | null;
  /** SMS as a second factor (to `phone`): when it was turned on; null: off */
  smsMfaSince: string | null;
}

export function initialState(): UserState {
  return {
    status: 'unregistered',
    account: null,
    suspension: null,
    passwordReset: null,
    emailVerifiedAt: null,
    emailVerification: null,
    sessionEpoch: 0,
    keptSession: null,
    totp: null,
    phone: null,
    phoneVerification: null,
    smsMfaSince: null,
  };
}

/** What the profile and the login see of the second factor. */
export type TotpStatus = 'off' | 'pending' | 'on';

export function totpStatus(state: UserState): TotpStatus {
  return state.totp?.status ?? 'off';
}

/** Unused recovery codes of the current set (0 unless TOTP is on). */
export function recoveryCodesLeft(state: UserState): number {
  return state.totp?.recoveryCodes.filter((code) => !code.used).length ?? 0;
}

/** SMS codes are a second factor of this user's logins. */
export function smsMfaOn(state: UserState): boolean {
  return state.smsMfaSince !== null && state.phone !== null;
}

/** Logins need a second factor (TOTP on, or SMS): what an organization's MFA requirement asks. */
export function mfaEnabled(state: UserState): boolean {
  return state.totp?.status === 'on' || smsMfaOn(state);
}

/** What a session decision needs of this user (session/commands.ts). */
export function userStanding(state: UserState): UserStanding {
  return { status: state.status, sessionEpoch: state.sessionEpoch, keptSession: state.keptSession === null ? null : { ...state.keptSession } };
}

/**
 * The kept session after a password change from `keptSessionId` (null: none
 * kept) in epoch `epochBefore`: a session kept again keeps the epoch its
 * survival started from, any other starts a new run.
 */
export function keptAfterChange(previous: KeptSession | null, keptSessionId: string | null, epochBefore: number): KeptSession | null {
  if (keptSessionId === null) return null;
  return previous?.sessionId === keptSessionId ? { ...previous } : { sessionId: keptSessionId, sinceEpoch: epochBefore };
}
