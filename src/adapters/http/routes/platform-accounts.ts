import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import {
  connectPlatformAccount,
  disconnectPlatformAccount,
  ownedAccount,
  renamePlatformAccount,
  rotatePlatformAccountCredentials,
  verifyPlatformAccount,
  type PlatformAccountsDeps,
} from '../../../application/platform-accounts.js';
import type { Config } from '../../../config.js';
import type { EventStore } from '../../../event-store/port.js';
import type { Position } from '../../../event-store/position.js';
import { createAccountVerifiers, UpstreamUnavailableError, type AccountVerifiers } from '../../../platforms/account-verifier.js';
import { PLATFORM_IDS, platformModule, type PlatformId } from '../../../platforms/registry.js';
import { OPEN_PLATFORM_IDS } from '../../../platforms/open-platform/platforms.js';
import { PLATFORM_ACCOUNTS_PROJECTION } from '../../../projections/platform-accounts.js';
import {
  ACCOUNT_STATUSES,
  findPlatformAccount,
  listPlatformAccounts,
  type AccountStatusFilter,
  type PlatformAccountRow,
  type PlatformAccountView,
} from '../../../read-api/platform-accounts.js';
import type { SecretBox } from '../../crypto/secret-box.js';
import { requireVerifiedEmail } from '../../../application/email-verification.js';
import { accessOf } from '../access.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { newResourceOwner, ownerField, type OwnerChoice } from '../owner-choice.js';
import { validationError, zodIssues } from '../error-mapping.js';
import { HttpError } from '../http-error.js';
import { pageSchema, paginationQuery, type Page, type PageRequest } from '../pagination.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import { commandResult, ifMatchRevision } from '../revision.js';
import type { AppContext, AppState } from '../state.js';

export interface PlatformAccountsRouteDeps {
  store: EventStore;
  knex: Knex;
  secretBox: SecretBox;
  /** the platform hosts the verifiers call, and the quota day's zone */
  config: Pick<Config, 'XIAOHONGSHU_API_URL' | 'QIDIAN_WEB_URL' | 'QUOTA_TIME_ZONE' | 'EMAIL_VERIFICATION'>;
  /** default: createAccountVerifiers(config) */
  verifiers?: AccountVerifiers;
  now?: () => Date;
}

const commandResultSchema = z.object({ revision: z.string(), position: z.string().nullable() });

const accountSchema = z.object({
  id: z.string(),
  owner_id: z.string().describe("who owns it: a user's id, or the organization's id for one the organization owns"),
  platform: z.string(),
  platform_user_id: z.string().nullable().describe('the id on the platform, known after a verification'),
  display_name: z.string(),
  nickname: z.string().nullable().describe('the nickname the platform shows, from the last successful verification'),
  status: z.enum(ACCOUNT_STATUSES),
  health_score: z.number().int(),
  health_level: z.string(),
  last_invalidation_reason: z.string().nullable(),
  invalidated_at: z.string().nullable(),
  verified_at: z.string().nullable(),
  connected_at: z.string(),
  disconnected_at: z.string().nullable(),
  updated_at: z.string(),
  has_credentials: z.literal(true).describe('credentials are stored sealed and never shown'),
  binding: z.enum(['cookies', 'oauth']).describe('cookies the owner gave, or OAuth tokens a platform granted (GET /platform-accounts/oauth/platforms)'),
  token_expires_at: z.string().nullable().describe('OAuth: when the access token expires (renewed before by the refresh job); null for cookies'),
  revision: z.string(),
});

const platformEnum = z.enum(PLATFORM_IDS as [PlatformId, ...PlatformId[]]);
/** what the list filters on: the platforms accounts are connected to with cookies, and the open platforms bound through OAuth */
const listedPlatformEnum = z.enum([...PLATFORM_IDS, ...OPEN_PLATFORM_IDS] as [string, ...string[]]);
const idParams = z.object({ id: z.uuid('a platform account id is a UUID') });
const credentialsField = z
  .record(z.string(), z.unknown())
  .describe("the platform's credentials: xiaohongshu {cookies (with a1 and web_session), userAgent?}; qidian {cookies?}");

const verifyResultSchema = commandResultSchema.extend({
  verified: z.boolean(),
  status: z.enum(ACCOUNT_STATUSES),
  platform_user_id: z.string().nullable(),
  nickname: z.string().nullable(),
  reason: z.string().nullable().describe('why the platform refused the credentials'),
});

