import type { AppContext } from './state.js';
import type { HttpError } from './http-error.js';

/** Answers `{success: true, data, timestamp, request_id}`. */
export function ok(ctx: AppContext, data: unknown, status = 200): void {
  send(ctx, status, { success: true, data, timestamp: new Date().toISOString(), request_id: ctx.state.requestId });
}

/** Answers `{success: false, error: {code, message, details}, timestamp, request_id}`. */
export function fail(ctx: AppContext, error: HttpError): void {
  send(ctx, error.status, {
    success: false,
    // always an object, so `error.details.reason` never throws in a client: {} when there is nothing more to say
    error: { code: error.code, message: error.message, details: error.details ?? {} },
    timestamp: new Date().toISOString(),
    request_id: ctx.state.requestId,
  });
}

/**
 * Serialized here rather than by Koa so that bigints (stream revisions, global
 * positions) become strings instead of failing after the response has started.
 */
function send(ctx: AppContext, status: number, body: object): void {
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.body = JSON.stringify(body, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
}
