import { SNAPSHOT_EVERY } from '../../src/write-model/core/aggregate.js';
import { expect } from 'chai';
import { fold } from '../../src/write-model/core/decider.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  healthLevel,
  platformAccountAggregate,
  platformAccountDecider,
  platformAccountEvents,
  platformAccountStream,
  type ConnectPlatformAccount,
  type ConnectedAccount,
  type DisconnectPlatformAccount,
  type InvalidateAccount,
  type PlatformAccountCommand,
  type PlatformAccountEvent,
  type RecordAccountHealth,
  type RotateAccountCredentials,
  type SealedCredentials,
  type VerifyAccount,
} from '../../src/write-model/platform-account/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(platformAccountDecider);
const code = (c: DomainError['code']) => (e: DomainError) => e.code === c;
const field = (f: string) => (e: DomainError) => e.code === 'VALIDATION_ERROR' && e.details.field === f;

const ACCOUNT = 'acc-1';
const OWNER = 'user-1';
const STRANGER = 'user-2';
const T0 = '2025-03-01T10:00:00.000Z';
const T1 = '2025-03-01T10:01:00.000Z';
const T2 = '2025-03-01T11:00:00.000Z';
const T3 = '2025-03-02T09:00:00.000Z';
const UA = 'Mozilla/5.0 (Macintosh) Chrome/122';

/** What the owner pasted: it must never reach a command or an event. */
const CLEAR_COOKIE = 'web_session=0400698f1e2b; a1=18c5d3e0f7a';

// opaque stand-ins for the secret box's output (base64, as it makes them)
const BOX: SealedCredentials = { keyId: 'k2025', iv: 'aXZpdml2aXZpdml2', tag: 'dGFndGFndGFndGFndGFnMQ==', ciphertext: 'Y2lwaGVyLW9uZQ==' };
const BOX2: SealedCredentials = { keyId: 'k2025b', iv: 'aXYyaXYyaXYyaXYy', tag: 'dGFnMnRhZzJ0YWcydGFnMg==', ciphertext: 'Y2lwaGVyLXR3bw==' };

const ref = { accountId: ACCOUNT, ownerId: OWNER, platform: 'xiaohongshu' };

const connect: ConnectPlatformAccount = {
  type: 'ConnectPlatformAccount',
  accountId: ACCOUNT,
  ownerId: OWNER,
  platform: 'xiaohongshu',
  platformUserId: null,
  displayName: 'My shop account',
  credentials: BOX,
  userAgent: UA,
  now: T0,
};

const connected: PlatformAccountEvent = {
  type: 'PlatformAccountConnected',
  data: {
    ...ref,
    platformUserId: null,
    displayName: 'My shop account',
    credentials: BOX,
    userAgent: UA,
    status: 'pending_verification',
    healthScore: 100,
    healthLevel: 'healthy',
    connectedAt: T0,
  },
};

const verifyOk: VerifyAccount = {
  type: 'VerifyAccount',
  accountId: ACCOUNT,
  requestedBy: OWNER,
  outcome: { ok: true, platformUserId: '5f1a2b3c', nickname: 'Lily' },
  now: T1,
};

const verified: PlatformAccountEvent = {
  type: 'AccountVerified',
  data: { ...ref, platformUserId: '5f1a2b3c', nickname: 'Lily', previousStatus: 'pending_verification', requestedBy: OWNER, verifiedAt: T1 },
};

const health = (score: number, now = T2): RecordAccountHealth => ({ type: 'RecordAccountHealth', accountId: ACCOUNT, score, now });

const invalidateCmd: InvalidateAccount = {
  type: 'InvalidateAccount',
  accountId: ACCOUNT,
  requestedBy: null,
  reason: 'login_wall',
  detail: 'redirected to login',
  now: T2,
};

const invalidated: PlatformAccountEvent = {
  type: 'AccountInvalidated',
  data: {
    ...ref,
    reason: 'login_wall',
    detail: 'redirected to login',
    source: 'report',
    previousStatus: 'active',
    previousReason: null,
    requestedBy: null,
    invalidatedAt: T2,
  },
};

const rotateCmd: RotateAccountCredentials = {
  type: 'RotateAccountCredentials',
  accountId: ACCOUNT,
  requestedBy: OWNER,
  credentials: BOX2,
  userAgent: UA,
  now: T3,
};

