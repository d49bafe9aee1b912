import { randomBytes } from 'node:crypto';
import { UnrecoverableError, type Job } from 'bullmq';
import type { SecretBox } from '../adapters/crypto/secret-box.js';
import type { ProxyCandidate } from '../application/proxy-selection.js';
import type { RedisProxyLeaseStore } from '../adapters/proxies/redis-lease-store.js';
import type { MessageSendJobData } from '../adapters/queue/queues.js';
import type { JobContext, JobHandler } from '../adapters/queue/worker-runtime.js';
import type { Redis } from '../adapters/redis/redis.js';
import type { BrowserPool, ContextOptions } from '../adapters/scrapers/browser-pool.js';
import { bareUrl, LoginWallError, ScraperError, scraperErrorAction } from '../adapters/scrapers/errors.js';
import { MessageRefusedError, type PlatformMessageReceipt, type PlatformMessenger } from '../adapters/scrapers/messaging.js';
import { banProxy, DEFAULT_HEALTH_THRESHOLDS, reportProxyFailure, type ProxyDeps } from '../application/proxies.js';
import type { EventStore } from '../event-store/port.js';
import { loadJobSubject } from './job-subject.js';
import type { Logger } from '../logger.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { eventIdsFrom } from '../write-model/core/event-ids.js';
import { outgoingMessageAggregate, outgoingMessageDecider, outgoingMessageStream } from '../write-model/outgoing-message/decider.js';
import { outgoingMessageEvents, type SendFailureCode } from '../write-model/outgoing-message/events.js';
import type { OutgoingMessageState, RequestedMessage } from '../write-model/outgoing-message/state.js';
import { platformAccountAggregate } from '../write-model/platform-account/decider.js';
import type { ProxyEndpoint } from '../write-model/proxy/events.js';
import { keepLeaseAlive, leaseProxy } from './lease.js';
import { cookiesFromHeader, DEFAULT_USER_AGENT, openAccountCredentials, openProxyCredentials, proxyFailureOf, safeReason, tcpProbe } from './scrape-job.js';
import { RELEASE_IF_HELD } from '../adapters/redis/turns.js';
import { truncateCharacters } from '../write-model/core/characters.js';

/**
 * The message-send job: one outgoing private message, sent by the worker
 * through the owner's platform account in a fresh browser context behind a
 * leased proxy, reported back as a command on `outgoing_message-{id}`.
 *
 * - The stream is the truth, the job a pointer to it: a message already
 *   sent or failed is skipped (a redelivered or duplicated job sends
 *   nothing). One run per message at a time (a Redis lock beside BullMQ's
 *   job lock, for a job that stalled while still running elsewhere).
 * - Never twice: the platform's messenger looks for the message's client id
 *   in the conversation before it sends, so a run after a crash between the
 *   send and MessageSent records the message it finds (`recovered`).
 * - The account must still be the owner's and active (else
 *   MessageSendFailed `account_unavailable`); its cookies and the proxy's
 *   credentials are opened only here and never logged.
 * - Errors, as the scrape job's: a login wall invalidates the account
 *   (AccountInvalidated) and fails the message (`account_invalid`); a
 *   captcha or block bans the proxy for the platform and retries on
 *   another; an unreachable proxy is reported and avoided; the platform
 *   refusing the message itself fails it at once (`peer_not_found`,
 *   `conversation_not_found`, `rejected`); anything else retries with
 *   back-off, and the last attempt's failure is MessageSendFailed
 *   `attempts_exhausted` (the dead letter).
 * - Pacing (per account, per minute and per hour) is the queue runtime's:
 *   a job over it waits in the delayed set, no attempt spent.
 */

