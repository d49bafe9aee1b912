import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { EventStore } from '../../../event-store/port.js';
import { USERS_PROJECTION } from '../../../projections/users.js';
import { findUser, searchUsers } from '../../../read-api/users.js';
import { handle } from '../../../write-model/core/command-handler.js';
import { userAggregate } from '../../../write-model/user/decider.js';
import { USER_ROLES } from '../../../write-model/user/events.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { HttpError } from '../http-error.js';
import { pageSchema, paginationQuery } from '../pagination.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import { commandResult, ifMatchRevision } from '../revision.js';
import type { AppContext, AppState } from '../state.js';
import { profileSchema } from './users.js';
import { instantQuery } from '../instant.js';

export interface AdminUsersRouteDeps {
  store: EventStore;
  knex: Knex;
}

const adminUserSchema = profileSchema.extend({
  mfa_enabled: z.boolean().describe("the user's logins need a second factor (TOTP on)"),
  revision: z.string().describe('the user stream revision: send it as If-Match to the commands below'),
});
const commandResultSchema = z.object({ revision: z.string(), position: z.string().nullable() });
const userIdParams = z.object({ id: z.uuid() });

/**
 * User management for admins (`/api/v1/admin/users`): find users, suspend
 * and reactivate them, change their role. Every route needs an admin's
 * token (401 without one, 403 for another role). Suspension ends every
 * session of the user at once: their access tokens stop working within a
 * second and their refresh tokens at once. An admin cannot suspend or demote
 * themselves (409), so the platform never loses its last way in by a slip.
 */
