import type { Middleware } from 'koa';
import type { AppState } from '../state.js';

/** Probes and scrapes arrive every few seconds: logged at debug so they do not drown the rest. */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** One line per request, with its id, once the response is decided. */
export function requestLog(): Middleware<AppState> {
  return async (ctx, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const entry = {
        method: ctx.method,
        path: ctx.path,
        status: ctx.status,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
      };
      const level = QUIET_PATHS.has(ctx.path) ? 'debug' : ctx.status >= 500 ? 'error' : 'info';
      ctx.state.logger[level](entry, 'request');
    }
  };
}
