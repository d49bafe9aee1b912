import { expect } from 'chai';
import { SignJWT, UnsecuredJWT } from 'jose';
import {
  ACCESS_TOKEN_AUDIENCE,
  ACCESS_TOKEN_ISSUER,
  AccessTokens,
  InvalidAccessTokenError,
  createAccessTokens,
  type InvalidAccessTokenReason,
} from '../../src/adapters/auth/access-tokens.js';
import { loadConfig } from '../../src/config.js';

const secret = 'a-test-secret-that-is-long-enough-for-hs256';
const claims = { userId: 'user-1', role: 'admin', sessionId: 'session-1' } as const;

async function rejection(promise: Promise<unknown>): Promise<InvalidAccessTokenReason> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(InvalidAccessTokenError);
    return (error as InvalidAccessTokenError).reason;
  }
  expect.fail('expected InvalidAccessTokenError');
}

describe('AccessTokens', () => {
  let now = new Date('2030-01-01T00:00:00Z');
  const tokens = new AccessTokens({ secret, ttlSeconds: 900, now: () => now });
  beforeEach(() => {
    now = new Date('2030-01-01T00:00:00Z');
  });

  it('issues a token that verifies to its claims', async () => {
    const issued = await tokens.issue(claims);
    expect(issued.expiresAt.toISOString()).to.equal('2030-01-01T00:15:00.000Z');
    expect(await tokens.verify(issued.token)).to.deep.equal({
      ...claims,
      issuedAt: new Date('2030-01-01T00:00:00Z'),
      expiresAt: new Date('2030-01-01T00:15:00Z'),
    });
  });

  it('carries sub, role, sid, iss, aud, iat, exp and a unique jti, typed at+jwt', async () => {
    const { token } = await tokens.issue(claims);
    const [header, payload] = token
      .split('.')
      .slice(0, 2)
      .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
    expect(header).to.deep.equal({ alg: 'HS256', typ: 'at+jwt' });
    expect(payload.jti).to.match(/^[0-9a-f-]{36}$/);
    delete payload.jti;
    expect(payload).to.deep.equal({
      sub: 'user-1',
      role: 'admin',
      sid: 'session-1',
      iss: ACCESS_TOKEN_ISSUER,
      aud: ACCESS_TOKEN_AUDIENCE,
      iat: 1893456000,
      exp: 1893456900,
    });
  });

  it('issues two different tokens for the same claims in the same second', async () => {
    const first = await tokens.issue(claims);
    const second = await tokens.issue(claims);
    expect(second.token).to.not.equal(first.token);
    expect((await tokens.verify(second.token)).sessionId).to.equal('session-1');
  });

  it('rejects an expired token', async () => {
    const { token } = await tokens.issue(claims);
    now = new Date('2030-01-01T00:14:59Z');
    await tokens.verify(token);
    now = new Date('2030-01-01T00:15:00Z');
    expect(await rejection(tokens.verify(token))).to.equal('expired');
  });

  it('rejects a tampered payload or signature', async () => {
    const { token } = await tokens.issue(claims);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), role: 'admin', sub: 'user-2' })).toString(
      'base64url',
    );
    expect(await rejection(tokens.verify(`${header}.${forged}.${signature}`))).to.equal('bad_signature');
    const flipped = (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1);
    expect(await rejection(tokens.verify(`${header}.${payload}.${flipped}`))).to.equal('bad_signature');
  });

  it('rejects a token signed with another secret', async () => {
    const other = new AccessTokens({ secret: `${secret}-other`, ttlSeconds: 900, now: () => now });
    const { token } = await other.issue(claims);
    expect(await rejection(tokens.verify(token))).to.equal('bad_signature');
  });

  it('rejects malformed tokens and the `none` algorithm', async () => {
    expect(await rejection(tokens.verify(''))).to.equal('malformed');
    expect(await rejection(tokens.verify('not.a.jwt'))).to.equal('malformed');
    const unsecured = new UnsecuredJWT({ role: 'admin', sid: 's' }).setSubject('u').setIssuedAt().setExpirationTime('1h').encode();
    expect(await rejection(tokens.verify(unsecured))).to.equal('malformed');
  });

  it('rejects a validly signed JWT that is not one of our access tokens', async () => {
    const key = new TextEncoder().encode(secret);
    const base = () =>
      new SignJWT({ role: 'user', sid: 's' })
        .setSubject('u')
        .setIssuedAt(now)
        .setExpirationTime(new Date(now.getTime() + 60_000));
    const noTyp = await base().setProtectedHeader({ alg: 'HS256' }).setIssuer(ACCESS_TOKEN_ISSUER).setAudience(ACCESS_TOKEN_AUDIENCE).sign(key);
    const wrongAudience = await base().setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' }).setIssuer(ACCESS_TOKEN_ISSUER).setAudience('elsewhere').sign(key);
    const badRole = await new SignJWT({ role: 'root', sid: 's' })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .setIssuer(ACCESS_TOKEN_ISSUER)
      .setAudience(ACCESS_TOKEN_AUDIENCE)
      .setSubject('u')
      .setIssuedAt(now)
      .setExpirationTime(new Date(now.getTime() + 60_000))
      .sign(key);
    expect(await rejection(tokens.verify(noTyp))).to.equal('invalid_claims');
    expect(await rejection(tokens.verify(wrongAudience))).to.equal('invalid_claims');
    expect(await rejection(tokens.verify(badRole))).to.equal('invalid_claims');
  });

  it('refuses a short secret', () => {
    expect(() => new AccessTokens({ secret: 'short', ttlSeconds: 900 })).to.throw(/at least 32/);
  });

  it('is built from JWT_SECRET and ACCESS_TOKEN_TTL_SECONDS', async () => {
    const fromConfig = createAccessTokens(loadConfig({ NODE_ENV: 'test', ACCESS_TOKEN_TTL_SECONDS: '120' }));
    const before = Date.now();
    const issued = await fromConfig.issue(claims);
    expect(issued.expiresAt.getTime()).to.be.closeTo(before + 120_000, 2_000);
    expect((await fromConfig.verify(issued.token)).userId).to.equal('user-1');
    expect(await rejection(tokens.verify(issued.token))).to.equal('bad_signature');
  });
});
