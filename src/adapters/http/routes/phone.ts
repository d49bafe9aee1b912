import { Router } from '@koa/router';
import { z } from 'zod';
import {
  disableSmsMfa,
  enableSmsMfa,
  PHONE_CONFLICTS,
  PhoneRefusal,
  removePhoneNumber,
  startPhoneVerification,
  verifyPhoneNumber,
  type PhoneDeps,
} from '../../../application/phone-numbers.js';
import type { PasswordHasher } from '../../../application/ports/password-hasher.js';
import type { SecretBox } from '../../../application/ports/secret-box.js';
import { CodeNumberError, CodeThrottledError, maskPhone, SMS_CODE } from '../../../application/sms-codes.js';
import type { EventStore } from '../../../event-store/port.js';
import { load } from '../../../write-model/core/command-handler.js';
import { userAggregate } from '../../../write-model/user/decider.js';
import { smsMfaOn } from '../../../write-model/user/state.js';
import type { AuthRateLimits } from '../../rate-limit/auth-rate-limits.js';
import type { SmsCodeStores } from '../../redis/sms-codes.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { HttpError } from '../http-error.js';
import { commandResult, ifMatchRevision } from '../revision.js';
import type { AppContext, AppState } from '../state.js';

export interface PhoneRouteDeps {
  store: EventStore;
  /** seals the code SMS bodies (ENCRYPTION_KEYS) */
  secretBox: SecretBox;
  passwordHasher: PasswordHasher;
  /** the code key, send limits, attempts (Redis) */
  codes: SmsCodeStores;
  /** counts wrong passwords and codes per user (AUTH_RATE_LIMIT_PER_ACCOUNT_HOURLY) */
  limits: AuthRateLimits;
  /** why SMS is not offered here (routes that send a code answer 503), or null */
  unavailableReason: string | null;
}

const commandResultSchema = z.object({ revision: z.string(), position: z.string().nullable() });
export const smsCodeSchema = z.string().regex(SMS_CODE, 'must be the 6 digits of the SMS').describe('the 6-digit code of the SMS');
const passwordBody = z.object({ password: z.string().min(1).max(1024) }).strict();
/** What the account routes here say of If-Match: the user stream's revision, as PUT /users/profile takes it. */
const USER_IF_MATCH = "If-Match: my account's revision (the ETag of GET /users/profile or GET /users/me/phone, or any change's answer); a stale one is 412.";

/** Maps the application's refusals: a wrong code or password 403, a state that does not allow the step 409, too soon 429, a bad number 422. */
function routeError(ctx: AppContext, error: unknown): unknown {
  if (error instanceof PhoneRefusal) {
    return PHONE_CONFLICTS.has(error.reason)
      ? new HttpError(409, 'CONFLICT', error.message, { reason: error.reason })
      : new HttpError(403, 'PERMISSION_DENIED', error.message, { reason: error.reason });
  }
  if (error instanceof CodeThrottledError) {
    ctx.set('Retry-After', String(error.retryAfterSeconds));
    return new HttpError(429, 'RATE_LIMITED', error.message, { retry_after_seconds: error.retryAfterSeconds });
  }
  if (error instanceof CodeNumberError) {
    return new HttpError(422, 'VALIDATION_ERROR', `phone: ${error.message}`, {
      issues: [{ in: 'body', path: ['phone'], message: error.message, code: 'invalid_phone_number' }],
    });
  }
  return error;
}

/**
 * The signed-in user's phone number (`/api/v1/users/me/phone`) and SMS as a
 * second factor (`/api/v1/users/mfa/sms`). Codes travel only in the SMS
 * (sealed in its events, masked everywhere else); the user stream keeps
 * their HMAC. Session tokens only. Codes are never logged or kept by
 * Idempotency-Key (these routes do not honour it).
 */
