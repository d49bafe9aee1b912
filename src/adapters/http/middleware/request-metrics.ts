import type { Middleware } from 'koa';
import { Histogram, type Registry } from 'prom-client';
import type { AppState } from '../state.js';

const NAME = 'http_request_duration_seconds';

/**
 * Request durations by method, route pattern and status. The route is the
 * router's pattern (`/api/v1/workflows/:id`), never the raw path, so the
 * number of series stays bounded.
 */
export function requestMetrics(registry: Registry): Middleware<AppState> {
  // an app built twice on one registry (tests) shares the histogram
  const histogram =
    (registry.getSingleMetric(NAME) as Histogram<'method' | 'route' | 'status_code'> | undefined) ??
    new Histogram({
      name: NAME,
      help: 'Duration of HTTP requests in seconds',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });

  return async (ctx, next) => {
    const stop = histogram.startTimer({ method: ctx.method });
    try {
      await next();
    } finally {
      const route = (ctx as { _matchedRoute?: unknown })._matchedRoute;
      stop({ route: typeof route === 'string' ? route : 'unmatched', status_code: String(ctx.status) });
    }
  };
}
