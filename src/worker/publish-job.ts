import { randomBytes } from 'node:crypto';
import { UnrecoverableError, type Job } from 'bullmq';
import type { SecretBox } from '../adapters/crypto/secret-box.js';
import type { RedisProxyLeaseStore } from '../adapters/proxies/redis-lease-store.js';
import { PUBLICATION_METRICS_JOB_NAME, PUBLISH_ATTEMPTS, UNPUBLISH_JOB_NAME, type PublishJobData } from '../adapters/queue/publish-queue.js';
import type { JobContext, JobHandler } from '../adapters/queue/worker-runtime.js';
import type { Redis } from '../adapters/redis/redis.js';
import { ScraperError, scraperErrorAction } from '../adapters/scrapers/errors.js';
import { banProxy, DEFAULT_HEALTH_THRESHOLDS, reportProxyFailure, type ProxyDeps } from '../application/proxies.js';
import type { ProxyCandidate } from '../application/proxy-selection.js';
import { PublishingCredentialsError } from '../application/publishing-credentials.js';
import type { EventStore } from '../event-store/port.js';
import { loadJobSubject } from './job-subject.js';
import type { Logger } from '../logger.js';
import {
  PublishAuthError,
  PublishRefusedError,
  type PostContent,
  type PostImage,
  type PublishedPost,
  type PublishingCredentials,
  type PublishTarget,
} from '../platforms/publishing/port.js';
import type { PublisherEntry, PublisherRegistry } from '../platforms/publishing/registry.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { eventIdsFrom } from '../write-model/core/event-ids.js';
import { platformAccountAggregate } from '../write-model/platform-account/decider.js';
import type { PublicationCommand } from '../write-model/publication/commands.js';
import { publicationAggregate, publicationDecider, publicationStream } from '../write-model/publication/decider.js';
import { publicationEvents, type PublicationContent, type PublicationFailureCode } from '../write-model/publication/events.js';
import type { RequestedPublication } from '../write-model/publication/state.js';
import { keepLeaseAlive, leaseProxy } from './lease.js';
import { openProxyCredentials, safeReason } from './scrape-job.js';
import { RELEASE_IF_HELD } from '../adapters/redis/turns.js';
import { truncateCharacters } from '../write-model/core/characters.js';

/**
 * The `publish` queue's jobs (src/adapters/queue/publish-queue.ts), each
 * one publication's, reported back as commands on `publication-{id}`:
 *
 * - `publish`: the article version the publication holds (exactly what was
 *   reviewed), through the owner's account, by the platform's publisher
 *   (src/platforms/publishing/registry.ts).
 * - `unpublish`: the post taken down again, where the publisher can.
 * - `publication-metrics`: one reading of the post's metrics, recorded when
 *   they changed.
 *
 * Rules:
 * - The stream is the truth, the job a pointer to it: a publication that is
 *   published, failed, cancelled (or unpublished) is skipped; a redelivered
 *   or duplicated job publishes nothing. One run per publication at a time
 *   (a Redis lock beside BullMQ's job lock, for a job that stalled while
 *   still running elsewhere).
 * - Never twice: the publisher's findExisting runs before publish (by the
 *   client token, or title and time), so a run after a crash or a lost
 *   answer records the post it finds (`recovered`) instead of posting again.
 * - The account must still be the owner's, active and of the platform (else
 *   failed `account_unavailable`); its credentials are opened only here and
 *   never logged. Browser platforms (Xiaohongshu) go through a leased proxy,
 *   as the message-send job does; API platforms are reached directly.
 * - Errors: TransientPublishError (and anything unexpected) → the attempt is
 *   recorded failed with the time of the next one, and BullMQ retries it
 *   PUBLISH_RETRY_DELAY_MS later; the last attempt's failure fails the
 *   publication `attempts_exhausted`. PublishRefusedError → failed
 *   `refused` at once. PublishAuthError → the account is invalidated
 *   (AccountInvalidated: `credentials_expired` for a token,
 *   `login_wall` for cookies) and the publication fails `account_invalid`.
 *   A captcha or block on a browser platform bans the proxy for the platform
 *   (the retry takes another).
 */

