import type { Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, invalid, requireText } from '../core/validate.js';
import { requireTokenHash } from '../user/hashes.js';
import type { ApiKeyCommand, CreateApiKey, RevokeApiKey } from './commands.js';
import { API_KEY_SCOPES, apiKeyEvents, type ApiKeyEvent, type ApiKeyScope } from './events.js';
import { initialApiKeyState, type ApiKeyState } from './state.js';
import { characterCount } from '../core/characters.js';

/**
 * The ApiKey aggregate: one personal API key of one user, stream
 * `api_key-{keyId}`, at most two events (created, revoked).
 *
 * Rules (tests/unit/api-key.spec.test.ts):
 * - CreateApiKey: name 1–MAX_NAME characters (trimmed); scopes a non-empty
 *   list of API_KEY_SCOPES without repeats (kept in API_KEY_SCOPES order);
 *   the secret only as a sha256 hex digest (VALIDATION_ERROR otherwise, the
 *   value never in the details); the prefix `ck_live_<keyId>`; expiresAt
 *   null/absent (never) or after now. The same create again (same user and
 *   hash) is [], a retry; any other create under a used id is CONFLICT.
 * - RevokeApiKey: an unknown key or another user's is NOT_FOUND (the API's
 *   404, alike); revoking a revoked key is []. Revocation is final.
 * - An expired key stays `active` in the stream: expiry is a time, checked
 *   where the key is presented (isApiKeyLive). Revoking it still works.
 */

export function apiKeyStream(keyId: string): string {
  return `api_key-${keyId}`;
}

export const MAX_NAME = 100;

type Event = ApiKeyEvent;
type State = ApiKeyState;

function requireScopes(value: unknown): ApiKeyScope[] {
  if (!Array.isArray(value) || value.length === 0) throw invalid('scopes must list at least one scope', { field: 'scopes', allowed: API_KEY_SCOPES });
  for (const scope of value) {
    if (!(API_KEY_SCOPES as readonly unknown[]).includes(scope))
      throw invalid(`scopes must be among ${API_KEY_SCOPES.join(', ')}`, { field: 'scopes', allowed: API_KEY_SCOPES, got: scope });
  }
  if (new Set(value).size !== value.length) throw invalid('scopes must not repeat a scope', { field: 'scopes' });
  return API_KEY_SCOPES.filter((s) => value.includes(s));
}

function create(command: CreateApiKey, state: State): Event[] {
  const nowMs = instant(command.now, 'now');
  const keyId = requireText(command.keyId, 'keyId');
  const userId = requireText(command.userId, 'userId');
  const name = requireText(command.name, 'name').trim();
  if (characterCount(name) > MAX_NAME) throw invalid(`name must be at most ${MAX_NAME} characters`, { field: 'name', max: MAX_NAME });
  const scopes = requireScopes(command.scopes);
  const secretHash = requireTokenHash(command.secretHash, 'secretHash');
  if (command.prefix !== `ck_live_${keyId}`) throw invalid('prefix must be ck_live_<keyId>', { field: 'prefix' });
  const expiresAt = command.expiresAt ?? null;
  if (expiresAt !== null && instant(expiresAt, 'expiresAt') <= nowMs) throw invalid('expiresAt must be after now', { field: 'expiresAt' });
  if (state.status !== 'none') {
    if (state.userId === userId && state.secretHash === secretHash) return [];
    throw new DomainError('CONFLICT', 'the key id is already in use', { keyId });
  }
  return [{ type: 'ApiKeyCreated', data: { keyId, userId, name, scopes, prefix: command.prefix, secretHash, expiresAt, createdAt: command.now } }];
}

function revoke(command: RevokeApiKey, state: State): Event[] {
  instant(command.now, 'now');
  const keyId = requireText(command.keyId, 'keyId');
  const requestedBy = requireText(command.requestedBy, 'requestedBy');
  if (state.status === 'none' || state.userId !== requestedBy) throw new DomainError('NOT_FOUND', 'API key not found', { keyId });
  if (state.status === 'revoked') return [];
  return [{ type: 'ApiKeyRevoked', data: { keyId: state.keyId, userId: state.userId, revokedAt: command.now } }];
}

function decide(command: ApiKeyCommand, state: State): Event[] {
  switch (command.type) {
    case 'CreateApiKey':
      return create(command, state);
    case 'RevokeApiKey':
      return revoke(command, state);
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

/** O(1) per event; a fresh object each time (the fold never shares the event's arrays). */
function evolve(state: State, event: Event): State {
  switch (event.type) {
    case 'ApiKeyCreated': {
      const d = event.data;
      return {
        status: 'active',
        keyId: d.keyId,
        userId: d.userId,
        name: d.name,
        scopes: [...d.scopes],
        prefix: d.prefix,
        secretHash: d.secretHash,
        expiresAt: d.expiresAt,
        createdAt: d.createdAt,
        revokedAt: null,
      };
    }
    case 'ApiKeyRevoked':
      return state.status === 'none' ? state : { ...state, status: 'revoked', revokedAt: event.data.revokedAt };
  }
}

export const apiKeyDecider: Decider<ApiKeyState, ApiKeyCommand, ApiKeyEvent> = { initialState: initialApiKeyState, decide, evolve };

/** Stream `api_key-{keyId}`: two events at most, no snapshots. */
export const apiKeyAggregate: Aggregate<ApiKeyState, ApiKeyCommand, ApiKeyEvent> = {
  name: 'api_key',
  streamName: apiKeyStream,
  decider: apiKeyDecider,
  events: apiKeyEvents,
};
