import type { Middleware } from 'koa';
import { fail } from '../envelope.js';
import { mapError } from '../error-mapping.js';
import { HttpError } from '../http-error.js';
import type { AppState } from '../state.js';
import { isTransientError } from '../../../consumers/transient-errors.js';

/** Codes for the statuses Koa and its middleware produce on their own. */
const CODE_BY_STATUS: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  412: 'PRECONDITION_FAILED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'VALIDATION_ERROR',
  429: 'RATE_LIMITED',
};

/** What a 503 tells the client to wait: connections come back within seconds. */
const RETRY_AFTER_SECONDS = 2;

/**
 * Every failure leaves as the error envelope: thrown HttpErrors as they are,
 * a dependency that is away (isTransientError: Postgres or Redis restarting,
 * a dropped connection, a serialization failure) as 503 SERVICE_UNAVAILABLE
 * with Retry-After,
 * DomainErrors, zod errors and store conflicts as error-mapping.ts says, client errors from Koa's ecosystem (http-errors with `expose`) by status,
 * anything else as a 500 that says nothing about internals (the log has it),
 * and an empty error response (no route matched, method not allowed) by its status.
 */
export function errorEnvelope(): Middleware<AppState> {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status >= 400 && ctx.body == null) {
        const message = ctx.status === 404 ? `no route for ${ctx.method} ${ctx.path}` : ctx.message;
        fail(ctx, new HttpError(ctx.status, codeFor(ctx.status), message));
      }
    } catch (error) {
      const mapped = mapError(error, ctx);
      let known = mapped?.error ?? exposedClientError(error);
      if (!known && isTransientError(error)) {
        // Postgres or Redis away (a restart, a lost connection) or a conflict that passes: nothing about this request
        ctx.state.logger.warn({ err: error }, 'request failed on a dependency; answered 503');
        ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
        known = new HttpError(503, 'SERVICE_UNAVAILABLE', 'a service the platform depends on is unavailable; retry shortly', {
          retry_after_seconds: RETRY_AFTER_SECONDS,
        });
      }
      if (!known) ctx.state.logger.error({ err: error }, 'request failed');
      for (const [name, value] of Object.entries(mapped?.headers ?? {})) ctx.set(name, value);
      fail(ctx, known ?? new HttpError(500, 'INTERNAL_ERROR', 'Internal server error'));
    }
  };
}

/** http-errors style: a 4xx whose message was meant for the client. */
function exposedClientError(error: unknown): HttpError | undefined {
  const { status, expose, message } = (error ?? {}) as { status?: unknown; expose?: unknown; message?: unknown };
  if (typeof status === 'number' && status >= 400 && status < 500 && expose === true && typeof message === 'string') {
    return new HttpError(status, codeFor(status), message);
  }
  return undefined;
}

function codeFor(status: number): string {
  return CODE_BY_STATUS[status] ?? (status >= 500 ? 'INTERNAL_ERROR' : 'BAD_REQUEST');
}