export interface MessageSendJobDeps {
  store: EventStore;
  secretBox: SecretBox;
  pool: BrowserPool;
  leases: RedisProxyLeaseStore;
  /** one run per message: a lock key per message */
  redis: Redis;
  /** key prefix of the lock (QUEUE_PREFIX) */
  lockPrefix: string;
  candidates: () => Promise<ProxyCandidate[]>;
  messengers: (platform: string) => PlatformMessenger | undefined;
  platformUrls: (platform: string) => string[];
  workerName: string;
  leaseTtlMs: number;
  proxyFailureThreshold: number;
  banMs?: number;
  context?: Partial<Omit<ContextOptions, 'proxy' | 'cookies' | 'userAgent'>>;
  probeProxy?: (endpoint: Pick<ProxyEndpoint, 'host' | 'port'>) => Promise<boolean>;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  now?: () => Date;
}

export type MessageSendOutcome =
  | { status: 'sent' | 'recovered'; platformMessageId: string; conversationId: string; proxyId: string }
  | { status: 'skipped'; reason: string };

const DEFAULT_BAN_MS = 3600_000;
/** how long one run may hold its message's lock (a run is a few requests) */
const RUN_LOCK_MS = 5 * 60_000;

/** Another run holds the message (the job retries later). */
export class MessageBusyError extends Error {
  override readonly name = 'MessageBusyError';
}

interface LoadedMessage {
  state: OutgoingMessageState;
  context: CommandContext;
}

function loadMessage(store: EventStore, messageId: string, actor: string): Promise<LoadedMessage | null> {
  return loadJobSubject(store, outgoingMessageStream(messageId), outgoingMessageDecider, outgoingMessageEvents, actor);
}

function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