const disconnectCmd: DisconnectPlatformAccount = { type: 'DisconnectPlatformAccount', accountId: ACCOUNT, requestedBy: OWNER, now: T3 };

const disconnected: PlatformAccountEvent = {
  type: 'PlatformAccountDisconnected',
  data: { ...ref, previousStatus: 'active', requestedBy: OWNER, disconnectedAt: T3 },
};

const pendingState: ConnectedAccount = {
  status: 'pending_verification',
  ...ref,
  platformUserId: null,
  displayName: 'My shop account',
  nickname: null,
  credentials: BOX,
  userAgent: UA,
  healthScore: 100,
  healthLevel: 'healthy',
  lastInvalidation: null,
  connectedAt: T0,
  verifiedAt: null,
  healthChangedAt: null,
  credentialsRotatedAt: null,
  disconnectedAt: null,
};

const activeState: ConnectedAccount = { ...pendingState, status: 'active', platformUserId: '5f1a2b3c', nickname: 'Lily', verifiedAt: T1 };
const invalidState: ConnectedAccount = { ...activeState, status: 'invalid', lastInvalidation: { reason: 'login_wall', detail: 'redirected to login', at: T2 } };

const ACTIVE = [connected, verified];
const INVALID = [connected, verified, invalidated];
const DISCONNECTED = [connected, verified, disconnected];

