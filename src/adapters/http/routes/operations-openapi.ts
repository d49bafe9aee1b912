import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { errorEnvelopeSchema, successEnvelopeSchema } from '../openapi.js';

const checks = z.record(z.string(), z.enum(['ok', 'failed', 'timed out'])).describe('postgres, event_store, redis');

const opsAuth = {
  401: {
    description: 'OPS_TOKEN is configured and the request does not carry it (UNAUTHENTICATED)',
    content: { 'application/json': { schema: errorEnvelopeSchema } },
  },
};
const OPS_TOKEN_AUTH = 'opsToken';
const opsNote = ' When OPS_TOKEN is configured (production requires it), only `Authorization: Bearer <OPS_TOKEN>` gets an answer.';

/** The operational endpoints (operations.ts) in the OpenAPI document: /healthz is public; /readyz and /metrics take the ops token when one is set. */
export function registerOperationsOpenApi(registry: OpenAPIRegistry): void {
  registry.registerComponent('securitySchemes', OPS_TOKEN_AUTH, {
    type: 'http',
    scheme: 'bearer',
    description: 'the OPS_TOKEN the process is configured with (/readyz and /metrics); without one configured they are open',
  });
  // the token, or nothing when none is configured (an empty requirement: no credential)
  const security: Record<string, string[]>[] = [{ [OPS_TOKEN_AUTH]: [] }, {}];
  registry.registerPath({
    method: 'get',
    path: '/healthz',
    tags: ['operations'],
    summary: 'Liveness: the process answers (checks nothing else)',
    responses: {
      200: {
        description: 'alive',
        content: { 'application/json': { schema: successEnvelopeSchema(z.object({ status: z.literal('ok'), uptime_seconds: z.number().int() })) } },
      },
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/readyz',
    tags: ['operations'],
    security,
    summary: 'Readiness: Postgres, the event store and Redis answer',
    description:
      '503 NOT_READY names the dependency that does not answer. `warnings` (still 200) names a transaction that has held back event delivery for more than 5 s: the views lag until it ends.' +
      opsNote,
    responses: {
      200: {
        description: 'ready',
        content: {
          'application/json': { schema: successEnvelopeSchema(z.object({ status: z.literal('ready'), checks, warnings: z.array(z.string()).optional() })) },
        },
      },
      503: { description: 'a dependency does not answer (details.checks)', content: { 'application/json': { schema: errorEnvelopeSchema } } },
      ...opsAuth,
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/metrics',
    tags: ['operations'],
    security,
    summary: 'Prometheus metrics (text exposition format)',
    description: opsNote.trim(),
    responses: { 200: { description: 'metrics', content: { 'text/plain': { schema: z.string() } } }, ...opsAuth },
  });
}