/** The credentials checked against the platform's own schema; issues name fields, never values. */
function parseCredentials(platform: string, credentials: unknown): unknown {
  const module = platformModule(platform);
  if (!module) throw validationError([{ in: 'body', path: ['platform'], message: 'unknown platform', code: 'invalid_value' }]);
  const parsed = module.credentialsSchema.safeParse(credentials);
  if (!parsed.success) {
    throw validationError(zodIssues(parsed.error, 'body').map((issue) => ({ ...issue, path: ['credentials', ...issue.path] })));
  }
  return parsed.data;
}

/** New credentials for an account: none for one bound through OAuth (it is authorized again instead), else its platform's. */
function newCredentials(account: { platform: string; oauth?: unknown }, credentials: unknown): unknown {
  if (account.oauth) {
    const message = `an account bound through OAuth takes no credentials: authorize it again (GET /api/v1/platform-accounts/oauth/${account.platform}/authorize)`;
    throw validationError([{ in: 'body', path: ['credentials'], message, code: 'invalid_value' }]);
  }
  return parseCredentials(account.platform, credentials);
}

/** The platform gave no verdict: a gateway problem, never an invalidation. */
async function upstream<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof UpstreamUnavailableError) {
      throw new HttpError(502, 'UPSTREAM_UNAVAILABLE', error.message, { platform: error.platform, problem: error.problem });
    }
    throw error;
  }
}

/** The account routes' handlers, shared by `/platform-accounts` and its per-platform aliases (`/xiaohongshu/accounts`). */
interface AccountHandlers {
  list(ctx: AppContext, query: PageRequest & { platform?: string | undefined; status?: AccountStatusFilter | undefined }): Promise<Page<PlatformAccountView>>;
  connect(ctx: AppContext, body: { platform: PlatformId; credentials: Record<string, unknown>; display_name: string; owner?: OwnerChoice }): Promise<void>;
  get(ctx: AppContext, id: string): Promise<PlatformAccountView>;
  update(ctx: AppContext, id: string, body: { display_name?: string | undefined; credentials?: Record<string, unknown> | undefined }): Promise<void>;
  disconnect(ctx: AppContext, id: string): Promise<void>;
  verify(ctx: AppContext, id: string): Promise<void>;
}

/**
 * The handlers, restricted to one platform's accounts when `only` is given:
 * then an account of another platform is a 404 on every route, like an
 * unknown one (its platform never changes, so one look settles it).
 */
