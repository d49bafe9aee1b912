import { UnrecoverableError, type Job } from 'bullmq';
import { SmsProviderError, type SmsAccepted, type SmsProvider } from '../application/ports/sms-provider.js';
import type { SecretBox } from '../application/ports/secret-box.js';
import { openSmsText } from '../application/sms-codes.js';
import type { EventStore } from '../event-store/port.js';
import { loadJobSubject } from './job-subject.js';
import { SmsSendBatcher } from './sms-send-batcher.js';
import type { Logger } from '../logger.js';
import type { SmsSendJobData } from '../process-managers/sms-ports.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, type Loaded } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { eventIdsFrom } from '../write-model/core/event-ids.js';
import { smsMessageAggregate, smsMessageDecider, smsMessageStream } from '../write-model/sms-message/decider.js';
import { smsMessageEvents, type SmsFailureCode, type SmsSentSource } from '../write-model/sms-message/events.js';
import type { SmsMessageState } from '../write-model/sms-message/state.js';
import { truncateCharacters } from '../write-model/core/characters.js';

/**
 * The sms-send job: one SMS, sent through the provider, reported back as a
 * command on `sms_message-{id}`.
 *
 * - The stream is the truth, the job a pointer to it: a message no longer
 *   pending (sent, delivered, failed) is skipped.
 * - Never twice: the provider's idempotency key is the message id, so a
 *   retry after a lost answer (or a duplicated job running beside this one)
 *   gets the first answer back, not a second SMS; recording the same send
 *   again is the decider's no-op.
 * - The provider refusing the message itself (INVALID_NUMBER,
 *   COUNTRY_NOT_SUPPORTED, CONTENT_REJECTED, …) fails it at once; anything
 *   else (the provider down, throttling, an answer that does not verify, our
 *   credentials refused) is retried with back-off, and the dead letter asks
 *   the provider once more before failing it `attempts_exhausted`.
 * - The jobs running at once share the provider's batch calls
 *   (sms-send-batcher.ts): one request carries many messages, each with its
 *   own answer.
 */

export interface SmsSendJobDeps {
  store: EventStore;
  provider: SmsProvider;
  /** opens a one-time code's sealed body (ENCRYPTION_KEYS); without it such a message cannot be sent */
  secretBox?: SecretBox;
  workerName: string;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  now?: () => Date;
}

export type SmsSendOutcome = { status: 'sent'; providerMessageId: string } | { status: 'skipped'; reason: string };

