import type { EventStore } from '../../event-store/port.js';
import { load } from '../../write-model/core/command-handler.js';
import { userAggregate } from '../../write-model/user/decider.js';
import { totpStatus } from '../../write-model/user/state.js';

/**
 * Whether the user has a second factor turned on, read from their stream
 * (no projection lag). What an organization requiring MFA checks when the
 * credential did not say (an API key; a session's standing says it itself).
 */
export async function hasSecondFactor(store: EventStore, userId: string): Promise<boolean> {
  const { state } = await load(store, userAggregate, userId);
  return totpStatus(state) === 'on';
}