function accountHandlers(deps: PlatformAccountsRouteDeps, only: PlatformId | null): AccountHandlers {
  const { store, knex } = deps;
  const app: PlatformAccountsDeps = {
    store,
    secretBox: deps.secretBox,
    verifiers: deps.verifiers ?? createAccountVerifiers(deps.config),
    timeZone: deps.config.QUOTA_TIME_ZONE,
    ...(deps.now ? { now: deps.now } : {}),
  };
  const actor = (ctx: AppContext) => {
    const user = currentUser(ctx);
    // the accounts the caller's data scope reaches (an organization admin: every member's)
    return { userId: user.id, context: commandContext(ctx, user.id), ownerIds: accessOf(ctx).ownerIds };
  };
  const notFound = () => new HttpError(404, 'NOT_FOUND', 'platform account not found');

  /** The caller's account from the read model. */
  async function ownAccount(ctx: AppContext, id: string): Promise<PlatformAccountRow> {
    const found = await findPlatformAccount(knex, id);
    // an account of an owner the caller's data scope reaches (docs/rbac.md)
    if (!found || !accessOf(ctx).ownerIds.includes(found.ownerId) || (only !== null && found.view.platform !== only)) throw notFound();
    return found;
  }

  /** The caller's account from the write side (NOT_FOUND as ownedAccount), of the restricted platform. */
  async function ownWritable(who: { userId: string; ownerIds: readonly string[] }, id: string): Promise<Awaited<ReturnType<typeof ownedAccount>>> {
    const owned = await ownedAccount(store, id, who.userId, who.ownerIds);
    if (only !== null && owned.state.platform !== only) throw notFound();
    return owned;
  }

  return {
    async list(ctx, query) {
      await awaitPosition(ctx, knex, PLATFORM_ACCOUNTS_PROJECTION);
      return listPlatformAccounts(knex, accessOf(ctx).ownerIds, { platform: only ?? query.platform, status: query.status }, query);
    },

    async connect(ctx, body) {
      await requireVerifiedEmail(store, currentUser(ctx).id, deps.config.EMAIL_VERIFICATION);
      const credentials = parseCredentials(body.platform, body.credentials);
      const { accountId, result } = await connectPlatformAccount(
        app,
        { ...actor(ctx), userId: newResourceOwner(ctx, body.owner) },
        {
          platform: body.platform,
          credentials,
          displayName: body.display_name,
        },
      );
      commandResult(ctx, result, { status: 201, extra: { id: accountId } });
    },

    async get(ctx, id) {
      await awaitPosition(ctx, knex, PLATFORM_ACCOUNTS_PROJECTION);
      const found = await ownAccount(ctx, id);
      ctx.set('ETag', `"${found.view.revision}"`);
      return found.view;
    },

    async update(ctx, id, body) {
      const who = actor(ctx);
      const expected = ifMatchRevision(ctx);
      const { state, revision } = await ownWritable(who, id);
      // checked before anything is written: a refused PUT changes nothing, the label sent with them included
      const credentials = body.credentials === undefined ? undefined : newCredentials(state, body.credentials);
      let outcome: { revision: bigint; position: Position | undefined } = { revision, position: undefined };
      let expectedNext = expected;
      if (body.display_name !== undefined) {
        const renamed = await renamePlatformAccount(app, who, id, body.display_name, expectedNext);
        if (renamed.position) {
          outcome = { revision: renamed.revision, position: renamed.position };
          if (expectedNext !== undefined) expectedNext = renamed.revision;
        }
      }
      if (credentials === undefined) {
        commandResult(ctx, outcome);
        return;
      }
      const rotated = await rotatePlatformAccountCredentials(app, who, id, credentials, expectedNext);
      commandResult(ctx, rotated.position ? rotated : outcome);
    },

    async disconnect(ctx, id) {
      const who = actor(ctx);
      if (only !== null) await ownWritable(who, id);
      commandResult(ctx, await disconnectPlatformAccount(app, who, id, ifMatchRevision(ctx)));
    },

    async verify(ctx, id) {
      const who = actor(ctx);
      if (only !== null) await ownWritable(who, id);
      const { outcome, result } = await upstream(() => verifyPlatformAccount(app, who, id, ifMatchRevision(ctx)));
      const state = result.state;
      commandResult(ctx, result, {
        extra: {
          verified: outcome.ok,
          status: state.status === 'none' ? 'pending_verification' : state.status,
          platform_user_id: state.status === 'none' ? null : state.platformUserId,
          nickname: outcome.ok ? outcome.nickname : null,
          reason: outcome.ok ? null : outcome.reason,
        },
      });
    },
  };
}

/** What each route says, whichever path serves it (an alias prefixes which route it aliases). */
const ROUTE_TEXT = {
  list: {
    summary: 'My platform accounts',
    description: 'Newest first. Disconnected accounts are left out unless asked for with `status=disconnected`.',
  },
  connect: {
    summary: 'Connect a platform account',
    description:
      "The credentials are checked against the platform's schema (422), sealed and stored only in the account's events. " +
      'Where the plan counts accounts (xiaohongshu: account_limit) the account takes a slot until it is disconnected; at the limit: ' +
      '429 QUOTA_EXCEEDED with feature account_limit. The account starts pending_verification: POST .../verify checks it. ' +
      'While EMAIL_VERIFICATION is required, an account whose email is not verified gets 403 PERMISSION_DENIED (details.reason email_not_verified). ' +
      "With owner organization the account is the organization's (owner_id is its id, its slot the organization's): its workflows and publications use it.",
  },
  get: { summary: 'One of my platform accounts', description: 'ETag: the revision to send as If-Match.' },
  update: {
    summary: 'Rename, or give new credentials',
    description:
      'display_name relabels the account. New credentials are sealed and replace the old ones; on an invalid account this is the ' +
      'reconnect (back to pending_verification); an account bound through OAuth takes none (422 under credentials: authorize it again). ' +
      'Credentials are checked first: refused, nothing is written, the rename included. With both, the rename comes first; If-Match ' +
      'applies to the first change.',
  },
  disconnect: {
    summary: 'Disconnect a platform account',
    description:
      'Final. The account stays readable with status disconnected, and its account_limit slot is given back. Disconnecting it again ' +
      'changes nothing (200, position null). A stale If-Match is 412; without one, a change to the account or its subscription meanwhile ' +
      'is retried, and one that keeps conflicting is 409 CONFLICT (send it again).',
  },
  verify: {
    summary: 'Verify a platform account on its platform',
    description:
      'Logs in on the platform with the stored credentials. Accepted: active, with the platform user id and nickname; refused: invalid, ' +
      'with the reason (login_wall, captcha, credentials_expired, …). When the platform gives no answer (network error, timeout, 5xx, ' +
      'rate limit, IP block): 502 UPSTREAM_UNAVAILABLE and the account is unchanged. New credentials or a change of status meanwhile: 409 ' +
      '(its health score moving is not such a change).',
  },
} as const;

