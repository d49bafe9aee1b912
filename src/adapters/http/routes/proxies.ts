import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import { calendarDaySchema } from '../calendar-day.js';
import type { ProxyProber } from '../../../application/ports/proxy-prober.js';
import { runProxyHealthChecks } from '../../../application/proxy-health.js';
import {
  banProxy,
  DEFAULT_HEALTH_THRESHOLDS,
  recordHealthCheck,
  refuseDuplicateProxy,
  registerProxy,
  retireProxy,
  unbanProxy,
  type HealthThresholds,
  type ProxyDeps,
} from '../../../application/proxies.js';
import type { EventStore } from '../../../event-store/port.js';
import { PLATFORM_IDS, type PlatformId } from '../../../platforms/registry.js';
import type { Turns } from '../../../application/ports/turns.js';
import { PROXIES_PROJECTION } from '../../../projections/proxies.js';
import { PROXY_USAGE_PROJECTION } from '../../../projections/proxy-usage.js';
import { findProxy, listMyProxyUsage, listProxies, listProxyUsage } from '../../../read-api/proxies.js';
import { PROXY_PROTOCOLS } from '../../../write-model/proxy/events.js';
import type { SecretBox } from '../../crypto/secret-box.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { countedCreation } from '../counted-creation.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { rangeError } from '../error-mapping.js';
import { HttpError } from '../http-error.js';
import { pageSchema, paginationQuery } from '../pagination.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import { commandResult, ifMatchRevision } from '../revision.js';
import { instantQuery } from '../instant.js';
import type { AppContext, AppState } from '../state.js';

export interface ProxiesRouteDeps {
  store: EventStore;
  knex: Knex;
  /** POST /proxies/{id}/probe: what to fetch through the proxy (config PROXY_HEALTH_TARGET_URL) and for how long at most; absent: 503 */
  probe?: { target: string; timeoutMs: number; insecure?: boolean; prober: ProxyProber };
  secretBox: SecretBox;
  /** where registrations of one endpoint take turns (the duplicate check reads the read model) */
  turns?: Turns;
  thresholds?: HealthThresholds;
  /** the clock (tests) */
  now?: () => Date;
}

const commandResultSchema = z.object({ revision: z.string(), position: z.string().nullable() });
const PLATFORM = z.enum(PLATFORM_IDS as [PlatformId, ...PlatformId[]]);
const DAY = calendarDaySchema;
const idParams = z.object({ id: z.string().uuid() });

const banSchema = z.object({ platform: z.string(), reason: z.string(), until: z.string().nullable(), banned_at: z.string() });

const proxySchema = z.object({
  id: z.string(),
  host: z.string(),
  port: z.number().int(),
  protocol: z.string(),
  has_credentials: z.boolean().describe('credentials are sealed and never shown'),
  country: z.string().nullable(),
  region: z.string().nullable(),
  provider: z.string().nullable(),
  status: z.string().describe('healthy, failed or retired'),
  success_rate: z.number().nullable().describe('successful checks over checks (0..1); null before the first check'),
  avg_latency_ms: z.number().int().nullable(),
  last_latency_ms: z.number().int().nullable(),
  last_checked_at: z.string().nullable(),
  last_success_at: z.string().nullable(),
  last_error: z.string().nullable(),
  failure_reason: z.string().nullable(),
  consecutive_failures: z.number().int(),
  consecutive_successes: z.number().int(),
  total_checks: z.number().int(),
  successful_checks: z.number().int(),
  job_failures: z.number().int(),
  bans: z.array(banSchema).describe('the bans in force now'),
  registered_by: z.string(),
  registered_at: z.string(),
  failed_at: z.string().nullable(),
  recovered_at: z.string().nullable(),
  retired_at: z.string().nullable(),
  updated_at: z.string(),
  revision: z.string(),
});

const usageSchema = z.object({
  proxy_id: z.string(),
  user_id: z.string(),
  platform: z.string(),
  day: z.string(),
  executions: z.number().int(),
  items: z.number().int(),
  failures: z.number().int(),
});
const myUsageSchema = usageSchema.omit({ proxy_id: true, user_id: true });

const usageRange = z.object({ platform: PLATFORM.optional(), from: DAY.optional(), to: DAY.optional() });

