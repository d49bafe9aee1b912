import type { Consumer } from '../consumers/consumer.js';
import { apiKeyEvents, apiKeyUsageEvents } from '../write-model/api-key/events.js';
import { patchRows, upsertRows, type Row } from './sql-batch.js';

/**
 * Read model of the personal API keys: `api_keys`, one row per key, from
 * the key's lifecycle (`api_key-{id}`: created, revoked) and its daily use
 * (`api_key_usage-{id}_{day}`: the last day used). Never the secret's hash.
 *
 * A batch is folded in memory and written with one statement per kind:
 * new keys inserted (an existing row stays), revocations set once (the
 * first time stays), the last-used day only ever moves forward. So a
 * redelivered batch changes nothing, whatever order the days arrive in.
 */
export const API_KEYS_PROJECTION = 'api-keys-v1';

const KEY_PREFIX = 'api_key-';
const USAGE_PREFIX = 'api_key_usage-';

export function createApiKeysProjection(name: string = API_KEYS_PROJECTION): Consumer {
  return {
    name,
    filter: { streamPrefixes: [KEY_PREFIX, USAGE_PREFIX], eventTypes: [...apiKeyEvents.types, ...apiKeyUsageEvents.types] },
    async handle(events, { tx }) {
      const created: Row[] = [];
      const seen = new Set<string>();
      const revoked = new Map<string, Row>();
      const used = new Map<string, string>();
      for (const recorded of events) {
        if (recorded.streamName.startsWith(USAGE_PREFIX) && apiKeyUsageEvents.owns(recorded.type)) {
          const { data } = apiKeyUsageEvents.decode(recorded);
          const day = used.get(data.keyId);
          if (day === undefined || day < data.day) used.set(data.keyId, data.day);
          continue;
        }
        if (!recorded.streamName.startsWith(KEY_PREFIX) || !apiKeyEvents.owns(recorded.type)) continue;
        const event = apiKeyEvents.decode(recorded);
        if (event.type === 'ApiKeyCreated') {
          const d = event.data;
          if (seen.has(d.keyId)) continue;
          seen.add(d.keyId);
          created.push({
            id: d.keyId,
            user_id: d.userId,
            name: d.name,
            scopes: d.scopes,
            prefix: d.prefix,
            created_at: d.createdAt,
            expires_at: d.expiresAt,
            revoked_at: null,
            last_used_day: null,
          });
        } else if (!revoked.has(event.data.keyId)) {
          revoked.set(event.data.keyId, { id: event.data.keyId, revoked_at: event.data.revokedAt });
        }
      }
      await upsertRows(tx, 'api_keys', created, { conflict: ['id'] });
      await patchRows(tx, 'api_keys', [...revoked.values()], { key: ['id'], guard: 't.revoked_at IS NULL' });
      await patchRows(
        tx,
        'api_keys',
        [...used].map(([id, day]) => ({ id, last_used_day: day })),
        { key: ['id'], guard: 't.last_used_day IS NULL OR t.last_used_day < n.last_used_day' },
      );
    },
  };
}

export const apiKeysProjection: Consumer = createApiKeysProjection();
