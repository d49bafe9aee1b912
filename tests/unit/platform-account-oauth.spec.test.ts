import { expect } from 'chai';
import { fold } from '../../src/write-model/core/decider.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  platformAccountAggregate,
  platformAccountDecider,
  platformAccountEvents,
  type BindOAuthAccount,
  type ConnectedAccount,
  type PlatformAccountEvent,
  type RecordOAuthTokensRefreshed,
  type SealedCredentials,
} from '../../src/write-model/platform-account/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(platformAccountDecider);
const code = (c: DomainError['code']) => (e: DomainError) => e.code === c;
const field = (f: string) => (e: DomainError) => e.code === 'VALIDATION_ERROR' && e.details.field === f;

const ACCOUNT = 'acc-oauth-1';
const OWNER = 'user-1';
const T0 = '2026-03-01T10:00:00.000Z';
const T1 = '2026-03-01T11:50:00.000Z';
const T2 = '2026-03-01T13:40:00.000Z';
const EXP0 = '2026-03-01T12:00:00.000Z';
const EXP1 = '2026-03-01T13:50:00.000Z';
const EXP2 = '2026-03-01T15:40:00.000Z';

// opaque stand-ins for sealed token pairs (base64, as the secret box makes them)
const TOKENS: SealedCredentials = { keyId: 'k2026', iv: 'aXZpdml2aXZpdml2', tag: 'dGFndGFndGFndGFndGFnMQ==', ciphertext: 'dG9rZW5zLW9uZQ==' };
const TOKENS2: SealedCredentials = { keyId: 'k2026', iv: 'aXYyaXYyaXYyaXYy', tag: 'dGFnMnRhZzJ0YWcydGFnMg==', ciphertext: 'dG9rZW5zLXR3bw==' };
const TOKENS3: SealedCredentials = { keyId: 'k2026', iv: 'aXYzaXYzaXYzaXYz', tag: 'dGFnM3RhZzN0YWczdGFnMw==', ciphertext: 'dG9rZW5zLXRocmVl' };

const ref = { accountId: ACCOUNT, ownerId: OWNER, platform: 'baidu' };

const bind: BindOAuthAccount = {
  type: 'BindOAuthAccount',
  accountId: ACCOUNT,
  ownerId: OWNER,
  platform: 'baidu',
  platformUserId: 'bd_4f1a9c20',
  displayName: '百度·小安',
  tokens: TOKENS,
  expiresAt: EXP0,
  scope: 'basic publish',
  now: T0,
};

const bound: PlatformAccountEvent = {
  type: 'OAuthAccountBound',
  data: {
    ...ref,
    platformUserId: 'bd_4f1a9c20',
    displayName: '百度·小安',
    tokens: TOKENS,
    expiresAt: EXP0,
    scope: 'basic publish',
    status: 'active',
    previousStatus: null,
    healthScore: 100,
    healthLevel: 'healthy',
    boundAt: T0,
  },
};

const boundState: ConnectedAccount = {
  status: 'active',
  accountId: ACCOUNT,
  ownerId: OWNER,
  platform: 'baidu',
  platformUserId: 'bd_4f1a9c20',
  displayName: '百度·小安',
  nickname: '百度·小安',
  credentials: TOKENS,
  userAgent: null,
  healthScore: 100,
  healthLevel: 'healthy',
  lastInvalidation: null,
  connectedAt: T0,
  verifiedAt: T0,
  healthChangedAt: null,
  credentialsRotatedAt: null,
  disconnectedAt: null,
  oauth: { expiresAt: EXP0, issuedAt: T0, scope: 'basic publish' },
};

const refresh: RecordOAuthTokensRefreshed = { type: 'RecordOAuthTokensRefreshed', accountId: ACCOUNT, tokens: TOKENS2, expiresAt: EXP1, now: T1 };
const refreshed: PlatformAccountEvent = {
  type: 'OAuthTokensRefreshed',
  data: { ...ref, tokens: TOKENS2, expiresAt: EXP1, previousExpiresAt: EXP0, refreshedAt: T1 },
};

const invalidated: PlatformAccountEvent = {
  type: 'AccountInvalidated',
  data: {
    ...ref,
    reason: 'credentials_expired',
    detail: 'baidu refused the refresh token (invalid_grant): authorize the account again',
    source: 'report',
    previousStatus: 'active',
    previousReason: null,
    requestedBy: null,
    invalidatedAt: T1,
  },
};