export interface PublishJobDeps {
  store: EventStore;
  secretBox: SecretBox;
  publishers: PublisherRegistry;
  /** the account's credentials, opened (src/application/publishing-credentials.ts) */
  openCredentials: (account: { accountId: string; ownerId: string }) => Promise<{ platform: string; credentials: PublishingCredentials }>;
  /** the version's images from media storage, cover first (src/application/articles.ts readPostImages) */
  readImages: (ownerId: string, content: PublicationContent & { version: number }) => Promise<PostImage[]>;
  /** proxies for browser platforms */
  leases: RedisProxyLeaseStore;
  candidates: () => Promise<ProxyCandidate[]>;
  leaseTtlMs: number;
  proxyFailureThreshold: number;
  /** one run per publication: a lock key per publication */
  redis: Redis;
  /** key prefix of the lock (QUEUE_PREFIX) */
  lockPrefix: string;
  workerName: string;
  /** PUBLISH_RETRY_DELAY_MS: when the next attempt runs */
  retryDelayMs: number;
  banMs?: number;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  now?: () => Date;
}

export type PublishOutcome =
  | { status: 'published' | 'recovered'; postId: string; url: string }
  | { status: 'unpublished'; postId: string }
  | { status: 'metrics'; recorded: boolean }
  | { status: 'skipped'; reason: string };

const DEFAULT_BAN_MS = 3600_000;
/** how long one run may hold its publication's lock (a browser publish takes a minute or two) */
const RUN_LOCK_MS = 10 * 60_000;
/** a post of the same title found this long before the request still counts as ours (clocks differ) */
const FIND_SLACK_MS = 5 * 60_000;

/** Another run holds the publication (the job retries later). */
export class PublicationBusyError extends Error {
  override readonly name = 'PublicationBusyError';
}

interface LoadedPublication {
  state: RequestedPublication;
  context: CommandContext;
}

async function loadPublication(store: EventStore, publicationId: string, actor: string): Promise<LoadedPublication | null> {
  const loaded = await loadJobSubject(store, publicationStream(publicationId), publicationDecider, publicationEvents, actor);
  if (!loaded || loaded.state.status === 'none') return null;
  return { state: loaded.state, context: loaded.context };
}

/** The attempts a job has (its options, else the queue's default). */
const attemptsOf = (job: Job) => job.opts.attempts ?? PUBLISH_ATTEMPTS;

