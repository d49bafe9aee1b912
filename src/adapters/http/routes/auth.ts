import { Router } from '@koa/router';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Config } from '../../../config.js';
import type { EventStore } from '../../../event-store/port.js';
import { formatPosition, type Position } from '../../../event-store/position.js';
import type { CommandContext } from '../../../write-model/core/command-context.js';
import { handle, load } from '../../../write-model/core/command-handler.js';
import { DomainError } from '../../../write-model/core/domain-error.js';
import { sessionAggregate } from '../../../write-model/session/decider.js';
import { emailReservationAggregate } from '../../../write-model/user/email-reservation.js';
import { resetTokenRefusal, userAggregate } from '../../../write-model/user/decider.js';
import type { UserRole } from '../../../write-model/user/events.js';
import { userStanding } from '../../../write-model/user/state.js';
import type { AccessTokens } from '../../auth/access-tokens.js';
import type { PasswordHasher } from '../../crypto/password-hasher.js';
import { generateOpaqueToken, hashToken } from '../../../application/opaque-tokens.js';
import { requestEmailVerification, type EmailVerificationDeps } from '../../../application/email-verification.js';
import { sealResetToken, type ResetOutbox } from '../../../application/password-reset-mail.js';
import type { SecretBox } from '../../crypto/secret-box.js';
import {
  completeLoginChallenge,
  issueLoginChallenge,
  loginMethods,
  MFA_METHODS,
  MFA_TOKEN_TTL_MS,
  MfaRefusal,
  openLoginChallenge,
  refuseUsedChallenge,
  WRONG_CODE_REFUSALS,
  type MfaDeps,
} from '../../../application/mfa.js';
import type { UserState } from '../../../write-model/user/state.js';
import { AuthRateLimits } from '../../rate-limit/auth-rate-limits.js';
import { recoveryCodeSchema, redisClaimed, redisClaimOnce, totpCodeSchema } from './mfa.js';
import { CodeThrottledError } from '../../../application/sms-codes.js';
import { sendLoginCode, type SmsLoginCodeDeps } from '../../../application/sms-login-codes.js';
import { smsMfaOn } from '../../../write-model/user/state.js';
import type { SmsCodeStores } from '../../redis/sms-codes.js';
import { LoginRateLimit } from '../../rate-limit/login-rate-limit.js';
import type { Redis } from '../../redis/redis.js';
import { currentSessionUser } from '../authenticate.js';
import { emailSchema, EmailTakenError, passwordSchema, registerUser } from '../../../application/register-user.js';
import { usernameHash, usernameHolder, usernameSchema, UsernameTakenError } from '../../../application/usernames.js';
import { commandContext } from '../command-context.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { HttpError } from '../http-error.js';
import { commandResult } from '../revision.js';
import type { AppContext, AppState } from '../state.js';

export interface AuthRouteDeps {
  store: EventStore;
  redis: Redis;
  passwordHasher: PasswordHasher;
  accessTokens: AccessTokens;
  /** where reset links are queued (the `mail` queue; the worker sends them) and the keyring that seals their tokens */
  resetMail: { outbox: ResetOutbox; secretBox: SecretBox };
  /** EMAIL_VERIFICATION required: a link is mailed at registration; absent: no verification */
  verification?: EmailVerificationDeps;
  /** login codes by SMS (the code key, limits and pending codes in Redis); absent: SMS is not configured, SMS-only accounts cannot finish a login */
  smsCodes?: SmsCodeStores;
  config: Pick<
    Config,
    | 'ACCESS_TOKEN_TTL_SECONDS'
    | 'REFRESH_TOKEN_TTL_DAYS'
    | 'PASSWORD_RESET_TTL_MINUTES'
    | 'LOGIN_RATE_LIMIT_PER_ACCOUNT'
    | 'LOGIN_RATE_LIMIT_PER_IP'
    | 'AUTH_RATE_LIMIT_PER_IP'
    | 'AUTH_RATE_LIMIT_PER_ACCOUNT_HOURLY'
    | 'REFRESH_RATE_LIMIT_PER_IP'
    | 'REFRESH_RATE_LIMIT_PER_SESSION'
    | 'PUBLIC_WEB_URL'
    | 'QUEUE_PREFIX'
  >;
}