describe('PlatformAccount', () => {
  it('lives in the stream platform_account-{id}, snapshotted (an account lives for years)', () => {
    expect(platformAccountStream('acc-9')).to.equal('platform_account-acc-9');
    expect(platformAccountAggregate.streamName('acc-9')).to.equal('platform_account-acc-9');
    expect(platformAccountAggregate.snapshot).to.deep.equal({ version: 1, every: SNAPSHOT_EVERY.lifecycle });
  });

  it('decodes its stored events and refuses data that does not fit', () => {
    for (const event of [connected, verified, invalidated, disconnected]) expect(platformAccountEvents.decode(event)).to.deep.equal(event);
    expect(() => platformAccountEvents.decode({ type: 'AccountInvalidated', data: { ...invalidated.data, reason: 'bored' } })).to.throw(/reason/);
    expect(() => platformAccountEvents.decode({ type: 'ProxyFailed', data: {} })).to.throw(/not an event of this aggregate/);
  });

  it('keeps a state that survives JSON (snapshots)', () => {
    const state = fold(platformAccountDecider, INVALID);
    expect(JSON.parse(JSON.stringify(state))).to.deep.equal(state);
  });

  it('starts with no account', () => {
    expect(platformAccountDecider.initialState()).to.deep.equal({ status: 'none' });
  });

  it('reads the health level from the score', () => {
    expect([100, 70, 69, 30, 29, 0].map(healthLevel)).to.deep.equal(['healthy', 'healthy', 'degraded', 'degraded', 'critical', 'critical']);
  });

  describe('ConnectPlatformAccount', () => {
    it('connects an account pending verification, fully healthy', () => {
      spec.given([]).when(connect).then([connected]);
    });

    it('leaves the account pending with its owner, platform and sealed credentials', () => {
      spec.given([]).when(connect).thenState(pendingState);
    });

    it('takes any well-formed platform id, a known platform user and no user agent', () => {
      const { userAgent: _ua, ...noAgent } = connect;
      spec
        .given([])
        .when({ ...noAgent, platform: 'qidian_v2', platformUserId: 'reader-42' })
        .then([
          {
            type: 'PlatformAccountConnected',
            data: { ...connected.data, platform: 'qidian_v2', platformUserId: 'reader-42', userAgent: null },
          } as PlatformAccountEvent,
        ]);
    });

    it('is a no-op when retried (resealed credentials, later time)', () => {
      spec
        .given([connected])
        .when({ ...connect, credentials: BOX2, now: T1 })
        .then([]);
      spec.given(INVALID).when(connect).then([]);
    });

    it('refuses an existing account with another owner or platform (CONFLICT)', () => {
      spec
        .given([connected])
        .when({ ...connect, ownerId: STRANGER })
        .thenThrows<DomainError>(DomainError, code('CONFLICT'));
      spec
        .given([connected])
        .when({ ...connect, platform: 'qidian' })
        .thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });

    it('refuses to reconnect a disconnected account, even the same one (CONFLICT)', () => {
      spec.given(DISCONNECTED).when(connect).thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });

    it('refuses a malformed platform id (VALIDATION_ERROR)', () => {
      for (const platform of ['Xiaohongshu', '1qidian', 'xiao-hong-shu', '', 'douyin ']) {
        spec
          .given([])
          .when({ ...connect, platform })
          .thenThrows<DomainError>(DomainError, field('platform'));
      }
    });

    it('refuses empty ids, names, platform user or user agent (VALIDATION_ERROR)', () => {
      spec
        .given([])
        .when({ ...connect, accountId: '' })
        .thenThrows<DomainError>(DomainError, field('accountId'));
      spec
        .given([])
        .when({ ...connect, ownerId: ' ' })
        .thenThrows<DomainError>(DomainError, field('ownerId'));
      spec
        .given([])
        .when({ ...connect, displayName: '' })
        .thenThrows<DomainError>(DomainError, field('displayName'));
      spec
        .given([])
        .when({ ...connect, displayName: 'x'.repeat(201) })
        .thenThrows<DomainError>(DomainError, field('displayName'));
      spec
        .given([])
        .when({ ...connect, platformUserId: '' })
        .thenThrows<DomainError>(DomainError, field('platformUserId'));
      spec
        .given([])
        .when({ ...connect, userAgent: '' })
        .thenThrows<DomainError>(DomainError, field('userAgent'));
      spec
        .given([])
        .when({ ...connect, now: '2025-03-01 10:00' })
        .thenThrows<DomainError>(DomainError, field('now'));
    });

    it('refuses credentials that are not a sealed box (VALIDATION_ERROR)', () => {
      spec
        .given([])
        .when({ ...connect, credentials: CLEAR_COOKIE as never })
        .thenThrows<DomainError>(DomainError, field('credentials'));
      spec
        .given([])
        .when({ ...connect, credentials: null as never })
        .thenThrows<DomainError>(DomainError, field('credentials'));
      spec
        .given([])
        .when({ ...connect, credentials: { ...BOX, keyId: '' } })
        .thenThrows<DomainError>(DomainError, field('credentials.keyId'));
      spec
        .given([])
        .when({ ...connect, credentials: { ...BOX, ciphertext: CLEAR_COOKIE } })
        .thenThrows<DomainError>(DomainError, field('credentials.ciphertext'));
      const { tag: _tag, ...noTag } = BOX;
      spec
        .given([])
        .when({ ...connect, credentials: noTag as never })
        .thenThrows<DomainError>(DomainError, field('credentials.tag'));
    });

    it('refuses a box with a clear-text field, without echoing it (VALIDATION_ERROR)', () => {
      spec
        .given([])
        .when({ ...connect, credentials: { ...BOX, cookie: CLEAR_COOKIE } as never })
        .thenThrows<DomainError>(
          DomainError,
          (e) =>
            field('credentials')(e) &&
            JSON.stringify(e.details) === JSON.stringify({ field: 'credentials', unexpected: ['cookie'] }) &&
            !e.message.includes(CLEAR_COOKIE),
        );
    });
  });

  describe('VerifyAccount', () => {
    it('activates a pending account with the platform user and nickname', () => {
      spec.given([connected]).when(verifyOk).then([verified]);
      spec.given([connected]).when(verifyOk).thenState(activeState);
    });

    it('accepts the platform user known since connect', () => {
      const known = { type: 'PlatformAccountConnected', data: { ...connected.data, platformUserId: '5f1a2b3c' } } as PlatformAccountEvent;
      spec.given([known]).when(verifyOk).then([verified]);
    });

    it('may be sent by a worker (requestedBy null)', () => {
      spec
        .given([connected])
        .when({ ...verifyOk, requestedBy: null })
        .then([{ type: 'AccountVerified', data: { ...verified.data, requestedBy: null } } as PlatformAccountEvent]);
    });

    it('brings an invalid account back to active', () => {
      spec
        .given(INVALID)
        .when({ ...verifyOk, now: T3 })
        .then([{ type: 'AccountVerified', data: { ...verified.data, previousStatus: 'invalid', verifiedAt: T3 } } as PlatformAccountEvent]);
      spec
        .given(INVALID)
        .when({ ...verifyOk, now: T3 })
        .thenState({ ...invalidState, status: 'active', verifiedAt: T3 });
    });

    it('records a new nickname of an active account', () => {
      spec
        .given(ACTIVE)
        .when({ ...verifyOk, outcome: { ok: true, platformUserId: '5f1a2b3c', nickname: 'Lily Chen' }, now: T2 })
        .then([
          {
            type: 'AccountVerified',
            data: { ...verified.data, nickname: 'Lily Chen', previousStatus: 'active', verifiedAt: T2 },
          } as PlatformAccountEvent,
        ]);
    });

    it('is a no-op when the active account verifies the same again', () => {
      spec
        .given(ACTIVE)
        .when({ ...verifyOk, now: T2 })
        .then([]);
    });

    it('invalidates the account when the platform refuses it', () => {
      spec
        .given([connected])
        .when({ ...verifyOk, outcome: { ok: false, reason: 'captcha', detail: 'slider captcha' } })
        .then([
          {
            type: 'AccountInvalidated',
            data: {
              ...ref,
              reason: 'captcha',
              detail: 'slider captcha',
              source: 'verification',
              previousStatus: 'pending_verification',
              previousReason: null,
              requestedBy: OWNER,
              invalidatedAt: T1,
            },
          },
        ]);
    });

    it('is a no-op when the refusal repeats the reason the account is invalid for', () => {
      spec
        .given(INVALID)
        .when({ ...verifyOk, outcome: { ok: false, reason: 'login_wall' } })
        .then([]);
    });

    it('refuses credentials that log into another platform user (CONFLICT)', () => {
      spec
        .given(ACTIVE)
        .when({ ...verifyOk, outcome: { ok: true, platformUserId: '99ffee', nickname: 'Lily' } })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'CONFLICT' && e.details.platformUserId === '5f1a2b3c' && e.details.got === '99ffee');
    });

    it('refuses an unknown account (NOT_FOUND)', () => {
      spec.given([]).when(verifyOk).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
    });

    it("refuses a missing requester (PERMISSION_DENIED); whose accounts a user may verify is the access policy's", () => {
      spec
        .given([connected])
        .when({ ...verifyOk, requestedBy: undefined as never })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED'));
    });

    it('refuses a malformed outcome (VALIDATION_ERROR)', () => {
      spec
        .given([connected])
        .when({ ...verifyOk, outcome: undefined as never })
        .thenThrows<DomainError>(DomainError, field('outcome'));
      spec
        .given([connected])
        .when({ ...verifyOk, outcome: { ok: false, reason: 'tired' as never } })
        .thenThrows<DomainError>(DomainError, field('outcome.reason'));
      spec
        .given([connected])
        .when({ ...verifyOk, outcome: { ok: true, platformUserId: '', nickname: 'Lily' } })
        .thenThrows<DomainError>(DomainError, field('outcome.platformUserId'));
      spec
        .given([connected])
        .when({ ...verifyOk, outcome: { ok: true, platformUserId: '5f1a2b3c', nickname: '' } })
        .thenThrows<DomainError>(DomainError, field('outcome.nickname'));
      spec
        .given([connected])
        .when({ ...verifyOk, now: 'now' })
        .thenThrows<DomainError>(DomainError, field('now'));
    });

    it('refuses a disconnected account (CONFLICT)', () => {
      spec.given(DISCONNECTED).when(verifyOk).thenThrows<DomainError>(DomainError, code('CONFLICT'));
      spec
        .given(DISCONNECTED)
        .when({ ...verifyOk, outcome: { ok: false, reason: 'banned' } })
        .thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });
  });

  describe('RecordAccountHealth', () => {
    it('records a score that moved, with its level', () => {
      spec
        .given(ACTIVE)
        .when(health(55))
        .then([{ type: 'AccountHealthChanged', data: { ...ref, score: 55, previousScore: 100, level: 'degraded', previousLevel: 'healthy', changedAt: T2 } }]);
      spec
        .given(ACTIVE)
        .when(health(55))
        .thenState({ ...activeState, healthScore: 55, healthLevel: 'degraded', healthChangedAt: T2 });
    });

    it('records a move within the same level', () => {
      spec
        .given(ACTIVE)
        .when(health(90))
        .then([{ type: 'AccountHealthChanged', data: { ...ref, score: 90, previousScore: 100, level: 'healthy', previousLevel: 'healthy', changedAt: T2 } }]);
    });

    it('is a no-op when the score did not change', () => {
      spec.given(ACTIVE).when(health(100)).then([]);
      const dropped = {
        type: 'AccountHealthChanged',
        data: { ...ref, score: 20, previousScore: 100, level: 'critical', previousLevel: 'healthy', changedAt: T2 },
      } as PlatformAccountEvent;
      spec
        .given([...ACTIVE, dropped])
        .when(health(20, T3))
        .then([]);
    });

    it('never changes the status (a pending or invalid account is measured too)', () => {
      spec
        .given([connected])
        .when(health(0))
        .thenState({ ...pendingState, healthScore: 0, healthLevel: 'critical', healthChangedAt: T2 });
      spec
        .given(INVALID)
        .when(health(10, T3))
        .thenState({ ...invalidState, healthScore: 10, healthLevel: 'critical', healthChangedAt: T3 });
    });

    it('refuses a score outside 0..100 or not whole (VALIDATION_ERROR)', () => {
      for (const score of [-1, 101, 50.5, Number.NaN, '50' as never]) {
        spec.given(ACTIVE).when(health(score)).thenThrows<DomainError>(DomainError, field('score'));
      }
      spec.given(ACTIVE).when(health(50, 'soon')).thenThrows<DomainError>(DomainError, field('now'));
    });

    it('refuses an unknown account (NOT_FOUND)', () => {
      spec.given([]).when(health(50)).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
    });

    it('refuses a disconnected account (CONFLICT)', () => {
      spec.given(DISCONNECTED).when(health(50)).thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });
  });

  describe('InvalidateAccount', () => {
    it('invalidates an active account with the reason (a worker)', () => {
      spec.given(ACTIVE).when(invalidateCmd).then([invalidated]);
      spec.given(ACTIVE).when(invalidateCmd).thenState(invalidState);
    });

    it('takes the owner’s own report, without detail', () => {
      const { detail: _d, ...noDetail } = invalidateCmd;
      spec
        .given([connected])
        .when({ ...noDetail, requestedBy: OWNER, reason: 'user_reported' })
        .then([
          {
            type: 'AccountInvalidated',
            data: { ...invalidated.data, reason: 'user_reported', detail: null, previousStatus: 'pending_verification', requestedBy: OWNER },
          } as PlatformAccountEvent,
        ]);
    });

    it('is a no-op when repeated with the same reason', () => {
      spec
        .given(INVALID)
        .when({ ...invalidateCmd, detail: 'again', now: T3 })
        .then([]);
    });

    it('records another reason for an account already invalid', () => {
      spec
        .given(INVALID)
        .when({ ...invalidateCmd, reason: 'banned', detail: null as never, now: T3 })
        .then([
          {
            type: 'AccountInvalidated',
            data: { ...invalidated.data, reason: 'banned', detail: null, previousStatus: 'invalid', previousReason: 'login_wall', invalidatedAt: T3 },
          } as PlatformAccountEvent,
        ]);
    });

    it('refuses an unknown account (NOT_FOUND)', () => {
      spec.given([]).when(invalidateCmd).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
    });

    it('refuses a missing requester (PERMISSION_DENIED)', () => {
      spec
        .given(ACTIVE)
        .when({ ...invalidateCmd, requestedBy: undefined as never })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED'));
    });

    it('refuses a reason outside the list, an empty detail or a bad time (VALIDATION_ERROR)', () => {
      spec
        .given(ACTIVE)
        .when({ ...invalidateCmd, reason: 'slow' as never })
        .thenThrows<DomainError>(DomainError, field('reason'));
      spec
        .given(ACTIVE)
        .when({ ...invalidateCmd, detail: ' ' })
        .thenThrows<DomainError>(DomainError, field('detail'));
      spec
        .given(ACTIVE)
        .when({ ...invalidateCmd, now: '' })
        .thenThrows<DomainError>(DomainError, field('now'));
    });

    it('refuses a disconnected account (CONFLICT)', () => {
      spec.given(DISCONNECTED).when(invalidateCmd).thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });
  });

  describe('RotateAccountCredentials', () => {
    const rotated = (previousStatus: 'active' | 'invalid' | 'pending_verification', status: 'active' | 'pending_verification'): PlatformAccountEvent => ({
      type: 'AccountCredentialsRotated',
      data: { ...ref, credentials: BOX2, userAgent: UA, previousKeyId: 'k2025', previousStatus, status, requestedBy: OWNER, rotatedAt: T3 },
    });

    it('replaces the credentials of an active account, which stays active', () => {
      spec
        .given(ACTIVE)
        .when(rotateCmd)
        .then([rotated('active', 'active')]);
      spec
        .given(ACTIVE)
        .when(rotateCmd)
        .thenState({ ...activeState, credentials: BOX2, credentialsRotatedAt: T3 });
    });

    it('reconnects an invalid account: back to pending verification', () => {
      spec
        .given(INVALID)
        .when(rotateCmd)
        .then([rotated('invalid', 'pending_verification')]);
      spec
        .given(INVALID)
        .when(rotateCmd)
        .thenState({ ...invalidState, status: 'pending_verification', credentials: BOX2, credentialsRotatedAt: T3 });
    });

    it('leaves a pending account pending', () => {
      spec
        .given([connected])
        .when(rotateCmd)
        .then([rotated('pending_verification', 'pending_verification')]);
    });

    it('replaces the user agent with the credentials (absent: none)', () => {
      const { userAgent: _ua, ...noAgent } = rotateCmd;
      spec
        .given(ACTIVE)
        .when(noAgent)
        .then([{ type: 'AccountCredentialsRotated', data: { ...rotated('active', 'active').data, userAgent: null } } as PlatformAccountEvent]);
    });

    it('is a no-op when the same box and user agent come again', () => {
      spec
        .given([...ACTIVE, rotated('active', 'active')])
        .when({ ...rotateCmd, now: '2025-03-02T09:00:05.000Z' })
        .then([]);
      spec
        .given(ACTIVE)
        .when({ ...rotateCmd, credentials: BOX })
        .then([]);
    });

    it('refuses an unknown account (NOT_FOUND)', () => {
      spec.given([]).when(rotateCmd).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
    });

    it('refuses workers and a missing requester (PERMISSION_DENIED)', () => {
      spec
        .given(ACTIVE)
        .when({ ...rotateCmd, requestedBy: null as never })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED'));
    });

    it('refuses credentials that are not a sealed box, or a bad time (VALIDATION_ERROR)', () => {
      spec
        .given(ACTIVE)
        .when({ ...rotateCmd, credentials: { ...BOX2, cookies: CLEAR_COOKIE } as never })
        .thenThrows<DomainError>(DomainError, field('credentials'));
      spec
        .given(ACTIVE)
        .when({ ...rotateCmd, credentials: { ...BOX2, iv: '' } })
        .thenThrows<DomainError>(DomainError, field('credentials.iv'));
      spec
        .given(ACTIVE)
        .when({ ...rotateCmd, userAgent: '' })
        .thenThrows<DomainError>(DomainError, field('userAgent'));
      spec
        .given(ACTIVE)
        .when({ ...rotateCmd, now: 'later' })
        .thenThrows<DomainError>(DomainError, field('now'));
    });

    it('refuses a disconnected account (CONFLICT)', () => {
      spec.given(DISCONNECTED).when(rotateCmd).thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });
  });

  describe('RenamePlatformAccount', () => {
    const rename = (displayName: string, requestedBy = OWNER) => ({
      type: 'RenamePlatformAccount' as const,
      accountId: ACCOUNT,
      requestedBy,
      displayName,
      now: T3,
    });

    it('relabels the account', () => {
      spec
        .given(ACTIVE)
        .when(rename('主号'))
        .then([
          { type: 'PlatformAccountRenamed', data: { ...ref, displayName: '主号', previousDisplayName: 'My shop account', requestedBy: OWNER, renamedAt: T3 } },
        ]);
    });

    it('keeps the new name in the state', () => {
      spec
        .given(ACTIVE)
        .when(rename('主号'))
        .thenState({ ...activeState, displayName: '主号' });
    });

    it('is a no-op for the name it has', () => {
      spec.given(ACTIVE).when(rename('My shop account')).then([]);
    });

    it('refuses no requester (PERMISSION_DENIED), an unknown account (NOT_FOUND) and a disconnected one (CONFLICT)', () => {
      spec.given(ACTIVE).when(rename('x', '')).thenThrows(DomainError, code('PERMISSION_DENIED'));
      spec.given([]).when(rename('x')).thenThrows(DomainError, code('NOT_FOUND'));
      spec.given([connected, disconnected]).when(rename('x')).thenThrows(DomainError, code('CONFLICT'));
    });

    it('refuses an empty or too long name (VALIDATION_ERROR)', () => {
      spec.given(ACTIVE).when(rename(' ')).thenThrows(DomainError, field('displayName'));
      spec
        .given(ACTIVE)
        .when(rename('x'.repeat(201)))
        .thenThrows(DomainError, field('displayName'));
    });
  });

  describe('DisconnectPlatformAccount', () => {
    it('disconnects the account for good', () => {
      spec.given(ACTIVE).when(disconnectCmd).then([disconnected]);
      spec
        .given(ACTIVE)
        .when(disconnectCmd)
        .thenState({ ...activeState, status: 'disconnected', disconnectedAt: T3 });
    });

    it('may be done by the system (requestedBy null), from any status', () => {
      spec
        .given(INVALID)
        .when({ ...disconnectCmd, requestedBy: null })
        .then([{ type: 'PlatformAccountDisconnected', data: { ...ref, previousStatus: 'invalid', requestedBy: null, disconnectedAt: T3 } }]);
    });

    it('is a no-op when repeated', () => {
      spec
        .given(DISCONNECTED)
        .when({ ...disconnectCmd, now: '2025-03-03T00:00:00.000Z' })
        .then([]);
    });

    it('refuses an unknown account (NOT_FOUND)', () => {
      spec.given([]).when(disconnectCmd).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
    });

    it("refuses no requester, even on a disconnected account (PERMISSION_DENIED); whose accounts a user may disconnect is the access policy's", () => {
      spec
        .given(ACTIVE)
        .when({ ...disconnectCmd, requestedBy: '' })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED'));
      spec
        .given(DISCONNECTED)
        .when({ ...disconnectCmd, requestedBy: '' })
        .thenThrows<DomainError>(DomainError, code('PERMISSION_DENIED'));
    });

    it('refuses a bad time (VALIDATION_ERROR)', () => {
      spec
        .given(ACTIVE)
        .when({ ...disconnectCmd, now: '03/02/2025' })
        .thenThrows<DomainError>(DomainError, field('now'));
    });
  });

  describe('credentials stay sealed', () => {
    it('has no command field for clear text', () => {
      const withCookie: ConnectPlatformAccount = {
        ...connect,
        // @ts-expect-error a command has no place for a clear-text cookie
        cookies: CLEAR_COOKIE,
      };
      // the decider copies only the box: a stray field of the command goes nowhere
      const events = platformAccountDecider.decide(withCookie, platformAccountDecider.initialState());
      expect(JSON.stringify(events)).not.to.include(CLEAR_COOKIE);
    });

    it('puts only the four sealed fields in any event of a full life', () => {
      const walk: PlatformAccountCommand[] = [
        connect,
        verifyOk,
        health(40),
        invalidateCmd,
        rotateCmd,
        { ...verifyOk, now: '2025-03-02T09:10:00.000Z' },
        disconnectCmd,
      ];
      let state = platformAccountDecider.initialState();
      const all: PlatformAccountEvent[] = [];
      for (const command of walk) {
        const events = platformAccountDecider.decide(command, state);
        state = fold(platformAccountDecider, events, state);
        all.push(...events);
      }
      expect(all.map((e) => e.type)).to.deep.equal([
        'PlatformAccountConnected',
        'AccountVerified',
        'AccountHealthChanged',
        'AccountInvalidated',
        'AccountCredentialsRotated',
        'AccountVerified',
        'PlatformAccountDisconnected',
      ]);
      expect(JSON.stringify(all)).not.to.include(CLEAR_COOKIE);
      const boxes = all.flatMap((e) => ('credentials' in e.data ? [e.data.credentials] : []));
      expect(boxes).to.deep.equal([BOX, BOX2]);
      for (const box of boxes) expect(Object.keys(box).sort()).to.deep.equal(['ciphertext', 'iv', 'keyId', 'tag']);
    });
  });

  it('ignores events other than PlatformAccountConnected on an empty state', () => {
    expect(fold(platformAccountDecider, [verified, disconnected])).to.deep.equal({ status: 'none' });
  });
});
