import { hashToken } from '../adapters/crypto/opaque-tokens.js';
import type { SealedSecret, SecretBox } from '../adapters/crypto/secret-box.js';
import { MailDeliveryError } from '../adapters/mail/mail-errors.js';
import type { Mailer } from '../adapters/mail/mail-port.js';
import { passwordResetMail } from '../adapters/mail/templates.js';
import type { EventStore } from '../event-store/port.js';
import type { Logger } from '../logger.js';
import { load } from '../write-model/core/command-handler.js';
import { userAggregate } from '../write-model/user/decider.js';

/**
 * A password-reset link waiting in the mail outbox: the token sealed with the
 * encryption keyring (bound to the user id), never in clear in Redis. The
 * User stream holds only its hash (PasswordResetRequested).
 */
export interface ResetMailJob {
  userId: string;
  token: SealedSecret;
}

export interface ResetOutbox {
  enqueueResetMail(job: ResetMailJob): Promise<void>;
}

const sealContext = (userId: string) => `reset-password:${userId}`;

export function sealResetToken(secretBox: SecretBox, userId: string, token: string): SealedSecret {
  return secretBox.encrypt(token, sealContext(userId));
}

export interface ResetMailDeps {
  store: EventStore;
  mailer: Mailer;
  secretBox: SecretBox;
  /** PUBLIC_WEB_URL: links point at its /reset-password */
  webUrl: string;
  /** PASSWORD_RESET_TTL_MINUTES (what the mail says) */
  ttlMinutes: number;
  logger?: Pick<Logger, 'info' | 'warn'>;
}

export type ResetMailOutcome = 'sent' | 'superseded' | 'user-inactive' | 'refused';

/**
 * Sends a queued reset link unless a newer request superseded it (or it was
 * used) or the user is no longer active. A refusal by the relay for the
 * recipient is dropped; any other failure is thrown for the queue to retry.
 */
export async function sendPasswordResetMail(deps: ResetMailDeps, job: ResetMailJob): Promise<ResetMailOutcome> {
  const token = deps.secretBox.decrypt(job.token, sealContext(job.userId));
  const { state } = await load(deps.store, userAggregate, job.userId);
  if (state.passwordReset?.resetTokenHash !== hashToken(token)) return 'superseded';
  if (state.status !== 'active' || !state.account) return 'user-inactive';
  const resetUrl = `${deps.webUrl.replace(/\/+$/, '')}/reset-password?token=${encodeURIComponent(token)}`;
  try {
    await deps.mailer.send({ to: state.account.email, ...passwordResetMail({ resetUrl, expiresInMinutes: deps.ttlMinutes }) });
  } catch (error) {
    if (error instanceof MailDeliveryError && error.kind === 'rejected') {
      deps.logger?.warn({ userId: job.userId, err: { kind: error.kind, responseCode: error.responseCode } }, 'reset mail refused by the relay; not retried');
      return 'refused';
    }
    throw error;
  }
  return 'sent';
}
