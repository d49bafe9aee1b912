import type { Router } from '@koa/router';
import type { Knex } from 'knex';
import Koa from 'koa';
import type { Registry } from 'prom-client';
import type { EventStore } from '../../event-store/index.js';
import type { Logger } from '../../logger.js';
import type { Redis } from '../redis/redis.js';
import { jsonBody } from './body.js';
import type { HttpApi } from './define-route.js';
import { clientAddress } from './middleware/client-address.js';
import { errorEnvelope } from './middleware/error-envelope.js';
import { securityHeaders } from './middleware/security-headers.js';
import { requestId } from './middleware/request-id.js';
import { requestLog } from './middleware/request-log.js';
import { requestMetrics } from './middleware/request-metrics.js';
import { deadLetterMetrics } from '../../metrics.js';
import { OPENAPI_PATH, openApiRouter } from './openapi.js';
import { dependencyChecks, readinessWarnings } from './readiness.js';
import { horizonMetrics } from '../event-store/postgres/horizon.js';
import { operationsRouter } from './routes/operations.js';
import { registerOperationsOpenApi } from './routes/operations-openapi.js';
import type { AppState } from './state.js';

export interface AppDeps {
  logger: Logger;
  metrics: Registry;
  knex: Knex;
  store: EventStore;
  redis: Redis;
  /** feature routers (`/api/v1/...`), mounted after the operational ones */
  routers?: readonly Router<AppState>[];
  /** the registry the routers were defined against: served as /api/v1/openapi.json */
  api?: HttpApi;
  /** most bytes of a JSON request body (default DEFAULT_BODY_LIMIT_BYTES, 1 MiB) */
  bodyLimitBytes?: number;
  /** config TRUST_PROXY: the reverse proxies whose X-Forwarded-For / -Proto are believed (none by default) */
  trustProxy?: readonly string[];
  /** config OPS_TOKEN: when set, /readyz and /metrics want it as a bearer token */
  opsToken?: string;
  /** the client-IP rate limit of /api/ routes not declared with defineRoute (the OpenAPI document) */
  rateLimitByIp?: Koa.Middleware<AppState>;
}

/**
 * The HTTP app. Middleware order matters: the request id comes first so
 * everything can log with it; logging and metrics wrap the error envelope so
 * they see the status that is actually sent.
 */
export function createApp(deps: AppDeps): Koa<AppState> {
  const app = new Koa<AppState>();
  // Koa reads X-Forwarded-Proto only with proxy on; clientAddress removes it unless a trusted proxy sent it
  app.proxy = (deps.trustProxy ?? []).length > 0;
  // errors Koa meets outside our middleware (e.g. a client hanging up mid-stream)
  app.on('error', (error: unknown) => deps.logger.warn({ err: error }, 'http server error'));

  app.use(clientAddress(deps.trustProxy ?? []));
  app.use(securityHeaders());
  app.use(requestId(deps.logger));
  app.use(requestLog());
  app.use(requestMetrics(deps.metrics));
  app.use(errorEnvelope());
  // defineRoute's routes apply the limit themselves (after authentication); the OpenAPI document is the one /api/ path besides them
  const byIp = deps.rateLimitByIp;
  if (byIp) app.use((ctx, next) => (ctx.path === OPENAPI_PATH ? byIp(ctx, next) : next()));
  app.use(jsonBody({ limitBytes: deps.bodyLimitBytes }));
  // read-your-writes refuses a position past the store's head instead of waiting out its bound (read-your-writes.ts)
  app.use((ctx, next) => {
    ctx.state.headPosition = () => deps.store.headPosition();
    return next();
  });

  if (deps.store.kind === 'postgres') horizonMetrics(deps.metrics, deps.knex);
  // every projector's parked events, read from consumer_dead_letters when scraped
  deadLetterMetrics(deps.metrics, deps.knex);
  const routers = [
    operationsRouter({
      checks: dependencyChecks(deps),
      warnings: readinessWarnings(deps),
      metrics: deps.metrics,
      ...(deps.opsToken ? { opsToken: deps.opsToken } : {}),
    }),
  ];
  if (deps.api) {
    registerOperationsOpenApi(deps.api.registry);
    routers.push(openApiRouter(deps.api.registry));
  }
  routers.push(...(deps.routers ?? []));
  for (const router of routers) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return app;
}