const cookieConnected: PlatformAccountEvent = {
  type: 'PlatformAccountConnected',
  data: {
    ...ref,
    platformUserId: null,
    displayName: 'cookies',
    credentials: TOKENS3,
    userAgent: null,
    status: 'pending_verification',
    healthScore: 100,
    healthLevel: 'healthy',
    connectedAt: T0,
  },
};

describe('PlatformAccount decider: OAuth binding', () => {
  describe('BindOAuthAccount', () => {
    it('makes an active account, its tokens sealed, the platform name as label and nickname', () => {
      spec.given([]).when(bind).then([bound]);
      spec.given([]).when(bind).thenState(boundState);
    });

    it('the same sealed tokens again are a retry: nothing', () => {
      spec
        .given([bound])
        .when({ ...bind, now: T1 })
        .then([]);
    });

    it('the same platform user bound again re-authorizes the account (the label stays)', () => {
      const renamed: PlatformAccountEvent = {
        type: 'PlatformAccountRenamed',
        data: { ...ref, displayName: '我的百度号', previousDisplayName: '百度·小安', requestedBy: OWNER, renamedAt: T0 },
      };
      const again = { ...bind, tokens: TOKENS3, expiresAt: EXP2, displayName: '百度·小安2', now: T2 };
      const rebound: PlatformAccountEvent = {
        type: 'OAuthAccountBound',
        data: { ...(bound.data as object), tokens: TOKENS3, expiresAt: EXP2, displayName: '百度·小安2', previousStatus: 'invalid', boundAt: T2 } as never,
      };
      spec.given([bound, renamed, invalidated]).when(again).then([rebound]);
      spec
        .given([bound, renamed, invalidated])
        .when(again)
        .thenState({
          ...boundState,
          displayName: '我的百度号',
          nickname: '百度·小安2',
          credentials: TOKENS3,
          lastInvalidation: { reason: 'credentials_expired', detail: invalidated.data.detail as string, at: T1 },
          verifiedAt: T2,
          credentialsRotatedAt: T2,
          oauth: { expiresAt: EXP2, issuedAt: T2, scope: 'basic publish' },
        });
    });

    it('refuses another platform user, a cookie account, another platform, another owner and a disconnected account', () => {
      spec
        .given([bound])
        .when({ ...bind, platformUserId: 'bd_other', tokens: TOKENS2 })
        .thenThrows(DomainError, code('CONFLICT'));
      spec
        .given([cookieConnected])
        .when({ ...bind, tokens: TOKENS2 })
        .thenThrows(DomainError, code('CONFLICT'));
      spec
        .given([bound])
        .when({ ...bind, platform: 'sohu', tokens: TOKENS2 })
        .thenThrows(DomainError, code('CONFLICT'));
      spec
        .given([bound])
        .when({ ...bind, ownerId: 'user-2', tokens: TOKENS2 })
        .thenThrows(DomainError, code('PERMISSION_DENIED'));
      const disconnected: PlatformAccountEvent = {
        type: 'PlatformAccountDisconnected',
        data: { ...ref, previousStatus: 'active', requestedBy: OWNER, disconnectedAt: T1 },
      };
      spec
        .given([bound, disconnected])
        .when({ ...bind, tokens: TOKENS2, now: T2, expiresAt: EXP2 })
        .thenThrows(DomainError, code('CONFLICT'));
      spec
        .given([bound])
        .when({ ...bind, accountId: 'acc-other', tokens: TOKENS2 })
        .thenThrows(DomainError, code('CONFLICT'));
    });

    it('refuses bad input: tokens in clear, an expiry not after now, no platform user, a bad platform id, a long scope', () => {
      spec
        .given([])
        .when({ ...bind, tokens: { ...TOKENS, ciphertext: 'access_token=at_123; refresh' } })
        .thenThrows(DomainError, field('tokens.ciphertext'));
      spec
        .given([])
        .when({ ...bind, tokens: { ...TOKENS, accessToken: 'at_x' } as never })
        .thenThrows(DomainError, field('tokens'));
      spec
        .given([])
        .when({ ...bind, expiresAt: T0 })
        .thenThrows(DomainError, field('expiresAt'));
      spec
        .given([])
        .when({ ...bind, expiresAt: 'tomorrow' })
        .thenThrows(DomainError, field('expiresAt'));
      spec
        .given([])
        .when({ ...bind, platformUserId: ' ' })
        .thenThrows(DomainError, field('platformUserId'));
      spec
        .given([])
        .when({ ...bind, platform: 'Bai Du' })
        .thenThrows(DomainError, field('platform'));
      spec
        .given([])
        .when({ ...bind, scope: 'x'.repeat(501) })
        .thenThrows(DomainError, field('scope'));
      spec
        .given([])
        .when({ ...bind, displayName: '' })
        .thenThrows(DomainError, field('displayName'));
    });
  });

  describe('RecordOAuthTokensRefreshed', () => {
    it('records the new tokens and expiry', () => {
      spec.given([bound]).when(refresh).then([refreshed]);
      spec
        .given([bound])
        .when(refresh)
        .thenState({ ...boundState, credentials: TOKENS2, credentialsRotatedAt: T1, oauth: { expiresAt: EXP1, issuedAt: T1, scope: 'basic publish' } });
    });

    it('the same tokens again are a retry: nothing', () => {
      spec.given([bound, refreshed]).when(refresh).then([]);
    });

    it('refuses an invalid, disconnected, cookie or unknown account, and an expiry not after now', () => {
      spec
        .given([bound, invalidated])
        .when({ ...refresh, now: T2, expiresAt: EXP2 })
        .thenThrows(DomainError, code('CONFLICT'));
      const disconnected: PlatformAccountEvent = {
        type: 'PlatformAccountDisconnected',
        data: { ...ref, previousStatus: 'active', requestedBy: null, disconnectedAt: T1 },
      };
      spec
        .given([bound, disconnected])
        .when({ ...refresh, now: T2, expiresAt: EXP2 })
        .thenThrows(DomainError, code('CONFLICT'));
      spec.given([cookieConnected]).when(refresh).thenThrows(DomainError, code('CONFLICT'));
      spec.given([]).when(refresh).thenThrows(DomainError, code('NOT_FOUND'));
      spec
        .given([bound])
        .when({ ...refresh, expiresAt: T1 })
        .thenThrows(DomainError, field('expiresAt'));
    });
  });

  describe('the other commands on an OAuth account', () => {
    it('new credentials by hand are refused: the tokens come through OAuth', () => {
      spec
        .given([bound])
        .when({ type: 'RotateAccountCredentials', accountId: ACCOUNT, requestedBy: OWNER, credentials: TOKENS2, now: T1 })
        .thenThrows(DomainError, code('CONFLICT'));
    });

    it('an invalid_grant invalidates it (credentials_expired), the refresh deadline then has nothing to do', () => {
      spec
        .given([bound])
        .when({
          type: 'InvalidateAccount',
          accountId: ACCOUNT,
          requestedBy: null,
          reason: 'credentials_expired',
          detail: invalidated.data.detail as string,
          now: T1,
        })
        .then([invalidated]);
    });

    it('rename and disconnect work as for any account', () => {
      spec
        .given([bound])
        .when({ type: 'RenamePlatformAccount', accountId: ACCOUNT, requestedBy: OWNER, displayName: '主号', now: T1 })
        .thenState({ ...boundState, displayName: '主号' });
      spec
        .given([bound, refreshed])
        .when({ type: 'DisconnectPlatformAccount', accountId: ACCOUNT, requestedBy: OWNER, now: T2 })
        .then([{ type: 'PlatformAccountDisconnected', data: { ...ref, previousStatus: 'active', requestedBy: OWNER, disconnectedAt: T2 } }]);
    });
  });

  it('the events decode through the codec, and a fold gives the same state as the decisions', () => {
    for (const event of [bound, refreshed]) {
      const recorded = {
        id: 'e',
        type: event.type,
        data: event.data,
        metadata: {},
        streamName: `platform_account-${ACCOUNT}`,
        revision: 0n,
        position: { commit: 0n, prepare: 0n },
        created: new Date(),
      };
      expect(platformAccountEvents.decode(recorded as never)).to.deep.equal(event);
    }
    expect(fold(platformAccountDecider, [bound, refreshed])).to.deep.include({ credentials: TOKENS2 });
    expect(platformAccountAggregate.events.types).to.include.members(['OAuthAccountBound', 'OAuthTokensRefreshed']);
  });
});
