import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import { acceptInvitation, accountEmailHash, declineInvitation } from '../../../application/organization-invitations.js';
import type { MembershipDirectory } from '../../../application/ports/membership.js';
import type { EventStore } from '../../../event-store/port.js';
import { ORGANIZATIONS_PROJECTION } from '../../../projections/organizations.js';
import { listInvitationsTo } from '../../../read-api/organizations.js';
import { INVITATION_STATUSES } from '../../../write-model/organization/invitation.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { pageSchema, paginationQuery } from '../pagination.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import { commandResult } from '../revision.js';
import type { AppState } from '../state.js';

/**
 * The invitations addressed to me (docs/organizations.md): listed by my
 * account's email (its hash), accepted with the token of the mailed link,
 * or declined. Accepting needs an account whose email is the invited one
 * (403 otherwise) and no other organization (409).
 */

export interface InvitationRouteDeps {
  store: EventStore;
  knex: Knex;
  /** the access policy's membership answers, forgotten for whoever joins here (kept up to a second otherwise) */
  memberships?: MembershipDirectory & { forget?(userId?: string): void };
  now?: () => Date;
}

const tags = ['organizations'];
const written = { revision: z.string(), position: z.string().nullable() };

const myInvitationSchema = z.object({
  id: z.string(),
  organization_id: z.string(),
  organization_name: z.string().nullable(),
  email: z.string().describe('masked'),
  roles: z.array(z.string()),
  team: z.string().nullable(),
  invited_by: z.string(),
  status: z.enum(INVITATION_STATUSES),
  expired: z.boolean(),
  expires_at: z.string(),
  sent_at: z.string(),
  answered_at: z.string().nullable(),
});

export function invitationsRouter(api: HttpApi, deps: InvitationRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/invitations' });
  const { store, knex } = deps;
  const clock = () => deps.now?.() ?? new Date();

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/',
      summary: 'Invitations addressed to me',
      description: "Every organization's invitation sent to my account's email address, newest first; status narrows the list.",
      tags,
      auth: true,
      permission: 'organization.invitations.view',
      request: { query: paginationQuery.extend({ status: z.enum(INVITATION_STATUSES).optional() }).extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'a page of invitations', schema: pageSchema(myInvitationSchema) } },
    },
    async ({ query }, ctx) => {
      const emailHash = await accountEmailHash(store, currentUser(ctx).id);
      await awaitPosition(ctx, knex, ORGANIZATIONS_PROJECTION);
      return listInvitationsTo(knex, emailHash, { status: query.status }, query, clock());
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/accept',
      summary: 'Accept an invitation',
      description:
        'With the token of the mailed link (`?invitation=<token>`): the caller joins the organization with the invited roles and team. ' +
        'Their account email must be the invited address (403, details.reason other_email); an unknown token is 404; one used, declined or revoked ' +
        'is 409 (details.reason accepted / declined / revoked), an expired one 409 (details.reason expired); a member of another organization 409 ' +
        '(details.reason already_in_organization), of this one by another invitation 409 (details.reason already_member). Accepting again answers the same.',
      tags,
      auth: true,
      permission: 'organization.invitations.approve',
      request: { body: z.object({ token: z.string().min(1).max(200).describe('from the link') }).strict() },
      responses: {
        200: {
          description: 'joined',
          schema: z.object({ organization_id: z.string(), invitation_id: z.string(), roles: z.array(z.string()), team: z.string().nullable(), ...written }),
        },
      },
      errors: [403, 404, 409],
    },
    async ({ body }, ctx) => {
      const userId = currentUser(ctx).id;
      const joined = await acceptInvitation({ store, now: clock }, { userId, token: body.token, context: commandContext(ctx, userId) });
      // every member's answer lists the members (data scopes)
      (deps.memberships as { forget?(userId?: string): void } | undefined)?.forget?.();
      commandResult(ctx, joined, {
        extra: { organization_id: joined.organizationId, invitation_id: joined.invitationId, roles: joined.roles, team: joined.team },
      });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/:id/decline',
      summary: 'Decline an invitation',
      description:
        'One addressed to my account email (404 for any other). Declined already: the same answer, position null (nothing written); accepted or ' +
        'revoked: 409 (details.reason accepted / revoked), an expired one 409 (details.reason expired).',
      tags,
      auth: true,
      permission: 'organization.invitations.approve',
      request: { params: z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'an id is 1-100 letters, digits, _ and -') }) },
      responses: { 200: { description: 'declined', schema: z.object({ id: z.string(), ...written }) } },
      errors: [404, 409],
    },
    async ({ params }, ctx) => {
      const userId = currentUser(ctx).id;
      const result = await declineInvitation({ store, now: clock }, { userId, invitationId: params.id, context: commandContext(ctx, userId) });
      commandResult(ctx, result, { extra: { id: params.id } });
    },
  );

  return router;
}
