import { generateOpaqueToken, hashToken } from './opaque-tokens.js';
import type { SealedSecret, SecretBox } from './ports/secret-box.js';
import type { Mailer } from './ports/mailer.js';
import { emailVerificationMail } from './mail/templates.js';
import { deliverOrDrop } from './deliver-mail.js';
import type { EventStore } from '../event-store/port.js';
import type { Logger } from '../logger.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { userAggregate } from '../write-model/user/decider.js';

/**
 * Email verification: a single-use link `PUBLIC_WEB_URL/verify-email?token=
 * <userId>.<secret>` mailed at registration (and on request); the User stream
 * keeps only the token's sha256 (EmailVerificationRequested), following the
 * link records EmailVerified. While EMAIL_VERIFICATION is `required`, an
 * unverified account cannot pay or connect platform accounts.
 *
 * The mail goes through the outbox like every mail. Its job carries the token
 * sealed with the encryption keyring (bound to the user id), never in clear:
 * Redis holds nothing a reader could follow.
 */
export interface VerificationMailJob {
  userId: string;
  token: SealedSecret;
}

export interface VerificationOutbox {
  enqueueVerificationMail(job: VerificationMailJob): Promise<void>;
}

const sealContext = (userId: string) => `verify-email:${userId}`;

/** What requesting a verification needs (the API builds it when EMAIL_VERIFICATION is required). */
export interface EmailVerificationDeps {
  store: EventStore;
  outbox: VerificationOutbox;
  secretBox: SecretBox;
  /** EMAIL_VERIFICATION_TTL_HOURS in minutes */
  ttlMinutes: number;
  now?: () => Date;
}

/** Records a new verification request (superseding the last) and queues its mail. */
export async function requestEmailVerification(deps: EmailVerificationDeps, userId: string, context: CommandContext): Promise<void> {
  const token = `${userId}.${generateOpaqueToken()}`;
  const now = deps.now?.() ?? new Date();
  await handle(
    deps.store,
    userAggregate,
    userId,
    {
      type: 'RequestEmailVerification',
      userId,
      verifyTokenHash: hashToken(token),
      expiresAt: new Date(now.getTime() + deps.ttlMinutes * 60_000).toISOString(),
      now: now.toISOString(),
    },
    { context },
  );
  await deps.outbox.enqueueVerificationMail({ userId, token: deps.secretBox.encrypt(token, sealContext(userId)) });
}

export interface VerificationMailDeps {
  store: EventStore;
  mailer: Mailer;
  secretBox: SecretBox;
  /** PUBLIC_WEB_URL */
  webUrl: string;
  /** EMAIL_VERIFICATION_TTL_HOURS in minutes (what the mail says) */
  ttlMinutes: number;
  logger?: Pick<Logger, 'info' | 'warn'>;
}

export type VerificationMailOutcome = 'sent' | 'verified-before' | 'superseded' | 'user-inactive' | 'refused';

/**
 * Sends a queued verification mail unless it no longer matters (verified
 * meanwhile, or a newer link superseded it). A refusal by the relay for the
 * recipient is dropped; any other failure is thrown for the queue to retry.
 */
export async function sendVerificationMail(deps: VerificationMailDeps, job: VerificationMailJob): Promise<VerificationMailOutcome> {
  const token = deps.secretBox.decrypt(job.token, sealContext(job.userId));
  const { state } = await load(deps.store, userAggregate, job.userId);
  if (state.emailVerifiedAt !== null) return 'verified-before';
  if (state.emailVerification?.verifyTokenHash !== hashToken(token)) return 'superseded';
  if (state.status !== 'active' || !state.account) return 'user-inactive';
  const verifyUrl = `${deps.webUrl.replace(/\/+$/, '')}/verify-email?token=${encodeURIComponent(token)}`;
  const sent = await deliverOrDrop(
    deps.mailer,
    { to: state.account.email, ...emailVerificationMail({ verifyUrl, expiresInMinutes: deps.ttlMinutes }) },
    {
      logger: deps.logger,
      what: 'verification mail',
      context: { userId: job.userId },
    },
  );
  if (sent === 'refused') return 'refused';
  return 'sent';
}

/**
 * Paying and connecting platform accounts want a verified email while
 * EMAIL_VERIFICATION is `required`: PERMISSION_DENIED (403) with
 * details.reason `email_not_verified` otherwise. Read from the User stream.
 */
export async function requireVerifiedEmail(store: EventStore, userId: string, mode: 'required' | 'off'): Promise<void> {
  if (mode === 'off') return;
  const { state } = await load(store, userAggregate, userId);
  if (state.emailVerifiedAt !== null) return;
  throw new DomainError('PERMISSION_DENIED', 'verify your email first (POST /api/v1/users/email-verification sends the link again)', {
    reason: 'email_not_verified',
  });
}
