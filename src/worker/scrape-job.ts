import { randomBytes, createHash } from 'node:crypto';
import { connect, isIP } from 'node:net';
import { UnrecoverableError, type Job } from 'bullmq';
import type { SecretBox } from '../adapters/crypto/secret-box.js';
import type { ProxyCandidate } from '../application/proxy-selection.js';
import type { RedisProxyLeaseStore } from '../adapters/proxies/redis-lease-store.js';
import type { ScrapeJobData } from '../adapters/queue/queues.js';
import type { JobContext, JobHandler } from '../adapters/queue/worker-runtime.js';
import type { BrowserPool, ContextCookie, ContextOptions } from '../adapters/scrapers/browser-pool.js';
import { bareUrl, LoginWallError, scraperErrorAction, ScraperError } from '../adapters/scrapers/errors.js';
import type { ScrapeBatch } from '../adapters/scrapers/types.js';
import type { EventStore } from '../event-store/port.js';
import { loadJobSubject } from './job-subject.js';
import type { Logger } from '../logger.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load, type Decision } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { eventIdsFrom } from '../write-model/core/event-ids.js';
import { platformAccountAggregate } from '../write-model/platform-account/decider.js';
import type { ConnectedAccount } from '../write-model/platform-account/state.js';
import type { ProxyEndpoint } from '../write-model/proxy/events.js';
import type { WorkflowExecutionCommand } from '../write-model/workflow-execution/commands.js';
import { workflowExecutionAggregate, workflowExecutionDecider, workflowExecutionStream } from '../write-model/workflow-execution/decider.js';
import { workflowExecutionEvents, type ExecutionPauseReason, type RejectionCode } from '../write-model/workflow-execution/events.js';
import { collectItemsInChunks } from '../write-model/workflow-execution/item-chunks.js';
import { isTerminal, type WorkflowExecutionState } from '../write-model/workflow-execution/state.js';
import { keepLeaseAlive, leaseProxy, NoProxyAvailableError } from './lease.js';
import type { ScraperLookup } from './scrapers.js';
import { banProxy, DEFAULT_HEALTH_THRESHOLDS, reportProxyFailure, type ProxyDeps } from '../application/proxies.js';
import { truncateCharacters } from '../write-model/core/characters.js';

/**
 * The scrape job: one run of a WorkflowExecution in a browser context,
 * through a leased proxy, reporting back as commands.
 *
 * - The execution stream is the truth, the job a pointer to it: a terminal
 *   or cancelled execution, a job superseded by a newer attempt of the same
 *   execution (a re-enqueue), or one put on hold (quota, account) is skipped.
 * - A run owns the execution from its StartExecution (workerId = the run
 *   id) on; an execution left `running` by an earlier run (crash, release
 *   on shutdown, a failed attempt the queue retries) gets RetryExecution
 *   first. Every batch and the completion are decided against "still this
 *   run's": once a PM moved the execution on (retrying, paused, cancelled),
 *   the old run stops without writing.
 * - Items: batchId = hash of the cursor the batch started from, so running
 *   the same page again is the aggregate's no-op; items are deduped by it too.
 * - Errors: a login wall invalidates the account and fails the execution
 *   (no retry); a captcha or block bans the proxy for the platform (1 h),
 *   reports the failure and retries on another proxy; a proxy that cannot
 *   be reached (Chromium's proxy / tunnel errors, or a connection error
 *   while the proxy's port refuses connections) is reported
 *   (ReportProxyFailure: PROXY_FAILURE_THRESHOLD of them fail it) and the
 *   retry leases another proxy when one is free; anything else retries
 *   with back-off; the last failure dead-letters into ExecutionFailed (or
 *   ExecutionRejected when it never started).
 * - Secrets: the account's cookies and the proxy's password are opened only
 *   here, right before the context is made, and never logged.
 */

export interface ScrapeJobDeps {
  store: EventStore;
  secretBox: SecretBox;
  pool: BrowserPool;
  leases: RedisProxyLeaseStore;
  /** healthy proxies (proxies read model) */
  candidates: () => Promise<ProxyCandidate[]>;
  scrapers: ScraperLookup;
  /** a platform's base URLs: cookie domains, and whether loopback must still be proxied */
  platformUrls: (platform: string) => string[];
  /** the id of the execution's newest job (ScrapeDispatcher.latestJob) */
  latestJobId: (executionId: string) => Promise<string | undefined>;
  /** names this process in run ids (host-pid) */
  workerName: string;
  leaseTtlMs: number;
  /** PROXY_FAILURE_THRESHOLD, for ReportProxyFailure */
  proxyFailureThreshold: number;
  /** how long a captcha / block bans a proxy for the platform (default 1 h) */
  banMs?: number;
  /** extra context options (tests: allowHosts) */
  context?: Partial<Omit<ContextOptions, 'proxy' | 'cookies' | 'userAgent'>>;
  /** whether the proxy accepts connections (default: a TCP connect, 2 s) */
  probeProxy?: (endpoint: Pick<ProxyEndpoint, 'host' | 'port'>) => Promise<boolean>;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  now?: () => Date;
}