export function phoneRouter(api: HttpApi, deps: PhoneRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/users' });
  const tags = ['users'];
  const phone: PhoneDeps = {
    store: deps.store,
    secretBox: deps.secretBox,
    codeKey: deps.codes.codeKey,
    limits: deps.codes.limits,
    attempts: deps.codes.attempts,
    defaultRegion: deps.codes.defaultRegion,
    ttlMinutes: deps.codes.ttlMinutes,
  };
  const requireSms = () => {
    if (deps.unavailableReason !== null) {
      throw new HttpError(503, 'SERVICE_UNAVAILABLE', `${deps.unavailableReason}; SMS is not offered here`, { reason: 'sms_not_configured' });
    }
  };

  /** Runs a step that checks a code or the password: over the per-user limit → 429 before; a wrong one is counted after. */
  async function checked<T>(ctx: AppContext, userId: string, step: () => Promise<T>): Promise<T> {
    await deps.limits.refuseWhenOver(ctx, userId);
    try {
      return await step();
    } catch (error) {
      if (error instanceof PhoneRefusal) {
        ctx.state.logger.info({ reason: error.reason }, 'phone step refused');
        if (error.reason === 'phone_code_invalid' || error.reason === 'password_invalid') await deps.limits.countWrong(ctx, userId);
      }
      throw routeError(ctx, error);
    }
  }

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/me/phone',
      summary: 'My phone number',
      description:
        'The verified number (E.164) and whether SMS codes are a second factor; a verification waiting for its code shows its number masked and expiry. ' +
        "Read from the account itself (no projection lag); ETag: the account's revision.",
      tags,
      auth: true,
      permission: 'account.profile.view',
      responses: {
        200: {
          description: 'the number',
          schema: z.object({
            number: z.string().nullable().describe('the verified number, E.164; null: none'),
            verified_at: z.string().nullable(),
            pending: z
              .object({ number: z.string().describe('masked'), expires_at: z.string() })
              .nullable()
              .describe('a code sent and not typed back yet'),
            sms_mfa: z.boolean().describe('logins take a code sent to the number (POST /users/mfa/sms)'),
          }),
        },
      },
      errors: [404],
    },
    async (_input, ctx) => {
      const { state, revision } = await load(deps.store, userAggregate, currentUser(ctx).id);
      if (state.account === null) throw new HttpError(404, 'NOT_FOUND', 'user not found');
      ctx.set('ETag', `"${revision}"`);
      const pending = state.phoneVerification;
      return {
        number: state.phone?.e164 ?? null,
        verified_at: state.phone?.verifiedAt ?? null,
        pending: pending && Date.parse(pending.expiresAt) > Date.now() ? { number: maskPhone(pending.phoneE164), expires_at: pending.expiresAt } : null,
        sms_mfa: smsMfaOn(state),
      };
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'put',
      path: '/me/phone',
      summary: 'Set my phone number: a code is sent to it',
      description:
        'The number (E.164, or national in SMS_DEFAULT_REGION) is normalised and sent a 6-digit code by SMS, valid SMS_CODE_TTL_MINUTES; ' +
        'POST /users/me/phone/verify with the code makes it the verified number (until then a verified one stays). A new request replaces the pending code. ' +
        '422 under body.phone for what is not a mobile number of a served country. 409 CONFLICT: the number is verified already (phone_verified), or SMS codes ' +
        'are a second factor (sms_mfa_enabled: turn them off first). 429 RATE_LIMITED with Retry-After: one code per SMS_CODE_RESEND_SECONDS, ' +
        'SMS_CODES_PER_USER_HOURLY an hour. 503 where SMS is not configured. The code is never in an answer, a log or a read model: the SMS shows it, ' +
        `GET /sms/messages lists the message masked. ${USER_IF_MATCH} It is checked before a code is sent or counted.`,
      tags,
      auth: true,
      permission: 'account.profile.edit',
      idempotent: false,
      ifMatch: true,
      request: { body: z.object({ phone: z.string().min(1).max(40).describe('+8613800138000 or 138 0013 8000') }).strict() },
      responses: {
        202: {
          description: 'code sent',
          schema: commandResultSchema.extend({
            phone: z.string().describe('the number, E.164'),
            expires_at: z.string().describe('the code is valid until then'),
            message_id: z.string().describe('the SMS (GET /sms/messages/{id}: masked text)'),
          }),
        },
      },
      errors: [404, 409, 429],
    },
    async ({ body }, ctx) => {
      requireSms();
      const user = currentUser(ctx);
      const expected = ifMatchRevision(ctx);
      let sent;
      try {
        sent = await startPhoneVerification(phone, user.id, body.phone, commandContext(ctx, user.id), expected);
      } catch (error) {
        throw routeError(ctx, error);
      }
      ctx.set('Cache-Control', 'no-store');
      commandResult(ctx, sent.result, { status: 202, extra: { phone: sent.phone, expires_at: sent.expiresAt, message_id: sent.messageId } });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/me/phone/verify',
      summary: 'Verify my phone number with the SMS code',
      description:
        'The code of the latest PUT /users/me/phone makes its number the verified one. A wrong, superseded or used code is 403 PERMISSION_DENIED ' +
        '(details.reason phone_code_invalid), an expired one phone_code_expired; after SMS_CODE_MAX_ATTEMPTS wrong tries the code is void ' +
        '(phone_code_attempts_exceeded: ask for a new one). Wrong codes are limited per user and hour too (429).',
      tags,
      auth: true,
      permission: 'account.profile.edit',
      idempotent: false,
      request: { body: z.object({ code: smsCodeSchema }).strict() },
      responses: { 200: { description: 'verified', schema: commandResultSchema.extend({ phone: z.string() }) } },
      errors: [403, 404, 429],
    },
    async ({ body }, ctx) => {
      const user = currentUser(ctx);
      const result = await checked(ctx, user.id, () => verifyPhoneNumber(phone, user.id, body.code, commandContext(ctx, user.id)));
      commandResult(ctx, result, { extra: { phone: result.state.phone?.e164 ?? null } });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'delete',
      path: '/me/phone',
      summary: 'Remove my phone number',
      description:
        'The verified number and any pending verification are dropped; SMS notifications stop. 409 CONFLICT (sms_mfa_enabled) while SMS codes are a second factor. ' +
        `No number: 200, nothing recorded (with a stale If-Match: 412). ${USER_IF_MATCH}`,
      tags,
      auth: true,
      permission: 'account.profile.edit',
      ifMatch: true,
      responses: { 200: { description: 'removed', schema: commandResultSchema } },
      errors: [404, 409],
    },
    async (_input, ctx) => {
      const user = currentUser(ctx);
      const expectedRevision = ifMatchRevision(ctx);
      try {
        commandResult(ctx, await removePhoneNumber(deps.store, user.id, commandContext(ctx, user.id), { expectedRevision }));
      } catch (error) {
        throw routeError(ctx, error);
      }
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/mfa/sms',
      summary: 'Turn on SMS codes as a second factor',
      description:
        'Needs the password and a verified number (409 CONFLICT phone_not_verified). From now on POST /auth/login answers an mfa_token whose methods ' +
        'include sms: POST /auth/login/mfa/sms-code sends a code, POST /auth/login/mfa takes it. A wrong password is 403 (password_invalid), limited per user and hour (429). ' +
        'On already: 200, nothing recorded.',
      tags,
      auth: true,
      permission: 'account.mfa.create',
      idempotent: false,
      request: { body: passwordBody },
      responses: { 200: { description: 'SMS codes are a second factor', schema: commandResultSchema } },
      errors: [403, 404, 409, 429],
    },
    async ({ body }, ctx) => {
      const user = currentUser(ctx);
      const mfa = { store: deps.store, passwordHasher: deps.passwordHasher };
      commandResult(ctx, await checked(ctx, user.id, () => enableSmsMfa(mfa, user.id, body.password, commandContext(ctx, user.id))));
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'delete',
      path: '/mfa/sms',
      summary: 'Turn off SMS codes as a second factor',
      description:
        'Needs the password (403 password_invalid, limited per user and hour: 429). Logins no longer offer SMS codes (TOTP, when on, stays). Off already: 200, nothing recorded ' +
        `(with a stale If-Match: 412). ${USER_IF_MATCH} It is checked before the password.`,
      tags,
      auth: true,
      permission: 'account.mfa.delete',
      ifMatch: true,
      request: { body: passwordBody },
      responses: { 200: { description: 'SMS codes are off', schema: commandResultSchema } },
      errors: [403, 404, 429],
    },
    async ({ body }, ctx) => {
      const user = currentUser(ctx);
      const expectedRevision = ifMatchRevision(ctx);
      const mfa = { store: deps.store, passwordHasher: deps.passwordHasher };
      commandResult(ctx, await checked(ctx, user.id, () => disableSmsMfa(mfa, user.id, body.password, commandContext(ctx, user.id), { expectedRevision })));
    },
  );

  return router;
}
