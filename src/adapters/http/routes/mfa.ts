import { Router } from '@koa/router';
import { z } from 'zod';
import {
  confirmTotp,
  disableTotp,
  type MfaDeps,
  MfaRefusal,
  type MfaRefusalReason,
  regenerateRecoveryCodes,
  startTotpEnrollment,
  WRONG_CODE_REFUSALS,
} from '../../../application/mfa.js';
import type { PasswordHasher } from '../../../application/ports/password-hasher.js';
import type { SecretBox } from '../../../application/ports/secret-box.js';
import { RECOVERY_CODE, TOTP_CODE } from '../../../application/totp.js';
import type { Config } from '../../../config.js';
import type { EventStore } from '../../../event-store/port.js';
import type { AuthRateLimits } from '../../rate-limit/auth-rate-limits.js';
import type { Redis } from '../../redis/redis.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { HttpError } from '../http-error.js';
import { commandResult, ifMatchRevision } from '../revision.js';
import type { AppContext, AppState } from '../state.js';

export interface MfaRouteDeps {
  store: EventStore;
  redis: Redis;
  /** opens and seals TOTP secrets (ENCRYPTION_KEYS) */
  secretBox: SecretBox;
  passwordHasher: PasswordHasher;
  /** counts wrong codes per user (AUTH_RATE_LIMIT_PER_ACCOUNT_HOURLY) */
  limits: AuthRateLimits;
  config: Pick<Config, 'TOTP_ISSUER' | 'QUEUE_PREFIX'>;
}

/** A TOTP code as the app shows it. */
export const totpCodeSchema = z.string().regex(TOTP_CODE, 'must be the 6 digits the authenticator app shows').describe('the 6-digit code the app shows now');
/** A recovery code as it was shown (dashes optional, any case). */
export const recoveryCodeSchema = z
  .string()
  .regex(RECOVERY_CODE, 'must be a recovery code: 16 letters and digits, e.g. abcd-efgh-ijkl-mnop')
  .describe('one of the recovery codes, as shown (xxxx-xxxx-xxxx-xxxx)');

const commandResultSchema = z.object({ revision: z.string(), position: z.string().nullable() });
const recoveryCodesSchema = commandResultSchema.extend({
  recovery_codes: z.array(z.string()).describe('ten single-use codes, shown this once: each stands in for a TOTP code once'),
});

/** The claim store of the one-time checks: Redis SET NX PX under the deployment's key prefix. */
export function redisClaimOnce(redis: Redis, prefix: string): MfaDeps['claimOnce'] {
  return async (key, ttlMs) => (await redis.set(`${prefix}:${key}`, '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX')) === 'OK';
}

/** Whether redisClaimOnce holds the key now. */
export function redisClaimed(redis: Redis, prefix: string): NonNullable<MfaDeps['claimed']> {
  return async (key) => (await redis.exists(`${prefix}:${key}`)) === 1;
}

/** A refusal on a signed-in account route: a wrong factor is 403, a state that does not allow the step 409. */
function accountRouteError(refusal: MfaRefusal): HttpError {
  const conflict: readonly MfaRefusalReason[] = ['totp_off', 'totp_enabled', 'totp_not_pending'];
  return conflict.includes(refusal.reason)
    ? new HttpError(409, 'CONFLICT', refusal.message, { reason: refusal.reason })
    : new HttpError(403, 'PERMISSION_DENIED', refusal.message, { reason: refusal.reason });
}

/**
 * The signed-in user's second factor (`/api/v1/users/mfa`): TOTP enrollment,
 * confirmation, recovery codes and turning it off. Session tokens only (an API
 * key gets 403). Secrets and recovery codes appear in answers exactly once and
 * are never stored in clear, logged or kept by Idempotency-Key (these routes
 * do not honour it).
 */
