import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from '../../../logger.js';
import type { AppState } from '../state.js';

/** A caller's id is kept when it is short and plain enough to log and echo safely. */
const SANE_REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * Takes `X-Request-Id` from the caller (or makes one), echoes it, and binds a
 * logger to it. A sane `X-Correlation-Id` is kept too: commands put it into
 * their events' metadata so an audit can follow a flow across requests.
 */
export function requestId(logger: Logger): Middleware<AppState> {
  return async (ctx, next) => {
    const given = ctx.get('X-Request-Id');
    const id = SANE_REQUEST_ID.test(given) ? given : randomUUID();
    ctx.state.requestId = id;
    ctx.state.logger = logger.child({ requestId: id });
    ctx.set('X-Request-Id', id);
    const correlation = ctx.get('X-Correlation-Id');
    if (SANE_REQUEST_ID.test(correlation)) ctx.state.correlationId = correlation;
    ctx.set('X-Correlation-Id', ctx.state.correlationId ?? id);
    await next();
  };
}
