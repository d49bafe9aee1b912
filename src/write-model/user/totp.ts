import { DomainError } from '../core/domain-error.js';
import { requireSealed, sameSealed } from '../core/sealed-secret.js';
import { instant, invalid, requireOneOf } from '../core/validate.js';
import type { ConfirmTotp, DisableTotp, RegenerateRecoveryCodes, StartTotpEnrollment, UseRecoveryCode } from './commands.js';
import { RECOVERY_CODES_PER_SET, TOTP_DISABLE_VIAS, type UserEvent } from './events.js';
import { requireTokenHash } from './hashes.js';
import { recoveryCodesLeft, type UserAccount, type UserState } from './state.js';

/**
 * The User aggregate's second factor (TOTP, RFC 6238) and its recovery
 * codes. Codes are checked by the application against the opened secret
 * before a command is built; the decisions here keep the lifecycle:
 * - StartTotpEnrollment: refused while TOTP is on (CONFLICT, reason
 *   'totp_enabled': turn it off first); a new box replaces a pending one;
 *   the pending box again is [].
 * - ConfirmTotp names the pending box the code was checked against: none
 *   pending is CONFLICT 'totp_not_pending', another one pending (a newer
 *   enrollment) CONFLICT 'totp_enrollment_replaced'; the same confirmation
 *   again is [], another once on CONFLICT 'totp_enabled'.
 * - UseRecoveryCode: PERMISSION_DENIED with reason 'totp_off',
 *   'recovery_code_invalid' (not in the current set) or
 *   'recovery_code_used'. A code works once: a repeat is refused, never [].
 * - RegenerateRecoveryCodes: CONFLICT 'totp_off' unless on; the set in force
 *   again is [].
 * - DisableTotp: off already is []; a pending enrollment is dropped too.
 * - Recovery-code sets are exactly RECOVERY_CODES_PER_SET distinct sha256
 *   hex digests (VALIDATION_ERROR otherwise).
 */

type Event = UserEvent;

/** details.reason of a refused UseRecoveryCode (always PERMISSION_DENIED). */
export const RECOVERY_CODE_REFUSALS = ['totp_off', 'recovery_code_invalid', 'recovery_code_used'] as const;
export type RecoveryCodeRefusal = (typeof RECOVERY_CODE_REFUSALS)[number];

export interface TotpDecisionContext {
  requireAccount(state: UserState, userId: string): UserAccount;
  requireNotSuspended(state: UserState): void;
}

function requireCodeSet(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.length !== RECOVERY_CODES_PER_SET) {
    throw invalid(`${field} must hold exactly ${RECOVERY_CODES_PER_SET} hashes`, { field });
  }
  const hashes = value.map((hash) => requireTokenHash(hash, field));
  if (new Set(hashes).size !== hashes.length) throw invalid(`${field} must not repeat a hash`, { field });
  return hashes;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((hash, i) => hash === b[i]);
}

/** Why a recovery code would be refused, or null (the login asks first, the decision again). */
export function recoveryCodeRefusal(state: UserState, codeHash: string): RecoveryCodeRefusal | null {
  const totp = state.totp;
  if (totp === null || totp.status !== 'on') return 'totp_off';
  const code = totp.recoveryCodes.find((c) => c.hash === codeHash);
  if (code === undefined) return 'recovery_code_invalid';
  return code.used ? 'recovery_code_used' : null;
}

export function startTotpEnrollment(command: StartTotpEnrollment, state: UserState, check: TotpDecisionContext): Event[] {
  instant(command.now, 'now');
  const account = check.requireAccount(state, command.userId);
  check.requireNotSuspended(state);
  const secret = requireSealed(command.secret, 'secret');
  const totp = state.totp;
  if (totp?.status === 'on') throw new DomainError('CONFLICT', 'TOTP is on already: turn it off first', { reason: 'totp_enabled' });
  if (totp?.status === 'pending' && sameSealed(totp.secret, secret)) return [];
  return [{ type: 'TotpEnrollmentStarted', data: { userId: account.userId, secret, startedAt: command.now } }];
}