/**
 * Token formats (the client treats both as opaque strings):
 * - refresh token `<userId>.<sessionId>.<secret>`: the ids say which streams
 *   to read (`user-{userId}` for the user's standing, `session-{sessionId}`
 *   to rotate) without a read-model lookup (so a refresh right after login
 *   never depends on projection lag); events hold only the sha256 of the
 *   whole string. The ids are not secret, the 32 random bytes are.
 * - reset and email-verification tokens `<userId>.<secret>`, likewise.
 */
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const SECRET = '[A-Za-z0-9_-]{43}';
const REFRESH_TOKEN = new RegExp(`^(${UUID})\\.(${UUID})\\.${SECRET}$`);
const RESET_TOKEN = new RegExp(`^(${UUID})\\.${SECRET}$`);

const DAY_MS = 86_400_000;
const BAD_CREDENTIALS = 'the account or the password is wrong';
const BAD_REFRESH = 'the refresh token is not valid';
const BAD_RESET = 'the reset token is not valid or has expired';
const BAD_VERIFY = 'the verification link is not valid or has expired';

/** Trimmed and lower-cased before it is checked, hashed or stored. */

const commandResultSchema = z.object({ revision: z.string(), position: z.string().nullable() });
const tokenPairSchema = z.object({
  access_token: z.string(),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int(),
  refresh_token: z.string(),
  session_id: z.string(),
  user_id: z.string(),
  position: z.string().nullable().describe('give it to GET /users/sessions as after_position'),
});
/** The first step's answer when the account has TOTP on: no tokens yet. */
const mfaChallengeSchema = z.object({
  mfa_required: z.literal(true),
  mfa_token: z.string().describe('for POST /auth/login/mfa: single use, valid 5 minutes'),
  methods: z.array(z.enum(MFA_METHODS)).describe('what the second step accepts'),
  expires_at: z.string(),
});

export function emailHash(normalisedEmail: string): string {
  return hashToken(normalisedEmail);
}

/** The user id the address is reserved for, if any. */
async function reservedUserId(store: EventStore, hash: string): Promise<string | undefined> {
  const { state } = await load(store, emailReservationAggregate, hash);
  return state.reservation?.userId;
}

function unauthenticated(message: string): HttpError {
  return new HttpError(401, 'UNAUTHENTICATED', message);
}

