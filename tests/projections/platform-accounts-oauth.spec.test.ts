import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { createOAuthRefreshSchedule } from '../../src/process-managers/deadlines/oauth-refresh-schedule.js';
import { platformAccountsProjection } from '../../src/projections/platform-accounts.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { projectionSpec, recorded } from '../support/projection-spec.js';

const BATCH_SIZES = [500, 1, 2];

/**
 * OAuth-bound accounts in the platform-accounts-v1 read model (binding,
 * token_expires_at, never a token) and their refresh deadlines
 * (pm-oauth-refresh-schedule → `deadlines`).
 */
describe('OAuth-bound accounts: platform-accounts-v1 rows and the refresh schedule (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const at = (minute: number) => new Date(Date.UTC(2026, 11, 9, 10, minute)).toISOString();
  const sealed = { keyId: 'k1', iv: 'aXY=', tag: 'dGFn', ciphertext: 'Y2lwaGVy' };

  const accountEvents = (accountId: string) => {
    const ref = { accountId, ownerId: 'owner-1', platform: 'baidu' };
    const e = (type: string, data: Record<string, unknown>) => recorded(`platform_account-${accountId}`, type, { ...ref, ...data });
    const bound = {
      platformUserId: 'bd_1',
      displayName: '百度·小安',
      tokens: sealed,
      expiresAt: at(120),
      scope: 'basic publish',
      status: 'active',
      previousStatus: null,
      healthScore: 100,
      healthLevel: 'healthy',
      boundAt: at(0),
    };
    return [
      e('OAuthAccountBound', bound),
      e('PlatformAccountRenamed', { displayName: '主号', previousDisplayName: '百度·小安', requestedBy: 'owner-1', renamedAt: at(1) }),
      e('OAuthTokensRefreshed', { tokens: sealed, expiresAt: at(230), previousExpiresAt: at(120), refreshedAt: at(110) }),
      e('AccountInvalidated', {
        reason: 'credentials_expired',
        detail: 'invalid_grant',
        source: 'report',
        previousStatus: 'active',
        previousReason: null,
        requestedBy: null,
        invalidatedAt: at(220),
      }),
      e('OAuthAccountBound', { ...bound, displayName: '百度·小安二', expiresAt: at(360), previousStatus: 'invalid', boundAt: at(240) }),
    ];
  };

  it('a binding makes an active row with binding oauth; refreshes move token_expires_at; a re-authorization keeps the label', async () => {
    const accountId = randomUUID();
    const events = accountEvents(accountId);
    const columns = [
      'platform',
      'platform_user_id',
      'display_name',
      'nickname',
      'status',
      'binding',
      'token_expires_at',
      'last_invalidation_reason',
      'connected_at',
      'updated_at',
      'last_revision',
    ];
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, platformAccountsProjection, { batchSize })
        .given(events.slice(0, 3))
        .then('platform_accounts', { where: { id: accountId }, columns }, [
          {
            platform: 'baidu',
            platform_user_id: 'bd_1',
            display_name: '主号',
            nickname: '百度·小安',
            status: 'active',
            binding: 'oauth',
            token_expires_at: at(230),
            last_invalidation_reason: null,
            connected_at: at(0),
            updated_at: at(110),
            last_revision: '2',
          },
        ]);
      await projectionSpec(knex, platformAccountsProjection, { batchSize })
        .given(events)
        .then('platform_accounts', { where: { id: accountId }, columns }, [
          {
            platform: 'baidu',
            platform_user_id: 'bd_1',
            display_name: '主号',
            nickname: '百度·小安二',
            status: 'active',
            binding: 'oauth',
            token_expires_at: at(360),
            last_invalidation_reason: 'credentials_expired',
            connected_at: at(0),
            updated_at: at(240),
            last_revision: '4',
          },
        ]);
    }
  });

  it('the refresh deadline: due the lead before expiry (at most half the life), moved by a refresh, gone when invalidated', async () => {
    const accountId = randomUUID();
    const events = accountEvents(accountId);
    const schedule = createOAuthRefreshSchedule({ leadMs: 10 * 60_000 });
    const query = { where: { subject_id: `platform_account-${accountId}` }, columns: ['kind', 'due_at'] };
    await projectionSpec(knex, schedule)
      .given(events.slice(0, 1))
      .then('deadlines', query, [{ kind: 'platform_account.oauth_refresh', due_at: at(110) }]);
    await projectionSpec(knex, schedule)
      .given(events.slice(0, 3))
      .then('deadlines', query, [{ kind: 'platform_account.oauth_refresh', due_at: at(220) }]);
    await projectionSpec(knex, schedule).given(events.slice(0, 4)).then('deadlines', query, []);
    await projectionSpec(knex, schedule)
      .given(events)
      .then('deadlines', query, [{ kind: 'platform_account.oauth_refresh', due_at: at(350) }]);
    // a 4-minute token with a 10-minute lead: refreshed halfway
    const short = recorded(`platform_account-${accountId}-s`, 'OAuthTokensRefreshed', {
      accountId: `${accountId}-s`,
      ownerId: 'owner-1',
      platform: 'baidu',
      tokens: sealed,
      expiresAt: at(4),
      previousExpiresAt: at(0),
      refreshedAt: at(0),
    });
    await projectionSpec(knex, schedule)
      .given([short])
      .then('deadlines', { where: { subject_id: `platform_account-${accountId}-s` }, columns: ['due_at'] }, [{ due_at: at(2) }]);
  });
});