export function createMessageSendJobHandler(deps: MessageSendJobDeps): JobHandler<MessageSendJobData, MessageSendOutcome> {
  const now = deps.now ?? (() => new Date());
  const iso = () => now().toISOString();
  const actor = `worker:${deps.workerName}`;

  async function fail(messageId: string, context: CommandContext, code: SendFailureCode, reason: string): Promise<void> {
    await handle(
      deps.store,
      outgoingMessageAggregate,
      messageId,
      { type: 'RecordMessageSendFailed', messageId, code, reason: truncateCharacters(reason, 300), now: iso() },
      { context },
    );
  }

  function proxyDeps(context: CommandContext, at: Date): ProxyDeps {
    return { store: deps.store, context, now: () => at, thresholds: { ...DEFAULT_HEALTH_THRESHOLDS, failure: deps.proxyFailureThreshold } };
  }

  return async function messageSendJob(job: Job<MessageSendJobData, MessageSendOutcome>, { signal }: JobContext): Promise<MessageSendOutcome> {
    const messageId = job.data.messageId;
    const loaded = await loadMessage(deps.store, messageId, actor);
    if (!loaded || loaded.state.status === 'none') return { status: 'skipped', reason: 'unknown_message' };
    if (loaded.state.status !== 'pending') return { status: 'skipped', reason: loaded.state.status };
    const message: RequestedMessage = loaded.state;
    const { context } = loaded;

    const messenger = deps.messengers(message.platform);
    if (!messenger) {
      await fail(messageId, context, 'rejected', `no messenger for platform ${message.platform}`);
      throw new UnrecoverableError(`no messenger for platform ${message.platform}`);
    }
    const { state: account } = await load(deps.store, platformAccountAggregate, message.platformAccountId);
    if (account.status !== 'active' || account.ownerId !== message.ownerId || account.platform !== message.platform) {
      await fail(messageId, context, 'account_unavailable', `the platform account is ${account.status}`);
      throw new UnrecoverableError(`platform account ${message.platformAccountId} is ${account.status}`);
    }

    const runId = `${messageId}#${job.attemptsStarted}@${deps.workerName}.${randomBytes(3).toString('hex')}`;
    const lockKey = `${deps.lockPrefix}message-send:lock:${messageId}`;
    if ((await deps.redis.set(lockKey, runId, 'PX', RUN_LOCK_MS, 'NX')) !== 'OK')
      throw new MessageBusyError(`message ${messageId} is being sent by another run`);
    try {
      const leaseDeps = { store: deps.store, leases: deps.leases, candidates: deps.candidates, ttlMs: deps.leaseTtlMs, now };
      const { lease, endpoint } = await leaseProxy(leaseDeps, {
        holderId: runId,
        executionId: messageId,
        platform: message.platform,
        leaseAccount: message.platformAccountId,
        preferred: null,
        avoid: job.data.avoidProxyIds ?? [],
      });
      const run = new AbortController();
      const onRelease = () => run.abort(signal.reason);
      signal.addEventListener('abort', onRelease, { once: true });
      const keepAlive = keepLeaseAlive(leaseDeps, lease, (error) => run.abort(error));
      const log = { messageId, jobId: job.id, runId, proxyId: lease.proxyId };
      const netErrors: string[] = [];
      try {
        const credentials = openAccountCredentials(deps.secretBox, account);
        const urls = deps.platformUrls(message.platform);
        const contextOptions: ContextOptions = {
          locale: 'zh-CN',
          timeoutMs: 30_000,
          blockResourceTypes: ['image', 'media', 'font'],
          ...deps.context,
          userAgent: account.userAgent ?? credentials.userAgent ?? DEFAULT_USER_AGENT,
          cookies: credentials.cookies ? cookiesFromHeader(credentials.cookies, urls) : [],
          proxy: {
            server: `${endpoint.protocol}://${endpoint.host}:${endpoint.port}`,
            ...openProxyCredentials(deps.secretBox, endpoint),
            ...(urls.some(isLoopbackUrl) ? { bypass: '<-loopback>' } : {}),
          },
        };
        const receipt: PlatformMessageReceipt = await deps.pool.withContext(contextOptions, async (browserContext) => {
          run.signal.throwIfAborted();
          const page = await browserContext.newPage();
          page.on('requestfailed', (request) => {
            const text = request.failure()?.errorText;
            if (text && netErrors.length < 50) netErrors.push(text);
          });
          const closePage = () => void page.close().catch(() => undefined);
          run.signal.addEventListener('abort', closePage, { once: true });
          try {
            return await messenger.send(page, {
              conversationId: message.conversationId,
              peerId: message.peerId,
              text: message.text,
              clientMessageId: message.clientMessageId,
              requestedAt: message.requestedAt,
            });
          } finally {
            run.signal.removeEventListener('abort', closePage);
          }
        });
        // recorded even when the run was released meanwhile: the platform has it
        await handle(
          deps.store,
          outgoingMessageAggregate,
          messageId,
          {
            type: 'RecordMessageSent',
            messageId,
            platformMessageId: receipt.platformMessageId,
            conversationId: receipt.conversationId,
            peerId: receipt.peerId,
            sentAt: receipt.sentAt,
            recovered: receipt.recovered,
            now: iso(),
          },
          { context, eventIds: eventIdsFrom(`worker:message-sent:${messageId}`) },
        );
        deps.logger?.info({ ...log, recovered: receipt.recovered }, receipt.recovered ? 'message found already sent' : 'message sent');
        return {
          status: receipt.recovered ? 'recovered' : 'sent',
          platformMessageId: receipt.platformMessageId,
          conversationId: receipt.conversationId,
          proxyId: lease.proxyId,
        };
      } catch (error) {
        if (run.signal.aborted) throw run.signal.reason instanceof Error ? run.signal.reason : new Error('message send aborted');
        await onError(error, message, context, lease.proxyId, endpoint, netErrors, job, log);
        throw error;
      } finally {
        signal.removeEventListener('abort', onRelease);
        keepAlive.stop();
        await deps.leases.release(lease).catch(() => undefined);
      }
    } finally {
      await deps.redis.eval(RELEASE_IF_HELD, 1, lockKey, runId).catch(() => undefined);
    }
  };

  /** What a failed run leaves behind; throws UnrecoverableError when no retry can help. */
  async function onError(
    error: unknown,
    message: RequestedMessage,
    context: CommandContext,
    proxyId: string,
    endpoint: ProxyEndpoint,
    netErrors: readonly string[],
    job: Job<MessageSendJobData, MessageSendOutcome>,
    log: Record<string, unknown>,
  ): Promise<void> {
    const messageId = message.messageId;
    if (error instanceof MessageRefusedError) {
      deps.logger?.warn({ ...log, code: error.code, reason: error.reason }, 'message refused by the platform');
      await fail(messageId, context, error.code, error.reason);
      throw new UnrecoverableError(error.message);
    }
    const action = scraperErrorAction(error);
    const reason = error instanceof ScraperError ? `${error.kind}:${error.reason}${error.url ? ` at ${bareUrl(error.url)}` : ''}` : safeReason(error);
    deps.logger?.warn({ ...log, action, reason }, 'message send failed');
    if (action === 'invalidate_account' && error instanceof LoginWallError) {
      try {
        await handle(
          deps.store,
          platformAccountAggregate,
          message.platformAccountId,
          { type: 'InvalidateAccount', accountId: message.platformAccountId, requestedBy: null, reason: 'login_wall', detail: reason, now: iso() },
          { context },
        );
      } catch (invalidation) {
        if (!(invalidation instanceof DomainError)) throw invalidation;
      }
      await fail(messageId, context, 'account_invalid', reason);
      throw new UnrecoverableError(reason);
    }
    const at = now();
    if (action === 'ban_proxy' && error instanceof ScraperError) {
      await banProxy(proxyDeps(context, at), {
        proxyId,
        platform: error.platform,
        reason,
        until: new Date(at.getTime() + (deps.banMs ?? DEFAULT_BAN_MS)).toISOString(),
      });
      await reportProxyFailure(proxyDeps(context, at), { proxyId, reason, platform: error.platform, jobId: job.id ?? null });
      return;
    }
    const found = proxyFailureOf(error, netErrors);
    if (!found) return;
    if (found.kind === 'connection' && (await (deps.probeProxy ?? tcpProbe)(endpoint).catch(() => true))) return;
    const avoid = [...new Set([...(job.data.avoidProxyIds ?? []), proxyId])];
    await job.updateData({ ...job.data, avoidProxyIds: avoid }).catch(() => undefined);
    try {
      await reportProxyFailure(proxyDeps(context, at), { proxyId, reason: `unreachable: ${found.detail}`, platform: null, jobId: job.id ?? null });
    } catch (report) {
      if (!(report instanceof DomainError)) throw report;
    }
  }
}

