import type { Container } from 'inversify';
import type Koa from 'koa';
import { createApp } from './adapters/http/app.js';
import { SessionStanding } from './adapters/auth/session-standing.js';
import { authenticate } from './adapters/http/authenticate.js';
import { apiRateLimit } from './adapters/http/middleware/api-rate-limit.js';
import { consoleApp } from './adapters/http/console.js';
import { createHttpApi } from './adapters/http/define-route.js';
import { idempotencyHashKey } from './adapters/http/idempotency.js';
import { AdminQueues, adminRouter } from './adapters/http/routes/admin.js';
import { adminUsersRouter } from './adapters/http/routes/admin-users.js';
import { authRouter } from './adapters/http/routes/auth.js';
import { paymentsRouter } from './adapters/http/routes/payments.js';
import { platformAccountsRouter } from './adapters/http/routes/platform-accounts.js';
import { proxiesRouter } from './adapters/http/routes/proxies.js';
import { notificationsRouter } from './adapters/http/routes/notifications.js';
import { qidianRouter } from './adapters/http/routes/qidian.js';
import { subscriptionsRouter } from './adapters/http/routes/subscriptions.js';
import { usersRouter } from './adapters/http/routes/users.js';
import { workflowsRouter } from './adapters/http/routes/workflows.js';
import { xiaohongshuRouter } from './adapters/http/routes/xiaohongshu.js';
import { QUEUE_NAMES, QueueFactory } from './adapters/queue/queues.js';
import { BullMqMailOutbox, mailRetryPolicy } from './adapters/queue/mail-queue.js';
import { AuthRateLimits } from './adapters/rate-limit/auth-rate-limits.js';
import type { VerificationMailJob } from './application/email-verification.js';
import type { ResetMailJob } from './application/password-reset-mail.js';
import type { Queue } from 'bullmq';
import type { AppState } from './adapters/http/state.js';
import { servicesRouter } from './read-api/services.js';
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
  };
  container.onDeactivation(TOKENS.Redis, async () => {
    await adminQueues.close();
    await mailQueue?.close();
  });
  const verification =
    config.EMAIL_VERIFICATION === 'required'
      ? { store, outbox: mailOutbox, secretBox: container.get(TOKENS.SecretBox), ttlMinutes: config.EMAIL_VERIFICATION_TTL_HOURS * 60 }
      : undefined;
  const authLimits = new AuthRateLimits(redis, config);
  // routers are defined against `api` (defineRoute): its registry becomes /api/v1/openapi.json
  const limits = apiRateLimit(redis, {
    perIpPerSecond: config.API_RATE_LIMIT_PER_IP,
    perUserPerSecond: config.API_RATE_LIMIT_PER_USER,
    burstSeconds: config.API_RATE_LIMIT_BURST_SECONDS,
  });
  const api = createHttpApi({
    knex,
    // the token's session must still stand, with the user's role as it is now (cached a second per session)
    authenticate: authenticate(container.get(TOKENS.AccessTokens), new SessionStanding(store)),
    rateLimit: limits,
    idempotency: { hashKey: idempotencyHashKey(config.JWT_SECRET) },
  });
  const routers = [
    authRouter(api, {
      store,
      redis,
      passwordHasher: container.get(TOKENS.PasswordHasher),
      accessTokens: container.get(TOKENS.AccessTokens),
      resetMail: { outbox: mailOutbox, secretBox: container.get(TOKENS.SecretBox) },
      config,
      ...(verification ? { verification } : {}),
    }),
    usersRouter(api, { store, knex, limits: authLimits, ...(verification ? { verification } : {}) }),
    servicesRouter(api),
    paymentsRouter(api, { store, config }),
    subscriptionsRouter(api, { store, knex, timeZone: config.QUOTA_TIME_ZONE }),
    platformAccountsRouter(api, { store, knex, secretBox: container.get(TOKENS.SecretBox), config }),
    workflowsRouter(api, { store, knex, timeZone: config.QUOTA_TIME_ZONE }),
    xiaohongshuRouter(api, { store, knex, timeZone: config.QUOTA_TIME_ZONE }),
    proxiesRouter(api, {
      store,
      knex,
      secretBox: container.get(TOKENS.SecretBox),
      thresholds: { failure: config.PROXY_FAILURE_THRESHOLD, recovery: config.PROXY_RECOVERY_THRESHOLD },
    }),
    qidianRouter(api, { store, knex, timeZone: config.QUOTA_TIME_ZONE }),
    notificationsRouter(api, { store, knex }),
    adminUsersRouter(api, { store, knex }),
    adminRouter(api, {
      ops: { store, knex, databaseUrl: config.DATABASE_URL, timeZone: config.QUOTA_TIME_ZONE, logger: container.get(TOKENS.Logger) },
      queues: adminQueues,
      // a retry of a parked event runs it through the projector's own consumers, built for that request
      withConsumers: (run) => withConsumerCatalogue(container, config, (catalogue) => run(catalogue.find)),
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
  return app;
}