const registerBody = z
  .object({
    host: z
      .string()
      .min(1)
      .max(253)
      .regex(/^[A-Za-z0-9.:\-[\]_]+$/, 'a host name or an IP address'),
    port: z.number().int().min(1).max(65535),
    protocol: z.enum(PROXY_PROTOCOLS),
    username: z
      .string()
      .min(1)
      .max(255)
      .regex(/^[^:]*$/, 'must not contain ":"')
      .optional(),
    password: z.string().min(1).max(255).optional(),
    country: z
      .string()
      .regex(/^[A-Za-z]{2}$/, 'ISO 3166-1 alpha-2')
      .optional(),
    region: z.string().min(1).max(100).optional(),
    provider: z.string().min(1).max(100).optional(),
  })
  .strict()
  .refine((b) => b.password === undefined || b.username !== undefined, { message: 'a password needs a username', path: ['password'] });

function rangeChecked<T extends { from?: string; to?: string }>(query: T): T {
  if (query.from && query.to && query.from > query.to) {
    throw rangeError();
  }
  return query;
}

/**
 * The proxy pool for admins: `/api/v1/proxies` (every route needs the admin
 * role, except GET /usage/me: any signed-in user's own usage). Reads come
 * from `proxies-v1` and `proxy-usage-v1`; commands go to the Proxy aggregate
 * through src/application/proxies.ts. Credentials are sealed before the
 * command and never answered.
 */
