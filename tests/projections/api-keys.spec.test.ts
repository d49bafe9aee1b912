import knexFactory, { type Knex } from 'knex';
import { randomBytes, randomUUID } from 'node:crypto';
import { apiKeysProjection } from '../../src/projections/api-keys.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { projectionSpec, recorded } from '../support/projection-spec.js';

describe('api-keys-v1 projection (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const hash = 'a'.repeat(64);
  const createdEvent = (keyId: string, userId: string, at: string, expiresAt: string | null = null) =>
    recorded(`api_key-${keyId}`, 'ApiKeyCreated', {
      keyId,
      userId,
      name: 'CI',
      scopes: ['read', 'export'],
      prefix: `ck_live_${keyId}`,
      secretHash: hash,
      expiresAt,
      createdAt: at,
    });
  const revokedEvent = (keyId: string, userId: string, at: string) => recorded(`api_key-${keyId}`, 'ApiKeyRevoked', { keyId, userId, revokedAt: at });
  const usedEvent = (keyId: string, userId: string, day: string) =>
    recorded(`api_key_usage-${keyId}_${day.replaceAll('-', '')}`, 'ApiKeyUsed', { keyId, userId, day, usedAt: `${day}T08:00:00.000Z` });

  it('one row per key: never the hash; revoked once; the last day used only moves forward', async () => {
    const keyId = randomBytes(12).toString('hex');
    const userId = randomUUID();
    const events = [
      createdEvent(keyId, userId, '2026-12-01T00:00:00.000Z', '2027-06-01T00:00:00.000Z'),
      usedEvent(keyId, userId, '2026-12-02'),
      usedEvent(keyId, userId, '2026-12-04'),
      // a day recorded late (another process) does not move it back
      usedEvent(keyId, userId, '2026-12-03'),
      revokedEvent(keyId, userId, '2026-12-05T00:00:00.000Z'),
    ];
    for (const batchSize of [500, 1, 2]) {
      await projectionSpec(knex, apiKeysProjection, { batchSize })
        .given(events)
        .then(
          'api_keys',
          { where: { user_id: userId }, columns: ['id', 'name', 'scopes', 'prefix', 'created_at', 'expires_at', 'revoked_at', 'last_used_day'] },
          [
            {
              id: keyId,
              name: 'CI',
              scopes: ['read', 'export'],
              prefix: `ck_live_${keyId}`,
              created_at: '2026-12-01T00:00:00.000Z',
              expires_at: '2027-06-01T00:00:00.000Z',
              revoked_at: '2026-12-05T00:00:00.000Z',
              last_used_day: '2026-12-04',
            },
          ],
        );
    }
  });

  it('keeps the keys of several users apart; a key never used has no day', async () => {
    const [k1, k2] = [randomBytes(12).toString('hex'), randomBytes(12).toString('hex')];
    const [u1, u2] = [randomUUID(), randomUUID()];
    await projectionSpec(knex, apiKeysProjection)
      .given([createdEvent(k1, u1, '2026-12-01T00:00:00.000Z'), createdEvent(k2, u2, '2026-12-01T01:00:00.000Z'), usedEvent(k2, u2, '2026-12-01')])
      .thenQuery(
        (tx) => tx('api_keys').whereIn('id', [k1, k2]).orderBy('created_at').select('user_id', 'revoked_at', 'last_used_day', 'expires_at'),
        [
          { user_id: u1, revoked_at: null, last_used_day: null, expires_at: null },
          { user_id: u2, revoked_at: null, last_used_day: '2026-12-01', expires_at: null },
        ],
      );
  });
});