export function confirmTotp(command: ConfirmTotp, state: UserState, check: TotpDecisionContext): Event[] {
  instant(command.now, 'now');
  const account = check.requireAccount(state, command.userId);
  check.requireNotSuspended(state);
  const secret = requireSealed(command.secret, 'secret');
  const hashes = requireCodeSet(command.recoveryCodeHashes, 'recoveryCodeHashes');
  const totp = state.totp;
  if (totp === null) throw new DomainError('CONFLICT', 'no TOTP enrollment is pending', { reason: 'totp_not_pending' });
  if (totp.status === 'on') {
    const same =
      sameSealed(totp.secret, secret) &&
      sameSet(
        hashes,
        totp.recoveryCodes.map((c) => c.hash),
      );
    if (same) return [];
    throw new DomainError('CONFLICT', 'TOTP is on already', { reason: 'totp_enabled' });
  }
  if (!sameSealed(totp.secret, secret)) {
    throw new DomainError('CONFLICT', 'a newer TOTP enrollment replaced this one', { reason: 'totp_enrollment_replaced' });
  }
  return [{ type: 'TotpEnabled', data: { userId: account.userId, recoveryCodeHashes: hashes, enabledAt: command.now } }];
}

export function useRecoveryCode(command: UseRecoveryCode, state: UserState, check: TotpDecisionContext): Event[] {
  instant(command.now, 'now');
  const account = check.requireAccount(state, command.userId);
  check.requireNotSuspended(state);
  const codeHash = requireTokenHash(command.codeHash, 'codeHash');
  const refusal = recoveryCodeRefusal(state, codeHash);
  if (refusal !== null) {
    const message = refusal === 'totp_off' ? 'TOTP is off' : refusal === 'recovery_code_used' ? 'the recovery code was used already' : 'unknown recovery code';
    throw new DomainError('PERMISSION_DENIED', message, { reason: refusal });
  }
  return [{ type: 'RecoveryCodeUsed', data: { userId: account.userId, codeHash, recoveryCodesLeft: recoveryCodesLeft(state) - 1, usedAt: command.now } }];
}

export function regenerateRecoveryCodes(command: RegenerateRecoveryCodes, state: UserState, check: TotpDecisionContext): Event[] {
  instant(command.now, 'now');
  const account = check.requireAccount(state, command.userId);
  check.requireNotSuspended(state);
  const hashes = requireCodeSet(command.recoveryCodeHashes, 'recoveryCodeHashes');
  const totp = state.totp;
  if (totp?.status !== 'on') throw new DomainError('CONFLICT', 'TOTP is off', { reason: 'totp_off' });
  if (
    sameSet(
      hashes,
      totp.recoveryCodes.map((c) => c.hash),
    )
  )
    return [];
  return [{ type: 'RecoveryCodesRegenerated', data: { userId: account.userId, recoveryCodeHashes: hashes, regeneratedAt: command.now } }];
}

export function disableTotp(command: DisableTotp, state: UserState, check: TotpDecisionContext): Event[] {
  instant(command.now, 'now');
  const account = check.requireAccount(state, command.userId);
  check.requireNotSuspended(state);
  const via = requireOneOf(command.via, TOTP_DISABLE_VIAS, 'via');
  if (state.totp === null) return [];
  return [{ type: 'TotpDisabled', data: { userId: account.userId, via, disabledAt: command.now } }];
}

type TotpEvent = Extract<Event, { type: 'TotpEnrollmentStarted' | 'TotpEnabled' | 'RecoveryCodeUsed' | 'RecoveryCodesRegenerated' | 'TotpDisabled' }>;

/** The fold of the second-factor events: O(RECOVERY_CODES_PER_SET) at most, in place. */
export function evolveTotp(state: UserState, event: TotpEvent): UserState {
  switch (event.type) {
    case 'TotpEnrollmentStarted':
      state.totp = { status: 'pending', secret: { ...event.data.secret }, since: event.data.startedAt, recoveryCodes: [] };
      return state;
    case 'TotpEnabled':
      if (state.totp !== null) {
        state.totp.status = 'on';
        state.totp.since = event.data.enabledAt;
        state.totp.recoveryCodes = event.data.recoveryCodeHashes.map((hash) => ({ hash, used: false }));
      }
      return state;
    case 'RecoveryCodeUsed': {
      const code = state.totp?.recoveryCodes.find((c) => c.hash === event.data.codeHash);
      if (code) code.used = true;
      return state;
    }
    case 'RecoveryCodesRegenerated':
      if (state.totp !== null) state.totp.recoveryCodes = event.data.recoveryCodeHashes.map((hash) => ({ hash, used: false }));
      return state;
    case 'TotpDisabled':
      state.totp = null;
      return state;
  }
}