/** One line of an error, fit for an event and a log (URLs without their query). */
function safeReason(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return truncateCharacters((text.split('\n', 1)[0] ?? '').replace(/(https?:\/\/[^\s?#]+)[?#]\S*/g, '$1'), 300) || 'unknown error';
}

interface LoadedSms {
  state: SmsMessageState;
  context: CommandContext;
  /** the read the send's record decides on (one read of the stream per job) */
  loaded: Loaded<SmsMessageState>;
}

/** The message's state and the context the worker's commands carry (as job-subject.ts builds it), with the revision read. */
async function loadSms(store: EventStore, messageId: string, actor: string): Promise<LoadedSms | null> {
  const subject = await loadJobSubject(store, smsMessageStream(messageId), smsMessageDecider, smsMessageEvents, actor);
  if (!subject) return null;
  return { state: subject.state, context: subject.context, loaded: { state: subject.state, revision: subject.revision } };
}

async function recordSent(
  deps: SmsSendJobDeps,
  messageId: string,
  accepted: SmsAccepted,
  source: SmsSentSource,
  context: CommandContext,
  now: () => Date,
  loaded?: Loaded<SmsMessageState>,
): Promise<void> {
  await handle(
    deps.store,
    smsMessageAggregate,
    messageId,
    {
      type: 'RecordSmsSent',
      messageId,
      providerMessageId: accepted.providerMessageId,
      senderNumber: accepted.senderNumber,
      providerPriceMicros: accepted.priceMicros,
      providerCurrency: accepted.currency,
      sentAt: accepted.acceptedAt,
      source,
      now: now().toISOString(),
    },
    { context, eventIds: eventIdsFrom(`worker:sms-sent:${messageId}`), ...(loaded ? { loaded } : {}) },
  );
}

async function recordFailed(deps: SmsSendJobDeps, messageId: string, code: SmsFailureCode, reason: string, context: CommandContext, now: () => Date) {
  await handle(
    deps.store,
    smsMessageAggregate,
    messageId,
    { type: 'RecordSmsFailed', messageId, code, reason: truncateCharacters(reason, 300), now: now().toISOString() },
    { context, eventIds: eventIdsFrom(`worker:sms-failed:${messageId}`) },
  );
}

export function createSmsSendJobHandler(deps: SmsSendJobDeps): (job: Job<SmsSendJobData, SmsSendOutcome>) => Promise<SmsSendOutcome> {
  const now = deps.now ?? (() => new Date());
  const actor = `worker:${deps.workerName}`;
  const sender = new SmsSendBatcher(deps.provider);
  return async function smsSendJob(job) {
    const messageId = job.data.messageId;
    const loaded = await loadSms(deps.store, messageId, actor);
    if (!loaded || loaded.state.status === 'none') return { status: 'skipped', reason: 'unknown_message' };
    if (loaded.state.status !== 'pending') return { status: 'skipped', reason: loaded.state.status };
    const sms = loaded.state;
    // a code's body is opened here, for the provider only: the stream, the read model and the logs keep the masked text
    const sealed = sms.sealedText ?? null;
    if (sealed !== null && !deps.secretBox) throw new Error('sms-send: a sealed message needs the secret box');
    const text = sealed === null ? sms.text : openSmsText(deps.secretBox!, messageId, sealed);
    let accepted: SmsAccepted;
    try {
      accepted = await sender.send({ messageId, to: sms.to, text });
    } catch (error) {
      if (error instanceof SmsProviderError && error.permanent) {
        deps.logger?.warn({ messageId, jobId: job.id, code: error.code }, 'sms refused by the provider');
        await recordFailed(deps, messageId, error.permanent, error.reason, loaded.context, now);
        throw new UnrecoverableError(error.reason);
      }
      const reason = error instanceof SmsProviderError ? error.reason : safeReason(error);
      deps.logger?.warn({ messageId, jobId: job.id, attempt: job.attemptsMade + 1, reason }, 'sms send failed; retried');
      throw error instanceof SmsProviderError ? new Error(reason) : error;
    }
    try {
      // decided on the read this job began with: a receipt recorded meanwhile makes the append conflict, and the retry reads afresh
      await recordSent(deps, messageId, accepted, 'send', loaded.context, now, loaded.loaded);
    } catch (error) {
      // failed meanwhile (a dead letter of a stalled duplicate): the provider has it, the stream says failed; the log keeps the fact
      if (error instanceof DomainError && error.code === 'CONFLICT') {
        deps.logger?.error({ messageId, providerMessageId: accepted.providerMessageId, err: error }, 'sms sent but already recorded otherwise');
        return { status: 'skipped', reason: 'conflict' };
      }
      throw error;
    }
    return { status: 'sent', providerMessageId: accepted.providerMessageId };
  };
}

/**
 * The dead letter of an sms-send job (its last attempt failed): the provider
 * is asked once more by our message id — if it has the message (an answer
 * lost each time), the send is recorded; otherwise the message fails
 * `attempts_exhausted`, once (a repeat is the decider's no-op).
 */
export function createSmsSendDeadLetter(deps: SmsSendJobDeps) {
  const now = deps.now ?? (() => new Date());
  return async (job: Job<SmsSendJobData, unknown>, error: Error): Promise<void> => {
    const messageId = job.data.messageId;
    const loaded = await loadSms(deps.store, messageId, `worker:${deps.workerName}`);
    if (loaded?.state.status !== 'pending') return;
    try {
      const status = await deps.provider.status(messageId);
      if (status.state !== 'absent') {
        await recordSent(deps, messageId, status, 'status_query', loaded.context, now);
        deps.logger?.info({ messageId, jobId: job.id }, 'sms found at the provider after its last attempt');
        return;
      }
    } catch (query) {
      deps.logger?.warn({ messageId, reason: query instanceof SmsProviderError ? query.reason : safeReason(query) }, 'sms status query failed');
    }
    const reason = error.name === 'UnrecoverableError' ? error.message : safeReason(error);
    await recordFailed(deps, messageId, 'attempts_exhausted', `dead_letter: ${reason}`, loaded.context, now);
    deps.logger?.warn({ messageId, jobId: job.id, reason }, 'sms-send job dead-lettered');
  };
}
