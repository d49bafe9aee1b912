import { randomUUID } from 'node:crypto';
import { SignJWT, errors, jwtVerify } from 'jose';
import type { Config } from '../../config.js';
import { USER_ROLES, type UserRole } from '../../write-model/user/events.js';

/**
 * Short-lived access tokens: HS256 JWTs, checked without a
 * lookup. They cannot be revoked, which is why they live minutes; the
 * session (`sid`) and its refresh token are what logout and reuse end.
 */
export const ACCESS_TOKEN_ISSUER = 'collector-platform';
export const ACCESS_TOKEN_AUDIENCE = 'collector-platform-api';
// RFC 9068's type: another JWT signed with the same secret is not taken for an access token
const TYPE = 'at+jwt';
const ALGORITHM = 'HS256';

export interface AccessTokenClaims {
  userId: string;
  role: UserRole;
  sessionId: string;
}

export interface VerifiedAccessToken extends AccessTokenClaims {
  issuedAt: Date;
  expiresAt: Date;
}

export interface IssuedAccessToken {
  token: string;
  expiresAt: Date;
}

export type InvalidAccessTokenReason =
  | 'expired'
  | 'bad_signature'
  | 'malformed'
  | 'invalid_claims'
  // the token is sound, its session no longer stands (session-standing.ts)
  | 'no_session'
  | 'session_ended'
  | 'session_revoked'
  | 'user_suspended'
  | 'no_user';

/** Any token that must not be accepted; the HTTP layer maps it to 401 UNAUTHENTICATED. */
export class InvalidAccessTokenError extends Error {
  override readonly name = 'InvalidAccessTokenError';
  constructor(readonly reason: InvalidAccessTokenReason) {
    super(`invalid access token: ${reason}`);
  }
}

export interface AccessTokensOptions {
  secret: string;
  ttlSeconds: number;
  /** the clock; tests move it to expire tokens */
  now?: () => Date;
}

/** How many verified tokens are remembered (about one per active client). */
const VERIFIED_CACHE_SIZE = 10_000;

export class AccessTokens {
  private readonly key: Uint8Array;
  private readonly now: () => Date;
  /**
   * Tokens already verified, by their exact text: a client sends the same
   * token with every request for its lifetime, and the signature check
   * (an HMAC through WebCrypto) was the largest cost of an authenticated
   * request. A hit is only as good as the token's expiry, checked each time.
   */
  private readonly verified = new Map<string, VerifiedAccessToken>();

  constructor(private readonly options: AccessTokensOptions) {
    if (options.secret.length < 32) throw new Error('access token secret must be at least 32 characters');
    this.key = new TextEncoder().encode(options.secret);
    this.now = options.now ?? (() => new Date());
  }

  async issue(claims: AccessTokenClaims): Promise<IssuedAccessToken> {
    const issuedAt = Math.floor(this.now().getTime() / 1000);
    const expiresAt = issuedAt + this.options.ttlSeconds;
    const token = await new SignJWT({ role: claims.role, sid: claims.sessionId })
      .setProtectedHeader({ alg: ALGORITHM, typ: TYPE })
      .setIssuer(ACCESS_TOKEN_ISSUER)
      .setAudience(ACCESS_TOKEN_AUDIENCE)
      .setSubject(claims.userId)
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      // RFC 9068 asks for a unique id: two tokens issued in the same second differ
      .setJti(randomUUID())
      .sign(this.key);
    return { token, expiresAt: new Date(expiresAt * 1000) };
  }

  /** The token's claims, or InvalidAccessTokenError saying why not. */
  async verify(token: string): Promise<VerifiedAccessToken> {
    const known = this.verified.get(token);
    if (known) {
      if (this.now().getTime() < known.expiresAt.getTime()) return known;
      this.verified.delete(token);
    }
    const claims = await this.verifySignatureAndClaims(token);
    // oldest first out: a Map iterates in insertion order
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, claims);
    return claims;
  }

  private async verifySignatureAndClaims(token: string): Promise<VerifiedAccessToken> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        algorithms: [ALGORITHM], // never `none`, never an attacker-chosen algorithm
        issuer: ACCESS_TOKEN_ISSUER,
        audience: ACCESS_TOKEN_AUDIENCE,
        typ: TYPE,
        requiredClaims: ['sub', 'exp', 'iat'],
        currentDate: this.now(),
      }));
    } catch (error) {
      throw new InvalidAccessTokenError(reasonOf(error));
    }
    const { sub, role, sid, iat, exp } = payload;
    if (typeof sub !== 'string' || typeof sid !== 'string' || !USER_ROLES.includes(role as UserRole) || typeof iat !== 'number' || typeof exp !== 'number') {
      throw new InvalidAccessTokenError('invalid_claims');
    }
    return { userId: sub, role: role as UserRole, sessionId: sid, issuedAt: new Date(iat * 1000), expiresAt: new Date(exp * 1000) };
  }
}

function reasonOf(error: unknown): InvalidAccessTokenReason {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (error instanceof errors.JWTClaimValidationFailed) return 'invalid_claims';
  if (error instanceof errors.JOSEError) return 'malformed';
  throw error; // not about the token: a bug, let it surface
}

export function createAccessTokens(config: Pick<Config, 'JWT_SECRET' | 'ACCESS_TOKEN_TTL_SECONDS'>): AccessTokens {
  return new AccessTokens({ secret: config.JWT_SECRET, ttlSeconds: config.ACCESS_TOKEN_TTL_SECONDS });
}