export type ScrapeOutcome = { status: 'completed'; itemCount: number; proxyId: string; attempt: number } | { status: 'skipped'; reason: string };

/** Job options of scrape jobs from config (for whoever enqueues them: the dispatcher). */
export { scrapeRetryPolicy } from '../adapters/queue/queues.js';

export const DEFAULT_USER_AGENT = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const DEFAULT_BAN_MS = 3600_000;
/** pauses a job must not override: the PM that paused the execution resumes it */
const HOLDING_PAUSES: readonly ExecutionPauseReason[] = ['quota_exceeded', 'account_invalidated'];

/** Chromium's errors that name the proxy itself (connect, tunnel, auth, SOCKS). */
const PROXY_NET_ERROR =
  /net::ERR_(?:PROXY_[A-Z0-9_]+|TUNNEL_CONNECTION_FAILED|SOCKS_CONNECTION_[A-Z_]+|NO_SUPPORTED_PROXIES|MANDATORY_PROXY_CONFIGURATION_FAILED)\b/;
/** Connection errors a dead proxy causes too (a request cut when it died): the proxy is probed to tell. */
const CONNECTION_ERROR =
  /net::ERR_(?:CONNECTION_(?:REFUSED|RESET|CLOSED|ABORTED|FAILED|TIMED_OUT)|EMPTY_RESPONSE|TIMED_OUT|ADDRESS_UNREACHABLE|SOCKET_NOT_CONNECTED)\b|Failed to fetch|NetworkError when attempting to fetch/;

/**
 * Whether a failed run failed because of its proxy: `proxy` when the error
 * (or a request that failed in the page) carries one of Chromium's proxy
 * errors, `connection` when it is only a connection error (the caller
 * probes the proxy), else null. `netErrors` are the page's failed requests'
 * error texts (a fetch in the page only says "Failed to fetch").
 */
export function proxyFailureOf(error: unknown, netErrors: readonly string[] = []): { kind: 'proxy' | 'connection'; detail: string } | null {
  if (error instanceof ScraperError || error instanceof RunSupersededError || error instanceof ExecutionEndedError) return null;
  const message = error instanceof Error ? error.message : String(error);
  const texts = [message, ...netErrors];
  for (const text of texts) {
    const m = PROXY_NET_ERROR.exec(text);
    if (m) return { kind: 'proxy', detail: m[0] };
  }
  for (const text of texts) {
    const m = CONNECTION_ERROR.exec(text);
    if (m) return { kind: 'connection', detail: m[0] };
  }
  return null;
}

