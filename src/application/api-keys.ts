import type { EventStore } from '../event-store/port.js';
import {
  apiKeyAggregate,
  apiKeyUsageAggregate,
  apiKeyUsageId,
  type ApiKeyEvent,
  type ApiKeyScope,
  type ApiKeyState,
  type RevokeApiKey,
} from '../write-model/api-key/index.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load, type HandleResult } from '../write-model/core/command-handler.js';
import { eventIdsFrom } from '../write-model/core/event-ids.js';
import { SERVICES, type AnyPlan } from '../write-model/subscription/plans.js';
import { requireApiAccess } from './plan-gates.js';
import { quotaDay } from './quota-day.js';
import { planHolderIn } from './plan-holder.js';
import { loadHolderSubject } from './subscription-quotas.js';

/**
 * Personal API keys (docs/http-api.md, "API keys"): creation behind the
 * plan check, revocation, and the once-a-day record of a key's use. The
 * token is made by the HTTP adapter (adapters/auth/api-key-tokens.ts); only
 * its hash and non-secret prefix come here.
 */

/** Keys a user may hold at once (neither revoked nor expired); one more is 409. */
export const MAX_ACTIVE_API_KEYS = 20;

export interface ApiKeyCall {
  store: EventStore;
  userId: string;
  now: Date;
  context: CommandContext;
}

type Result = HandleResult<ApiKeyState, ApiKeyEvent>;

/** The user's plan in force for every service (their organization's for a member; free where none was started). */
export async function currentPlans(store: EventStore, userId: string): Promise<AnyPlan[]> {
  const holder = await planHolderIn(store, userId);
  return Promise.all(SERVICES.map(async (service) => (await loadHolderSubject(store, holder, service)).plan as AnyPlan));
}

/** Records a new key once one of the user's plans includes API access (PERMISSION_DENIED with feature api_access otherwise). */
export async function createApiKey(
  call: ApiKeyCall,
  input: { keyId: string; secretHash: string; prefix: string; name: string; scopes: readonly ApiKeyScope[]; expiresAt: string | null },
): Promise<Result> {
  requireApiAccess(await currentPlans(call.store, call.userId));
  return handle(
    call.store,
    apiKeyAggregate,
    input.keyId,
    {
      type: 'CreateApiKey',
      keyId: input.keyId,
      userId: call.userId,
      name: input.name,
      scopes: input.scopes,
      prefix: input.prefix,
      secretHash: input.secretHash,
      expiresAt: input.expiresAt,
      now: call.now.toISOString(),
    },
    { context: call.context },
  );
}

/**
 * Revokes one of the user's keys (another user's or an unknown one: NOT_FOUND; again: no event).
 * expectedRevision: the caller's If-Match (the key's creation answered it), checked after the key is found to be theirs.
 */
export async function revokeApiKey(call: ApiKeyCall, keyId: string, expectedRevision?: bigint): Promise<Result> {
  const command: RevokeApiKey = { type: 'RevokeApiKey', keyId, requestedBy: call.userId, now: call.now.toISOString() };
  const loaded = await load(call.store, apiKeyAggregate, keyId);
  // refused (another user's key) before a stale If-Match could tell that the key exists
  apiKeyAggregate.decider.decide(command, loaded.state);
  return handle(call.store, apiKeyAggregate, keyId, command, { context: call.context, loaded, expectedRevision });
}

/**
 * Records that a key was used today, at most once per key and day per
 * process: the first request of the day appends one event to the day's
 * usage stream (name-based id: another process doing the same is a no-op);
 * later requests that day cost a map lookup.
 */
export class DailyApiKeyUse {
  private readonly recorded = new Map<string, string>();
  private readonly maxEntries: number;

  constructor(
    private readonly store: EventStore,
    private readonly options: { timeZone: string; maxEntries?: number; now?: () => Date },
  ) {
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  async record(keyId: string, userId: string, context: CommandContext): Promise<void> {
    const now = this.options.now?.() ?? new Date();
    const { day } = quotaDay(now, this.options.timeZone);
    if (this.recorded.get(keyId) === day) return;
    this.recorded.delete(keyId);
    this.recorded.set(keyId, day);
    if (this.recorded.size > this.maxEntries) this.recorded.delete(this.recorded.keys().next().value!);
    try {
      await handle(
        this.store,
        apiKeyUsageAggregate,
        apiKeyUsageId(keyId, day),
        { type: 'RecordApiKeyUse', keyId, userId, day, now: now.toISOString() },
        { context, eventIds: eventIdsFrom(`api_key_usage:${keyId}:${day}`) },
      );
    } catch (error) {
      // tried again on the key's next request
      if (this.recorded.get(keyId) === day) this.recorded.delete(keyId);
      throw error;
    }
  }
}
