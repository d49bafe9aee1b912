import type { Container } from 'inversify';
import type Koa from 'koa';
import { createApp } from './adapters/http/app.js';
import { SessionStanding } from './adapters/auth/session-standing.js';
import { ApiKeyStanding } from './adapters/auth/api-key-standing.js';
import { DailyApiKeyUse } from './application/api-keys.js';
import { hasSecondFactor } from './application/authorization/second-factor.js';
import { commandContext } from './adapters/http/command-context.js';
import { authenticate } from './adapters/http/authenticate.js';
import { apiRateLimit } from './adapters/http/middleware/api-rate-limit.js';
import { consoleApp } from './adapters/http/console.js';
import { createHttpApi, sessionOnly } from './adapters/http/define-route.js';
import { apiKeysRouter } from './adapters/http/routes/api-keys.js';
import { batchRouter } from './adapters/http/routes/batch.js';
import { idempotencyHashKey } from './adapters/http/idempotency.js';
import { ADMIN_QUEUE_NAMES, AdminQueues, adminRouter } from './adapters/http/routes/admin.js';
import { createQueueOperations } from './adapters/queue/queue-operations.js';
import { adminUsersRouter } from './adapters/http/routes/admin-users.js';
import { authRouter } from './adapters/http/routes/auth.js';
import { adminPaymentsRouter, paymentsRouter } from './adapters/http/routes/payments.js';
import { paymentProvidersFromConfig } from './adapters/payments/from-config.js';
import { httpProxyProber } from './adapters/proxies/prober.js';
import { platformAccountsRouter, xiaohongshuAccountsRouter } from './adapters/http/routes/platform-accounts.js';
import { oauthAccountsRouter } from './adapters/http/routes/oauth-accounts.js';
import { proxiesRouter } from './adapters/http/routes/proxies.js';
import { notificationsRouter } from './adapters/http/routes/notifications.js';
import { qidianRouter } from './adapters/http/routes/qidian.js';
import { competitorAnalysisRouter } from './adapters/http/routes/competitor-analysis.js';
import { statisticalInsightsRouter } from './adapters/http/routes/statistical-insights.js';
import { reportsRouter } from './adapters/http/routes/reports.js';
import { statisticsRouter } from './adapters/http/routes/statistics.js';
import { BullMqStatisticsExportOutbox } from './adapters/queue/statistics-exports-queue.js';
import { qidianAlertsRouter } from './adapters/http/routes/qidian-alerts.js';
import { subscriptionsRouter } from './adapters/http/routes/subscriptions.js';
import { usersRouter } from './adapters/http/routes/users.js';
import { mfaRouter } from './adapters/http/routes/mfa.js';
import { workflowsRouter } from './adapters/http/routes/workflows.js';
import { xiaohongshuRouter } from './adapters/http/routes/xiaohongshu.js';
import { xiaohongshuMessagesRouter } from './adapters/http/routes/xiaohongshu-messages.js';
import { reviewRulesRouter } from './adapters/http/routes/review-rules.js';
import { reviewsRouter } from './adapters/http/routes/reviews.js';
import { publicationsRouter } from './adapters/http/routes/publications.js';
import { publishingCapabilities } from './platforms/publishing/registry.js';
import { articlesRouter } from './adapters/http/routes/articles.js';
import { mediaRouter } from './adapters/http/routes/media.js';
import { smsRouter } from './adapters/http/routes/sms.js';
import { ledgerRouter } from './adapters/http/routes/ledger.js';
import { financeRouter } from './adapters/http/routes/finance.js';
import { overageCharger } from './application/ledger/overage.js';
import { smsBatchesRouter } from './adapters/http/routes/sms-batches.js';
import { smsSendWindows } from './adapters/sms/send-windows.js';
import { redisTurns } from './adapters/redis/turns.js';
import { organizationsRouter } from './adapters/http/routes/organizations.js';
import { invitationsRouter } from './adapters/http/routes/invitations.js';
import type { InvitationMailJob } from './application/organization-invitations.js';
import { phoneRouter } from './adapters/http/routes/phone.js';
import { adminMfaRouter } from './adapters/http/routes/admin-mfa.js';
import { smsCodeStores } from './adapters/redis/sms-codes.js';
import { smsChannelFromConfig, smsNonceCache, smsUnavailableReason } from './adapters/sms/from-config.js';
import { FixedWindowRateLimiter } from './adapters/rate-limit/fixed-window.js';
import { QUEUE_NAMES, QueueFactory } from './adapters/queue/queues.js';
import { BullMqMailOutbox, mailRetryPolicy } from './adapters/queue/mail-queue.js';
import { AuthRateLimits } from './adapters/rate-limit/auth-rate-limits.js';
import type { VerificationMailJob } from './application/email-verification.js';
import type { ResetMailJob } from './application/password-reset-mail.js';
import type { ReportMailJob } from './application/reports.js';
import type { Queue } from 'bullmq';
import type { AppState } from './adapters/http/state.js';
import { servicesRouter } from './adapters/http/routes/services.js';
import { TOKENS } from './tokens.js';
import { withConsumerCatalogue } from './main/consumers.js';

