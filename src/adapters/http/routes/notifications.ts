import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { EventStore } from '../../../event-store/port.js';
import { NOTIFICATIONS_PROJECTION } from '../../../projections/notifications.js';
import { listNotifications } from '../../../read-api/notifications.js';
import { markAllNotificationsRead, markNotificationRead } from '../../../application/notifications.js';
import { NOTIFICATION_KINDS } from '../../../write-model/notification/events.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { pageSchema, paginationQuery } from '../pagination.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import { commandResult } from '../revision.js';
import type { AppState } from '../state.js';

export interface NotificationsRouteDeps {
  store: EventStore;
  knex: Knex;
  /** the clock (tests) */
  now?: () => Date;
}

const commandResultSchema = z.object({ revision: z.string(), position: z.string().nullable() });

const notificationSchema = z.object({
  id: z.string(),
  kind: z.enum(NOTIFICATION_KINDS),
  title: z.string(),
  body: z.string(),
  data: z.record(z.string(), z.unknown()).describe('what the notification is about (ids, service, feature, limit, …); never a secret'),
  read: z.boolean(),
  read_at: z.string().nullable(),
  emailed: z.boolean().describe('also sent by e-mail'),
  created_at: z.string(),
});

const listQuery = paginationQuery
  .extend({ unread: z.enum(['true', 'false']).optional().describe('true: only the unread ones') })
  .extend(afterPositionQuery.shape);

const idParams = z.object({ id: z.uuid('a notification id is a UUID') });

/**
 * The caller's in-app notifications: `/api/v1/notifications`. Reads come from
 * the `notifications-v1` read model; marking read goes to each notification's
 * aggregate (`notification-{id}`), which refuses anyone but its user: 404,
 * like an unknown one. Read-all marks what the read model shows unread.
 */
export function notificationsRouter(api: HttpApi, deps: NotificationsRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/notifications' });
  const { store, knex } = deps;
  const clock = () => deps.now?.() ?? new Date();

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/',
      summary: 'My notifications',
      description: 'Newest first; `?unread=true` for the unread ones only. `unread_count` counts all unread, whatever the filter.',
      tags: ['notifications'],
      auth: true,
      permission: 'account.notifications.view',
      request: { query: listQuery },
      responses: { 200: { description: 'a page of notifications', schema: pageSchema(notificationSchema).extend({ unread_count: z.number().int() }) } },
    },
    async ({ query }, ctx) => {
      const user = currentUser(ctx);
      await awaitPosition(ctx, knex, NOTIFICATIONS_PROJECTION);
      return listNotifications(knex, user.id, { page: query.page, per_page: query.per_page, unread: query.unread === 'true' });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/read-all',
      summary: 'Mark all my notifications read',
      description:
        '`marked`: how many were unread. Marks what the read model shows unread (`?after_position=` waits for a write first); ' +
        "`revision` (and the ETag) is the last marked notification's, `position` the latest write. Nothing unread: 200, marked 0, " +
        'revision and position null and no ETag, since no notification was written.',
      tags: ['notifications'],
      auth: true,
      permission: 'account.notifications.edit',
      request: { query: afterPositionQuery },
      responses: {
        200: {
          description: 'marked',
          schema: z.object({
            marked: z.number().int(),
            revision: z.string().nullable().describe("the last marked notification's stream revision; null when none was marked"),
            position: z.string().nullable(),
          }),
        },
      },
    },
    async (_input, ctx) => {
      const user = currentUser(ctx);
      await awaitPosition(ctx, knex, NOTIFICATIONS_PROJECTION);
      const outcome = await markAllNotificationsRead({ store, knex, context: commandContext(ctx, user.id), now: clock() }, user.id);
      if (outcome.revision === undefined) return { marked: outcome.marked, revision: null, position: null };
      commandResult(ctx, { revision: outcome.revision, position: outcome.position }, { extra: { marked: outcome.marked } });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/:id/read',
      summary: 'Mark one of my notifications read',
      description: 'Already read: 200, unchanged. Unknown or another user’s: 404.',
      tags: ['notifications'],
      auth: true,
      permission: 'account.notifications.edit',
      request: { params: idParams },
      responses: { 200: { description: 'marked', schema: commandResultSchema } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      const user = currentUser(ctx);
      const result = await markNotificationRead({ store, context: commandContext(ctx, user.id), now: clock() }, user.id, params.id);
      commandResult(ctx, result);
    },
  );

  return router;
}