export function createPublishJobHandler(deps: PublishJobDeps): JobHandler<PublishJobData, PublishOutcome> {
  const now = deps.now ?? (() => new Date());
  const iso = () => now().toISOString();
  const actor = `worker:${deps.workerName}`;

  const command = (publicationId: string, context: CommandContext, cmd: PublicationCommand, eventIds?: string) =>
    handle(deps.store, publicationAggregate, publicationId, cmd, { context, ...(eventIds ? { eventIds: eventIdsFrom(eventIds) } : {}) });

  async function fail(p: RequestedPublication, context: CommandContext, code: PublicationFailureCode, reason: string): Promise<void> {
    await command(p.publicationId, context, {
      type: 'FailPublication',
      publicationId: p.publicationId,
      code,
      reason: truncateCharacters(reason, 300),
      now: iso(),
    });
  }

  function proxyDeps(context: CommandContext, at: Date): ProxyDeps {
    return { store: deps.store, context, now: () => at, thresholds: { ...DEFAULT_HEALTH_THRESHOLDS, failure: deps.proxyFailureThreshold } };
  }

  async function invalidateAccount(p: RequestedPublication, context: CommandContext, credentials: PublishingCredentials | null, detail: string): Promise<void> {
    try {
      await handle(
        deps.store,
        platformAccountAggregate,
        p.accountId,
        {
          type: 'InvalidateAccount',
          accountId: p.accountId,
          requestedBy: null,
          reason: credentials?.kind === 'oauth' ? 'credentials_expired' : 'login_wall',
          detail: truncateCharacters(detail, 300),
          now: iso(),
        },
        { context },
      );
    } catch (error) {
      // invalid or disconnected already
      if (!(error instanceof DomainError)) throw error;
    }
  }

  /**
   * Runs `work` with the account's credentials, behind a leased proxy where
   * the platform needs one, holding the publication's run lock. The account
   * is checked first (null: not usable, the reason said).
   */
  async function withTarget<R>(
    job: Job<PublishJobData, PublishOutcome>,
    p: RequestedPublication,
    entry: PublisherEntry,
    signal: AbortSignal,
    work: (target: PublishTarget) => Promise<R>,
  ): Promise<{ ok: true; value: R } | { ok: false; reason: string }> {
    const { state: account } = await load(deps.store, platformAccountAggregate, p.accountId);
    if (account.status !== 'active' || account.ownerId !== p.ownerId || account.platform !== p.platform)
      return { ok: false, reason: `the platform account is ${account.status === 'none' ? 'gone' : account.status}` };
    const runId = `${p.publicationId}#${job.attemptsStarted}@${deps.workerName}.${randomBytes(3).toString('hex')}`;
    const lockKey = `${deps.lockPrefix}publish:lock:${p.publicationId}`;
    if ((await deps.redis.set(lockKey, runId, 'PX', RUN_LOCK_MS, 'NX')) !== 'OK')
      throw new PublicationBusyError(`publication ${p.publicationId} is being handled by another run`);
    try {
      let opened: { platform: string; credentials: PublishingCredentials };
      try {
        opened = await deps.openCredentials({ accountId: p.accountId, ownerId: p.ownerId });
      } catch (error) {
        // not the owner's, or not active (any more)
        if (error instanceof PublishingCredentialsError || error instanceof DomainError) return { ok: false, reason: error.message };
        throw error;
      }
      if (!entry.needsProxy) {
        signal.throwIfAborted();
        return { ok: true, value: await work({ accountId: p.accountId, credentials: opened.credentials, proxyUrl: null }) };
      }
      const leaseDeps = { store: deps.store, leases: deps.leases, candidates: deps.candidates, ttlMs: deps.leaseTtlMs, now };
      const { lease, endpoint } = await leaseProxy(leaseDeps, {
        holderId: runId,
        executionId: p.publicationId,
        platform: p.platform,
        leaseAccount: p.accountId,
        preferred: null,
        avoid: job.data.avoidProxyIds ?? [],
      });
      const keepAlive = keepLeaseAlive(leaseDeps, lease, () => undefined);
      try {
        const { username, password } = openProxyCredentials(deps.secretBox, endpoint);
        const auth = username ? `${encodeURIComponent(username)}${password !== undefined ? `:${encodeURIComponent(password)}` : ''}@` : '';
        const proxyUrl = `${endpoint.protocol}://${auth}${endpoint.host}:${endpoint.port}`;
        signal.throwIfAborted();
        return { ok: true, value: await work({ accountId: p.accountId, credentials: opened.credentials, proxyUrl }) };
      } catch (error) {
        await onProxyError(error, p, lease.proxyId, job);
        throw error;
      } finally {
        keepAlive.stop();
        await deps.leases.release(lease).catch(() => undefined);
      }
    } finally {
      await deps.redis.eval(RELEASE_IF_HELD, 1, lockKey, runId).catch(() => undefined);
    }
  }

  /** A captcha or block through a proxy: banned for the platform, so the retry takes another. */
  async function onProxyError(error: unknown, p: RequestedPublication, proxyId: string, job: Job<PublishJobData, PublishOutcome>): Promise<void> {
    if (!(error instanceof ScraperError) || scraperErrorAction(error) !== 'ban_proxy') return;
    const at = now();
    const context: CommandContext = { correlationId: p.publicationId, causationId: String(job.id), actor };
    const reason = `${error.kind}:${error.reason}`;
    try {
      await banProxy(proxyDeps(context, at), {
        proxyId,
        platform: error.platform,
        reason,
        until: new Date(at.getTime() + (deps.banMs ?? DEFAULT_BAN_MS)).toISOString(),
      });
      await reportProxyFailure(proxyDeps(context, at), { proxyId, reason, platform: error.platform, jobId: job.id ?? null });
    } catch (report) {
      if (!(report instanceof DomainError)) throw report;
    }
    const avoid = [...new Set([...(job.data.avoidProxyIds ?? []), proxyId])];
    await job.updateData({ ...job.data, avoidProxyIds: avoid }).catch(() => undefined);
  }

  function postContent(p: RequestedPublication, images: readonly PostImage[]): PostContent {
    const c = p.content;
    return { clientToken: p.clientToken, title: c.title, body: c.body, summary: c.summary, tags: c.tags, images };
  }

  async function publishJob(job: Job<PublishJobData, PublishOutcome>, signal: AbortSignal): Promise<PublishOutcome> {
    const publicationId = job.data.publicationId;
    const loaded = await loadPublication(deps.store, publicationId, actor);
    if (!loaded) return { status: 'skipped', reason: 'unknown_publication' };
    const { state: p, context } = loaded;
    if (p.status !== 'queued' && p.status !== 'publishing') return { status: 'skipped', reason: p.status };
    const entry = deps.publishers.get(p.platform);
    if (!entry) {
      await fail(p, context, 'publisher_unavailable', `no publisher for platform ${p.platform}`);
      throw new UnrecoverableError(`no publisher for platform ${p.platform}`);
    }
    const attempt = job.attemptsMade + 1;
    const last = attempt >= attemptsOf(job);
    try {
      await command(publicationId, context, { type: 'StartPublishAttempt', publicationId, attempt, now: iso() });
    } catch (error) {
      // ended meanwhile (cancelled before this run began): nothing to publish
      if (error instanceof DomainError && error.code === 'CONFLICT') return { status: 'skipped', reason: String(error.details.status ?? 'conflict') };
      throw error;
    }
    const log = { publicationId, jobId: job.id, attempt, platform: p.platform };
    let credentials: PublishingCredentials | null = null;
    try {
      let images: PostImage[];
      try {
        images = await deps.readImages(p.ownerId, { ...p.content, version: p.articleVersion });
      } catch (error) {
        // an image deleted since the request: the post cannot be made as it was reviewed
        if (error instanceof DomainError && error.code === 'NOT_FOUND') throw new PublishRefusedError(error.message, 'image_missing');
        throw error;
      }
      const content = postContent(p, images);
      const after = new Date(Date.parse(p.requestedAt) - FIND_SLACK_MS);
      const result = await withTarget(job, p, entry, signal, async (target) => {
        credentials = target.credentials;
        const found = await entry.publisher.findExisting(target, content, after);
        if (found) return { post: found, recovered: true };
        signal.throwIfAborted();
        return { post: await entry.publisher.publish(target, content), recovered: false };
      });
      if (!result.ok) {
        await fail(p, context, 'account_unavailable', result.reason);
        throw new UnrecoverableError(result.reason);
      }
      const { post, recovered } = result.value as { post: PublishedPost; recovered: boolean };
      // recorded even when the run was released meanwhile: the platform has it
      await command(
        publicationId,
        context,
        { type: 'RecordPublished', publicationId, postId: post.postId, url: post.url, publishedAt: post.publishedAt, recovered, now: iso() },
        `worker:publication-published:${publicationId}`,
      );
      deps.logger?.info({ ...log, postId: post.postId, recovered }, recovered ? 'post found already published' : 'published');
      return { status: recovered ? 'recovered' : 'published', postId: post.postId, url: post.url };
    } catch (error) {
      if (error instanceof UnrecoverableError) throw error;
      if (error instanceof PublishRefusedError) {
        deps.logger?.warn({ ...log, code: error.code, reason: error.message }, 'post refused by the platform');
        await fail(p, context, 'refused', `${error.code}: ${error.message}`);
        throw new UnrecoverableError(error.message);
      }
      if (error instanceof PublishAuthError) {
        const reason = safeReason(error);
        deps.logger?.warn({ ...log, reason }, 'the account no longer publishes: invalidated');
        await invalidateAccount(p, context, credentials, reason);
        await fail(p, context, 'account_invalid', reason);
        throw new UnrecoverableError(reason);
      }
      if (signal.aborted) throw error;
      const reason = safeReason(error);
      deps.logger?.warn({ ...log, reason, last }, 'publish attempt failed');
      await command(
        publicationId,
        context,
        {
          type: 'RecordPublishAttemptFailed',
          publicationId,
          attempt,
          reason,
          nextAttemptAt: last ? null : new Date(now().getTime() + deps.retryDelayMs).toISOString(),
          now: iso(),
        },
        `worker:publication-attempt-failed:${publicationId}:${attempt}`,
      );
      if (last) await fail(p, context, 'attempts_exhausted', `after ${attempt} attempts: ${reason}`);
      throw error;
    }
  }

  async function unpublishJob(job: Job<PublishJobData, PublishOutcome>, signal: AbortSignal): Promise<PublishOutcome> {
    const publicationId = job.data.publicationId;
    const loaded = await loadPublication(deps.store, publicationId, actor);
    if (!loaded) return { status: 'skipped', reason: 'unknown_publication' };
    const { state: p, context } = loaded;
    if (p.status !== 'published' || !p.unpublishRequested || !p.post) return { status: 'skipped', reason: p.status };
    const postId = p.post.postId;
    const unpublishFailed = (reason: string) =>
      command(publicationId, context, { type: 'RecordUnpublishFailed', publicationId, reason: truncateCharacters(reason, 300), now: iso() });
    const entry = deps.publishers.get(p.platform);
    if (!entry?.publisher.canUnpublish) {
      await unpublishFailed(`posts on ${p.platform} cannot be taken down here`);
      throw new UnrecoverableError(`no unpublish for ${p.platform}`);
    }
    let credentials: PublishingCredentials | null = null;
    try {
      const result = await withTarget(job, p, entry, signal, async (target) => {
        credentials = target.credentials;
        await entry.publisher.unpublish(target, postId);
      });
      if (!result.ok) {
        await unpublishFailed(result.reason);
        throw new UnrecoverableError(result.reason);
      }
      await command(publicationId, context, { type: 'RecordUnpublished', publicationId, now: iso() }, `worker:publication-unpublished:${publicationId}`);
      deps.logger?.info({ publicationId, postId }, 'unpublished');
      return { status: 'unpublished', postId };
    } catch (error) {
      if (error instanceof UnrecoverableError) throw error;
      if (error instanceof PublishAuthError || error instanceof PublishRefusedError) {
        const reason = safeReason(error);
        if (error instanceof PublishAuthError) await invalidateAccount(p, context, credentials, reason);
        await unpublishFailed(reason);
        throw new UnrecoverableError(reason);
      }
      if (job.attemptsMade + 1 >= attemptsOf(job)) await unpublishFailed(`after ${job.attemptsMade + 1} attempts: ${safeReason(error)}`);
      throw error;
    }
  }

  async function metricsJob(job: Job<PublishJobData, PublishOutcome>, signal: AbortSignal): Promise<PublishOutcome> {
    const publicationId = job.data.publicationId;
    const loaded = await loadPublication(deps.store, publicationId, actor);
    if (!loaded) return { status: 'skipped', reason: 'unknown_publication' };
    const { state: p, context } = loaded;
    if (p.status !== 'published' || !p.post) return { status: 'skipped', reason: p.status };
    const postId = p.post.postId;
    const entry = deps.publishers.get(p.platform);
    if (!entry?.publisher.canReadMetrics) return { status: 'skipped', reason: 'no_metrics' };
    let credentials: PublishingCredentials | null = null;
    try {
      const result = await withTarget(job, p, entry, signal, async (target) => {
        credentials = target.credentials;
        return entry.publisher.metrics(target, postId);
      });
      if (!result.ok) return { status: 'skipped', reason: 'account_unavailable' };
      const m = result.value;
      const recorded = await command(
        publicationId,
        context,
        {
          type: 'RecordPublicationMetrics',
          publicationId,
          views: m.views,
          likes: m.likes,
          comments: m.comments,
          ...(m.extra ? { extra: m.extra } : {}),
          now: iso(),
        },
        `worker:publication-metrics:${publicationId}:${job.data.reading ?? 0}`,
      );
      return { status: 'metrics', recorded: recorded.events.length > 0 };
    } catch (error) {
      if (error instanceof PublishAuthError) {
        await invalidateAccount(p, context, credentials, safeReason(error));
        throw new UnrecoverableError(safeReason(error));
      }
      throw error;
    }
  }

  return async function publishJobHandler(job: Job<PublishJobData, PublishOutcome>, { signal }: JobContext): Promise<PublishOutcome> {
    if (job.name === UNPUBLISH_JOB_NAME) return unpublishJob(job, signal);
    if (job.name === PUBLICATION_METRICS_JOB_NAME) return metricsJob(job, signal);
    return publishJob(job, signal);
  };
}

