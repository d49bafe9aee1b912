import type { ParameterizedContext } from 'koa';
import type { Logger } from '../../logger.js';

/** What the app's own middleware puts on `ctx.state` for everything after it. */
export interface AppState {
  requestId: string;
  /** the caller's X-Correlation-Id when it continues a flow; else the request starts one */
  correlationId?: string;
  /** the app logger bound to this request's id */
  logger: Logger;
}

export type AppContext = ParameterizedContext<AppState>;