export function authRouter(api: HttpApi, deps: AuthRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/auth' });
  const { store, passwordHasher, accessTokens, config } = deps;
  const rateLimit = new LoginRateLimit(deps.redis, config);
  const limits = new AuthRateLimits(deps.redis, config);
  // the platform keyring (it seals the reset links' tokens too): seals login challenges, opens TOTP secrets
  const secretBox = deps.resetMail.secretBox;
  const smsLogin: SmsLoginCodeDeps | undefined = deps.smsCodes ? { store, secretBox, ...deps.smsCodes } : undefined;
  const mfa: MfaDeps & { sms?: SmsLoginCodeDeps } = {
    store,
    secretBox,
    claimOnce: redisClaimOnce(deps.redis, config.QUEUE_PREFIX),
    claimed: redisClaimed(deps.redis, config.QUEUE_PREFIX),
    ...(smsLogin ? { sms: smsLogin } : {}),
  };
  // verified against when the email is unknown, so both failures take about as long
  let dummyHash: Promise<string> | undefined;
  const timingDecoy = () => (dummyHash ??= passwordHasher.hash(generateOpaqueToken()));

  async function tokenPair(
    ctx: AppContext,
    claims: { userId: string; role: UserRole; sessionId: string },
    refreshToken: string,
    position: Position | undefined,
  ) {
    const access = await accessTokens.issue(claims);
    ctx.set('Cache-Control', 'no-store');
    return {
      access_token: access.token,
      token_type: 'Bearer' as const,
      expires_in: config.ACCESS_TOKEN_TTL_SECONDS,
      refresh_token: refreshToken,
      session_id: claims.sessionId,
      user_id: claims.userId,
      position: position ? formatPosition(position) : null,
    };
  }

  /** A new session for a user whose password (and second factor, when on) was verified: the token pair. */
  async function startSession(ctx: AppContext, user: UserState) {
    const account = user.account!;
    const sessionId = randomUUID();
    const refreshToken = `${account.userId}.${sessionId}.${generateOpaqueToken()}`;
    const now = new Date();
    const userAgent = ctx.get('User-Agent').slice(0, 512);
    // a suspended user is PERMISSION_DENIED (403): the password was right, so this tells nothing new
    const result = await handle(
      store,
      sessionAggregate,
      sessionId,
      {
        type: 'StartSession',
        userId: account.userId,
        sessionId,
        refreshTokenHash: hashToken(refreshToken),
        expiresAt: new Date(now.getTime() + config.REFRESH_TOKEN_TTL_DAYS * DAY_MS).toISOString(),
        userAgent: userAgent === '' ? undefined : userAgent,
        ip: ctx.ip || undefined,
        user: userStanding(user),
        now: now.toISOString(),
      },
      { context: commandContext(ctx, account.userId) },
    );
    return tokenPair(ctx, { userId: account.userId, role: account.role, sessionId }, refreshToken, result.position);
  }

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/register',
      summary: 'Register an account',
      description:
        'Reserves the (normalised) email and, when given, the username (normalised: NFKC, lower case; 3 to 30 letters with their combining marks, digits, "_", ".", "-"), ' +
        'then records the user. A taken email or username is 409 CONFLICT (details.field says which), saying nothing about its holder. ' +
        'If an earlier attempt reserved the email but crashed before the user was recorded, registering again with that email ' +
        'completes it under the reserved user id. Rate limited per client IP and per email (429 RATE_LIMITED, Retry-After). ' +
        'While EMAIL_VERIFICATION is required, a verification link is mailed (see POST /auth/verify-email).',
      tags: ['auth'],
      request: {
        body: z.object({
          email: emailSchema,
          password: passwordSchema,
          display_name: z.string().trim().min(1).max(100),
          username: usernameSchema.optional().describe('unique; lets the user log in by it (POST /auth/login)'),
        }),
      },
      responses: { 201: { description: 'registered', schema: commandResultSchema.extend({ user_id: z.string() }) } },
      errors: [409, 429],
    },
    async ({ body }, ctx) => {
      await limits.check(ctx, 'register', { ip: ctx.ip, email: emailHash(body.email) });
      try {
        const registered = await registerUser(
          { store, passwordHasher },
          {
            email: body.email,
            password: body.password,
            displayName: body.display_name,
            ...(body.username !== undefined ? { username: body.username } : {}),
            role: 'user',
            context: commandContext(ctx),
          },
        );
        if (deps.verification) {
          // the account exists either way: a link that could not be queued is sent again on request
          await requestEmailVerification(deps.verification, registered.userId, commandContext(ctx, registered.userId)).catch((error: unknown) =>
            ctx.state.logger.error({ err: error, userId: registered.userId }, 'verification link not queued'),
          );
        }
        commandResult(ctx, registered, { status: 201, extra: { user_id: registered.userId } });
      } catch (error) {
        if (error instanceof EmailTakenError) throw new HttpError(409, 'CONFLICT', 'the email address is already registered', { field: 'email' });
        if (error instanceof UsernameTakenError) throw new HttpError(409, 'CONFLICT', 'the username is taken', { field: 'username' });
        throw error;
      }
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/login',
      summary: 'Log in: start a session',
      description:
        'By email or by username (exactly one of them). An unknown account and a wrong password are the same 401. ' +
        'Rate limited per account (however it is named) and per client IP (429 RATE_LIMITED, Retry-After). ' +
        'When the account has a second factor (TOTP, SMS codes), the right password answers `{mfa_required: true, mfa_token, methods, expires_at}` and no tokens: ' +
        'methods lists totp, sms (POST /auth/login/mfa/sms-code sends a code) and recovery_code as they apply; the session starts with POST /auth/login/mfa.',
      tags: ['auth'],
      idempotent: false,
      request: {
        body: z
          .object({ email: emailSchema.optional(), username: usernameSchema.optional(), password: z.string().min(1).max(1024) })
          .refine((b) => (b.email === undefined) !== (b.username === undefined), { message: 'give either email or username', path: ['email'] }),
      },
      responses: { 200: { description: 'signed in, or (a second factor on) the second step to take', schema: z.union([tokenPairSchema, mfaChallengeSchema]) } },
      errors: [401, 403, 429],
    },
    async ({ body }, ctx) => {
      const userId = body.email !== undefined ? await reservedUserId(store, emailHash(body.email)) : await usernameHolder(store, body.username!);
      const user = userId ? (await load(store, userAggregate, userId)).state : null;
      // one limit per account whichever name it is given by; an unknown name has its own
      const limitKey = user?.account ? emailHash(user.account.email) : body.email !== undefined ? emailHash(body.email) : usernameHash(body.username!);
      await rateLimit.check(ctx, limitKey, ctx.ip);
      const account = user?.account ?? null;
      const valid = await passwordHasher.verify(account?.passwordHash ?? (await timingDecoy()), body.password);
      if (!user || !account || !valid) throw unauthenticated(BAD_CREDENTIALS);
      const methods = loginMethods(user);
      if (methods.length > 0) {
        // a suspended user learns it at the second step (403), as a single-step login would
        const challenge = issueLoginChallenge(secretBox, user);
        ctx.set('Cache-Control', 'no-store');
        return { mfa_required: true as const, mfa_token: challenge.token, methods, expires_at: challenge.expiresAt };
      }
      return startSession(ctx, user);
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/login/mfa',
      summary: 'Log in, second step: a TOTP, SMS or recovery code',
      description:
        `The mfa_token of POST /auth/login with a 6-digit code — the SMS code sent for this mfa_token (POST /auth/login/mfa/sms-code) or a current TOTP code — ` +
        `or an unused recovery code (exactly one of code and recovery_code); answers the tokens as login does. An SMS code works once, for its mfa_token only, ` +
        'until SMS_CODE_TTL_MINUTES; SMS_CODE_MAX_ATTEMPTS wrong tries void it, a new code starts afresh (sms_code_invalid, sms_code_expired, sms_code_attempts_exceeded). ' +
        `The mfa_token is valid ${MFA_TOKEN_TTL_MS / 60_000} minutes and finishes one login; a TOTP code is accepted once (the same code again: totp_code_replayed), ` +
        'a recovery code once ever. Every refusal of the token or the code is 401 UNAUTHENTICATED with details.reason: mfa_token_invalid, mfa_token_expired, mfa_token_used ' +
        '(log in again), totp_code_invalid, totp_code_replayed, recovery_code_invalid, recovery_code_used; a suspended account, once its factor is right, ' +
        'is 403 PERMISSION_DENIED (user_suspended), as a login without a second factor. Rate limited per client IP, and wrong codes ' +
        'per user and hour (429 RATE_LIMITED, Retry-After).',
      tags: ['auth'],
      idempotent: false,
      request: {
        body: z
          .object({ mfa_token: z.string().min(1).max(1024), code: totpCodeSchema.optional(), recovery_code: recoveryCodeSchema.optional() })
          .strict()
          .refine((b) => (b.code === undefined) !== (b.recovery_code === undefined), { message: 'give either code or recovery_code', path: ['code'] }),
      },
      responses: { 200: { description: 'signed in', schema: tokenPairSchema } },
      errors: [401, 403, 429],
    },
    async ({ body }, ctx) => {
      await limits.check(ctx, 'login-mfa', { ip: ctx.ip });
      const refused = (error: MfaRefusal): HttpError => {
        ctx.state.logger.info({ reason: error.reason }, 'login second step refused');
        return new HttpError(401, 'UNAUTHENTICATED', error.message, { reason: error.reason });
      };
      let challenge;
      try {
        challenge = openLoginChallenge(secretBox, body.mfa_token);
      } catch (error) {
        if (error instanceof MfaRefusal) throw refused(error);
        throw error;
      }
      await limits.refuseWhenOver(ctx, challenge.userId);
      const user = (await load(store, userAggregate, challenge.userId)).state;
      try {
        const factor = body.code !== undefined ? { code: body.code } : { recoveryCode: body.recovery_code! };
        await completeLoginChallenge(mfa, challenge, user, factor, commandContext(ctx, challenge.userId));
      } catch (error) {
        if (!(error instanceof MfaRefusal)) throw error;
        if (WRONG_CODE_REFUSALS.has(error.reason)) await limits.countWrong(ctx, challenge.userId);
        throw refused(error);
      }
      return startSession(ctx, user);
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/login/mfa/sms-code',
      summary: 'Log in, second step: send a code by SMS',
      description:
        'For an mfa_token whose methods include sms: a 6-digit code is sent to the verified number, valid SMS_CODE_TTL_MINUTES (at most while the mfa_token is) ' +
        'for this mfa_token only; a new request replaces it. Answers the number masked. 401 UNAUTHENTICATED (details.reason mfa_token_invalid, mfa_token_expired, ' +
        'mfa_token_used) for a token that is not valid, whose account has no SMS factor, or that finished its login already; 429 RATE_LIMITED with Retry-After: one code per SMS_CODE_RESEND_SECONDS, ' +
        'SMS_CODES_PER_USER_HOURLY an hour per user, and per client IP; 503 where SMS is not configured.',
      tags: ['auth'],
      idempotent: false,
      request: { body: z.object({ mfa_token: z.string().min(1).max(1024) }).strict() },
      responses: {
        202: {
          description: 'code sent',
          schema: z.object({ sent_to: z.string().describe('the verified number, masked'), expires_at: z.string().describe('the code is valid until then') }),
        },
      },
      errors: [401, 429],
    },
    async ({ body }, ctx) => {
      await limits.check(ctx, 'login-mfa', { ip: ctx.ip });
      if (!smsLogin) throw new HttpError(503, 'SERVICE_UNAVAILABLE', 'SMS is not configured on this platform', { reason: 'sms_not_configured' });
      let challenge;
      try {
        challenge = openLoginChallenge(secretBox, body.mfa_token);
      } catch (error) {
        if (error instanceof MfaRefusal) throw new HttpError(401, 'UNAUTHENTICATED', error.message, { reason: error.reason });
        throw error;
      }
      const user = (await load(store, userAggregate, challenge.userId)).state;
      // the same fit the second step asks: a password change or suspension since, or no SMS factor, voids the token here too
      if (user.account === null || user.sessionEpoch !== challenge.sessionEpoch || !smsMfaOn(user) || user.status === 'suspended') {
        throw new HttpError(401, 'UNAUTHENTICATED', 'the mfa_token is not valid for an SMS code: log in again', { reason: 'mfa_token_invalid' });
      }
      // a token that finished its login sends nothing more
      try {
        await refuseUsedChallenge(mfa, challenge);
      } catch (error) {
        if (error instanceof MfaRefusal) throw new HttpError(401, 'UNAUTHENTICATED', error.message, { reason: error.reason });
        throw error;
      }
      let sent;
      try {
        sent = await sendLoginCode(smsLogin, challenge, user, commandContext(ctx, challenge.userId));
      } catch (error) {
        if (error instanceof CodeThrottledError) {
          ctx.set('Retry-After', String(error.retryAfterSeconds));
          throw new HttpError(429, 'RATE_LIMITED', error.message, { retry_after_seconds: error.retryAfterSeconds });
        }
        throw error;
      }
      if (sent === null)
        throw new HttpError(401, 'UNAUTHENTICATED', 'the mfa_token is not valid for an SMS code: log in again', { reason: 'mfa_token_invalid' });
      ctx.set('Cache-Control', 'no-store');
      return { sent_to: sent.masked, expires_at: sent.expiresAt };
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/refresh',
      summary: 'Rotate the refresh token',
      description:
        'Answers a new access and refresh token; the presented refresh token is retired. Presenting a retired one again ends the ' +
        'session (reuse of a stolen token) and is 401; so is every other refusal. Rate limited per client IP and per session (429 RATE_LIMITED).',
      tags: ['auth'],
      idempotent: false,
      request: { body: z.object({ refresh_token: z.string().min(1).max(512) }) },
      responses: { 200: { description: 'rotated', schema: tokenPairSchema } },
      errors: [401, 429],
    },
    async ({ body }, ctx) => {
      const match = REFRESH_TOKEN.exec(body.refresh_token);
      await limits.check(ctx, 'refresh', { ip: ctx.ip, ...(match ? { subject: match[2]! } : {}) });
      if (!match) throw unauthenticated(BAD_REFRESH);
      const userId = match[1]!;
      const sessionId = match[2]!;
      const refreshToken = `${userId}.${sessionId}.${generateOpaqueToken()}`;
      const now = new Date();
      // the user's standing (suspended? sessions revoked since?) goes with the command: refused at once, whatever the process manager's lag
      const user = (await load(store, userAggregate, userId)).state;
      let result;
      try {
        result = await handle(
          store,
          sessionAggregate,
          sessionId,
          {
            type: 'RefreshSession',
            userId,
            sessionId,
            presentedTokenHash: hashToken(body.refresh_token),
            newTokenHash: hashToken(refreshToken),
            newExpiresAt: new Date(now.getTime() + config.REFRESH_TOKEN_TTL_DAYS * DAY_MS).toISOString(),
            user: userStanding(user),
            now: now.toISOString(),
          },
          { context: commandContext(ctx, userId) },
        );
      } catch (error) {
        if (error instanceof DomainError) {
          ctx.state.logger.info({ reason: (error.details as { reason?: unknown } | undefined)?.reason ?? error.code }, 'refresh refused');
          throw unauthenticated(BAD_REFRESH);
        }
        throw error;
      }
      if (result.events.some((event) => event.type === 'SessionEnded')) {
        ctx.state.logger.warn({ userId, sessionId }, 'refresh token reuse: session ended');
        throw unauthenticated(BAD_REFRESH);
      }
      const account = user.account;
      if (!account || result.events.length === 0) throw unauthenticated(BAD_REFRESH);
      return tokenPair(ctx, { userId, role: account.role, sessionId }, refreshToken, result.position);
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/logout',
      summary: 'Log out: end the current session',
      description: 'Ends the session of the access token: its refresh token stops working at once, the access token within a second.',
      tags: ['auth'],
      auth: true,
      permission: 'account.profile.edit',
      responses: { 200: { description: 'ended', schema: commandResultSchema } },
      errors: [404],
    },
    async (_input, ctx) => {
      const user = currentSessionUser(ctx);
      const result = await handle(
        store,
        sessionAggregate,
        user.sessionId,
        { type: 'EndSession', userId: user.id, sessionId: user.sessionId, reason: 'logout', now: new Date().toISOString() },
        { context: commandContext(ctx, user.id) },
      );
      commandResult(ctx, result);
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/forgot-password',
      summary: 'Mail a password-reset link',
      description:
        'Always 202, whether or not the address has an account (no account enumeration). Rate limited per client IP and per email, ' +
        'counted alike for addresses with and without an account (429 RATE_LIMITED, Retry-After): a flood of requests cannot flood a mailbox or keep voiding its newest link.',
      tags: ['auth'],
      idempotent: false,
      request: { body: z.object({ email: emailSchema }) },
      responses: { 202: { description: 'accepted' } },
      errors: [429],
    },
    async ({ body }, ctx) => {
      await limits.check(ctx, 'forgot-password', { ip: ctx.ip, email: emailHash(body.email) });
      // Answered before any lookup, so the response time says nothing about
      // whether the address has an account; the work runs after the answer.
      const logger = ctx.state.logger;
      const context = (userId: string) => commandContext(ctx, userId);
      setImmediate(() => void sendResetMail(body.email, context, logger));
    },
  );

  async function sendResetMail(email: string, commandContextFor: (userId: string) => CommandContext, logger: AppContext['state']['logger']): Promise<void> {
    try {
      const userId = await reservedUserId(store, emailHash(email));
      if (userId === undefined) return;
      const token = `${userId}.${generateOpaqueToken()}`;
      const now = new Date();
      // no account (a crashed registration) or suspended: no mail, nothing recorded
      const { events, state } = await handle(
        store,
        userAggregate,
        userId,
        (user) =>
          user.account === null || user.status === 'suspended'
            ? []
            : {
                type: 'RequestPasswordReset' as const,
                userId,
                resetTokenHash: hashToken(token),
                expiresAt: new Date(now.getTime() + config.PASSWORD_RESET_TTL_MINUTES * 60_000).toISOString(),
                now: now.toISOString(),
              },
        { context: commandContextFor(userId) },
      );
      if (events.length === 0 || state.account === null) return;
      // the link goes out through the outbox: an SMTP outage delays it, and the token waits there sealed
      await deps.resetMail.outbox.enqueueResetMail({ userId, token: sealResetToken(deps.resetMail.secretBox, userId, token) });
    } catch (error) {
      // the answer did not differ: the failure is for the log
      logger.error({ err: error }, 'password reset request failed');
    }
  }

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/reset-password',
      summary: 'Set a new password with a reset token',
      description:
        'An unknown, superseded, used or expired token is 401 UNAUTHENTICATED (one message for all), found before the new password is hashed. ' +
        'Success ends every active session. Rate limited per client IP and per user (429 RATE_LIMITED, Retry-After).',
      tags: ['auth'],
      idempotent: false,
      request: { body: z.object({ token: z.string().min(1).max(512), new_password: passwordSchema }) },
      responses: { 200: { description: 'password changed', schema: commandResultSchema } },
      errors: [401, 429],
    },
    async ({ body }, ctx) => {
      const match = RESET_TOKEN.exec(body.token);
      await limits.check(ctx, 'reset-password', { ip: ctx.ip, ...(match ? { subject: match[1]! } : {}) });
      if (!match) throw unauthenticated(BAD_RESET);
      const userId = match[1]!;
      // the token first: hashing costs tens of milliseconds of CPU, not to be spent on a wrong token
      const resetTokenHash = hashToken(body.token);
      const { state } = await load(store, userAggregate, userId);
      const refusal = resetTokenRefusal(state, resetTokenHash, Date.now());
      if (refusal) {
        ctx.state.logger.info({ reason: refusal }, 'password reset refused');
        throw unauthenticated(BAD_RESET);
      }
      const newPasswordHash = await passwordHasher.hash(body.new_password);
      try {
        const result = await handle(
          store,
          userAggregate,
          userId,
          { type: 'ResetPassword', userId, resetTokenHash, newPasswordHash, now: new Date().toISOString() },
          { context: commandContext(ctx, userId) },
        );
        commandResult(ctx, result);
      } catch (error) {
        if (error instanceof DomainError) {
          ctx.state.logger.info({ reason: (error.details as { reason?: unknown } | undefined)?.reason ?? error.code }, 'password reset refused');
          throw unauthenticated(BAD_RESET);
        }
        throw error;
      }
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/verify-email',
      summary: "Verify the account's email with the mailed token",
      description:
        'The token of the latest verification link (`PUBLIC_WEB_URL/verify-email?token=…`). A superseded, unknown or expired one is 401 UNAUTHENTICATED ' +
        '(one message for all); following a link again after success answers 200 and changes nothing. Rate limited per client IP and per user.',
      tags: ['auth'],
      idempotent: false,
      request: { body: z.object({ token: z.string().min(1).max(512) }) },
      responses: { 200: { description: 'verified', schema: commandResultSchema } },
      errors: [401, 429],
    },
    async ({ body }, ctx) => {
      const match = RESET_TOKEN.exec(body.token);
      await limits.check(ctx, 'verify-email', { ip: ctx.ip, ...(match ? { subject: match[1]! } : {}) });
      if (!match) throw unauthenticated(BAD_VERIFY);
      const userId = match[1]!;
      try {
        const result = await handle(
          store,
          userAggregate,
          userId,
          { type: 'VerifyEmail', userId, verifyTokenHash: hashToken(body.token), now: new Date().toISOString() },
          { context: commandContext(ctx, userId) },
        );
        commandResult(ctx, result);
      } catch (error) {
        if (error instanceof DomainError) {
          ctx.state.logger.info({ reason: (error.details as { reason?: unknown } | undefined)?.reason ?? error.code }, 'email verification refused');
          throw unauthenticated(BAD_VERIFY);
        }
        throw error;
      }
    },
  );

  return router;
}
