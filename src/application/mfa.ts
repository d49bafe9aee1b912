import { randomBytes } from 'node:crypto';
import { WrongExpectedVersionError } from '../event-store/errors.js';
import type { EventStore } from '../event-store/port.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load, type HandleResult, type Loaded } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import type { SealedSecret } from '../write-model/core/sealed-secret.js';
import { userAggregate } from '../write-model/user/decider.js';
import { RECOVERY_CODES_PER_SET, type UserEvent } from '../write-model/user/events.js';
import { smsMfaOn, type UserState } from '../write-model/user/state.js';
import { recoveryCodeRefusal } from '../write-model/user/totp.js';
import type { PasswordHasher } from './ports/password-hasher.js';
import type { SecretBox } from './ports/secret-box.js';
import { generateRecoveryCodes, generateTotpSecret, hashRecoveryCode, TOTP_DRIFT_STEPS, TOTP_PERIOD_SECONDS, totpStepOf, totpUri } from './totp.js';
import { checkLoginCode, countWrongLoginCode, takeLoginCode, type SmsLoginCodeDeps } from './sms-login-codes.js';

/**
 * Multi-factor authentication with TOTP and recovery codes.
 *
 * - Enrollment: a fresh secret is sealed (context `totp:{userId}`) into
 *   TotpEnrollmentStarted and shown once; the first code from the app,
 *   checked against the opened secret, turns TOTP on (TotpEnabled) with ten
 *   recovery codes, shown once, kept as sha256.
 * - A code is accepted once per 30-second step per user (`claimOnce`, Redis
 *   SET NX): a code seen at login, on confirmation or when turning TOTP off
 *   is refused if presented again.
 * - Login with TOTP on is two steps: the password answers a login challenge
 *   (`mfa_token`: user, nonce, expiry and the user's session epoch, sealed
 *   under the context `mfa-login`; 5 minutes); the second step presents it
 *   with a code or a recovery code, and the challenge is claimed once, so it
 *   finishes one login at most. A password change or suspension since the
 *   first step voids it (the epoch moved).
 *
 * Refusals are MfaRefusal with a reason; the routes turn them into 401 (the
 * login's second step), 403 or 409.
 */
export interface MfaDeps {
  store: EventStore;
  secretBox: SecretBox;
  /** true the first time a key is claimed within `ttlMs` (Redis SET NX PX) */
  claimOnce(key: string, ttlMs: number): Promise<boolean>;
  /** whether a key is claimed now, claiming nothing; absent: a used mfa_token is told only once its factor passes */
  claimed?(key: string): Promise<boolean>;
}

/** The key a login challenge is spent under (claimOnce). */
const challengeKey = (challenge: OpenedChallenge): string => `mfa:login:${challenge.nonce}`;

/** A challenge that finished its login already: 'mfa_token_used' before any factor is looked at (a code must not be spent or counted on it). */
export async function refuseUsedChallenge(deps: Pick<MfaDeps, 'claimed'>, challenge: OpenedChallenge): Promise<void> {
  if (deps.claimed && (await deps.claimed(challengeKey(challenge)))) refuse('mfa_token_used');
}

export const MFA_TOKEN_TTL_MS = 5 * 60_000;
/** What the second step of a login accepts. */
export const MFA_METHODS = ['totp', 'sms', 'recovery_code'] as const;
export type MfaMethod = (typeof MFA_METHODS)[number];

/** The second steps this user's login offers: TOTP and recovery codes when TOTP is on, SMS codes when SMS is a factor. */
export function loginMethods(state: UserState): MfaMethod[] {
  const methods: MfaMethod[] = [];
  if (state.totp?.status === 'on') methods.push('totp');
  if (smsMfaOn(state)) methods.push('sms');
  if (state.totp?.status === 'on') methods.push('recovery_code');
  return methods;
}

export const MFA_REFUSALS = [
  'totp_code_invalid',
  'totp_code_replayed',
  'recovery_code_invalid',
  'recovery_code_used',
  'password_invalid',
  'totp_off',
  'totp_enabled',
  'totp_not_pending',
  'mfa_token_invalid',
  'mfa_token_expired',
  'mfa_token_used',
  'sms_code_invalid',
  'sms_code_expired',
  'sms_code_attempts_exceeded',
] as const;
export type MfaRefusalReason = (typeof MFA_REFUSALS)[number];

/** The refusals that mean a wrong second factor: the rate limit counts them. */
export const WRONG_CODE_REFUSALS: ReadonlySet<MfaRefusalReason> = new Set([
  'totp_code_invalid',
  'totp_code_replayed',
  'recovery_code_invalid',
  'recovery_code_used',
  'sms_code_invalid',
]);

