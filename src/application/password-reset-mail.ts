import { hashToken } from './opaque-tokens.js';
import type { SealedSecret, SecretBox } from './ports/secret-box.js';
import type { Mailer } from './ports/mailer.js';
import { passwordResetMail } from './mail/templates.js';
import { deliverOrDrop } from './deliver-mail.js';
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
 * used) or the user is no longer active (deliverOrDrop: a refusal by the
 * relay is dropped, any other failure thrown for the queue to retry).
 */
export async function sendPasswordResetMail(deps: ResetMailDeps, job: ResetMailJob): Promise<ResetMailOutcome> {
  const token = deps.secretBox.decrypt(job.token, sealContext(job.userId));
  const { state } = await load(deps.store, userAggregate, job.userId);
  if (state.passwordReset?.resetTokenHash !== hashToken(token)) return 'superseded';
  if (state.status !== 'active' || !state.account) return 'user-inactive';
  const resetUrl = `${deps.webUrl.replace(/\/+$/, '')}/reset-password?token=${encodeURIComponent(token)}`;
  const sent = await deliverOrDrop(
    deps.mailer,
    { to: state.account.email, ...passwordResetMail({ resetUrl, expiresInMinutes: deps.ttlMinutes }) },
    {
      logger: deps.logger,
      what: 'reset mail',
      context: { userId: job.userId },
    },
  );
  if (sent === 'refused') return 'refused';
  return 'sent';
}
