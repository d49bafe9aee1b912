import { Router } from '@koa/router';
import { z } from 'zod';
import { requireVerifiedEmail } from '../../../application/email-verification.js';
import { completeAuthorization, OAuthBindingError, startAuthorization, type OAuthAccountsDeps } from '../../../application/oauth-accounts.js';
import type { SecretBox } from '../../../application/ports/secret-box.js';
import type { Config } from '../../../config.js';
import type { EventStore } from '../../../event-store/port.js';
import { formatPosition } from '../../../event-store/position.js';
import { oauthPlatform, oauthPlatforms, type OpenPlatformConfig } from '../../../platforms/open-platform/clients.js';
import { openPlatformSpec } from '../../../platforms/open-platform/platforms.js';
import type { Redis } from '../../redis/redis.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { HttpError } from '../http-error.js';
import type { AppContext, AppState } from '../state.js';

/**
 * Binding platform accounts on the open platforms through OAuth 2.0:
 * `/api/v1/platform-accounts/oauth/…` — the platforms offered, the start
 * (the provider's authorization URL, as a 302 or as JSON) and the callback
 * the provider sends the browser back to (application/oauth-accounts.ts).
 * The bound accounts then list with the others (GET /platform-accounts,
 * `binding: oauth`); tokens never leave the events, sealed.
 */

export interface OAuthAccountsRouteDeps {
  store: EventStore;
  redis: Redis;
  secretBox: SecretBox;
  config: OpenPlatformConfig & Pick<Config, 'OAUTH_RETURN_URL' | 'QUEUE_PREFIX' | 'EMAIL_VERIFICATION'>;
  now?: () => Date;
}

const platformParams = z.object({ platform: z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, 'a platform id') });

const platformSchema = z.object({
  platform: z.string().describe('the platform id (baidu, sohu, netease)'),
  display_name: z.string(),
  pkce: z.boolean().describe('the platform takes PKCE (S256): the verifier travels sealed in the state'),
  scopes: z.array(z.string()).describe('what is asked for'),
  authorize_path: z.string().describe('GET this (signed in) to start binding'),
});

const authorizeSchema = z.object({
  platform: z.string(),
  authorize_url: z.string().describe("the provider's authorization URL: send the user's browser there"),
  expires_at: z.string().describe('the authorization must be completed by then (10 minutes)'),
});

const boundSchema = z.object({
  account: z.object({
    id: z.string(),
    platform: z.string(),
    platform_user_id: z.string().nullable(),
    display_name: z.string().describe("the owner's label: the platform's nickname for a new account"),
    nickname: z.string().nullable().describe('the name the platform shows'),
    status: z.string(),
    binding: z.literal('oauth'),
    token_expires_at: z.string().nullable(),
    scope: z.string().nullable().describe('what the platform granted'),
    connected_at: z.string(),
  }),
  rebound: z.boolean().describe('true: the account of this platform user existed and was authorized again'),
  revision: z.string(),
  position: z.string().nullable(),
});

const PROBLEMS: Record<OAuthBindingError['problem'], { status: number; code: string }> = {
  platform_not_offered: { status: 404, code: 'NOT_FOUND' },
  state_invalid: { status: 400, code: 'OAUTH_STATE_INVALID' },
  state_expired: { status: 400, code: 'OAUTH_STATE_EXPIRED' },
  state_used: { status: 409, code: 'OAUTH_STATE_USED' },
  access_denied: { status: 403, code: 'OAUTH_ACCESS_DENIED' },
  platform_error: { status: 400, code: 'OAUTH_PLATFORM_ERROR' },
  grant_refused: { status: 400, code: 'OAUTH_GRANT_REFUSED' },
  upstream_unavailable: { status: 502, code: 'UPSTREAM_UNAVAILABLE' },
  user_suspended: { status: 403, code: 'PERMISSION_DENIED' },
};

function httpError(error: OAuthBindingError): HttpError {
  const { status, code } = PROBLEMS[error.problem];
  return new HttpError(status, code, error.message, error.details);
}

