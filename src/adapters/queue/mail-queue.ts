import type { Job, Queue, Worker } from 'bullmq';
import { sendVerificationMail, type VerificationMailDeps, type VerificationMailJob } from '../../application/email-verification.js';
import { sendNotificationMail, type NotificationMailDeps, type NotificationMailJob } from '../../application/notification-mail.js';
import { sendPasswordResetMail, type ResetMailDeps, type ResetMailJob } from '../../application/password-reset-mail.js';
import { sendReportMail, type ReportMailDeps, type ReportMailJob } from '../../application/reports.js';
import { sendInvitationMail, type InvitationMailDeps, type InvitationMailJob } from '../../application/organization-invitations.js';
import type { Logger } from '../../logger.js';
import { jobOptionsFor, QUEUE_NAMES, type QueueFactory, type RetryPolicy } from './queues.js';

/**
 * The `mail` queue: the outbox of the platform's mail. A process manager
 * that wants a mail sent adds a job (a Redis write, never a wait on SMTP);
 * the worker's mail processor sends it, retrying with exponential back-off
 * (MAIL_MAX_ATTEMPTS, MAIL_BACKOFF_MS) while the relay is down, so an SMTP
 * outage delays mail and stops nothing else.
 *
 * Job id `mail.<notificationId>`: a redelivered event adds nothing while the
 * job is kept (a week), and the sender checks NotificationEmailed anyway.
 */
export const NOTIFICATION_MAIL_JOB = 'notification-mail';
/** A verification link (application/email-verification.ts): its token sealed; the job is dropped once done. */
export const VERIFICATION_MAIL_JOB = 'verification-mail';
/** A password-reset link (application/password-reset-mail.ts): its token sealed; dropped once done. */
export const RESET_MAIL_JOB = 'password-reset-mail';
/** A generated scheduled report (application/reports.ts), its file attached; job id `report-mail.<runId>`. */
export const REPORT_MAIL_JOB = 'report-mail';
/** An organization's invitation (application/organization-invitations.ts): address and token sealed; job id `invitation-mail.<invitationId>`. */
export const INVITATION_MAIL_JOB = 'invitation-mail';

export function notificationMailJobId(notificationId: string): string {
  return `mail.${notificationId}`;
}

/** The producer side, as the process managers and the API see it. */
export interface MailOutbox {
  enqueueNotificationMail(job: NotificationMailJob): Promise<void>;
  enqueueVerificationMail(job: VerificationMailJob): Promise<void>;
  enqueueResetMail(job: ResetMailJob): Promise<void>;
}

type MailJob = NotificationMailJob | VerificationMailJob | ResetMailJob | ReportMailJob | InvitationMailJob;

export class BullMqMailOutbox implements MailOutbox {
  constructor(
    private readonly queue: Queue<MailJob>,
    private readonly retry: RetryPolicy,
  ) {}

  async enqueueNotificationMail(job: NotificationMailJob): Promise<void> {
    await this.queue.add(NOTIFICATION_MAIL_JOB, job, { jobId: notificationMailJobId(job.notificationId), ...jobOptionsFor(this.retry) });
  }

  async enqueueVerificationMail(job: VerificationMailJob): Promise<void> {
    // each request is a new link: no dedup id; nothing of it is kept once sent
    await this.queue.add(VERIFICATION_MAIL_JOB, job, { ...jobOptionsFor(this.retry), removeOnComplete: true });
  }

  async enqueueResetMail(job: ResetMailJob): Promise<void> {
    await this.queue.add(RESET_MAIL_JOB, job, { ...jobOptionsFor(this.retry), removeOnComplete: true });
  }

  /** One per invitation (the sender checks it is still pending); nothing of it is kept once sent. */
  async enqueueInvitationMail(job: InvitationMailJob): Promise<void> {
    await this.queue.add(INVITATION_MAIL_JOB, job, { jobId: `invitation-mail.${job.invitationId}`, ...jobOptionsFor(this.retry), removeOnComplete: true });
  }

  /** One per run (the sender checks ReportMailed anyway); the file waits in report_files, not in Redis. */
  async enqueueReportMail(job: ReportMailJob): Promise<void> {
    await this.queue.add(REPORT_MAIL_JOB, job, { jobId: `report-mail.${job.runId}`, ...jobOptionsFor(this.retry), removeOnComplete: true });
  }
}

export function mailRetryPolicy(config: { MAIL_MAX_ATTEMPTS: number; MAIL_BACKOFF_MS: number }): RetryPolicy {
  return { attempts: config.MAIL_MAX_ATTEMPTS, backoffMs: config.MAIL_BACKOFF_MS, jitter: 0.2 };
}

/** The consumer side: a BullMQ worker sending queued mails (verification and reset links need `verification` and `reset`). */
export function createMailWorker(
  factory: QueueFactory,
  deps: NotificationMailDeps & {
    logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
    verification?: Omit<VerificationMailDeps, 'store' | 'mailer' | 'logger'>;
    reset?: Omit<ResetMailDeps, 'store' | 'mailer' | 'logger'>;
    reports?: Omit<ReportMailDeps, 'store' | 'mailer' | 'logger'>;
    invitations?: Omit<InvitationMailDeps, 'store' | 'mailer' | 'logger'>;
  },
  options: { concurrency?: number } = {},
): Worker<MailJob> {
  const worker = factory.worker<MailJob>(
    QUEUE_NAMES.mail,
    async (job: Job<MailJob>) => {
      if (job.name === NOTIFICATION_MAIL_JOB) return sendNotificationMail(deps, job.data as NotificationMailJob);
      if (job.name === VERIFICATION_MAIL_JOB && deps.verification) {
        return sendVerificationMail(
          { store: deps.store, mailer: deps.mailer, ...(deps.logger ? { logger: deps.logger } : {}), ...deps.verification },
          job.data as VerificationMailJob,
        );
      }
      if (job.name === RESET_MAIL_JOB && deps.reset) {
        return sendPasswordResetMail(
          { store: deps.store, mailer: deps.mailer, ...(deps.logger ? { logger: deps.logger } : {}), ...deps.reset },
          job.data as ResetMailJob,
        );
      }
      if (job.name === REPORT_MAIL_JOB && deps.reports) {
        return sendReportMail(
          { store: deps.store, mailer: deps.mailer, ...(deps.logger ? { logger: deps.logger } : {}), ...deps.reports },
          job.data as ReportMailJob,
        );
      }
      if (job.name === INVITATION_MAIL_JOB && deps.invitations) {
        return sendInvitationMail(
          { store: deps.store, mailer: deps.mailer, ...(deps.logger ? { logger: deps.logger } : {}), ...deps.invitations },
          job.data as InvitationMailJob,
        );
      }
      throw new Error(`this worker cannot send ${job.name} jobs`);
    },
    { concurrency: options.concurrency ?? 4 },
  );
  worker.on('failed', (job, error) => {
    const last = job !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1);
    deps.logger?.[last ? 'error' : 'warn'](
      { jobId: job?.id, attempt: job?.attemptsMade, err: error },
      last ? 'mail given up after its last attempt' : 'mail failed; it will be tried again',
    );
  });
  worker.on('error', (error) => deps.logger?.error({ err: error }, 'mail worker error'));
  return worker;
}
