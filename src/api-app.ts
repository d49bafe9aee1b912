import type { Container } from 'inversify';
import type Koa from 'koa';
import { createApp } from './adapters/http/app.js';
import { createHttpApi } from './adapters/http/define-route.js';
import type { AppState } from './adapters/http/state.js';
import { TOKENS } from './tokens.js';

/**
 * The API exactly as the api process serves it, wired from the container.
 * Shared by src/main/api.ts and the end-to-end tests, so the tests exercise
 * what production runs. Later issues add their `/api/v1` routers here.
 */
export function createApiApp(container: Container): Koa<AppState> {
  const knex = container.get(TOKENS.Knex);
  // routers are defined against `api` (defineRoute): its registry becomes /api/v1/openapi.json
  const api = createHttpApi({ knex });
  return createApp({
    logger: container.get(TOKENS.Logger),
    metrics: container.get(TOKENS.Metrics),
    knex,
    store: container.get(TOKENS.EventStore),
    redis: container.get(TOKENS.Redis),
    api,
    bodyLimitBytes: container.get(TOKENS.Config).HTTP_BODY_LIMIT_BYTES,
    routers: [],
  });
}