export function proxiesRouter(api: HttpApi, deps: ProxiesRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/proxies' });
  // every route names its platform.* permission: the policy lets platform admins through
  const admin = api;
  const { store, knex, secretBox, turns } = deps;
  const clock = () => deps.now?.() ?? new Date();
  const proxyDeps = (ctx: AppContext): ProxyDeps => ({
    store,
    context: commandContext(ctx, currentUser(ctx).id),
    now: clock,
    ...(deps.thresholds ? { thresholds: deps.thresholds } : {}),
  });

  // the usage routes come before /:id, which would otherwise take "usage" for an id
  defineRoute(
    router,
    admin,
    {
      method: 'get',
      path: '/usage',
      summary: 'Proxy usage statistics (admin)',
      description: 'Per proxy, user, platform and day (quota time zone): executions through the proxy, items collected, executions failed. Newest day first.',
      tags: ['proxies'],
      auth: true,
      permission: 'platform.proxies.view',
      request: {
        query: paginationQuery
          .extend(usageRange.shape)
          .extend({ proxy_id: z.string().min(1).max(100).optional(), user_id: z.string().min(1).max(100).optional() })
          .extend(afterPositionQuery.shape),
      },
      responses: { 200: { description: 'a page of usage rows', schema: pageSchema(usageSchema) } },
      errors: [403],
    },
    async ({ query }, ctx) => {
      await awaitPosition(ctx, knex, PROXY_USAGE_PROJECTION);
      const { page, per_page, after_position: _after, ...filters } = rangeChecked(query);
      return listProxyUsage(knex, filters, { page, per_page });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/usage/me',
      summary: 'My proxy usage',
      description: "The caller's usage per service (platform) and day, summed over the proxies used. Newest day first.",
      tags: ['proxies'],
      auth: true,
      permission: 'collection.executions.view',
      request: { query: paginationQuery.extend(usageRange.shape).extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'a page of usage rows', schema: pageSchema(myUsageSchema) } },
    },
    async ({ query }, ctx) => {
      const user = currentUser(ctx);
      await awaitPosition(ctx, knex, PROXY_USAGE_PROJECTION);
      const { page, per_page, after_position: _after, ...filters } = rangeChecked(query);
      return listMyProxyUsage(knex, user.id, filters, { page, per_page });
    },
  );

  defineRoute(
    router,
    admin,
    {
      method: 'post',
      path: '/',
      summary: 'Register a proxy (admin)',
      description:
        'username and password are sealed together (AES-256-GCM) before the command: they are never stored, logged or answered in clear. ' +
        'A proxy the pool has already — not retired, with the same host (any case), port, protocol and username (or none) — is 409 ' +
        'CONFLICT, details.reason duplicate_proxy with details.proxy_id: retire that one to register it anew. Registrations of one ' +
        'host, port and protocol take turns, each keeping its turn until the read model the check reads shows it, so two at once ' +
        'register it once; one that waits too long for its turn is 409 (details.reason creation_in_progress).',
      tags: ['proxies'],
      auth: true,
      permission: 'platform.proxies.create',
      request: { body: registerBody },
      responses: { 201: { description: 'registered', schema: commandResultSchema.extend({ id: z.string() }) } },
      errors: [403, 409],
    },
    async ({ body }, ctx) => {
      const user = currentUser(ctx);
      // the duplicate check reads the read model: registrations of one endpoint take turns, each until the projection shows it
      const endpoint = `proxies:${body.protocol}://${body.host.toLowerCase()}:${body.port}`;
      const { proxyId, ...result } = await countedCreation(
        { turns, knex },
        endpoint,
        PROXIES_PROJECTION,
        async () => {
          await refuseDuplicateProxy(
            { store, knex, secretBox },
            { host: body.host, port: body.port, protocol: body.protocol, username: body.username ?? null },
          );
          return registerProxy(
            { ...proxyDeps(ctx), secretBox },
            {
              host: body.host,
              port: body.port,
              protocol: body.protocol,
              username: body.username ?? null,
              password: body.password ?? null,
              country: body.country ?? null,
              region: body.region ?? null,
              provider: body.provider ?? null,
              registeredBy: user.id,
            },
          );
        },
        'another registration of this proxy is under way: try again',
      );
      commandResult(ctx, result, { status: 201, extra: { id: proxyId } });
    },
  );

  defineRoute(
    router,
    admin,
    {
      method: 'get',
      path: '/',
      summary: 'The proxy pool (admin)',
      description: 'Newest first, with health statistics and the bans in force. Filters match exactly (country, region and provider ignore case).',
      tags: ['proxies'],
      auth: true,
      permission: 'platform.proxies.view',
      request: {
        query: paginationQuery
          .extend({
            status: z.enum(['healthy', 'failed', 'retired']).optional(),
            protocol: z.enum(PROXY_PROTOCOLS).optional(),
            country: z
              .string()
              .regex(/^[A-Za-z]{2}$/)
              .optional(),
            region: z.string().min(1).max(100).optional(),
            provider: z.string().min(1).max(100).optional(),
          })
          .extend(afterPositionQuery.shape),
      },
      responses: { 200: { description: 'a page of proxies', schema: pageSchema(proxySchema) } },
      errors: [403],
    },
    async ({ query }, ctx) => {
      await awaitPosition(ctx, knex, PROXIES_PROJECTION);
      const { page, per_page, after_position: _after, ...filters } = query;
      return listProxies(knex, filters, { page, per_page }, clock());
    },
  );

  defineRoute(
    router,
    admin,
    {
      method: 'get',
      path: '/:id',
      summary: 'One proxy (admin)',
      tags: ['proxies'],
      auth: true,
      permission: 'platform.proxies.view',
      request: { params: idParams, query: afterPositionQuery },
      responses: { 200: { description: 'the proxy', schema: proxySchema } },
      errors: [403, 404],
    },
    async ({ params }, ctx) => {
      await awaitPosition(ctx, knex, PROXIES_PROJECTION);
      const found = await findProxy(knex, params.id, clock());
      if (!found) throw new HttpError(404, 'NOT_FOUND', 'proxy not found');
      ctx.set('ETag', `"${found.revision}"`);
      return found;
    },
  );

  defineRoute(
    router,
    admin,
    {
      method: 'delete',
      path: '/:id',
      summary: 'Retire a proxy (admin)',
      description:
        'Out of the pool for good; the row stays with status retired. Retiring again changes nothing (200, position null). ' +
        'If-Match: the ETag of GET /proxies/{id} (bans and health verdicts move it too); a stale one is 412, a repeat included.',
      tags: ['proxies'],
      auth: true,
      permission: 'platform.proxies.delete',
      ifMatch: true,
      request: { params: idParams, query: z.object({ reason: z.string().min(1).max(500).optional() }) },
      responses: { 200: { description: 'retired', schema: commandResultSchema } },
      errors: [403, 404],
    },
    async ({ params, query }, ctx) => {
      const expectedRevision = ifMatchRevision(ctx);
      const result = await retireProxy(proxyDeps(ctx), { proxyId: params.id, reason: query.reason ?? null, by: currentUser(ctx).id, expectedRevision });
      commandResult(ctx, result);
    },
  );

  defineRoute(
    router,
    admin,
    {
      method: 'post',
      path: '/:id/bans',
      summary: 'Ban a proxy for a platform (admin)',
      description: 'Leases for that platform skip the proxy until `until` (absent: until unbanned). A new ban of the platform replaces the old one.',
      tags: ['proxies'],
      auth: true,
      permission: 'platform.proxies.edit',
      request: {
        params: idParams,
        body: z.object({ platform: PLATFORM, reason: z.string().min(1).max(500), until: instantQuery.optional() }).strict(),
      },
      responses: { 200: { description: 'banned (or already so)', schema: commandResultSchema.extend({ banned: z.boolean() }) } },
      errors: [403, 404, 409],
    },
    async ({ params, body }, ctx) => {
      const result = await banProxy(proxyDeps(ctx), { proxyId: params.id, platform: body.platform, reason: body.reason, until: body.until ?? null });
      commandResult(ctx, result, { extra: { banned: result.events.length > 0 } });
    },
  );

  defineRoute(
    router,
    admin,
    {
      method: 'delete',
      path: '/:id/bans/:platform',
      summary: 'Lift a platform ban (admin)',
      description: 'Unbanning a platform that is not banned changes nothing (unbanned: false).',
      tags: ['proxies'],
      auth: true,
      permission: 'platform.proxies.edit',
      request: { params: idParams.extend({ platform: PLATFORM }) },
      responses: { 200: { description: 'unbanned (or was not banned)', schema: commandResultSchema.extend({ unbanned: z.boolean() }) } },
      errors: [403, 404, 409],
    },
    async ({ params }, ctx) => {
      const result = await unbanProxy(proxyDeps(ctx), { proxyId: params.id, platform: params.platform, by: currentUser(ctx).id });
      commandResult(ctx, result, { extra: { unbanned: result.events.length > 0 } });
    },
  );

  defineRoute(
    router,
    admin,
    {
      method: 'post',
      path: '/:id/health-checks',
      summary: 'Record a health-check result (admin)',
      description:
        'One probe result, timed on arrival. Consecutive failures fail a healthy proxy (failed: true) and consecutive successes ' +
        'recover a failed one (recovered: true); the thresholds are PROXY_FAILURE_THRESHOLD and PROXY_RECOVERY_THRESHOLD. ' +
        "A successful check needs latency_ms. The observation goes to the proxy's day stream (`proxy_health-{id}_{YYYYMMDD}`, UTC): " +
        "`revision` is that stream's, `position` the latest write (the verdict's when there is one).",
      tags: ['proxies'],
      auth: true,
      permission: 'platform.proxies.edit',
      request: {
        params: idParams,
        body: z
          .object({ ok: z.boolean(), latency_ms: z.number().int().min(0).max(600_000).optional(), error: z.string().min(1).max(1000).optional() })
          .strict()
          .refine((b) => !b.ok || b.latency_ms !== undefined, { message: 'a successful check must report latency_ms', path: ['latency_ms'] }),
      },
      responses: {
        201: {
          description: 'recorded',
          schema: commandResultSchema.extend({ recorded: z.boolean(), failed: z.boolean(), recovered: z.boolean(), status: z.string() }),
        },
      },
      errors: [403, 404, 409],
    },
    async ({ params, body }, ctx) => {
      const outcome = await recordHealthCheck(proxyDeps(ctx), {
        proxyId: params.id,
        ok: body.ok,
        latencyMs: body.latency_ms ?? null,
        error: body.error ?? null,
      });
      commandResult(ctx, outcome, {
        status: 201,
        extra: { recorded: outcome.recorded, failed: outcome.failed, recovered: outcome.recovered, status: outcome.state.status },
      });
    },
  );

  defineRoute(
    router,
    admin,
    {
      method: 'post',
      path: '/:id/probe',
      summary: 'Probe a proxy now (admin)',
      description:
        'A real request through the proxy to PROXY_HEALTH_TARGET_URL, now, recorded like a scheduled health check (it counts toward ' +
        'PROXY_FAILURE_THRESHOLD / PROXY_RECOVERY_THRESHOLD, so a failed proxy can be recovered by hand once it works again). ' +
        'Answers within the probe timeout (10 s). A retired or unknown proxy is 404; credentials that no longer open are a failed probe.',
      tags: ['proxies'],
      auth: true,
      permission: 'platform.proxies.run',
      request: { params: idParams },
      responses: {
        200: {
          description: 'the probe',
          schema: z.object({
            ok: z.boolean(),
            latency_ms: z.number().int().nullable(),
            error: z.string().nullable().describe('why it failed (no credentials in it)'),
            failed: z.boolean().describe('this probe failed the proxy'),
            recovered: z.boolean().describe('this probe recovered it'),
          }),
        },
      },
      errors: [403, 404, 503],
    },
    async ({ params }, ctx) => {
      const probe = deps.probe;
      if (!probe) throw new HttpError(503, 'SERVICE_UNAVAILABLE', 'probing is not configured here');
      const report = await runProxyHealthChecks(
        {
          store,
          knex,
          secretBox,
          thresholds: deps.thresholds ?? DEFAULT_HEALTH_THRESHOLDS,
          prober: probe.prober,
          target: probe.target,
          insecure: probe.insecure ?? false,
          now: clock,
        },
        { proxyIds: [params.id], timeoutMs: probe.timeoutMs, context: commandContext(ctx, currentUser(ctx).id) },
      );
      const result = report.results[0];
      if (!result) throw new HttpError(404, 'NOT_FOUND', 'no such proxy in the pool (or retired)');
      return { ok: result.ok, latency_ms: result.latencyMs, error: result.error, failed: result.failed, recovered: result.recovered };
    },
  );

  return router;
}
