import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { AppendCondition, EventStore } from '../../../event-store/port.js';
import { USERS_PROJECTION } from '../../../projections/users.js';
import { findUserProfile, listUserSessions } from '../../../read-api/users.js';
import { handle } from '../../../write-model/core/command-handler.js';
import { sessionAggregate } from '../../../write-model/session/decider.js';
import { userAggregate } from '../../../write-model/user/decider.js';
import { requestEmailVerification, type EmailVerificationDeps } from '../../../application/email-verification.js';
import { changePassword, PasswordChangeRefusal } from '../../../application/change-password.js';
import type { PasswordHasher } from '../../../application/ports/password-hasher.js';
import { passwordSchema } from '../../../application/register-user.js';
import type { AuthRateLimits } from '../../rate-limit/auth-rate-limits.js';
import { releaseUnlessRecorded, reserveUsername, usernameSchema, UsernameTakenError } from '../../../application/usernames.js';
import { NOTIFICATION_KINDS } from '../../../write-model/notification/events.js';
import type { NotificationChannels } from '../../../write-model/user/events.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { validationError } from '../error-mapping.js';
import { HttpError } from '../http-error.js';
import { pageSchema, paginationQuery } from '../pagination.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import { commandResult, ifMatchRevision } from '../revision.js';
import type { AppState } from '../state.js';

export interface UsersRouteDeps {
  store: EventStore;
  knex: Knex;
  /** sending verification links again; absent: the route answers 409 (verification is off) */
  verification?: EmailVerificationDeps;
  /** per-user limits of the verification mail and of wrong current passwords */
  limits?: AuthRateLimits;
  /** checks the current password and hashes the new one (PUT /users/me/password) */
  passwordHasher: PasswordHasher;
}

const commandResultSchema = z.object({ revision: z.string(), position: z.string().nullable() });

const channelsSchema = z.object({
  in_app: z.boolean(),
  mail: z.boolean(),
  sms: z.boolean().optional().describe('also by SMS to the verified phone (PUT /users/me/phone); left out: off'),
});

/** Every notification kind with its channels. */
export const notificationPreferencesSchema = z
  .object(Object.fromEntries(NOTIFICATION_KINDS.map((kind) => [kind, channelsSchema])) as Record<(typeof NOTIFICATION_KINDS)[number], typeof channelsSchema>)
  .describe('per notification kind: shown in the app (GET /notifications), mailed, sent by SMS; a kind never set is in-app and mail, no SMS');

export const profileSchema = z.object({
  id: z.string(),
  email: z.string(),
  username: z.string().nullable().describe('null: none chosen (log in by email)'),
  display_name: z.string(),
  avatar_url: z.string().nullable(),
  timezone: z.string().nullable(),
  role: z.string(),
  status: z.string(),
  email_verified: z.boolean().describe('the email was verified (POST /auth/verify-email)'),
  notification_preferences: notificationPreferencesSchema,
  phone: z
    .object({ number: z.string().describe('E.164'), verified_at: z.string() })
    .nullable()
    .describe('the verified phone number (PUT /users/me/phone); null: none'),
  mfa: z
    .object({
      totp: z.enum(['off', 'pending', 'on']).describe('pending: enrolled, not confirmed yet (logins need no code); on: logins need a second step'),
      recovery_codes_left: z.number().int().describe('unused recovery codes (0 unless on)'),
      sms: z.boolean().describe('logins may take a code sent by SMS to the verified phone (POST /users/mfa/sms)'),
    })
    .describe('the second factor (POST /users/mfa/totp)'),
  registered_at: z.string(),
  updated_at: z.string(),
});

const sessionSchema = z.object({
  id: z.string(),
  user_agent: z.string().nullable(),
  ip: z.string().nullable(),
  started_at: z.string(),
  last_refreshed_at: z.string().nullable(),
  expires_at: z.string(),
  ended_at: z.string().nullable(),
  end_reason: z.string().nullable(),
  current: z.boolean().describe('the session of the access token this request used'),
});

function isIanaZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function preferencesOf(given: Partial<Record<string, { in_app: boolean; mail: boolean; sms?: boolean }>>): Record<string, NotificationChannels> {
  return Object.fromEntries(
    Object.entries(given).flatMap(([kind, c]) => (c ? [[kind, { inApp: c.in_app, mail: c.mail, ...(c.sms !== undefined ? { sms: c.sms } : {}) }]] : [])),
  );
}