/**
 * The dead letter of a message-send job (its last attempt failed): the
 * message fails `attempts_exhausted`, once (a repeat is the decider's no-op;
 * a message sent meanwhile stays sent).
 */
export function createMessageSendDeadLetter(deps: Pick<MessageSendJobDeps, 'store' | 'workerName' | 'logger' | 'now'>) {
  const now = deps.now ?? (() => new Date());
  return async (job: Job<MessageSendJobData, unknown>, error: Error): Promise<void> => {
    const messageId = job.data.messageId;
    const loaded = await loadMessage(deps.store, messageId, `worker:${deps.workerName}`);
    if (loaded?.state.status !== 'pending') return;
    const reason = error.name === 'UnrecoverableError' ? truncateCharacters(error.message, 300) : safeReason(error);
    await handle(
      deps.store,
      outgoingMessageAggregate,
      messageId,
      {
        type: 'RecordMessageSendFailed',
        messageId,
        code: 'attempts_exhausted',
        reason: truncateCharacters(`dead_letter: ${reason}`, 300),
        now: now().toISOString(),
      },
      { context: loaded.context, eventIds: eventIdsFrom(`worker:message-dead-letter:${job.id}`) },
    );
    deps.logger?.warn({ messageId, jobId: job.id, reason }, 'message-send job dead-lettered');
  };
}