/** A TCP connect to the proxy: true when it accepts connections within `timeoutMs`. */
export function tcpProbe(endpoint: Pick<ProxyEndpoint, 'host' | 'port'>, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: endpoint.host, port: endpoint.port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The run could not reach its proxy (reported; the job retries, on another proxy when one is free). */
export class ProxyUnreachableError extends Error {
  override readonly name = 'ProxyUnreachableError';
  constructor(
    readonly proxyId: string,
    readonly detail: string,
  ) {
    super(`proxy ${proxyId} unreachable: ${detail}`);
  }
}

/** The run is no longer the execution's (moved on by a PM, or another run took it). */
class RunSupersededError extends Error {
  override readonly name = 'RunSupersededError';
}

/** The execution ended (cancelled, failed elsewhere) while the run went on. */
class ExecutionEndedError extends Error {
  override readonly name = 'ExecutionEndedError';
}

interface LoadedExecution {
  state: WorkflowExecutionState;
  context: CommandContext;
}

function loadExecution(store: EventStore, executionId: string, actor: string): Promise<LoadedExecution | null> {
  return loadJobSubject(store, workflowExecutionStream(executionId), workflowExecutionDecider, workflowExecutionEvents, actor);
}

/** The command, decided only while the execution is still this run's (checked again on the state a retry reads). */
function ownedBy(runId: string, command: WorkflowExecutionCommand): Decision<WorkflowExecutionState, WorkflowExecutionCommand> {
  return (state) => {
    if (isTerminal(state)) throw new ExecutionEndedError(`execution is ${state.status}`);
    if (state.status !== 'running' || state.workerId !== runId)
      throw new RunSupersededError(`execution is ${state.status} under ${state.workerId ?? 'no worker'}`);
    return command;
  };
}

/** How an execution that cannot go on ends: rejected before it started, failed after; nothing once it ended. */
function endCommand(state: WorkflowExecutionState, executionId: string, code: RejectionCode, reason: string, now: string): WorkflowExecutionCommand | [] {
  if (isTerminal(state)) return [];
  if (state.status === 'requested') return { type: 'RejectExecution', executionId, reason: code, details: { reason }, now };
  return { type: 'FailExecution', executionId, reason, now };
}

/** The batch id: the cursor the batch started from (null: the start). */
export function batchIdFor(startCursor: string | null): string {
  return `b-${createHash('sha256')
    .update(startCursor ?? '<start>')
    .digest('hex')
    .slice(0, 24)}`;
}

/** An error as a short reason for an event: first line, URLs without their query, bounded. */
export function safeReason(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const line = (text.split('\n', 1)[0] ?? '').replace(/(https?:\/\/[^\s?#]+)[?#]\S*/g, '$1');
  return truncateCharacters(line, 300) || 'unknown error';
}

function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** `www.xiaohongshu.com` → `.xiaohongshu.com` (web and API hosts share it); an IP stays itself. */
function cookieDomain(url: string): string {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) || host === 'localhost') return host;
  const labels = host.split('.');
  return `.${labels.length > 2 ? labels.slice(1).join('.') : host}`;
}

/** A `name=value; name2=value2` cookie header as context cookies for every domain of the platform. */
export function cookiesFromHeader(header: string, urls: string[]): ContextCookie[] {
  const pairs = header
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part.includes('='))
    .map((part) => {
      const i = part.indexOf('=');
      return { name: part.slice(0, i).trim(), value: part.slice(i + 1).trim() };
    })
    .filter((c) => c.name !== '');
  const domains = [...new Set(urls.map(cookieDomain))];
  return domains.flatMap((domain) => pairs.map((c) => ({ ...c, domain, path: '/' })));
}

export function openProxyCredentials(secretBox: SecretBox, endpoint: ProxyEndpoint): { username?: string; password?: string } {
  if (!endpoint.credentials) return {};
  const clear = secretBox.decrypt(endpoint.credentials, endpoint.proxyId);
  const i = clear.indexOf(':'); // `username:password`, the username has no ':'
  return i === -1 ? { username: clear } : { username: clear.slice(0, i), password: clear.slice(i + 1) };
}

export function openAccountCredentials(secretBox: SecretBox, account: ConnectedAccount): { cookies?: string; userAgent?: string } {
  const clear = secretBox.decrypt(account.credentials, account.accountId);
  try {
    const value = JSON.parse(clear) as { cookies?: unknown; userAgent?: unknown };
    return {
      ...(typeof value.cookies === 'string' ? { cookies: value.cookies } : {}),
      ...(typeof value.userAgent === 'string' ? { userAgent: value.userAgent } : {}),
    };
  } catch {
    // a parse error would quote the secret
    throw new Error(`the sealed credentials of platform account ${account.accountId} are not JSON`);
  }
}

export function createScrapeJobHandler(deps: ScrapeJobDeps): JobHandler<ScrapeJobData, ScrapeOutcome> {
  const now = deps.now ?? (() => new Date());
  const iso = () => now().toISOString();
  const actor = `worker:${deps.workerName}`;

  const execute = (executionId: string, decision: Decision<WorkflowExecutionState, WorkflowExecutionCommand>, context: CommandContext) =>
    handle(deps.store, workflowExecutionAggregate, executionId, decision, { context });

  /** Ends an execution that cannot run: rejected before it started, failed after (decided on the stream as it is then). */
  async function endExecution(loaded: LoadedExecution, code: RejectionCode, reason: string): Promise<void> {
    const executionId = loaded.state.request!.executionId;
    await execute(executionId, (state) => endCommand(state, executionId, code, reason, iso()), loaded.context);
  }

  return async function scrapeJob(job: Job<ScrapeJobData, ScrapeOutcome>, { signal }: JobContext): Promise<ScrapeOutcome> {
    const executionId = job.data.executionId;
    const loaded = await loadExecution(deps.store, executionId, actor);
    if (!loaded) return { status: 'skipped', reason: 'unknown_execution' };
    const { state, context } = loaded;
    if (isTerminal(state)) return { status: 'skipped', reason: state.status };
    const latest = await deps.latestJobId(executionId);
    if (latest !== undefined && latest !== job.id) return { status: 'skipped', reason: `superseded_by:${latest}` };
    if (state.status === 'paused' && state.pausedFor && HOLDING_PAUSES.includes(state.pausedFor))
      return { status: 'skipped', reason: `paused:${state.pausedFor}` };
    const request = state.request!;

    const scraper = deps.scrapers(request.platform);
    if (!scraper) {
      await endExecution(loaded, 'VALIDATION_ERROR', `no scraper for platform ${request.platform}`);
      throw new UnrecoverableError(`no scraper for platform ${request.platform}`);
    }
    let account: ConnectedAccount | null = null;
    if (request.platformAccountId) {
      const { state: a } = await load(deps.store, platformAccountAggregate, request.platformAccountId);
      if (a.status === 'none' || a.ownerId !== request.ownerId || a.status === 'invalid' || a.status === 'disconnected') {
        await endExecution(loaded, 'ACCOUNT_INVALID', `account_${a.status}`);
        throw new UnrecoverableError(`platform account ${request.platformAccountId} is ${a.status}`);
      }
      account = a;
    }

    // a run id unique per run; it starts with the job id (= the execution id, see lease.ts)
    const runId = `${job.id}#${job.attemptsStarted}@${deps.workerName}.${randomBytes(3).toString('hex')}`;
    const leaseDeps = { store: deps.store, leases: deps.leases, candidates: deps.candidates, ttlMs: deps.leaseTtlMs, now };
    const { lease, endpoint } = await leaseProxy(leaseDeps, {
      holderId: runId,
      executionId,
      platform: request.platform,
      leaseAccount: request.platformAccountId ?? `execution:${executionId}`,
      preferred: state.proxy?.proxyId ?? job.data.proxyId ?? null,
      avoid: job.data.avoidProxyIds ?? [],
      region: request.proxyRegion ?? null,
    });

    // aborted when the job is released (shutdown) or the lease is lost
    const run = new AbortController();
    const onRelease = () => run.abort(signal.reason);
    signal.addEventListener('abort', onRelease, { once: true });
    const keepAlive = keepLeaseAlive(leaseDeps, lease, (error) => run.abort(error));
    const log = { executionId, jobId: job.id, runId, proxyId: lease.proxyId };
    const netErrors: string[] = [];
    try {
      if (state.proxy?.proxyId !== lease.proxyId) {
        const movedOffFailed = job.data.reason === 'proxy_failed' || (job.data.avoidProxyIds ?? []).includes(state.proxy?.proxyId ?? '');
        const reason = state.proxy === null ? 'initial' : movedOffFailed ? 'proxy_failed' : 'retry';
        await execute(executionId, { type: 'AssignProxy', executionId, proxyId: lease.proxyId, leaseId: runId, reason, now: iso() }, context);
      }
      const attempt = await startRun(job, loaded, runId);
      if (attempt === null) return { status: 'skipped', reason: 'started_elsewhere' };

      // secrets: opened here, handed to the context, never logged
      const credentials = account ? openAccountCredentials(deps.secretBox, account) : {};
      const urls = deps.platformUrls(request.platform);
      const proxyAuth = openProxyCredentials(deps.secretBox, endpoint);
      const contextOptions: ContextOptions = {
        locale: 'zh-CN',
        timeoutMs: 30_000,
        blockResourceTypes: ['image', 'media', 'font'],
        ...deps.context,
        userAgent: account?.userAgent ?? credentials.userAgent ?? DEFAULT_USER_AGENT,
        cookies: credentials.cookies ? cookiesFromHeader(credentials.cookies, urls) : [],
        proxy: {
          server: `${endpoint.protocol}://${endpoint.host}:${endpoint.port}`,
          ...proxyAuth,
          // Chromium never proxies loopback unless told: platforms on 127.0.0.1 (fixtures) must still go through the proxy
          ...(urls.some(isLoopbackUrl) ? { bypass: '<-loopback>' } : {}),
        },
      };
      deps.logger?.info({ ...log, attempt }, 'scrape run started');

      let cursor = state.cursor ?? job.data.cursor ?? null;
      const emit = async (batch: ScrapeBatch) => {
        run.signal.throwIfAborted();
        const batchId = batchIdFor(cursor);
        // a large batch goes in chunks (an append has a size limit); only the last moves the cursor
        const commands = collectItemsInChunks({ executionId, batchId, items: batch.items, startCursor: cursor, endCursor: batch.cursor, now: iso() });
        for (const command of commands) await execute(executionId, ownedBy(runId, command), context);
        cursor = batch.cursor;
      };
      await deps.pool.withContext(contextOptions, async (browserContext) => {
        run.signal.throwIfAborted();
        const page = await browserContext.newPage();
        // what a failed request really met (a fetch in the page only says "Failed to fetch")
        page.on('requestfailed', (request) => {
          const text = request.failure()?.errorText;
          if (text && netErrors.length < 50) netErrors.push(text);
        });
        // a released job stops at once: its page goes away under the scraper
        const closePage = () => void page.close().catch(() => undefined);
        run.signal.addEventListener('abort', closePage, { once: true });
        try {
          return await scraper.scrape({ type: request.type, config: request.config, cursor }, page, emit);
        } finally {
          run.signal.removeEventListener('abort', closePage);
        }
      });
      run.signal.throwIfAborted();
      const done = await execute(executionId, ownedBy(runId, { type: 'CompleteExecution', executionId, now: iso() }), context);
      deps.logger?.info({ ...log, itemCount: done.state.itemCount }, 'scrape run completed');
      return { status: 'completed', itemCount: done.state.itemCount, proxyId: lease.proxyId, attempt };
    } catch (error) {
      if (run.signal.aborted) {
        // released on shutdown (the runtime already put the job back) or the lease was lost (retry)
        throw run.signal.reason instanceof Error ? run.signal.reason : new Error('scrape run aborted');
      }
      if (error instanceof RunSupersededError || error instanceof ExecutionEndedError) {
        deps.logger?.info({ ...log, reason: error.message }, 'scrape run stopped: the execution moved on');
        return { status: 'skipped', reason: error instanceof ExecutionEndedError ? 'ended' : 'superseded' };
      }
      const unreachable = await proxyUnreachable(error, netErrors, endpoint);
      if (unreachable) {
        await onProxyUnreachable(unreachable, loaded, lease.proxyId, job, log);
        throw new ProxyUnreachableError(lease.proxyId, unreachable);
      }
      await onScrapeError(error, loaded, lease.proxyId, job, log);
      throw error;
    } finally {
      signal.removeEventListener('abort', onRelease);
      keepAlive.stop();
      await deps.leases.release(lease).catch(() => undefined);
    }
  };

  /** StartExecution for this run (after RetryExecution when an earlier run left it); the attempt, or null when another run won. */
  async function startRun(job: Job<ScrapeJobData, ScrapeOutcome>, loaded: LoadedExecution, runId: string): Promise<number | null> {
    const executionId = loaded.state.request!.executionId;
    const reason = job.attemptsMade > 0 && job.failedReason ? `retry: ${safeReason(job.failedReason)}` : 'resumed: the previous run did not finish';
    try {
      // one read, one append: the retry an earlier run's leftover needs, then this run's start
      const started = await execute(
        executionId,
        (s): WorkflowExecutionCommand[] => {
          if (isTerminal(s)) return [];
          const now = iso();
          const start: WorkflowExecutionCommand = { type: 'StartExecution', executionId, workerId: runId, now };
          if (s.status !== 'running' && s.status !== 'paused') return [start];
          return [{ type: 'RetryExecution', executionId, attempt: s.attempt + 1, reason, now }, start];
        },
        loaded.context,
      );
      return isTerminal(started.state) ? null : started.state.attempt;
    } catch (error) {
      if (error instanceof DomainError && error.code === 'CONFLICT') return null;
      throw error;
    }
  }

  /** The proxy error the run met (a connection error counts when the proxy refuses connections now), else null. */
  async function proxyUnreachable(error: unknown, netErrors: readonly string[], endpoint: ProxyEndpoint): Promise<string | null> {
    const found = proxyFailureOf(error, netErrors);
    if (!found) return null;
    if (found.kind === 'proxy') return found.detail;
    const alive = await (deps.probeProxy ?? tcpProbe)(endpoint).catch(() => true);
    return alive ? null : `${found.detail} (the proxy refuses connections)`;
  }

  /** The proxy commands' dependencies: failures count towards PROXY_FAILURE_THRESHOLD (application/proxy-observations.ts). */
  function proxyDeps(context: CommandContext, at: Date): ProxyDeps {
    return { store: deps.store, context, now: () => at, thresholds: { ...DEFAULT_HEALTH_THRESHOLDS, failure: deps.proxyFailureThreshold } };
  }

  /** A proxy the run could not reach: the failure is reported, and the job's next try avoids it. */
  async function onProxyUnreachable(
    detail: string,
    loaded: LoadedExecution,
    proxyId: string,
    job: Job<ScrapeJobData, ScrapeOutcome>,
    log: Record<string, unknown>,
  ): Promise<void> {
    deps.logger?.warn({ ...log, reason: detail }, 'scrape run failed: proxy unreachable');
    const avoid = [...new Set([...(job.data.avoidProxyIds ?? []), proxyId])];
    await job
      .updateData({ ...job.data, avoidProxyIds: avoid })
      .catch((error: unknown) => deps.logger?.warn({ ...log, err: error }, 'could not record the proxy to avoid'));
    const at = now();
    try {
      await reportProxyFailure(proxyDeps(loaded.context, at), { proxyId, reason: `unreachable: ${detail}`, platform: null, jobId: job.id ?? null });
    } catch (error) {
      // retired meanwhile (CONFLICT): nothing to report; the retry still avoids it
      if (!(error instanceof DomainError)) throw error;
      deps.logger?.warn({ ...log, err: error }, 'proxy failure not recorded');
    }
  }

  /** What a failed run leaves behind: an invalid account, or a banned proxy. */
  async function onScrapeError(
    error: unknown,
    loaded: LoadedExecution,
    proxyId: string,
    job: Job<ScrapeJobData, ScrapeOutcome>,
    log: Record<string, unknown>,
  ): Promise<void> {
    const request = loaded.state.request!;
    const action = scraperErrorAction(error);
    deps.logger?.warn({ ...log, action, reason: safeReason(error) }, 'scrape run failed');
    const reason = error instanceof ScraperError ? `${error.kind}:${error.reason}${error.url ? ` at ${bareUrl(error.url)}` : ''}` : safeReason(error);
    if (action === 'invalidate_account' && error instanceof LoginWallError) {
      if (request.platformAccountId) {
        await handle(
          deps.store,
          platformAccountAggregate,
          request.platformAccountId,
          { type: 'InvalidateAccount', accountId: request.platformAccountId, requestedBy: null, reason: 'login_wall', detail: reason, now: iso() },
          { context: loaded.context },
        );
      }
      await endExecution(loaded, 'ACCOUNT_INVALID', reason);
      throw new UnrecoverableError(reason);
    }
    if (action === 'ban_proxy' && error instanceof ScraperError) {
      const at = now();
      const until = new Date(at.getTime() + (deps.banMs ?? DEFAULT_BAN_MS)).toISOString();
      const proxyContext = loaded.context;
      await banProxy(proxyDeps(proxyContext, at), { proxyId, platform: error.platform, reason, until });
      await reportProxyFailure(proxyDeps(proxyContext, at), { proxyId, reason, platform: error.platform, jobId: job.id ?? null });
    }
  }
}

/**
 * The dead letter of a scrape job (its last attempt failed): the execution
 * fails (rejected when it never started), once — a repeat is the decider's
 * no-op and the event ids are the job's. Only the execution's newest job may
 * end it.
 */
export function createScrapeDeadLetter(deps: Pick<ScrapeJobDeps, 'store' | 'latestJobId' | 'workerName' | 'logger' | 'now'>) {
  const now = deps.now ?? (() => new Date());
  return async (job: Job<ScrapeJobData, unknown>, error: Error): Promise<void> => {
    const executionId = job.data.executionId;
    const loaded = await loadExecution(deps.store, executionId, `worker:${deps.workerName}`);
    if (!loaded || isTerminal(loaded.state)) return;
    const latest = await deps.latestJobId(executionId);
    if (latest !== undefined && latest !== job.id) return;
    const reason = error.name === 'UnrecoverableError' ? truncateCharacters(error.message, 300) : safeReason(error);
    const at = now().toISOString();
    await handle(
      deps.store,
      workflowExecutionAggregate,
      executionId,
      (state) => endCommand(state, executionId, 'NO_PROXY_AVAILABLE', `dead_letter: ${reason}`, at),
      {
        context: loaded.context,
        eventIds: eventIdsFrom(`worker:dead-letter:${job.id}`),
      },
    );
    deps.logger?.warn({ executionId, jobId: job.id, reason }, 'scrape job dead-lettered');
  };
}

export { NoProxyAvailableError };
