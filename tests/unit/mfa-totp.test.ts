import { expect } from 'chai';
import { KeyringSecretBox } from '../../src/adapters/crypto/secret-box.js';
import { issueLoginChallenge, MFA_TOKEN_TTL_MS, MfaRefusal, openLoginChallenge } from '../../src/application/mfa.js';
import {
  generateRecoveryCodes,
  generateTotpSecret,
  hashRecoveryCode,
  normaliseRecoveryCode,
  RECOVERY_CODE,
  totpStepOf,
  totpUri,
} from '../../src/application/totp.js';
import { fold } from '../../src/write-model/core/decider.js';
import { userDecider, type UserEvent } from '../../src/write-model/user/index.js';

/** RFC 6238 appendix B's SHA-1 key ("12345678901234567890"), base32. */
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const at = (seconds: number) => seconds * 1000;

const box = new KeyringSecretBox([{ id: 'k1', key: new Uint8Array(32).fill(7) }], 'k1');
const otherBox = new KeyringSecretBox([{ id: 'k1', key: new Uint8Array(32).fill(9) }], 'k1');

const reason = (run: () => unknown): string | undefined => {
  try {
    run();
  } catch (error) {
    if (error instanceof MfaRefusal) return error.reason;
    throw error;
  }
  return undefined;
};

describe('TOTP (RFC 6238) and recovery codes', () => {
  it('matches the RFC test vectors (last six digits) and answers the step a code belongs to', () => {
    // T = 59 s → 94287082, T = 1111111109 s → 07081804, T = 1234567890 s → 89005924
    expect(totpStepOf(RFC_SECRET, '287082', at(59))).to.equal(1);
    expect(totpStepOf(RFC_SECRET, '081804', at(1111111109))).to.equal(37037036);
    expect(totpStepOf(RFC_SECRET, '005924', at(1234567890))).to.equal(41152263);
  });

  it('accepts one step of drift either side, not two', () => {
    // step 1's code (T = 30…59 s) checked at steps 0, 2 and 3
    expect(totpStepOf(RFC_SECRET, '287082', at(10))).to.equal(1);
    expect(totpStepOf(RFC_SECRET, '287082', at(89))).to.equal(1);
    expect(totpStepOf(RFC_SECRET, '287082', at(95))).to.equal(null);
    expect(totpStepOf(RFC_SECRET, '287081', at(59))).to.equal(null);
    expect(totpStepOf(RFC_SECRET, '28708', at(59))).to.equal(null);
  });

  it('makes 160-bit base32 secrets and an otpauth URI an app can scan', () => {
    const secret = generateTotpSecret();
    expect(secret).to.match(/^[A-Z2-7]{32}$/);
    expect(generateTotpSecret()).to.not.equal(secret);
    const uri = new URL(totpUri(secret, 'Collector', 'ann@example.com'));
    expect(uri.protocol + uri.host).to.equal('otpauth:totp');
    expect(decodeURIComponent(uri.pathname)).to.equal('/Collector:ann@example.com');
    expect(Object.fromEntries(uri.searchParams)).to.deep.equal({ issuer: 'Collector', secret, algorithm: 'SHA1', digits: '6', period: '30' });
  });

  it('makes distinct recovery codes and hashes them however they are typed', () => {
    const codes = generateRecoveryCodes(10);
    expect(new Set(codes).size).to.equal(10);
    for (const code of codes)
      expect(code)
        .to.match(RECOVERY_CODE)
        .and.match(/^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/);
    const code = codes[0]!;
    expect(normaliseRecoveryCode(` ${code.toUpperCase()} `)).to.equal(code.replaceAll('-', ''));
    expect(hashRecoveryCode(code.replaceAll('-', '').toUpperCase()))
      .to.equal(hashRecoveryCode(code))
      .and.match(/^[0-9a-f]{64}$/);
  });
});

describe('the login challenge (mfa_token)', () => {
  const registered: UserEvent = {
    type: 'UserRegistered',
    data: { userId: 'u-1', email: 'a@example.com', passwordHash: '$argon2id$x', displayName: 'A', role: 'user', registeredAt: '2026-01-01T00:00:00.000Z' },
  };
  const state = fold(userDecider, [registered]);
  const now = new Date('2026-12-09T12:00:00.000Z');

  it('opens to the user, a nonce and the session epoch until it expires (5 minutes)', () => {
    const challenge = issueLoginChallenge(box, state, now);
    expect(challenge.expiresAt).to.equal(new Date(now.getTime() + MFA_TOKEN_TTL_MS).toISOString());
    expect(challenge.token)
      .to.match(/^[A-Za-z0-9_-]+$/)
      .and.not.include('u-1');
    const opened = openLoginChallenge(box, challenge.token, new Date(now.getTime() + MFA_TOKEN_TTL_MS - 1));
    expect(opened).to.include({ userId: 'u-1', sessionEpoch: 0 });
    expect(issueLoginChallenge(box, state, now).token).to.not.equal(challenge.token);
    expect(reason(() => openLoginChallenge(box, challenge.token, new Date(now.getTime() + MFA_TOKEN_TTL_MS)))).to.equal('mfa_token_expired');
  });

  it('refuses an altered token, another keyring, and anything else', () => {
    const { token } = issueLoginChallenge(box, state, now);
    const parts = JSON.parse(Buffer.from(token, 'base64url').toString()) as string[];
    parts[3] = Buffer.from('{"u":"admin","n":"x","e":99999999999999,"s":0}').toString('base64');
    const forged = Buffer.from(JSON.stringify(parts)).toString('base64url');
    for (const bad of [forged, `${token}x`, 'not-a-token', Buffer.from('[1,2,3,4]').toString('base64url'), '']) {
      expect(
        reason(() => openLoginChallenge(box, bad, now)),
        bad,
      ).to.equal('mfa_token_invalid');
    }
    expect(reason(() => openLoginChallenge(otherBox, token, now))).to.equal('mfa_token_invalid');
  });
});