/** The signed-in user's own account: profile and sessions. Reads come from the `users-v1` read model. */
export function usersRouter(api: HttpApi, deps: UsersRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/users' });
  const { store, knex } = deps;

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/profile',
      summary: 'My profile',
      description: 'ETag: the revision to send as If-Match to PUT /users/profile.',
      tags: ['users'],
      auth: true,
      permission: 'account.profile.view',
      request: { query: afterPositionQuery },
      responses: { 200: { description: 'the profile', schema: profileSchema } },
      errors: [404],
    },
    async (_input, ctx) => {
      const user = currentUser(ctx);
      await awaitPosition(ctx, knex, USERS_PROJECTION);
      const found = await findUserProfile(knex, user.id);
      if (!found) throw new HttpError(404, 'NOT_FOUND', 'profile not found');
      ctx.set('ETag', `"${found.revision}"`);
      return found.profile;
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'put',
      path: '/profile',
      summary: 'Update my profile',
      description:
        'Fields left out stay as they are; null clears avatar_url / timezone. A new username is reserved first (409 CONFLICT, ' +
        'details.field = username, when someone holds it) and the old one is given back. notification_preferences changes the kinds ' +
        'it names (each with in_app and mail); the others keep theirs.',
      tags: ['users'],
      auth: true,
      permission: 'account.profile.edit',
      ifMatch: true,
      request: {
        body: z
          .object({
            display_name: z.string().trim().min(1).max(100).optional(),
            // kept as the URL parser writes it: `"`, `<`, `>`, spaces come out percent-encoded, never raw into a page
            avatar_url: z
              .url({ protocol: /^https?$/ })
              .max(2048)
              // zod runs this after a failed URL check too: only a parsable URL is looked into (the check said the rest)
              .refine((u) => !URL.canParse(u) || (new URL(u).username === '' && new URL(u).password === ''), 'must not carry a user name or password')
              .transform((u) => new URL(u).href)
              .nullable()
              .optional(),
            timezone: z.string().max(64).refine(isIanaZone, 'must be an IANA time zone, e.g. Europe/Berlin').nullable().optional(),
            username: usernameSchema.optional(),
            notification_preferences: z.partialRecord(z.enum(NOTIFICATION_KINDS), channelsSchema.strict()).optional(),
          })
          .strict(),
      },
      responses: { 200: { description: 'updated', schema: commandResultSchema } },
      errors: [403, 404, 409],
    },
    async ({ body }, ctx) => {
      const user = currentUser(ctx);
      const context = commandContext(ctx, user.id);
      // the name given is taken (a no-op when the user holds it) before it is recorded, the change appended only while the
      // reservation stands, and given back if the change does not happen — unless the profile names it by then (a concurrent
      // request of the same user recorded it)
      const taking = body.username;
      let reservation: AppendCondition | undefined;
      if (taking !== undefined) {
        try {
          reservation = await reserveUsername(store, taking, user.id, context);
        } catch (error) {
          if (error instanceof UsernameTakenError) throw new HttpError(409, 'CONFLICT', 'the username is taken', { field: 'username' });
          throw error;
        }
      }
      let result;
      try {
        result = await handle(
          store,
          userAggregate,
          user.id,
          {
            type: 'UpdateProfile',
            userId: user.id,
            ...(body.display_name !== undefined ? { displayName: body.display_name } : {}),
            ...(body.avatar_url !== undefined ? { avatarUrl: body.avatar_url } : {}),
            ...(body.timezone !== undefined ? { timezone: body.timezone } : {}),
            ...(body.username !== undefined ? { username: body.username } : {}),
            ...(body.notification_preferences !== undefined ? { notificationPreferences: preferencesOf(body.notification_preferences) } : {}),
            now: new Date().toISOString(),
          },
          { context, expectedRevision: ifMatchRevision(ctx), ...(reservation ? { conditions: [reservation] } : {}) },
        );
      } catch (error) {
        if (taking !== undefined) await releaseUnlessRecorded(store, taking, user.id, context).catch(() => undefined);
        throw error;
      }
      for (const event of result.events) {
        if (event.type === 'ProfileUpdated' && event.data.previousUsername) {
          // best effort: a name not given back stays reserved for this user, who can take it again
          await releaseUnlessRecorded(store, event.data.previousUsername, user.id, context).catch((err: unknown) =>
            ctx.state.logger.warn({ err }, 'old username not released'),
          );
        }
      }
      commandResult(ctx, result);
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'put',
      path: '/me/password',
      summary: 'Change my password',
      description:
        'Needs the current password. Every other session ends (its refresh token stops working, its access tokens within a second); ' +
        'the session of this request stays signed in. A wrong current password is 403 PERMISSION_DENIED (details.reason password_invalid), ' +
        'counted per user and hour together with wrong second-factor codes (AUTH_RATE_LIMIT_PER_ACCOUNT_HOURLY, then 429 RATE_LIMITED with Retry-After, ' +
        'checked before the password). A new password equal to the current one is 422. ' +
        "If-Match: my account's revision (the ETag of GET /users/profile); a stale one is 412, checked before the password. " +
        'A change or reset that lands while this one is checked is 409 CONFLICT: send it again.',
      tags: ['users'],
      auth: true,
      permission: 'account.profile.edit',
      ifMatch: true,
      request: {
        body: z
          .object({
            current_password: z.string().min(1).max(1024),
            new_password: passwordSchema.describe('8 to 1,024 characters'),
          })
          .strict(),
      },
      responses: { 200: { description: 'changed', schema: commandResultSchema } },
      errors: [403, 409, 429],
    },
    async ({ body }, ctx) => {
      const user = currentUser(ctx);
      await deps.limits?.refuseWhenOver(ctx, user.id);
      try {
        const result = await changePassword(
          { store, passwordHasher: deps.passwordHasher },
          user.id,
          { currentPassword: body.current_password, newPassword: body.new_password, keepSessionId: user.sessionId ?? undefined },
          commandContext(ctx, user.id),
          { expectedRevision: ifMatchRevision(ctx) },
        );
        commandResult(ctx, result);
      } catch (error) {
        if (!(error instanceof PasswordChangeRefusal)) throw error;
        ctx.state.logger.info({ reason: error.reason }, 'password change refused');
        if (error.reason === 'password_unchanged') {
          throw validationError([{ in: 'body', path: ['new_password'], message: 'must differ from the current password', code: 'password_unchanged' }]);
        }
        await deps.limits?.countWrong(ctx, user.id);
        throw new HttpError(403, 'PERMISSION_DENIED', error.message, { reason: error.reason });
      }
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/sessions',
      summary: 'My sessions',
      description: 'Newest first, ended ones included (ended_at, end_reason).',
      tags: ['users'],
      auth: true,
      permission: 'account.profile.view',
      request: { query: paginationQuery.extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'a page of sessions', schema: pageSchema(sessionSchema) } },
    },
    async ({ query }, ctx) => {
      const user = currentUser(ctx);
      await awaitPosition(ctx, knex, USERS_PROJECTION);
      const page = await listUserSessions(knex, user.id, query);
      return { ...page, items: page.items.map((session) => ({ ...session, current: session.id === user.sessionId })) };
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'delete',
      path: '/sessions/:id',
      summary: 'End one of my sessions',
      description: "Its refresh token stops working. Another user's session is 404, like an unknown one.",
      tags: ['users'],
      auth: true,
      permission: 'account.profile.edit',
      request: { params: z.object({ id: z.string().uuid() }) },
      responses: { 200: { description: 'ended', schema: commandResultSchema } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      const user = currentUser(ctx);
      const result = await handle(
        store,
        sessionAggregate,
        params.id,
        { type: 'EndSession', userId: user.id, sessionId: params.id, reason: 'revoked', now: new Date().toISOString() },
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
      path: '/email-verification',
      summary: 'Mail a new email-verification link',
      description:
        "Sends a new link to the account's email (it supersedes the earlier ones); the link leads to POST /auth/verify-email. " +
        '409 CONFLICT when the email is verified already, or when verification is off (EMAIL_VERIFICATION). Rate limited per user (429 RATE_LIMITED).',
      tags: ['users'],
      auth: true,
      permission: 'account.profile.edit',
      idempotent: false,
      responses: { 202: { description: 'the link is on its way' } },
      errors: [409, 429],
    },
    async (_input, ctx) => {
      const user = currentUser(ctx);
      if (!deps.verification) throw new HttpError(409, 'CONFLICT', 'email verification is off on this platform');
      await deps.limits?.check(ctx, 'resend-verification', { ip: ctx.ip, subject: user.id });
      await requestEmailVerification(deps.verification, user.id, commandContext(ctx, user.id));
      return null;
    },
  );

  return router;
}