export class MfaRefusal extends Error {
  override readonly name = 'MfaRefusal';
  constructor(
    readonly reason: MfaRefusalReason,
    message: string,
  ) {
    super(message);
  }
}

const MESSAGES: Record<MfaRefusalReason, string> = {
  totp_code_invalid: 'the code is wrong or has expired',
  totp_code_replayed: 'the code was used already: wait for the next one',
  recovery_code_invalid: 'the recovery code is not valid',
  recovery_code_used: 'the recovery code was used already',
  password_invalid: 'the password is wrong',
  totp_off: 'two-factor authentication is off',
  totp_enabled: 'two-factor authentication is on already: turn it off first',
  totp_not_pending: 'no two-factor enrollment is pending: start one first',
  mfa_token_invalid: 'the mfa_token is not valid: log in again',
  mfa_token_expired: 'the mfa_token has expired: log in again',
  mfa_token_used: 'the mfa_token was used already: log in again',
  sms_code_invalid: 'the SMS code is wrong, or none was sent for this login (POST /auth/login/mfa/sms-code)',
  sms_code_expired: 'the SMS code has expired: ask for a new one',
  sms_code_attempts_exceeded: 'too many wrong SMS codes: ask for a new one',
};

function refuse(reason: MfaRefusalReason): never {
  throw new MfaRefusal(reason, MESSAGES[reason]);
}

const secretContext = (userId: string) => `totp:${userId}`;
const CHALLENGE_CONTEXT = 'mfa-login';

/** The TOTP secret sealed for the user's events. */
export function sealTotpSecret(secretBox: SecretBox, userId: string, secret: string): SealedSecret {
  return secretBox.encrypt(secret, secretContext(userId));
}

/**
 * Checks a code against the sealed secret and claims its step for the user:
 * a wrong one is 'totp_code_invalid', one whose step was claimed before
 * 'totp_code_replayed'.
 */
export async function checkTotpCode(deps: MfaDeps, userId: string, sealed: SealedSecret, code: string, now: Date): Promise<void> {
  const secret = deps.secretBox.decrypt(sealed, secretContext(userId));
  const step = totpStepOf(secret, code, now.getTime());
  if (step === null) refuse('totp_code_invalid');
  // a step's codes are accepted until the step after next begins: the mark lives that long
  const periodMs = TOTP_PERIOD_SECONDS * 1000;
  const ttlMs = (step + 1 + TOTP_DRIFT_STEPS) * periodMs - now.getTime() + 1000;
  if (!(await deps.claimOnce(`mfa:totp-step:${userId}:${step}`, ttlMs))) refuse('totp_code_replayed');
}

function newRecoveryCodes(): { codes: string[]; hashes: string[] } {
  const codes = generateRecoveryCodes(RECOVERY_CODES_PER_SET);
  return { codes, hashes: codes.map(hashRecoveryCode) };
}

/** Unwraps the user's state and account, or NOT_FOUND (a token of a user who is gone). */
async function loadAccount(store: EventStore, userId: string): Promise<{ state: UserState; loaded: Loaded<UserState>; label: string }> {
  const loaded = await load(store, userAggregate, userId);
  const account = loaded.state.account;
  if (account === null) throw new DomainError('NOT_FOUND', 'user not found', { userId });
  return { state: loaded.state, loaded, label: account.profile.username ?? account.email };
}

export interface EnrollmentStart {
  /** base32: what the user types into the app; shown this once */
  secret: string;
  /** `otpauth://totp/…` for a QR code; shown this once */
  uri: string;
  result: HandleResult<UserState, UserEvent>;
}

/** A new secret for the user's app (replacing a pending enrollment); TOTP already on is 'totp_enabled'. */
export async function startTotpEnrollment(deps: MfaDeps, userId: string, issuer: string, context: CommandContext, now = new Date()): Promise<EnrollmentStart> {
  const { state, loaded, label } = await loadAccount(deps.store, userId);
  if (state.totp?.status === 'on') refuse('totp_enabled');
  const secret = generateTotpSecret();
  const result = await handle(
    deps.store,
    userAggregate,
    userId,
    { type: 'StartTotpEnrollment', userId, secret: sealTotpSecret(deps.secretBox, userId, secret), now: now.toISOString() },
    { context, loaded },
  ).catch(mapConflict);
  return { secret, uri: totpUri(secret, issuer, label), result };
}

/** A state-based CONFLICT of the decider (say, TOTP turned on meanwhile) as the refusal it names. */
function mapConflict(error: unknown): never {
  if (error instanceof DomainError && error.code === 'CONFLICT') {
    const reason = (error.details as { reason?: unknown } | undefined)?.reason;
    if (reason === 'totp_enabled' || reason === 'totp_off' || reason === 'totp_not_pending') refuse(reason);
    if (reason === 'totp_enrollment_replaced') refuse('totp_code_invalid');
  }
  throw error;
}

