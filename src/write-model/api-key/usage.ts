import type { Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, invalid, requireText } from '../core/validate.js';
import type { ApiKeyUsageCommand, RecordApiKeyUse } from './commands.js';
import { apiKeyUsageEvents, type ApiKeyUsageEvent } from './events.js';
import { initialApiKeyUsageState, type ApiKeyUsageState } from './state.js';

/**
 * A key's use on one day: stream `api_key_usage-{keyId}_{YYYYMMDD}`, one
 * event at most. The API records the first request a key makes each day
 * (the "last used" day of GET /users/api-keys); every other request of the
 * day writes nothing, so the cost of a key does not grow with its use.
 *
 * Rules (tests/unit/api-key.spec.test.ts):
 * - RecordApiKeyUse: day is YYYY-MM-DD; the first use is ApiKeyUsed, a
 *   repeat for the same key and day is []; another key or day in the same
 *   stream is CONFLICT (the stream id names both).
 */

export function apiKeyUsageId(keyId: string, day: string): string {
  return `${keyId}_${day.replaceAll('-', '')}`;
}

export function apiKeyUsageStream(id: string): string {
  return `api_key_usage-${id}`;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

function record(command: RecordApiKeyUse, state: ApiKeyUsageState): ApiKeyUsageEvent[] {
  instant(command.now, 'now');
  const keyId = requireText(command.keyId, 'keyId');
  const userId = requireText(command.userId, 'userId');
  if (typeof command.day !== 'string' || !DAY.test(command.day) || Number.isNaN(Date.parse(`${command.day}T00:00:00Z`))) {
    throw invalid('day must be YYYY-MM-DD', { field: 'day', got: command.day });
  }
  if (state.recorded) {
    if (state.keyId !== keyId || state.day !== command.day)
      throw new DomainError('CONFLICT', "this usage stream is another key's or day's", { keyId, day: command.day });
    return [];
  }
  return [{ type: 'ApiKeyUsed', data: { keyId, userId, day: command.day, usedAt: command.now } }];
}

function decide(command: ApiKeyUsageCommand, state: ApiKeyUsageState): ApiKeyUsageEvent[] {
  switch (command.type) {
    case 'RecordApiKeyUse':
      return record(command, state);
    default: {
      const unknown: never = command.type;
      throw invalid('unknown command', { type: unknown });
    }
  }
}

function evolve(_state: ApiKeyUsageState, event: ApiKeyUsageEvent): ApiKeyUsageState {
  const d = event.data;
  return { recorded: true, keyId: d.keyId, userId: d.userId, day: d.day, usedAt: d.usedAt };
}

export const apiKeyUsageDecider: Decider<ApiKeyUsageState, ApiKeyUsageCommand, ApiKeyUsageEvent> = {
  initialState: initialApiKeyUsageState,
  decide,
  evolve,
};

/** Stream `api_key_usage-{keyId}_{YYYYMMDD}`: one event at most. */
export const apiKeyUsageAggregate: Aggregate<ApiKeyUsageState, ApiKeyUsageCommand, ApiKeyUsageEvent> = {
  name: 'api_key_usage',
  streamName: apiKeyUsageStream,
  decider: apiKeyUsageDecider,
  events: apiKeyUsageEvents,
};