export function adminUsersRouter(api: HttpApi, deps: AdminUsersRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/admin/users' });
  // every route names its platform.* permission: the policy lets platform admins through
  const admin = api;
  const { store, knex } = deps;
  const tags = ['admin'];

  const notSelf = (ctx: AppContext, userId: string, what: string) => {
    if (currentUser(ctx).id === userId) throw new HttpError(409, 'CONFLICT', `an admin cannot ${what} themselves`, { reason: 'self' });
  };

  defineRoute(
    router,
    admin,
    {
      method: 'get',
      path: '/',
      summary: 'Find users (admin)',
      description:
        'Newest registrations first. q matches the start of the email, the username or the display name (case-insensitive); ' +
        'role, status, email_verified, mfa_enabled and the registration period filter (registered_from inclusive, registered_to exclusive, ' +
        'ISO-8601 date-times with an offset in years 0001–9999; registered_from after registered_to is 422).',
      tags,
      auth: true,
      permission: 'platform.users.view',
      request: {
        query: paginationQuery
          .extend({
            q: z.string().trim().min(1).max(254).optional(),
            role: z.enum(USER_ROLES).optional(),
            status: z.enum(['active', 'suspended']).optional(),
            email_verified: z.enum(['true', 'false']).optional(),
            mfa_enabled: z.enum(['true', 'false']).optional(),
            registered_from: instantQuery.optional(),
            registered_to: instantQuery.optional(),
            after_position: afterPositionQuery.shape.after_position,
          })
          // instants, compared as such (offsets may differ): a period ending before it starts is a mistake, not an empty page
          .refine((q) => q.registered_from === undefined || q.registered_to === undefined || Date.parse(q.registered_from) <= Date.parse(q.registered_to), {
            message: 'registered_from must not be after registered_to',
            path: ['registered_from'],
          }),
      },
      responses: { 200: { description: 'a page of users', schema: pageSchema(adminUserSchema) } },
      errors: [403],
    },
    async ({ query }, ctx) => {
      await awaitPosition(ctx, knex, USERS_PROJECTION);
      return searchUsers(
        knex,
        {
          ...(query.q !== undefined ? { q: query.q } : {}),
          ...(query.role !== undefined ? { role: query.role } : {}),
          ...(query.status !== undefined ? { status: query.status } : {}),
          ...(query.email_verified !== undefined ? { emailVerified: query.email_verified === 'true' } : {}),
          ...(query.mfa_enabled !== undefined ? { mfaEnabled: query.mfa_enabled === 'true' } : {}),
          ...(query.registered_from !== undefined ? { registeredFrom: query.registered_from } : {}),
          ...(query.registered_to !== undefined ? { registeredTo: query.registered_to } : {}),
        },
        query,
      );
    },
  );

  defineRoute(
    router,
    admin,
    {
      method: 'get',
      path: '/:id',
      summary: 'One user (admin)',
      tags,
      auth: true,
      permission: 'platform.users.view',
      request: { params: userIdParams, query: afterPositionQuery },
      responses: { 200: { description: 'the user', schema: adminUserSchema } },
      errors: [403, 404],
    },
    async ({ params }, ctx) => {
      await awaitPosition(ctx, knex, USERS_PROJECTION);
      const found = await findUser(knex, params.id);
      if (!found) throw new HttpError(404, 'NOT_FOUND', 'user not found');
      ctx.set('ETag', `"${found.revision}"`);
      return found;
    },
  );

  defineRoute(
    router,
    admin,
    {
      method: 'post',
      path: '/:id/suspend',
      summary: 'Suspend a user (admin)',
      description:
        'The user can no longer log in, refresh or act; every session ends (access tokens stop working within a second). ' +
        'Suspending a suspended user changes nothing (200, position null). The reason is kept with the event.',
      tags,
      auth: true,
      permission: 'platform.users.edit',
      ifMatch: true,
      request: { params: userIdParams, body: z.object({ reason: z.string().trim().min(1).max(500) }).strict() },
      responses: { 200: { description: 'suspended', schema: commandResultSchema } },
      errors: [403, 404, 409],
    },
    async ({ params, body }, ctx) => {
      notSelf(ctx, params.id, 'suspend');
      const result = await handle(
        store,
        userAggregate,
        params.id,
        { type: 'SuspendUser', userId: params.id, reason: body.reason, now: new Date().toISOString() },
        { context: commandContext(ctx), expectedRevision: ifMatchRevision(ctx) },
      );
      commandResult(ctx, result);
    },
  );

  defineRoute(
    router,
    admin,
    {
      method: 'post',
      path: '/:id/reactivate',
      summary: 'Reactivate a suspended user (admin)',
      description: 'The user may log in again (their old sessions stay ended). Reactivating an active user changes nothing.',
      tags,
      auth: true,
      permission: 'platform.users.edit',
      ifMatch: true,
      request: { params: userIdParams },
      responses: { 200: { description: 'active', schema: commandResultSchema } },
      errors: [403, 404],
    },
    async ({ params }, ctx) => {
      const result = await handle(
        store,
        userAggregate,
        params.id,
        { type: 'ReactivateUser', userId: params.id, now: new Date().toISOString() },
        { context: commandContext(ctx), expectedRevision: ifMatchRevision(ctx) },
      );
      commandResult(ctx, result);
    },
  );

  defineRoute(
    router,
    admin,
    {
      method: 'put',
      path: '/:id/role',
      summary: "Change a user's role (admin)",
      description: "Takes effect on the user's next request (access tokens carry the role as it is now, checked each request).",
      tags,
      auth: true,
      permission: 'platform.users.edit',
      ifMatch: true,
      request: { params: userIdParams, body: z.object({ role: z.enum(USER_ROLES) }).strict() },
      responses: { 200: { description: 'changed', schema: commandResultSchema } },
      errors: [403, 404, 409],
    },
    async ({ params, body }, ctx) => {
      if (body.role !== 'admin') notSelf(ctx, params.id, 'demote');
      const result = await handle(
        store,
        userAggregate,
        params.id,
        { type: 'ChangeRole', userId: params.id, role: body.role, now: new Date().toISOString() },
        { context: commandContext(ctx), expectedRevision: ifMatchRevision(ctx) },
      );
      commandResult(ctx, result);
    },
  );

  return router;
}