export interface RecoveryCodesIssued {
  /** the set, shown this once */
  recoveryCodes: string[];
  result: HandleResult<UserState, UserEvent>;
}

/** The app's first code turns TOTP on; answers the recovery codes. */
export async function confirmTotp(deps: MfaDeps, userId: string, code: string, context: CommandContext, now = new Date()): Promise<RecoveryCodesIssued> {
  const { state, loaded } = await loadAccount(deps.store, userId);
  const totp = state.totp;
  if (totp === null) refuse('totp_not_pending');
  if (totp.status === 'on') refuse('totp_enabled');
  await checkTotpCode(deps, userId, totp.secret, code, now);
  const { codes, hashes } = newRecoveryCodes();
  const result = await handle(
    deps.store,
    userAggregate,
    userId,
    { type: 'ConfirmTotp', userId, secret: { ...totp.secret }, recoveryCodeHashes: hashes, now: now.toISOString() },
    { context, loaded },
  ).catch(mapConflict);
  return { recoveryCodes: codes, result };
}

/** A new recovery-code set, for a current TOTP code. */
export async function regenerateRecoveryCodes(
  deps: MfaDeps,
  userId: string,
  code: string,
  context: CommandContext,
  now = new Date(),
): Promise<RecoveryCodesIssued> {
  const { state, loaded } = await loadAccount(deps.store, userId);
  const totp = state.totp;
  if (totp?.status !== 'on') refuse('totp_off');
  await checkTotpCode(deps, userId, totp.secret, code, now);
  const { codes, hashes } = newRecoveryCodes();
  const result = await handle(
    deps.store,
    userAggregate,
    userId,
    { type: 'RegenerateRecoveryCodes', userId, recoveryCodeHashes: hashes, now: now.toISOString() },
    { context, loaded },
  ).catch(mapConflict);
  return { recoveryCodes: codes, result };
}

export type SecondFactor = { code: string } | { recoveryCode: string };

/**
 * TOTP off: the password and a current code (or an unused recovery code)
 * are checked first. Off already: nothing to record (no events), once the
 * password is right. A pending enrollment is dropped with a code of its own.
 * expectedRevision: the caller's If-Match (the user stream's), checked before
 * the password and the code, so a stale one spends no code.
 */
export async function disableTotp(
  deps: MfaDeps & { passwordHasher: PasswordHasher },
  userId: string,
  proof: { password: string } & SecondFactor,
  context: CommandContext,
  options: { expectedRevision?: bigint | undefined; now?: Date } = {},
): Promise<HandleResult<UserState, UserEvent>> {
  const now = options.now ?? new Date();
  const { expectedRevision } = options;
  const { state, loaded } = await loadAccount(deps.store, userId);
  if (expectedRevision !== undefined && expectedRevision !== loaded.revision) {
    throw new WrongExpectedVersionError(userAggregate.streamName(userId), expectedRevision, loaded.revision);
  }
  if (!(await deps.passwordHasher.verify(state.account!.passwordHash, proof.password))) refuse('password_invalid');
  const totp = state.totp;
  if (totp !== null) {
    if ('code' in proof) await checkTotpCode(deps, userId, totp.secret, proof.code, now);
    else {
      const refusal = recoveryCodeRefusal(state, hashRecoveryCode(proof.recoveryCode));
      if (refusal !== null) refuse(refusal === 'totp_off' ? 'recovery_code_invalid' : refusal);
    }
  }
  return handle(
    deps.store,
    userAggregate,
    userId,
    { type: 'DisableTotp', userId, via: 'code' in proof ? 'totp' : 'recovery_code', now: now.toISOString() },
    { context, loaded, expectedRevision },
  );
}

// ---------------------------------------------------------------- login

interface ChallengePayload {
  /** user */
  u: string;
  /** nonce: what is claimed once */
  n: string;
  /** expiry, ms since the epoch */
  e: number;
  /** the user's session epoch at the first step */
  s: number;
}

export interface LoginChallenge {
  token: string;
  expiresAt: string;
}

/** The first step's answer when TOTP is on: a sealed challenge for the second step. */
export function issueLoginChallenge(secretBox: SecretBox, state: UserState, now = new Date()): LoginChallenge {
  if (state.account === null) throw new DomainError('NOT_FOUND', 'user not found', {});
  const expiresAt = now.getTime() + MFA_TOKEN_TTL_MS;
  const payload: ChallengePayload = { u: state.account.userId, n: randomBytes(16).toString('base64url'), e: expiresAt, s: state.sessionEpoch };
  const box = secretBox.encrypt(JSON.stringify(payload), CHALLENGE_CONTEXT);
  return {
    token: Buffer.from(JSON.stringify([box.keyId, box.iv, box.tag, box.ciphertext])).toString('base64url'),
    expiresAt: new Date(expiresAt).toISOString(),
  };
}

