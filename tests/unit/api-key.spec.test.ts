import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { apiKeyTokenMatches, issueApiKeyToken, parseApiKeyToken } from '../../src/adapters/auth/api-key-tokens.js';
import { fold } from '../../src/write-model/core/decider.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  apiKeyDecider,
  apiKeyStream,
  apiKeyUsageDecider,
  apiKeyUsageId,
  apiKeyUsageStream,
  isApiKeyLive,
  type ApiKeyEvent,
  type ApiKeyUsageEvent,
  type CreateApiKey,
  type KnownApiKey,
  type RecordApiKeyUse,
  type RevokeApiKey,
} from '../../src/write-model/api-key/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(apiKeyDecider);
const usage = deciderSpec(apiKeyUsageDecider);
const code = (c: DomainError['code']) => (e: DomainError) => e.code === c;
const field = (f: string) => (e: DomainError) => e.code === 'VALIDATION_ERROR' && e.details.field === f;

const KEY = 'a1b2c3d4e5f60718293a4b5c';
const USER = 'user-1';
const STRANGER = 'user-2';
const HASH = createHash('sha256').update('ck_live_secret').digest('hex');
const T0 = '2026-03-01T10:00:00.000Z';
const T1 = '2026-03-02T10:00:00.000Z';
const LATER = '2026-06-01T00:00:00.000Z';

const createCmd: CreateApiKey = {
  type: 'CreateApiKey',
  keyId: KEY,
  userId: USER,
  name: ' CI pipeline ',
  scopes: ['export', 'read'],
  prefix: `ck_live_${KEY}`,
  secretHash: HASH,
  expiresAt: LATER,
  now: T0,
};
const created: ApiKeyEvent = {
  type: 'ApiKeyCreated',
  data: {
    keyId: KEY,
    userId: USER,
    name: 'CI pipeline',
    scopes: ['read', 'export'],
    prefix: `ck_live_${KEY}`,
    secretHash: HASH,
    expiresAt: LATER,
    createdAt: T0,
  },
};
const revokeCmd: RevokeApiKey = { type: 'RevokeApiKey', keyId: KEY, requestedBy: USER, now: T1 };
const revoked: ApiKeyEvent = { type: 'ApiKeyRevoked', data: { keyId: KEY, userId: USER, revokedAt: T1 } };