const listQuery = paginationQuery.extend({ status: z.enum(ACCOUNT_STATUSES).optional() }).extend(afterPositionQuery.shape);
const connectBody = z.object({ credentials: credentialsField, display_name: z.string().trim().min(1).max(200), owner: ownerField });
const updateBody = z
  .object({ display_name: z.string().trim().min(1).max(200).optional(), credentials: credentialsField.optional() })
  .strict()
  .refine((b) => b.display_name !== undefined || b.credentials !== undefined, 'give credentials or display_name');

/**
 * The caller's platform accounts: `/api/v1/platform-accounts`. Reads come
 * from the `platform-accounts-v1` read model (`?after_position=` waits for
 * it); commands go to the PlatformAccount aggregate through
 * application/platform-accounts.ts. Another user's account is a 404, like an
 * unknown one. Credentials go in, sealed, and never come out.
 */
export function platformAccountsRouter(api: HttpApi, deps: PlatformAccountsRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/platform-accounts' });
  const handlers = accountHandlers(deps, null);
  const tags = ['platform-accounts'];

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/',
      ...ROUTE_TEXT.list,
      tags,
      auth: true,
      permission: 'collection.platform-accounts.view',
      request: { query: listQuery.extend({ platform: listedPlatformEnum.optional() }) },
      responses: { 200: { description: 'a page of accounts', schema: pageSchema(accountSchema) } },
    },
    ({ query }, ctx) => handlers.list(ctx, query),
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/',
      ...ROUTE_TEXT.connect,
      tags,
      auth: true,
      permission: 'collection.platform-accounts.create',
      request: { body: connectBody.extend({ platform: platformEnum }).strict() },
      responses: { 201: { description: 'connected', schema: commandResultSchema.extend({ id: z.string() }) } },
      errors: [403, 404, 429],
    },
    ({ body }, ctx) => handlers.connect(ctx, body),
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/:id',
      ...ROUTE_TEXT.get,
      tags,
      auth: true,
      permission: 'collection.platform-accounts.view',
      request: { params: idParams, query: afterPositionQuery },
      responses: { 200: { description: 'the account', schema: accountSchema } },
      errors: [404],
    },
    ({ params }, ctx) => handlers.get(ctx, params.id),
  );

  defineRoute(
    router,
    api,
    {
      method: 'put',
      path: '/:id',
      ...ROUTE_TEXT.update,
      tags,
      auth: true,
      permission: 'collection.platform-accounts.edit',
      ifMatch: true,
      request: { params: idParams, body: updateBody },
      responses: { 200: { description: 'changed (or nothing to change)', schema: commandResultSchema } },
      errors: [404, 409],
    },
    ({ params, body }, ctx) => handlers.update(ctx, params.id, body),
  );

  defineRoute(
    router,
    api,
    {
      method: 'delete',
      path: '/:id',
      ...ROUTE_TEXT.disconnect,
      tags,
      auth: true,
      permission: 'collection.platform-accounts.delete',
      ifMatch: true,
      request: { params: idParams },
      responses: { 200: { description: 'disconnected', schema: commandResultSchema } },
      errors: [404, 409],
    },
    ({ params }, ctx) => handlers.disconnect(ctx, params.id),
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/:id/verify',
      ...ROUTE_TEXT.verify,
      tags,
      auth: true,
      permission: 'collection.platform-accounts.run',
      ifMatch: true,
      request: { params: idParams },
      responses: { 200: { description: 'the verdict, recorded', schema: verifyResultSchema } },
      errors: [404, 409, 502],
    },
    ({ params }, ctx) => handlers.verify(ctx, params.id),
  );

  return router;
}

