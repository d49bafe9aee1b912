import { Router } from '@koa/router';
import type { Registry } from 'prom-client';
import { fail, ok } from '../envelope.js';
import { HttpError } from '../http-error.js';
import { opsTokenCheck } from '../ops-token.js';
import { runChecks, type ReadinessCheck } from '../readiness.js';
import type { AppContext, AppState } from '../state.js';

/**
 * Probes and metrics for the platform that runs us (compose, Kubernetes,
 * Prometheus). /healthz says only that the process answers and is public.
 * /readyz (which names failing dependencies and lagging transactions) and
 * /metrics (which describe the traffic) want `Authorization: Bearer
 * <OPS_TOKEN>` when an ops token is configured (production requires one).
 */
export function operationsRouter(deps: {
  checks: readonly ReadinessCheck[];
  warnings?: () => Promise<string[]>;
  metrics: Registry;
  opsToken?: string;
}): Router<AppState> {
  const router = new Router<AppState>();
  const hasOpsToken = opsTokenCheck(deps.opsToken);
  const opsOnly = async (ctx: AppContext, next: () => Promise<unknown>) => {
    if (!hasOpsToken(ctx.get('Authorization'))) {
      ctx.set('WWW-Authenticate', 'Bearer');
      throw new HttpError(401, 'UNAUTHENTICATED', 'this endpoint wants the ops token (Authorization: Bearer <OPS_TOKEN>)');
    }
    await next();
  };

  // Liveness: the process answers. Deliberately checks nothing else.
  router.get('/healthz', (ctx) => {
    ok(ctx, { status: 'ok', uptime_seconds: Math.round(process.uptime()) });
  });

  router.get('/readyz', opsOnly, async (ctx) => {
    const [checks, warnings] = await Promise.all([
      runChecks(deps.checks, ctx.state.logger),
      (deps.warnings?.() ?? Promise.resolve([])).catch((error: unknown) => {
        ctx.state.logger.warn({ err: error }, 'readiness warnings could not be read');
        return [];
      }),
    ]);
    const failing = Object.entries(checks).filter(([, result]) => result !== 'ok');
    if (failing.length === 0) {
      // warnings say what lags; the API still serves
      ok(ctx, { status: 'ready', checks, ...(warnings.length > 0 ? { warnings } : {}) });
      return;
    }
    const summary = failing.map(([name, result]) => `${name} ${result}`).join(', ');
    fail(ctx, new HttpError(503, 'NOT_READY', `not ready: ${summary}`, { checks }));
  });

  router.get('/metrics', opsOnly, async (ctx) => {
    ctx.type = deps.metrics.contentType;
    ctx.body = await deps.metrics.metrics();
  });

  return router;
}
