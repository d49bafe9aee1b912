import { extendZodWithOpenApi, OpenApiGeneratorV31, OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { Router } from '@koa/router';
import { z } from 'zod';
import type { AppState } from './state.js';

// lets route authors annotate schemas with `.openapi({...})`
extendZodWithOpenApi(z);

export const OPENAPI_PATH = '/api/v1/openapi.json';
export const BEARER_AUTH = 'bearerAuth';
export const API_KEY_AUTH = 'apiKeyAuth';

/** `{success:false, error:{code, message, details}, timestamp, request_id}`. */
export const errorEnvelopeSchema = z
  .object({
    success: z.literal(false),
    error: z.object({
      code: z.string().describe('VALIDATION_ERROR, UNAUTHENTICATED, PERMISSION_DENIED, NOT_FOUND, CONFLICT, QUOTA_EXCEEDED, …'),
      message: z.string(),
      details: z
        .record(z.string(), z.unknown())
        .describe(
          'always an object ({} when there is nothing more to say). VALIDATION_ERROR: {issues: [{in, path, message, code}]}; QUOTA_EXCEEDED: {feature, limit, resets_at, and for a daily counter used, plan, subscription_id}',
        ),
    }),
    timestamp: z.string(),
    request_id: z.string(),
  })
  .openapi('ErrorEnvelope');

/** `{success:true, data, message?, timestamp, request_id}` around a route's data. */
export function successEnvelopeSchema<T extends z.ZodType>(data: T) {
  return z.object({ success: z.literal(true), data, message: z.string().optional(), timestamp: z.string(), request_id: z.string() });
}

/** A registry with what every route refers to: the bearer scheme and the error envelope. */
export function createOpenApiRegistry(): OpenAPIRegistry {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', BEARER_AUTH, {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'a short-lived access token from the auth endpoints',
  });
  registry.registerComponent('securitySchemes', API_KEY_AUTH, {
    type: 'apiKey',
    in: 'header',
    name: 'X-API-Key',
    description:
      'a personal API key (`ck_live_…`, POST /api/v1/users/api-keys), also accepted as `Authorization: Bearer ck_live_…`; ' +
      'the scope listed with a route (read, collect, export, manage) is the one the key needs',
  });
  registry.register('ErrorEnvelope', errorEnvelopeSchema);
  return registry;
}

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
}

const DEFAULT_INFO: OpenApiInfo = { title: 'Collector Platform API', version: '0.1.0' };

export function openApiDocument(registry: OpenAPIRegistry, info: OpenApiInfo = DEFAULT_INFO) {
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({ openapi: '3.1.0', info: { ...info } });
}

/** Serves the document (as is, not in the envelope: tools expect OpenAPI at the top). Generated on first request, again when routes were added since. */
export function openApiRouter(registry: OpenAPIRegistry, info?: OpenApiInfo): Router<AppState> {
  // the document lists itself, as every other /api/v1 route
  registry.registerPath({
    method: 'get',
    path: OPENAPI_PATH,
    tags: ['meta'],
    summary: 'This OpenAPI 3.1 document (public; not in the envelope)',
    responses: { 200: { description: 'the document', content: { 'application/json': { schema: z.object({ openapi: z.string() }).passthrough() } } } },
  });
  const router = new Router<AppState>();
  let cached: { definitions: number; json: string } | undefined;
  router.get(OPENAPI_PATH, (ctx) => {
    if (cached?.definitions !== registry.definitions.length) {
      cached = { definitions: registry.definitions.length, json: JSON.stringify(openApiDocument(registry, info)) };
    }
    const document = cached.json;
    ctx.type = 'application/json';
    ctx.body = document;
  });
  return router;
}