/** "Alias of METHOD /api/v1/platform-accounts…" before the route's own description. */
const aliasOf = (route: string, text: { summary: string; description: string }, note = '') => ({
  summary: `${text.summary} (Xiaohongshu)`,
  description: `Alias of \`${route}\`, restricted to Xiaohongshu accounts${note}: another platform's account is 404, like an unknown one. ${text.description}`,
});

/**
 * The Xiaohongshu account paths, `/api/v1/xiaohongshu/accounts…`:
 * aliases of the `/api/v1/platform-accounts` routes above (the same
 * handlers) restricted to platform xiaohongshu — the list shows only
 * Xiaohongshu accounts, a new account is a Xiaohongshu one (no `platform`
 * in the body), and an id of another platform's account is 404.
 */
export function xiaohongshuAccountsRouter(api: HttpApi, deps: PlatformAccountsRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/xiaohongshu/accounts' });
  const platform = 'xiaohongshu' satisfies PlatformId;
  const handlers = accountHandlers(deps, platform);
  const tags = ['xiaohongshu', 'platform-accounts'];

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/',
      ...aliasOf('GET /api/v1/platform-accounts?platform=xiaohongshu', ROUTE_TEXT.list),
      tags,
      auth: true,
      permission: 'collection.platform-accounts.view',
      request: { query: listQuery },
      responses: { 200: { description: 'a page of Xiaohongshu accounts', schema: pageSchema(accountSchema) } },
    },
    ({ query }, ctx) => handlers.list(ctx, query),
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/',
      ...aliasOf('POST /api/v1/platform-accounts', ROUTE_TEXT.connect, ' (the platform is xiaohongshu, not given in the body)'),
      tags,
      auth: true,
      permission: 'collection.platform-accounts.create',
      request: { body: connectBody.strict() },
      responses: { 201: { description: 'connected', schema: commandResultSchema.extend({ id: z.string() }) } },
      errors: [403, 404, 429],
    },
    ({ body }, ctx) => handlers.connect(ctx, { ...body, platform }),
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/:id',
      ...aliasOf('GET /api/v1/platform-accounts/{id}', ROUTE_TEXT.get),
      tags,
      auth: true,
      permission: 'collection.platform-accounts.view',
      request: { params: idParams, query: afterPositionQuery },
      responses: { 200: { description: 'the account', schema: accountSchema } },
      errors: [404],
    },
    ({ params }, ctx) => handlers.get(ctx, params.id),
  );

  defineRoute(
    router,
    api,
    {
      method: 'put',
      path: '/:id',
      ...aliasOf('PUT /api/v1/platform-accounts/{id}', ROUTE_TEXT.update),
      tags,
      auth: true,
      permission: 'collection.platform-accounts.edit',
      ifMatch: true,
      request: { params: idParams, body: updateBody },
      responses: { 200: { description: 'changed (or nothing to change)', schema: commandResultSchema } },
      errors: [404, 409],
    },
    ({ params, body }, ctx) => handlers.update(ctx, params.id, body),
  );

  defineRoute(
    router,
    api,
    {
      method: 'delete',
      path: '/:id',
      ...aliasOf('DELETE /api/v1/platform-accounts/{id}', ROUTE_TEXT.disconnect),
      tags,
      auth: true,
      permission: 'collection.platform-accounts.delete',
      ifMatch: true,
      request: { params: idParams },
      responses: { 200: { description: 'disconnected', schema: commandResultSchema } },
      errors: [404, 409],
    },
    ({ params }, ctx) => handlers.disconnect(ctx, params.id),
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/:id/verify',
      ...aliasOf('POST /api/v1/platform-accounts/{id}/verify', ROUTE_TEXT.verify),
      tags,
      auth: true,
      permission: 'collection.platform-accounts.run',
      ifMatch: true,
      request: { params: idParams },
      responses: { 200: { description: 'the verdict, recorded', schema: verifyResultSchema } },
      errors: [404, 409, 502],
    },
    ({ params }, ctx) => handlers.verify(ctx, params.id),
  );

  return router;
}