describe('ApiKey', () => {
  it('lives in the stream api_key-{keyId}; its daily use in api_key_usage-{keyId}_{YYYYMMDD}', () => {
    expect(apiKeyStream(KEY)).to.equal(`api_key-${KEY}`);
    expect(apiKeyUsageStream(apiKeyUsageId(KEY, '2026-03-01'))).to.equal(`api_key_usage-${KEY}_20260301`);
  });

  describe('CreateApiKey', () => {
    it('records the key: trimmed name, scopes in canonical order, only the hash of the secret', () => {
      spec.given([]).when(createCmd).then([created]);
    });

    it('a key without expiry never expires', () => {
      spec
        .given([])
        .when({ ...createCmd, expiresAt: undefined })
        .then([{ ...created, data: { ...created.data, expiresAt: null } } as ApiKeyEvent]);
    });

    it('leaves an active key', () => {
      const state = fold(apiKeyDecider, [created]) as KnownApiKey;
      expect(state).to.include({ status: 'active', userId: USER, revokedAt: null });
      expect(isApiKeyLive(state, Date.parse(T1))).to.equal(true);
      expect(isApiKeyLive(state, Date.parse(LATER))).to.equal(false);
    });

    it('the same create again is a no-op (a retry); another create under the id is CONFLICT', () => {
      spec
        .given([created])
        .when({ ...createCmd, now: T1 })
        .then([]);
      spec
        .given([created])
        .when({ ...createCmd, userId: STRANGER })
        .thenThrows(DomainError, code('CONFLICT'));
      spec
        .given([created])
        .when({ ...createCmd, secretHash: 'f'.repeat(64) })
        .thenThrows(DomainError, code('CONFLICT'));
    });

    it('refuses a secret that is not a sha256 digest, without echoing it', () => {
      spec
        .given([])
        .when({ ...createCmd, secretHash: 'ck_live_the_secret' })
        .thenThrows(DomainError, (e: DomainError) => field('secretHash')(e) && !JSON.stringify(e.details).includes('the_secret'));
    });

    it('refuses no scopes, unknown or repeated scopes', () => {
      spec
        .given([])
        .when({ ...createCmd, scopes: [] })
        .thenThrows(DomainError, field('scopes'));
      spec
        .given([])
        .when({ ...createCmd, scopes: ['read', 'admin' as never] })
        .thenThrows(DomainError, field('scopes'));
      spec
        .given([])
        .when({ ...createCmd, scopes: ['read', 'read'] })
        .thenThrows(DomainError, field('scopes'));
    });

    it('refuses an empty or long name, a wrong prefix, an expiry not after now', () => {
      spec
        .given([])
        .when({ ...createCmd, name: '  ' })
        .thenThrows(DomainError, field('name'));
      spec
        .given([])
        .when({ ...createCmd, name: 'x'.repeat(101) })
        .thenThrows(DomainError, field('name'));
      spec
        .given([])
        .when({ ...createCmd, prefix: 'ck_live_other' })
        .thenThrows(DomainError, field('prefix'));
      spec
        .given([])
        .when({ ...createCmd, expiresAt: T0 })
        .thenThrows(DomainError, field('expiresAt'));
    });
  });

  describe('RevokeApiKey', () => {
    it("revokes the user's key, for good", () => {
      spec.given([created]).when(revokeCmd).then([revoked]);
      spec
        .given([created])
        .when(revokeCmd)
        .thenState({ ...(fold(apiKeyDecider, [created]) as KnownApiKey), status: 'revoked', revokedAt: T1 });
    });

    it('again is a no-op', () => {
      spec
        .given([created, revoked])
        .when({ ...revokeCmd, now: LATER })
        .then([]);
    });

    it("an unknown key or another user's is NOT_FOUND", () => {
      spec.given([]).when(revokeCmd).thenThrows(DomainError, code('NOT_FOUND'));
      spec
        .given([created])
        .when({ ...revokeCmd, requestedBy: STRANGER })
        .thenThrows(DomainError, code('NOT_FOUND'));
    });

    it('an expired key can still be revoked', () => {
      spec
        .given([created])
        .when({ ...revokeCmd, now: '2026-07-01T00:00:00.000Z' })
        .then([{ ...revoked, data: { ...revoked.data, revokedAt: '2026-07-01T00:00:00.000Z' } } as ApiKeyEvent]);
    });
  });

  describe('RecordApiKeyUse (one event per key and day)', () => {
    const use: RecordApiKeyUse = { type: 'RecordApiKeyUse', keyId: KEY, userId: USER, day: '2026-03-01', now: T0 };
    const used: ApiKeyUsageEvent = { type: 'ApiKeyUsed', data: { keyId: KEY, userId: USER, day: '2026-03-01', usedAt: T0 } };

    it('records the first use of the day', () => {
      usage.given([]).when(use).then([used]);
    });

    it('later uses that day are no-ops', () => {
      usage
        .given([used])
        .when({ ...use, now: '2026-03-01T15:00:00.000Z' })
        .then([]);
    });

    it('another key or day in the stream is CONFLICT; a bad day is refused', () => {
      usage
        .given([used])
        .when({ ...use, day: '2026-03-02' })
        .thenThrows(DomainError, code('CONFLICT'));
      usage
        .given([used])
        .when({ ...use, keyId: 'ffffffffffffffffffffffff' })
        .thenThrows(DomainError, code('CONFLICT'));
      usage
        .given([])
        .when({ ...use, day: '2026-3-1' })
        .thenThrows(DomainError, field('day'));
    });
  });

  describe('tokens (adapters/auth/api-key-tokens.ts)', () => {
    it('are ck_live_<24 hex>_<43 base64url>, found by their id, matched by their hash', () => {
      const issued = issueApiKeyToken();
      expect(issued.token).to.match(/^ck_live_[0-9a-f]{24}_[A-Za-z0-9_-]{43}$/);
      expect(issued.prefix).to.equal(`ck_live_${issued.keyId}`);
      expect(parseApiKeyToken(issued.token)).to.deep.equal({ keyId: issued.keyId });
      expect(apiKeyTokenMatches(issued.token, issued.secretHash)).to.equal(true);
      expect(apiKeyTokenMatches(`${issued.token.slice(0, -1)}A`, issued.secretHash)).to.equal(issued.token.endsWith('A'));
      expect(issued.secretHash).to.not.include(issued.token.slice(-43));
      expect(parseApiKeyToken('ck_live_short_x')).to.equal(null);
      expect(issueApiKeyToken().token).to.not.equal(issued.token);
    });
  });
});