export function mfaRouter(api: HttpApi, deps: MfaRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/users/mfa' });
  const mfa: MfaDeps = { store: deps.store, secretBox: deps.secretBox, claimOnce: redisClaimOnce(deps.redis, deps.config.QUEUE_PREFIX) };
  const tags = ['users'];

  /** Runs a step that checks a code: over the wrong-code limit → 429 before; a wrong code is counted after. */
  async function withCodeCheck<T>(ctx: AppContext, userId: string, step: () => Promise<T>): Promise<T> {
    await deps.limits.refuseWhenOver(ctx, userId);
    try {
      return await step();
    } catch (error) {
      if (!(error instanceof MfaRefusal)) throw error;
      ctx.state.logger.info({ reason: error.reason }, 'mfa step refused');
      // a wrong password (turning TOTP off) counts too: a stolen session must not guess it freely
      if (WRONG_CODE_REFUSALS.has(error.reason) || error.reason === 'password_invalid') await deps.limits.countWrong(ctx, userId);
      throw accountRouteError(error);
    }
  }

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/totp',
      summary: 'Start TOTP enrollment',
      description:
        'Makes a new TOTP secret (RFC 6238: SHA-1, 6 digits, 30 s) and answers it once, as base32 and as the `otpauth://` URI for a QR code; ' +
        'it is stored only sealed. A new call replaces a pending enrollment. Logins need no code until POST /users/mfa/totp/confirm. ' +
        '409 CONFLICT (details.reason totp_enabled) while TOTP is on. Not kept by Idempotency-Key.',
      tags,
      auth: true,
      permission: 'account.mfa.create',
      idempotent: false,
      responses: {
        200: {
          description: 'enrollment pending',
          schema: commandResultSchema.extend({
            secret: z.string().describe('base32, for typing into the app; shown this once'),
            otpauth_uri: z.string().describe('otpauth://totp/… (issuer TOTP_ISSUER, the username or email as label); shown this once'),
          }),
        },
      },
      errors: [404, 409],
    },
    async (_input, ctx) => {
      const user = currentUser(ctx);
      try {
        const started = await startTotpEnrollment(mfa, user.id, deps.config.TOTP_ISSUER, commandContext(ctx, user.id));
        ctx.set('Cache-Control', 'no-store');
        commandResult(ctx, started.result, { extra: { secret: started.secret, otpauth_uri: started.uri } });
      } catch (error) {
        if (error instanceof MfaRefusal) throw accountRouteError(error);
        throw error;
      }
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/totp/confirm',
      summary: 'Confirm TOTP enrollment with a code',
      description:
        'The code the app shows for the pending secret turns TOTP on: from now on POST /auth/login needs a second step. Answers ten recovery codes once ' +
        '(each works once instead of a code). A wrong or reused code is 403 PERMISSION_DENIED (details.reason totp_code_invalid, totp_code_replayed); ' +
        'wrong codes are limited per user and hour (429 RATE_LIMITED, Retry-After). 409 CONFLICT with no enrollment pending (totp_not_pending) or TOTP on already (totp_enabled).',
      tags,
      auth: true,
      permission: 'account.mfa.edit',
      idempotent: false,
      request: { body: z.object({ code: totpCodeSchema }).strict() },
      responses: { 200: { description: 'TOTP is on', schema: recoveryCodesSchema } },
      errors: [403, 404, 409, 429],
    },
    async ({ body }, ctx) => {
      const user = currentUser(ctx);
      const issued = await withCodeCheck(ctx, user.id, () => confirmTotp(mfa, user.id, body.code, commandContext(ctx, user.id)));
      ctx.set('Cache-Control', 'no-store');
      commandResult(ctx, issued.result, { extra: { recovery_codes: issued.recoveryCodes } });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/recovery-codes',
      summary: 'New recovery codes',
      description:
        'For a current TOTP code: ten new recovery codes, answered once; the old set (used or not) stops working. ' +
        'A wrong or reused code is 403 (details.reason), limited like the other code checks (429). 409 CONFLICT (totp_off) unless TOTP is on.',
      tags,
      auth: true,
      permission: 'account.mfa.create',
      idempotent: false,
      request: { body: z.object({ code: totpCodeSchema }).strict() },
      responses: { 200: { description: 'the new set', schema: recoveryCodesSchema } },
      errors: [403, 404, 409, 429],
    },
    async ({ body }, ctx) => {
      const user = currentUser(ctx);
      const issued = await withCodeCheck(ctx, user.id, () => regenerateRecoveryCodes(mfa, user.id, body.code, commandContext(ctx, user.id)));
      ctx.set('Cache-Control', 'no-store');
      commandResult(ctx, issued.result, { extra: { recovery_codes: issued.recoveryCodes } });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'delete',
      path: '/totp',
      summary: 'Turn TOTP off',
      description:
        'Needs the password and either a current TOTP code or an unused recovery code (exactly one). The secret and the recovery codes stop working ' +
        'and logins are single-step again; a pending enrollment is dropped the same way. A wrong password or code is 403 PERMISSION_DENIED ' +
        '(details.reason password_invalid, totp_code_invalid, totp_code_replayed, recovery_code_invalid, recovery_code_used), limited like the other code checks (429). ' +
        "Off already: 200, nothing recorded. If-Match: my account's revision (the ETag of GET /users/profile, or any change's answer); a stale one is 412, " +
        'checked before the password and the code (no code is spent on it).',
      tags,
      auth: true,
      permission: 'account.mfa.delete',
      ifMatch: true,
      request: {
        body: z
          .object({ password: z.string().min(1).max(1024), code: totpCodeSchema.optional(), recovery_code: recoveryCodeSchema.optional() })
          .strict()
          .refine((b) => (b.code === undefined) !== (b.recovery_code === undefined), { message: 'give either code or recovery_code', path: ['code'] }),
      },
      responses: { 200: { description: 'TOTP is off', schema: commandResultSchema } },
      errors: [403, 404, 429],
    },
    async ({ body }, ctx) => {
      const user = currentUser(ctx);
      const expectedRevision = ifMatchRevision(ctx);
      const factor = body.code !== undefined ? { code: body.code } : { recoveryCode: body.recovery_code! };
      const result = await withCodeCheck(ctx, user.id, () =>
        disableTotp({ ...mfa, passwordHasher: deps.passwordHasher }, user.id, { password: body.password, ...factor }, commandContext(ctx, user.id), {
          expectedRevision,
        }),
      );
      commandResult(ctx, result);
    },
  );

  return router;
}
