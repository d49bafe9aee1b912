import type { ParameterizedContext } from 'koa';
import type { Position } from '../../event-store/position.js';
import type { Logger } from '../../logger.js';

/** What the app's own middleware puts on `ctx.state` for everything after it. */
export interface AppState {
  requestId: string;
  /** the correlation of the request's events: always the server's own id (X-Correlation-Id in the answer) */
  correlationId?: string;
  /** the caller's X-Correlation-Id when sane: recorded, never the correlation */
  clientCorrelationId?: string;
  /** the app logger bound to this request's id */
  logger: Logger;
  /** the position of the newest event in the store (createApp): how far `?after_position=` may ask a read to wait */
  headPosition?: () => Promise<Position>;
}

export type AppContext = ParameterizedContext<AppState>;
