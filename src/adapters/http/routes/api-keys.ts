import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import { createApiKey, MAX_ACTIVE_API_KEYS, revokeApiKey, type ApiKeyCall } from '../../../application/api-keys.js';
import type { EventStore } from '../../../event-store/port.js';
import { API_KEYS_PROJECTION } from '../../../projections/api-keys.js';
import { countActiveApiKeys, listApiKeys } from '../../../read-api/api-keys.js';
import { API_KEY_SCOPES } from '../../../write-model/api-key/events.js';
import { MAX_NAME } from '../../../write-model/api-key/decider.js';
import { issueApiKeyToken } from '../../auth/api-key-tokens.js';
import type { Turns } from '../../../application/ports/turns.js';
import { countedCreation } from '../counted-creation.js';
import { currentSessionUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { defineRoute, sessionOnly, type HttpApi } from '../define-route.js';
import { HttpError } from '../http-error.js';
import { pageSchema, paginationQuery } from '../pagination.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import { commandResult, ifMatchRevision } from '../revision.js';
import { instantQuery } from '../instant.js';
import type { AppContext, AppState } from '../state.js';

export interface ApiKeysRouteDeps {
  store: EventStore;
  knex: Knex;
  /** where one user's key creations take turns */
  turns: Turns;
  /** the clock (tests) */
  now?: () => Date;
}

const commandResultSchema = z.object({ revision: z.string(), position: z.string().nullable() });

/** The longest a key may be made to live: a year and a day. */
const MAX_LIFETIME_MS = 366 * 86_400_000;

const SCOPES_TEXT =
  '`read`: every GET route of the API (collected data, accounts, workflows, executions, trackings, usage); `collect`: start ' +
  'collections (POST /workflows/{id}/execute, POST /xiaohongshu/contents/collect); `export`: the export downloads (…/export); ' +
  '`manage`: every other change (platform accounts, workflows, trackings, deletions, batches, notifications). Never with a key: ' +
  'the account itself (/users/…, /auth/…), payments and subscription changes, admin routes.';

const apiKeySchema = z.object({
  id: z.string().describe('the key id: the part after ck_live_ and before the secret'),
  name: z.string(),
  scopes: z.array(z.enum(API_KEY_SCOPES)),
  prefix: z.string().describe('ck_live_<id>: how the key starts, never the secret'),
  created_at: z.string(),
  expires_at: z.string().nullable().describe('null: never'),
  revoked_at: z.string().nullable(),
  last_used_day: z.string().nullable().describe('YYYY-MM-DD (quota time zone) of the last day the key was used; recorded at most once a day'),
  status: z.enum(['active', 'expired', 'revoked']),
});

const createBody = z
  .object({
    name: z.string().trim().min(1).max(MAX_NAME),
    scopes: z
      .array(z.enum(API_KEY_SCOPES))
      .min(1)
      .max(API_KEY_SCOPES.length)
      .refine((s) => new Set(s).size === s.length, 'a scope may be named once'),
    expires_at: instantQuery.nullable().optional().describe('when the key stops working (at most 366 days ahead); absent or null: never'),
  })
  .strict();

/**
 * The signed-in user's personal API keys: `/api/v1/users/api-keys`. Every
 * route here needs a session access token — an API key cannot make, list or
 * revoke keys (403). Reads come from the `api-keys-v1` read model.
 */
export function apiKeysRouter(api: HttpApi, deps: ApiKeysRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/users/api-keys' });
  const session = sessionOnly(api);
  const { store, knex } = deps;
  const clock = () => deps.now?.() ?? new Date();
  const call = (ctx: AppContext, userId: string): ApiKeyCall => ({ store, userId, now: clock(), context: commandContext(ctx, userId) });

  defineRoute(
    router,
    session,
    {
      method: 'post',
      path: '/',
      summary: 'Create a personal API key',
      description:
        'Answers the key (`key`, `ck_live_<id>_<secret>`) this once: only its hash is kept, it cannot be shown again (lost: revoke it ' +
        'and make another). Use it as `X-API-Key: <key>` or `Authorization: Bearer <key>`; it acts for me, as role user, with its ' +
        `scopes. Scopes: ${SCOPES_TEXT} Needs a plan with API access: a plan including api_access (qidian enterprise) or the api ` +
        'export format (xiaohongshu enterprise); otherwise 403 PERMISSION_DENIED with details.feature = api_access. When every such ' +
        'plan ends, the keys stop working (403) until one is back. At most 20 keys that are neither revoked nor expired (409, ' +
        'details.reason too_many_keys; creations of one user run one at a time, and one that waits too long for its turn is 409 ' +
        'creation_in_progress). Not idempotent (the answer holds the secret, which is never stored): a retry makes another key.',
      tags: ['users'],
      auth: true,
      permission: 'account.api-keys.create',
      idempotent: false,
      request: { body: createBody },
      responses: {
        201: {
          description: 'created: the key, shown this once',
          schema: apiKeySchema
            .omit({ revoked_at: true, last_used_day: true, status: true })
            .extend({ key: z.string(), revision: z.string(), position: z.string().nullable() }),
        },
      },
      errors: [403, 409],
    },
    async ({ body }, ctx) => {
      const user = currentSessionUser(ctx);
      const now = clock();
      const expiresAt = body.expires_at ? new Date(body.expires_at) : null;
      if (expiresAt && (expiresAt.getTime() <= now.getTime() || expiresAt.getTime() > now.getTime() + MAX_LIFETIME_MS)) {
        throw new HttpError(422, 'VALIDATION_ERROR', 'expires_at must be in the future, at most 366 days ahead', {
          issues: [{ in: 'body', path: ['expires_at'], message: 'in the future, at most 366 days ahead', code: 'custom' }],
        });
      }
      const issued = issueApiKeyToken();
      // the limit is counted in the read model: one creation of the user at a time, each keeping its turn until the projection has its key
      const result = await countedCreation(deps, `api-key-create:${user.id}`, API_KEYS_PROJECTION, async () => {
        if ((await countActiveApiKeys(knex, user.id, now)) >= MAX_ACTIVE_API_KEYS) {
          throw new HttpError(409, 'CONFLICT', `at most ${MAX_ACTIVE_API_KEYS} active API keys: revoke one first`, {
            reason: 'too_many_keys',
            limit: MAX_ACTIVE_API_KEYS,
          });
        }
        return createApiKey(call(ctx, user.id), {
          keyId: issued.keyId,
          secretHash: issued.secretHash,
          prefix: issued.prefix,
          name: body.name,
          scopes: body.scopes,
          expiresAt: expiresAt?.toISOString() ?? null,
        });
      });
      const created = result.state.status === 'none' ? null : result.state;
      ctx.set('Cache-Control', 'no-store');
      ctx.set('Location', `/api/v1/users/api-keys/${issued.keyId}`);
      commandResult(ctx, result, {
        status: 201,
        extra: {
          id: issued.keyId,
          name: created?.name ?? body.name,
          scopes: created?.scopes ?? body.scopes,
          prefix: issued.prefix,
          created_at: created?.createdAt ?? now.toISOString(),
          expires_at: created?.expiresAt ?? null,
          key: issued.token,
        },
      });
    },
  );

  defineRoute(
    router,
    session,
    {
      method: 'get',
      path: '/',
      summary: 'My personal API keys',
      description:
        'Newest first, revoked and expired ones included (status). Never the secret: `prefix` is how the key starts. `last_used_day` is ' +
        'the last day (quota time zone) the key authenticated a request, recorded at its first request of a day.',
      tags: ['users'],
      auth: true,
      permission: 'account.api-keys.view',
      request: { query: paginationQuery.extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'a page of keys', schema: pageSchema(apiKeySchema) } },
    },
    async ({ query }, ctx) => {
      const user = currentSessionUser(ctx);
      await awaitPosition(ctx, knex, API_KEYS_PROJECTION);
      return listApiKeys(knex, user.id, query, clock());
    },
  );

  defineRoute(
    router,
    session,
    {
      method: 'delete',
      path: '/:id',
      summary: 'Revoke one of my personal API keys',
      description:
        "Final: the key is refused (401) within a second. Another user's key is 404, like an unknown one; again: 200 with position null. " +
        'If-Match: the revision its creation answered; a stale one is 412, a repeat included.',
      tags: ['users'],
      auth: true,
      permission: 'account.api-keys.delete',
      ifMatch: true,
      request: { params: z.object({ id: z.string().regex(/^[0-9a-f]{24}$/, 'a key id is 24 hex characters') }) },
      responses: { 200: { description: 'revoked', schema: commandResultSchema } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      const user = currentSessionUser(ctx);
      commandResult(ctx, await revokeApiKey(call(ctx, user.id), params.id, ifMatchRevision(ctx)));
    },
  );

  return router;
}
