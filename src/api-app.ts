import type { Container } from 'inversify';
import type Koa from 'koa';
import { createApp } from './adapters/http/app.js';
import { authenticate } from './adapters/http/authenticate.js';
import { createHttpApi } from './adapters/http/define-route.js';
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
import type { AppState } from './adapters/http/state.js';
import { servicesRouter } from './read-api/services.js';
import { TOKENS } from './tokens.js';

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
  // routers are defined against `api` (defineRoute): its registry becomes /api/v1/openapi.json
  const api = createHttpApi({ knex, authenticate: authenticate(container.get(TOKENS.AccessTokens)) });
  const routers = [
    authRouter(api, {
      store,
      redis,
      passwordHasher: container.get(TOKENS.PasswordHasher),
      accessTokens: container.get(TOKENS.AccessTokens),
      mailer: () => container.get(TOKENS.Mailer),
      config,
    }),
    usersRouter(api, { store, knex }),
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
  ];
  return createApp({
    logger: container.get(TOKENS.Logger),
    metrics: container.get(TOKENS.Metrics),
    knex,
    store,
    redis,
    api,
    bodyLimitBytes: config.HTTP_BODY_LIMIT_BYTES,
    routers,
  });
}