export function oauthAccountsRouter(api: HttpApi, deps: OAuthAccountsRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/platform-accounts/oauth' });
  const tags = ['platform-accounts'];
  const { config, redis } = deps;
  const app: OAuthAccountsDeps = {
    store: deps.store,
    secretBox: deps.secretBox,
    client: (platform) => oauthPlatform(config, platform),
    async claimOnce(key, ttlMs) {
      return (await redis.set(`${config.QUEUE_PREFIX}:${key}`, '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX')) === 'OK';
    },
    ...(deps.now ? { now: deps.now } : {}),
  };

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/platforms',
      summary: 'The open platforms accounts can be bound on (OAuth)',
      description:
        'The platforms configured here (OAUTH_CLIENT_<PLATFORM>_ID, _SECRET and _PUBLIC_KEY with OPEN_PLATFORM_URL); a platform without its client is not listed.',
      tags,
      auth: true,
      permission: 'collection.platform-accounts.view',
      responses: { 200: { description: 'the platforms', schema: z.object({ items: z.array(platformSchema) }) } },
    },
    () => ({
      items: oauthPlatforms(config).map((c) => ({
        platform: c.platform,
        display_name: openPlatformSpec(c.platform)?.displayName ?? c.platform,
        pkce: c.pkce,
        scopes: [...c.scopes],
        authorize_path: `/api/v1/platform-accounts/oauth/${c.platform}/authorize`,
      })),
    }),
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/:platform/authorize',
      summary: 'Start binding an account on an open platform',
      description:
        "Answers 302 to the platform's authorization page, or — with `Accept: application/json` or `?redirect=false` — JSON with the URL " +
        '(for an app that opens it itself). The URL carries a `state` that seals the caller, the platform and the PKCE verifier for 10 ' +
        'minutes; the platform sends the browser back to GET …/{platform}/callback with it. Unknown or unconfigured platform: 404. ' +
        'While EMAIL_VERIFICATION is required, an account whose email is not verified gets 403 PERMISSION_DENIED.',
      tags,
      auth: true,
      permission: 'collection.platform-accounts.create',
      scope: 'manage',
      request: {
        params: platformParams,
        query: z.object({ redirect: z.enum(['true', 'false']).optional().describe('false: answer JSON instead of the 302') }),
      },
      responses: {
        200: { description: 'the authorization URL (JSON asked for)', schema: authorizeSchema },
        302: { description: "to the platform's authorization page (Location)" },
      },
      errors: [403, 404],
    },
    async ({ params, query }, ctx: AppContext) => {
      const user = currentUser(ctx);
      if (!oauthPlatform(config, params.platform)) throw new HttpError(404, 'NOT_FOUND', `OAuth platform ${params.platform} is not offered here`);
      await requireVerifiedEmail(deps.store, user.id, config.EMAIL_VERIFICATION);
      let started: ReturnType<typeof startAuthorization>;
      try {
        started = startAuthorization(app, user.id, params.platform);
      } catch (error) {
        throw error instanceof OAuthBindingError ? httpError(error) : error;
      }
      const wantsJson = query.redirect === 'false' || ctx.accepts('text/html', 'application/json') === 'application/json';
      if (wantsJson) return { platform: params.platform, authorize_url: started.authorizeUrl, expires_at: started.expiresAt.toISOString() };
      ctx.set('Cache-Control', 'no-store');
      ctx.redirect(started.authorizeUrl);
      return undefined;
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/:platform/callback',
      summary: 'The OAuth callback: bind the account',
      description:
        'Where the platform sends the browser after the consent (no bearer token: the `state` names the user). The state is checked ' +
        '(OAUTH_STATE_INVALID: not ours, altered or for another platform; OAUTH_STATE_EXPIRED: older than 10 minutes) and spent ' +
        '(409 OAUTH_STATE_USED when it comes again); then `error=access_denied` is 403 OAUTH_ACCESS_DENIED and another platform error ' +
        '400 OAUTH_PLATFORM_ERROR; a user suspended since the authorization began is 403 PERMISSION_DENIED (details.reason suspended) and nothing ' +
        'is bound; the code is exchanged (with the PKCE verifier) — a refused code is 400 OAUTH_GRANT_REFUSED, no answer ' +
        '502 UPSTREAM_UNAVAILABLE — and the platform user is bound: a new active account, or the account of the same platform user ' +
        'authorized again (`rebound`). With OAUTH_RETURN_URL set, the browser is sent there instead (302, `?platform=&account_id=&status=bound|rebound`, ' +
        'or `?platform=&error=<code>` for the refusals after the state was accepted).',
      tags,
      request: {
        params: platformParams,
        query: z.object({
          state: z.string().min(1).max(4000),
          code: z.string().min(1).max(2000).optional(),
          error: z.string().min(1).max(200).optional(),
          error_description: z.string().max(2000).optional(),
        }),
      },
      responses: {
        200: { description: 'bound', schema: boundSchema },
        302: { description: 'to OAUTH_RETURN_URL, when it is set' },
      },
      errors: [400, 403, 404, 409, 502],
    },
    async ({ params, query }, ctx: AppContext) => {
      const returnTo = (values: Record<string, string>) => {
        const url = new URL(config.OAUTH_RETURN_URL!);
        for (const [k, v] of Object.entries({ platform: params.platform, ...values })) url.searchParams.set(k, v);
        ctx.set('Cache-Control', 'no-store');
        ctx.redirect(url.toString());
      };
      let bound: Awaited<ReturnType<typeof completeAuthorization>>;
      try {
        bound = await completeAuthorization(
          app,
          { platform: params.platform, state: query.state, code: query.code, error: query.error, errorDescription: query.error_description },
          (userId) => commandContext(ctx, userId),
        );
      } catch (error) {
        if (!(error instanceof OAuthBindingError)) throw error;
        const beforeState = error.problem === 'platform_not_offered' || error.problem.startsWith('state_');
        if (config.OAUTH_RETURN_URL && !beforeState) {
          returnTo({ error: PROBLEMS[error.problem].code });
          return undefined;
        }
        throw httpError(error);
      }
      if (config.OAUTH_RETURN_URL) {
        returnTo({ account_id: bound.accountId, status: bound.rebound ? 'rebound' : 'bound' });
        return undefined;
      }
      const s = bound.result.state;
      if (s.status === 'none') throw new Error('a bound account has state');
      return {
        account: {
          id: s.accountId,
          platform: s.platform,
          platform_user_id: s.platformUserId,
          display_name: s.displayName,
          nickname: s.nickname,
          status: s.status,
          binding: 'oauth' as const,
          token_expires_at: s.oauth?.expiresAt ?? null,
          scope: s.oauth?.scope ?? null,
          connected_at: s.connectedAt,
        },
        rebound: bound.rebound,
        revision: bound.result.revision.toString(),
        position: bound.result.position ? formatPosition(bound.result.position) : null,
      };
    },
  );

  return router;
}
