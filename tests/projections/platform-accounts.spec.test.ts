import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { platformAccountsProjection } from '../../src/projections/platform-accounts.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { projectionSpec, recorded } from '../support/projection-spec.js';

/** One batch, every event alone, and pairs: a row's events folded in one batch or split across batches leave the same row. */
const BATCH_SIZES = [500, 1, 2];

describe('platform-accounts-v1 projection (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const at = (minute: number) => new Date(Date.UTC(2026, 11, 1, 0, minute)).toISOString();
  const sealed = { keyId: 'k1', iv: 'aXY=', tag: 'dGFn', ciphertext: 'Y2lwaGVy' };
  const COLUMNS = [
    'owner_id',
    'platform',
    'platform_user_id',
    'display_name',
    'nickname',
    'status',
    'health_score',
    'health_level',
    'last_invalidation_reason',
    'invalidated_at',
    'verified_at',
    'connected_at',
    'disconnected_at',
    'updated_at',
    'last_revision',
  ];

  const accountEvents = (accountId: string) => {
    const ref = { accountId, ownerId: 'owner-1', platform: 'xiaohongshu' };
    const e = (type: string, data: Record<string, unknown>) => recorded(`platform_account-${accountId}`, type, { ...ref, ...data });
    return [
      e('PlatformAccountConnected', {
        platformUserId: null,
        displayName: 'Shop',
        credentials: sealed,
        userAgent: 'UA',
        status: 'pending_verification',
        healthScore: 100,
        healthLevel: 'healthy',
        connectedAt: at(0),
      }),
      e('AccountVerified', { platformUserId: 'p-1', nickname: 'shop_nick', previousStatus: 'pending_verification', requestedBy: null, verifiedAt: at(1) }),
      e('AccountHealthChanged', { score: 70, previousScore: 100, level: 'degraded', previousLevel: 'healthy', changedAt: at(2) }),
      e('AccountInvalidated', {
        reason: 'captcha',
        detail: null,
        source: 'verification',
        previousStatus: 'active',
        previousReason: null,
        requestedBy: null,
        invalidatedAt: at(3),
      }),
      e('AccountCredentialsRotated', {
        credentials: sealed,
        userAgent: null,
        previousKeyId: 'k1',
        previousStatus: 'invalid',
        status: 'pending_verification',
        requestedBy: 'owner-1',
        rotatedAt: at(4),
      }),
      e('PlatformAccountRenamed', { displayName: 'Shop 2', previousDisplayName: 'Shop', requestedBy: 'owner-1', renamedAt: at(5) }),
      e('AccountHealthChanged', { score: 40, previousScore: 70, level: 'critical', previousLevel: 'degraded', changedAt: at(6) }),
      e('PlatformAccountDisconnected', { previousStatus: 'pending_verification', requestedBy: 'owner-1', disconnectedAt: at(7) }),
    ];
  };

  it('applies every account event, in one batch or split across batches', async () => {
    const accountId = randomUUID();
    const events = accountEvents(accountId);
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, platformAccountsProjection, { batchSize })
        .given(events)
        .then('platform_accounts', { where: { id: accountId }, columns: COLUMNS }, [
          {
            owner_id: 'owner-1',
            platform: 'xiaohongshu',
            platform_user_id: 'p-1',
            display_name: 'Shop 2',
            nickname: 'shop_nick',
            status: 'disconnected',
            health_score: 40,
            health_level: 'critical',
            last_invalidation_reason: 'captcha',
            invalidated_at: at(3),
            verified_at: at(1),
            connected_at: at(0),
            disconnected_at: at(7),
            updated_at: at(7),
            last_revision: '7',
          },
        ]);
    }
  });

  it('stops where the events stop, and older events redelivered after later ones do not move the row back', async () => {
    const accountId = randomUUID();
    const events = accountEvents(accountId).slice(0, 4); // connected, verified, health, invalidated
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, platformAccountsProjection, { batchSize })
        .given([...events, events[1]!, events[2]!, events[0]!])
        .then('platform_accounts', { where: { id: accountId }, columns: ['status', 'health_score', 'display_name', 'updated_at', 'last_revision'] }, [
          { status: 'invalid', health_score: 70, display_name: 'Shop', updated_at: at(3), last_revision: '3' },
        ]);
    }
  });

  it('keeps accounts apart: each row has only its own events', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const ea = accountEvents(a);
    const eb = accountEvents(b);
    await projectionSpec(knex, platformAccountsProjection)
      .given([ea[0]!, eb[0]!, ea[1]!, eb[1]!, eb[2]!, ea[5]!])
      .thenAll([
        {
          table: 'platform_accounts',
          query: { where: { id: a }, columns: ['display_name', 'health_score', 'last_revision'] },
          expected: [{ display_name: 'Shop 2', health_score: 100, last_revision: '5' }],
        },
        {
          table: 'platform_accounts',
          query: { where: { id: b }, columns: ['display_name', 'health_score', 'last_revision'] },
          expected: [{ display_name: 'Shop', health_score: 70, last_revision: '2' }],
        },
      ]);
  });
});
