import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { API_KEY_SCOPES, apiKeyAggregate, apiKeyUsageAggregate, type ApiKeyCommand, type ApiKeyUsageCommand } from '../../../src/write-model/api-key/index.js';
import { historySource, sequence } from './harness.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const KEY = 'a1b2c3d4e5f60718293a4b5c';

/**
 * One key (`api_key-<KEY>`): created (and the create retried, or another
 * create under its id: CONFLICT), revoked by its user (again: a no-op) or by
 * a stranger (NOT_FOUND); now and then an expiry in the past, no scopes, a
 * secret in clear or a name too long (refused).
 */
export const apiKeyHistories = historySource(
  apiKeyAggregate,
  sequence(
    fc.record({
      kind: fc.constantFrom('create', 'create', 'revoke', 'revoke'),
      user: fc.oneof({ arbitrary: fc.constant('u1'), weight: 8 }, { arbitrary: fc.constant('u2'), weight: 1 }),
      scopes: fc.oneof({ arbitrary: fc.subarray([...API_KEY_SCOPES], { minLength: 1 }), weight: 8 }, { arbitrary: fc.constant([]), weight: 1 }),
      secret: fc.oneof({ arbitrary: fc.constantFrom(sha('t1'), sha('t2')), weight: 8 }, { arbitrary: fc.constant('ck_live_in_clear'), weight: 1 }),
      expires: fc.constantFrom<number | null>(null, 60 * 24 * 30, -5),
      name: fc.oneof({ arbitrary: fc.constantFrom('CI', ' 数据同步 ', 'export bot'), weight: 8 }, { arbitrary: fc.constant('x'.repeat(101)), weight: 1 }),
    }),
    (c, now): ApiKeyCommand =>
      c.kind === 'create'
        ? {
            type: 'CreateApiKey',
            keyId: KEY,
            userId: c.user,
            name: c.name,
            scopes: c.scopes,
            prefix: `ck_live_${KEY}`,
            secretHash: c.secret,
            expiresAt: c.expires === null ? null : new Date(Date.parse(now) + c.expires * 60_000).toISOString(),
            now,
          }
        : { type: 'RevokeApiKey', keyId: KEY, requestedBy: c.user, now },
  ),
);

/** One key's day (`api_key_usage-<KEY>_20260101`): its first use, repeats, now and then another key or day (CONFLICT) or a bad day. */
export const apiKeyUsageHistories = historySource(
  apiKeyUsageAggregate,
  sequence(
    fc.record({
      key: fc.oneof({ arbitrary: fc.constant(KEY), weight: 8 }, { arbitrary: fc.constant('ffffffffffffffffffffffff'), weight: 1 }),
      day: fc.oneof({ arbitrary: fc.constant('2026-01-01'), weight: 8 }, { arbitrary: fc.constantFrom('2026-01-02', '2026-13-40'), weight: 1 }),
    }),
    (c, now): ApiKeyUsageCommand => ({ type: 'RecordApiKeyUse', keyId: c.key, userId: 'u1', day: c.day, now }),
  ),
);