export interface OpenedChallenge {
  userId: string;
  nonce: string;
  sessionEpoch: number;
  expiresAtMs: number;
}

/** The challenge's content; altered, foreign or malformed is 'mfa_token_invalid', past its expiry 'mfa_token_expired'. */
export function openLoginChallenge(secretBox: SecretBox, token: string, now = new Date()): OpenedChallenge {
  let payload: ChallengePayload;
  try {
    const [keyId, iv, tag, ciphertext] = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown[];
    if (![keyId, iv, tag, ciphertext].every((part) => typeof part === 'string')) refuse('mfa_token_invalid');
    const box = { keyId, iv, tag, ciphertext } as SealedSecret;
    payload = JSON.parse(secretBox.decrypt(box, CHALLENGE_CONTEXT)) as ChallengePayload;
  } catch (error) {
    if (error instanceof MfaRefusal) throw error;
    refuse('mfa_token_invalid');
  }
  if (typeof payload.u !== 'string' || typeof payload.n !== 'string' || typeof payload.e !== 'number' || typeof payload.s !== 'number')
    refuse('mfa_token_invalid');
  if (payload.e <= now.getTime()) refuse('mfa_token_expired');
  return { userId: payload.u, nonce: payload.n, sessionEpoch: payload.s, expiresAtMs: payload.e };
}

/**
 * The second step: the challenge must still fit the user (a second factor
 * on, no password change or suspension since), the factor must be right;
 * then the challenge is claimed (a second use is 'mfa_token_used') and a
 * recovery code recorded as used, an SMS code used up. A 6-digit code is the
 * SMS code sent for this challenge when it matches, else (TOTP on) the app's.
 * The caller starts the session after this returns.
 */
export async function completeLoginChallenge(
  deps: MfaDeps & { sms?: SmsLoginCodeDeps },
  challenge: OpenedChallenge,
  state: UserState,
  factor: SecondFactor,
  context: CommandContext,
  now = new Date(),
): Promise<{ method: MfaMethod }> {
  const totp = state.totp;
  const totpOn = totp?.status === 'on';
  const smsOn = smsMfaOn(state) && deps.sms !== undefined;
  if (state.account === null || state.account.userId !== challenge.userId || !(totpOn || smsOn) || state.sessionEpoch !== challenge.sessionEpoch) {
    refuse('mfa_token_invalid');
  }
  await refuseUsedChallenge(deps, challenge);
  const claimChallenge = async () => {
    if (!(await deps.claimOnce(challengeKey(challenge), challenge.expiresAtMs - now.getTime() + 1000))) refuse('mfa_token_used');
  };
  if ('code' in factor) {
    const sms = smsOn ? await checkLoginCode(deps.sms!, challenge, factor.code) : 'none';
    if (sms === 'match') {
      await claimChallenge();
      if (!(await takeLoginCode(deps.sms!, challenge))) refuse('sms_code_invalid');
      return { method: 'sms' };
    }
    if (!totpOn) {
      if (sms === 'mismatch') await countWrongLoginCode(deps.sms!, challenge);
      refuse(sms === 'expired' ? 'sms_code_expired' : sms === 'attempts_exceeded' ? 'sms_code_attempts_exceeded' : 'sms_code_invalid');
    }
    try {
      await checkTotpCode(deps, challenge.userId, totp!.secret, factor.code, now);
    } catch (error) {
      // a code was sent for this login: the wrong one was most likely meant as it
      if (error instanceof MfaRefusal && error.reason === 'totp_code_invalid' && sms === 'mismatch') {
        await countWrongLoginCode(deps.sms!, challenge);
        refuse('sms_code_invalid');
      }
      throw error;
    }
    await claimChallenge();
    return { method: 'totp' };
  }
  const codeHash = hashRecoveryCode(factor.recoveryCode);
  const refusal = recoveryCodeRefusal(state, codeHash);
  if (refusal !== null) refuse(refusal === 'totp_off' ? 'recovery_code_invalid' : refusal);
  await claimChallenge();
  try {
    await handle(
      deps.store,
      userAggregate,
      challenge.userId,
      { type: 'UseRecoveryCode', userId: challenge.userId, codeHash, now: now.toISOString() },
      { context },
    );
  } catch (error) {
    // used by a concurrent login since it was read
    const reason = error instanceof DomainError ? (error.details as { reason?: unknown } | undefined)?.reason : undefined;
    if (reason === 'recovery_code_used' || reason === 'recovery_code_invalid') refuse(reason);
    throw error;
  }
  return { method: 'recovery_code' };
}
