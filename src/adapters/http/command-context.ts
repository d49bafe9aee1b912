import { contextFromRequest, type CommandContext } from '../../write-model/core/command-context.js';
import type { AppContext } from './state.js';

/** The CommandContext of a command sent over HTTP: request, correlation and (once authenticated) the user. */
export function commandContext(ctx: AppContext, userId?: string): CommandContext {
  return contextFromRequest({
    requestId: ctx.state.requestId,
    correlationId: ctx.state.correlationId,
    clientCorrelationId: ctx.state.clientCorrelationId,
    userId,
  });
}
