import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from '../../../logger.js';
import type { AppState } from '../state.js';

/** A caller's id is kept when it is short and plain enough to log and echo safely. */
const SANE_REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * Takes `X-Request-Id` from the caller (or makes one), echoes it, and binds a
 * logger to it. The correlation of the request's events is the server's own,
 * a fresh id answered in `X-Correlation-Id`; a caller's sane X-Correlation-Id
 * is recorded beside it as `clientCorrelationId` (their own reference), never
 * as the correlation: otherwise anyone could write into another flow's
 * audit timeline by naming its id.
 */
export function requestId(logger: Logger): Middleware<AppState> {
  return async (ctx, next) => {
    const given = ctx.get('X-Request-Id');
    const id = SANE_REQUEST_ID.test(given) ? given : randomUUID();
    ctx.state.requestId = id;
    ctx.state.logger = logger.child({ requestId: id });
    ctx.set('X-Request-Id', id);
    const client = ctx.get('X-Correlation-Id');
    if (SANE_REQUEST_ID.test(client)) ctx.state.clientCorrelationId = client;
    // our own request id starts the correlation; a caller's never does
    ctx.state.correlationId = id === given ? randomUUID() : id;
    ctx.set('X-Correlation-Id', ctx.state.correlationId);
    await next();
  };
}