/**
 * The dead letter of a `publish` job (its last attempt failed, or it was
 * failed for stalling): a publication still queued or publishing fails
 * `attempts_exhausted`, once (the decider's no-op when it ended meanwhile).
 * An unpublish job's: the request is recorded failed. Metrics readings
 * leave nothing (a missed reading is just missed).
 */
export function createPublishDeadLetter(deps: Pick<PublishJobDeps, 'store' | 'workerName' | 'logger' | 'now'>) {
  const now = deps.now ?? (() => new Date());
  return async (job: Job<PublishJobData, unknown>, error: Error): Promise<void> => {
    if (job.name === PUBLICATION_METRICS_JOB_NAME) return;
    const publicationId = job.data.publicationId;
    const loaded = await loadPublication(deps.store, publicationId, `worker:${deps.workerName}`);
    if (!loaded) return;
    const reason = truncateCharacters(`dead_letter: ${error.name === 'UnrecoverableError' ? error.message : safeReason(error)}`, 300);
    const eventIds = eventIdsFrom(`worker:publish-dead-letter:${job.id}`);
    if (job.name === UNPUBLISH_JOB_NAME) {
      if (loaded.state.status !== 'published' || !loaded.state.unpublishRequested) return;
      await handle(
        deps.store,
        publicationAggregate,
        publicationId,
        { type: 'RecordUnpublishFailed', publicationId, reason, now: now().toISOString() },
        { context: loaded.context, eventIds },
      );
      return;
    }
    if (loaded.state.status !== 'queued' && loaded.state.status !== 'publishing') return;
    await handle(
      deps.store,
      publicationAggregate,
      publicationId,
      { type: 'FailPublication', publicationId, code: 'attempts_exhausted', reason, now: now().toISOString() },
      { context: loaded.context, eventIds },
    );
    deps.logger?.warn({ publicationId, jobId: job.id, reason }, 'publish job dead-lettered');
  };
}
