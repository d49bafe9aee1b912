import { Router } from '@koa/router';
import { z } from 'zod';
import { resetMfa } from '../../../application/phone-numbers.js';
import type { EventStore } from '../../../event-store/port.js';
import { MAX_MFA_RESET_REASON } from '../../../write-model/user/phone.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { commandResult, ifMatchRevision } from '../revision.js';
import type { AppState } from '../state.js';

export interface AdminMfaRouteDeps {
  store: EventStore;
}

const commandResultSchema = z.object({ revision: z.string(), position: z.string().nullable() });

/**
 * POST /api/v1/admin/users/{id}/mfa/reset: a platform admin turns every
 * second factor of a user off (they lost their phone or app). MfaReset on
 * the user's stream names the admin (`by`) and the reason, and the event's
 * metadata the request: it shows in the audit (GET /admin/audit). The user is
 * notified (pm-mfa-reset-notifications, kind mfa_reset).
 */
export function adminMfaRouter(api: HttpApi, deps: AdminMfaRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/admin/users' });

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/:id/mfa/reset',
      summary: "Reset a user's second factors (admin)",
      description:
        'TOTP (its secret and recovery codes) and SMS codes are turned off; the phone number stays. Logins are single-step until the user sets a factor up again. ' +
        'The user is notified (kind mfa_reset, with the reason). Nothing on: 200, nothing recorded. The reason (1–500 characters) is kept with the event.',
      tags: ['admin'],
      auth: true,
      permission: 'platform.users.edit',
      ifMatch: true,
      request: {
        params: z.object({ id: z.uuid() }),
        body: z.object({ reason: z.string().trim().min(1).max(MAX_MFA_RESET_REASON) }).strict(),
      },
      responses: { 200: { description: 'reset', schema: commandResultSchema } },
      errors: [403, 404, 409],
    },
    async ({ params, body }, ctx) => {
      const admin = currentUser(ctx);
      const expectedRevision = ifMatchRevision(ctx);
      const result = await resetMfa(
        deps.store,
        { userId: params.id, by: admin.id, reason: body.reason },
        // the admin is the actor in the event's metadata: the audit names who did it
        commandContext(ctx, admin.id),
        expectedRevision !== undefined ? { expectedRevision } : {},
      );
      commandResult(ctx, result);
    },
  );

  return router;
}