/**
 * The API exactly as the api process serves it, wired from the container.
 * Shared by src/main/api.ts and the end-to-end tests, so the tests exercise
 * what production runs. Later issues add their `/api/v1` routers here.
 */
export function createApiApp(container: Container): Koa<AppState> {
  const knex = container.get(TOKENS.Knex);
  const config = container.get(TOKENS.Config);
  const store = container.get(TOKENS.EventStore);
  const redis = container.get(TOKENS.Redis);
  // producer handles on the queues for the admin API and the dashboard, opened on first use, closed with the container
  const queueFactory = new QueueFactory({ redisUrl: config.REDIS_URL, prefix: config.QUEUE_PREFIX, connectionName: 'collector-api' });
  const adminQueues = new AdminQueues(queueFactory);
  // the mail outbox the API queues verification and reset links into (opened on the first one)
  let mailQueue: Queue | undefined;
  const outbox = () => new BullMqMailOutbox((mailQueue ??= queueFactory.queue(QUEUE_NAMES.mail)), mailRetryPolicy(config));
  const mailOutbox = {
    enqueueVerificationMail: (job: VerificationMailJob) => outbox().enqueueVerificationMail(job),
    enqueueResetMail: (job: ResetMailJob) => outbox().enqueueResetMail(job),
    enqueueReportMail: (job: ReportMailJob) => outbox().enqueueReportMail(job),
    enqueueInvitationMail: (job: InvitationMailJob) => outbox().enqueueInvitationMail(job),
  };
  // the live queue monitor and the audited interventions (/api/v1/admin/queues/…), on the same producer handles
  const queueOperations = createQueueOperations({
    factory: queueFactory,
    names: ADMIN_QUEUE_NAMES,
    queue: (name) => adminQueues.get(name),
    redis,
    store,
    logger: container.get(TOKENS.Logger),
  });
  container.onDeactivation(TOKENS.Redis, async () => {
    await queueOperations.close();
    await adminQueues.close();
    await mailQueue?.close();
  });
  const verification =
    config.EMAIL_VERIFICATION === 'required'
      ? { store, outbox: mailOutbox, secretBox: container.get(TOKENS.SecretBox), ttlMinutes: config.EMAIL_VERIFICATION_TTL_HOURS * 60 }
      : undefined;
  const authLimits = new AuthRateLimits(redis, config);
  // one-time codes by SMS (phone verification, login codes): their key, limits and pending login codes in Redis
  const smsCodes = smsCodeStores(redis, config);
  const smsOffered = smsUnavailableReason(config) === null;
  // routers are defined against `api` (defineRoute): its registry becomes /api/v1/openapi.json
  const limits = apiRateLimit(redis, {
    perIpPerSecond: config.API_RATE_LIMIT_PER_IP,
    perUserPerSecond: config.API_RATE_LIMIT_PER_USER,
    burstSeconds: config.API_RATE_LIMIT_BURST_SECONDS,
  });
  const apiKeyStanding = new ApiKeyStanding(store);
  const apiKeyUse = new DailyApiKeyUse(store, { timeZone: config.QUOTA_TIME_ZONE });
  const api = createHttpApi({
    knex,
    // the token's session must still stand, with the user's role as it is now (cached a second per session)
    // personal API keys too (X-API-Key or Bearer ck_…): the key, its user and their plans read again at most once a second per key; its use recorded once a day
    authenticate: authenticate(container.get(TOKENS.AccessTokens), new SessionStanding(store), {
      check: (token) => apiKeyStanding.check(token),
      used: (keyId, userId, ctx) => apiKeyUse.record(keyId, userId, commandContext(ctx, userId)),
    }),
    rateLimit: limits,
    idempotency: { hashKey: idempotencyHashKey(config.JWT_SECRET) },
    // the access policy (docs/rbac.md): the caller's organization and roles, and (API keys) whether they have a second factor
    memberships: container.get(TOKENS.MembershipDirectory),
    hasSecondFactor: (userId) => hasSecondFactor(store, userId),
  });
  // the payment providers orders are placed with (those whose merchant keys are configured)
  const payments = paymentProvidersFromConfig(config);
  const routers = [
    // the account, its keys and billing: a session token only (an API key gets 403)
    authRouter(sessionOnly(api), {
      store,
      redis,
      passwordHasher: container.get(TOKENS.PasswordHasher),
      accessTokens: container.get(TOKENS.AccessTokens),
      resetMail: { outbox: mailOutbox, secretBox: container.get(TOKENS.SecretBox) },
      config,
      ...(verification ? { verification } : {}),
      ...(smsOffered ? { smsCodes } : {}),
    }),
    usersRouter(sessionOnly(api), {
      store,
      knex,
      limits: authLimits,
      passwordHasher: container.get(TOKENS.PasswordHasher),
      ...(verification ? { verification } : {}),
    }),
    // the second factor: TOTP enrollment, recovery codes, turning it off (/users/mfa/…)
    mfaRouter(sessionOnly(api), {
      store,
      redis,
      secretBox: container.get(TOKENS.SecretBox),
      passwordHasher: container.get(TOKENS.PasswordHasher),
      limits: authLimits,
      config,
    }),
    // the phone number (/users/me/phone) and SMS codes as a second factor (/users/mfa/sms)
    phoneRouter(sessionOnly(api), {
      store,
      secretBox: container.get(TOKENS.SecretBox),
      passwordHasher: container.get(TOKENS.PasswordHasher),
      codes: smsCodes,
      limits: authLimits,
      unavailableReason: smsUnavailableReason(config),
    }),
    servicesRouter(api),
    apiKeysRouter(api, { store, knex, turns: redisTurns(redis, config.QUEUE_PREFIX) }),
    paymentsRouter(sessionOnly(api), { store, knex, config, providers: payments }),
    adminPaymentsRouter(api, { store, providers: payments }),
    subscriptionsRouter(api, {
      store,
      knex,
      timeZone: config.QUOTA_TIME_ZONE,
      checkout: { providers: payments, ttlMinutes: config.PAYMENT_ORDER_TTL_MINUTES },
      turns: redisTurns(redis, config.QUEUE_PREFIX),
    }),
    platformAccountsRouter(api, { store, knex, secretBox: container.get(TOKENS.SecretBox), config }),
    // binding accounts on the open platforms through OAuth: /platform-accounts/oauth/{platforms,{platform}/authorize,{platform}/callback}
    oauthAccountsRouter(api, { store, redis, secretBox: container.get(TOKENS.SecretBox), config }),
    // the /xiaohongshu/accounts paths: the same handlers, restricted to Xiaohongshu accounts
    xiaohongshuAccountsRouter(api, { store, knex, secretBox: container.get(TOKENS.SecretBox), config }),
    workflowsRouter(api, { store, knex, timeZone: config.QUOTA_TIME_ZONE }),
    xiaohongshuRouter(api, { store, knex, timeZone: config.QUOTA_TIME_ZONE }),
    // POST /xiaohongshu/messages (sent by the worker), GET /xiaohongshu/messages/outgoing[/{id}]
    xiaohongshuMessagesRouter(api, { store, knex }),
    // POST /articles/{id}/publish, GET /publications[/{id}], cancel and unpublish (the worker's publish queue publishes)
    publicationsRouter(api, {
      store,
      knex,
      timeZone: config.QUOTA_TIME_ZONE,
      publishers: publishingCapabilities(config),
      // past daily_publications: charged to the prepaid balance when the holder opted in
      overage: overageCharger(store, container.get(TOKENS.LedgerCharges)),
    }),
    proxiesRouter(api, {
      store,
      knex,
      secretBox: container.get(TOKENS.SecretBox),
      turns: redisTurns(redis, config.QUEUE_PREFIX),
      thresholds: { failure: config.PROXY_FAILURE_THRESHOLD, recovery: config.PROXY_RECOVERY_THRESHOLD },
      probe: { target: config.PROXY_HEALTH_TARGET_URL, timeoutMs: 10_000, prober: httpProxyProber },
    }),
    qidianRouter(api, { store, knex, timeZone: config.QUOTA_TIME_ZONE }),
    // plan features competitor_analysis (qidian) and ai_insights (xiaohongshu: statistical insights)
    competitorAnalysisRouter(api, { store, knex }),
    statisticalInsightsRouter(api, { store, knex, timeZone: config.QUOTA_TIME_ZONE }),
    // custom_reports: scheduled reports, run now, their files (the reports job runs the schedules: src/adapters/queue/reports-queue.ts)
    reportsRouter(api, { store, knex, config, mail: mailOutbox, turns: redisTurns(redis, config.QUEUE_PREFIX) }),
    // usage statistics by day, platform, country, organization, …; live counters; exports made by the reports worker
    statisticsRouter(api, {
      store,
      knex,
      timeZone: config.QUOTA_TIME_ZONE,
      exports: new BullMqStatisticsExportOutbox(() => adminQueues.get(QUEUE_NAMES.reports)),
      logger: container.get(TOKENS.Logger),
    }),
    // batch_operations: POST /xiaohongshu/contents/batch-delete, /platform-accounts/batch, /qidian/trackings/batch
    batchRouter(api, { store, knex, secretBox: container.get(TOKENS.SecretBox), config }),
    qidianAlertsRouter(api, { store, knex, timeZone: config.QUOTA_TIME_ZONE, turns: redisTurns(redis, config.QUEUE_PREFIX) }),
    notificationsRouter(api, { store, knex }),
    // content review: the rule sets and the dry run (/review-rules), the human review queue (/reviews)
    reviewRulesRouter(api, { store, knex }),
    reviewsRouter(api, { store, knex, claimTtlMinutes: config.REVIEW_CLAIM_TTL_MINUTES }),
    // articles (drafts kept as versions) and the images they name (bytes in MEDIA_STORAGE_URL)
    articlesRouter(api, { store, knex }),
    mediaRouter(api, { store, knex, storage: container.get(TOKENS.MediaStorage), maxBytes: config.MEDIA_MAX_BYTES }),
    // SMS through the provider (503 where it is not configured): sends, my messages and inbound, the provider's signed callbacks
    smsRouter(api, {
      store,
      knex,
      channel: smsChannelFromConfig(config),
      unavailableReason: smsUnavailableReason(config),
      limits: new FixedWindowRateLimiter(redis, {
        prefix: `${config.QUEUE_PREFIX}:ratelimit:sms-send`,
        limit: config.SMS_SENDS_PER_USER_PER_MINUTE,
        windowMs: 60_000,
      }),
      nonces: smsNonceCache(redis, config.QUEUE_PREFIX),
      config,
      // enterprise SMS: the organization's send limit, the charge to its balance (where the ledger is bound and SMS_CHARGE_LEDGER)
      organizationLimits: smsSendWindows(redis, config),
      ledger: config.SMS_CHARGE_LEDGER && container.isBound(TOKENS.LedgerCharges) ? container.get(TOKENS.LedgerCharges) : null,
      chargeTurns: redisTurns(redis, config.QUEUE_PREFIX),
      membership: container.isBound(TOKENS.MembershipDirectory) ? container.get(TOKENS.MembershipDirectory) : null,
    }),
    // SMS batches through the content review, their progress; inbound keywords (/sms/batches, /sms/keywords)
    smsBatchesRouter(api, {
      store,
      knex,
      unavailableReason: smsUnavailableReason(config),
      membership: container.isBound(TOKENS.MembershipDirectory) ? container.get(TOKENS.MembershipDirectory) : null,
      config,
    }),
    // organizations: members, invitations by mail, custom roles (/organizations, /invitations; /customers/… aliases)
    organizationsRouter(api, {
      store,
      knex,
      outbox: mailOutbox,
      secretBox: container.get(TOKENS.SecretBox),
      invitationTtlHours: config.INVITATION_TTL_HOURS,
      memberships: container.get(TOKENS.MembershipDirectory),
      turns: redisTurns(redis, config.QUEUE_PREFIX),
    }),
    invitationsRouter(api, { store, knex, memberships: container.get(TOKENS.MembershipDirectory) }),
    // the prepaid balance: /ledger (balance, postings, top-ups, settings, prices, statements), operators' credit limits and profit
    ledgerRouter(api, { store, knex, config, providers: payments }),
    financeRouter(api, { knex, config }),
    adminUsersRouter(api, { store, knex }),
    // POST /admin/users/{id}/mfa/reset
    adminMfaRouter(api, { store }),
    adminRouter(api, {
      ops: { store, knex, databaseUrl: config.DATABASE_URL, timeZone: config.QUOTA_TIME_ZONE, logger: container.get(TOKENS.Logger) },
      queues: adminQueues,
      // a retry of a parked event runs it through the projector's own consumers, built for that request
      withConsumers: (run) => withConsumerCatalogue(container, config, (catalogue) => run(catalogue.find)),
      queueOperations,
    }),
  ];
  const app = createApp({
    logger: container.get(TOKENS.Logger),
    metrics: container.get(TOKENS.Metrics),
    knex,
    store,
    redis,
    api,
    bodyLimitBytes: config.HTTP_BODY_LIMIT_BYTES,
    trustProxy: config.TRUST_PROXY,
    rateLimitByIp: limits.anonymous,
    ...(config.OPS_TOKEN ? { opsToken: config.OPS_TOKEN } : {}),
    routers,
  });
  // the operator console (/console: page app, session, bull-board), after the API routes
  app.use(consoleApp({ accessTokens: container.get(TOKENS.AccessTokens), redis, queues: adminQueues, keyPrefix: config.QUEUE_PREFIX }));
  // before the server closes (src/main/api.ts): the live queue streams end, or they would hold it open
  app.on('closing', () => void queueOperations.monitor.close());
  return app;
}
