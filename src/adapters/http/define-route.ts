import type { OpenAPIRegistry, ResponseConfig, RouteConfig } from '@asteasolutions/zod-to-openapi';
import type { Router } from '@koa/router';
import type { Knex } from 'knex';
import type { Middleware } from 'koa';
import { z } from 'zod';
import { CALLBACK_PATH_PREFIXES } from './body.js';
import { ok } from './envelope.js';
import { validationError, zodIssues, type ValidationIssue } from './error-mapping.js';
import { idempotency, type IdempotencyOptions } from './idempotency.js';
import { API_KEY_AUTH, BEARER_AUTH, createOpenApiRegistry, errorEnvelopeSchema, successEnvelopeSchema } from './openapi.js';
import { requireScope } from './authenticate.js';
import type { ApiKeyScope } from '../../write-model/api-key/events.js';
import { unsafeTextIssues } from './text-safety.js';
import { repeatedQueryIssues } from './query.js';
import { isPermission, type Permission } from '../../write-model/access/permissions.js';
import { isPlatformPermission } from '../../application/authorization/policy.js';
import { requirePermission, type AccessOptions } from './access.js';
import { responseCheckMiddleware } from './response-check.js';
import type { AppContext, AppState } from './state.js';

/**
 * What routes are defined against: the OpenAPI registry (served at
 * /api/v1/openapi.json), the idempotency middleware for POST commands, and the
 * authentication middleware for `auth: true` routes (it must reject with 401
 * or put the user on ctx.state).
 */
export interface HttpApi {
  registry: OpenAPIRegistry;
  idempotency?: Middleware<AppState>;
  authenticate?: Middleware<AppState>;
  /** the general rate limit (middleware/api-rate-limit.ts): `signedIn` right after `authenticate`, `anonymous` first otherwise */
  rateLimit?: { anonymous: Middleware<AppState>; signedIn: Middleware<AppState> };
  /** every `auth: true` route defined against it needs a session token, whatever it declares (sessionOnly()) */
  sessionOnly?: boolean;
  /** what the access policy reads besides the token: the caller's organization (docs/rbac.md) */
  access: AccessOptions;
  /** every route defined against it, in order (scripts/rbac-table.ts, the RBAC matrix test) */
  routes: RouteRecord[];
}

/** One defined route as the access policy sees it. */
export interface RouteRecord {
  method: HttpMethod;
  /** OpenAPI form: /api/v1/things/{id} */
  path: string;
  auth: boolean;
  permission: Permission | null;
  scope: ApiKeyScope | 'session' | null;
}

export function createHttpApi(
  options: {
    knex?: Knex;
    authenticate?: Middleware<AppState>;
    rateLimit?: HttpApi['rateLimit'];
    registry?: OpenAPIRegistry;
    /** with knex: Idempotency-Key is honoured (hashKey: see IdempotencyOptions) */
    idempotency?: Omit<IdempotencyOptions, 'knex'>;
    /** the caller's organization for the access policy (src/api-app.ts: TOKENS.MembershipDirectory); none: everyone is outside one */
    memberships?: AccessOptions['memberships'];
    /** whether a user has a second factor, asked when the credential did not say (API keys) and their organization requires one */
    hasSecondFactor?: AccessOptions['hasSecondFactor'];
  } = {},
): HttpApi {
  if (options.knex && !options.idempotency) throw new Error('createHttpApi: idempotency.hashKey is needed with knex');
  return {
    registry: options.registry ?? createOpenApiRegistry(),
    idempotency: options.knex && options.idempotency ? idempotency({ knex: options.knex, ...options.idempotency }) : undefined,
    authenticate: options.authenticate,
    rateLimit: options.rateLimit,
    access: {
      ...(options.memberships ? { memberships: options.memberships } : {}),
      ...(options.hasSecondFactor ? { hasSecondFactor: options.hasSecondFactor } : {}),
    },
    routes: [],
  };
}

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

type ObjectSchema = z.ZodObject;

export interface RequestSchemas {
  params?: ObjectSchema;
  query?: ObjectSchema;
  body?: z.ZodType;
}

export interface ResponseSpec {
  description: string;
  /** the schema of `data` inside the success envelope; none: `data` is null (with `envelope: false`: the whole body) */
  schema?: z.ZodType;
  /** only with `envelope: false`; default application/json (several: each is answered, as the request decides) */
  contentType?: string | readonly string[];
  /** an enveloped route that answers a file instead when asked (`format=pdf`): the file's content types, documented beside the envelope */
  files?: readonly string[];
}

type Parsed<R, K extends keyof RequestSchemas> = R extends { [P in K]: infer S } ? (S extends z.ZodType ? z.output<S> : undefined) : undefined;

export interface RouteInput<R extends RequestSchemas> {
  params: Parsed<R, 'params'>;
  query: Parsed<R, 'query'>;
  body: Parsed<R, 'body'>;
}

type ResponseData<Res extends Record<number, ResponseSpec>> = {
  [S in keyof Res]: Res[S] extends { schema: infer T } ? (T extends z.ZodType ? z.input<T> : never) : null;
}[keyof Res];

export interface RouteDefinition<R extends RequestSchemas, Res extends Record<number, ResponseSpec>> {
  method: HttpMethod;
  /** Koa form, relative to the router's prefix: `/things/:id` */
  path: string;
  summary: string;
  description?: string;
  tags?: string[];
  operationId?: string;
  /** requires a bearer token: runs `api.authenticate` first; documented with the bearer scheme */
  auth?: boolean;
  /**
   * With `auth`: what a personal API key needs for this route (session
   * tokens have every scope) — `read`, `collect`, `export`, `manage`, or
   * `session` (no API key at all). Default: `read` for GET, `manage` for
   * the other methods; an api made with sessionOnly() makes it `session`.
   */
  scope?: ApiKeyScope | 'session';
  /**
   * Required with `auth`: the permission the route needs
   * (module.resource.operation, src/write-model/access/permissions.ts),
   * checked by the one policy right after the credential's scope; the data
   * scope it is granted at is on ctx.state.access for the handler
   * (docs/rbac.md). Documented as `x-permission` in the OpenAPI operation.
   */
  permission?: Permission;
  request?: R;
  /** the success responses; the first is what a returned value is answered with */
  responses: Res;
  /** error statuses the route may answer besides the ones implied (422, 400/409/413/415 for POST/PUT/PATCH/DELETE, 401 for auth, 429 under the general rate limit, 500, 503) */
  errors?: number[];
  /** POST only, default true: honours `Idempotency-Key` */
  idempotent?: boolean;
  /** documents `If-Match` (the route calls ifMatchRevision) and its 412 */
  ifMatch?: boolean;
  /**
   * false for routes that answer a third party in its own format (payment
   * callbacks): `responses` then document whole bodies, errors included, and
   * no envelope is added to the document; of the implied errors only those
   * the middleware answers before the route (in the error envelope) are: 422
   * (text no store can keep in the path or query), 415 with `rawBody` (a body
   * in a Content-Encoding), 429 where the general rate limit runs.
   */
  envelope?: false;
  /** documents a body the handler reads itself (not JSON, or verified on its raw bytes); several content types: the same schema for each */
  rawBody?: { contentType: string | readonly string[]; schema: z.ZodType; description?: string };
}

/**
 * The handler gets the validated, typed input. It answers itself (ok,
 * commandResult, fail) or returns the `data` to answer with the first
 * declared success status.
 */
export type RouteHandler<R extends RequestSchemas, Res extends Record<number, ResponseSpec>> = (
  input: RouteInput<R>,
  ctx: AppContext,
  // biome-ignore lint/suspicious/noConfusingVoidType: a handler may answer nothing (the route then answers 204 or sets the body itself)
) => Promise<ResponseData<Res> | void> | ResponseData<Res> | void;

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed request (MALFORMED_JSON, INVALID_IF_MATCH, INVALID_IDEMPOTENCY_KEY)',
  401: 'Missing or invalid access token (UNAUTHENTICATED)',
  403: 'Not allowed (PERMISSION_DENIED)',
  404: 'Not found (NOT_FOUND)',
  409: 'Conflict (CONFLICT: the state refuses it, or concurrent changes of the same thing outran its retries, which a retry may win; IDEMPOTENCY_IN_PROGRESS)',
  412: 'The resource changed since the If-Match revision (PRECONDITION_FAILED)',
  413: 'Request body too large (PAYLOAD_TOO_LARGE)',
  415: 'Request body is not application/json, or in a Content-Encoding other than gzip, deflate, br (UNSUPPORTED_MEDIA_TYPE)',
  422: 'Invalid input (VALIDATION_ERROR, IDEMPOTENCY_KEY_REUSED)',
  429: 'Rate limited (RATE_LIMITED, with Retry-After: the general API rate limit, or a limit of the route) or a quota exceeded (QUOTA_EXCEEDED with feature, limit, resets_at; Retry-After when it resets)',
  500: 'Internal error (INTERNAL_ERROR)',
  502: 'A payment provider refused the order or answered what does not verify (PAYMENT_PROVIDER_ERROR)',
  503: 'A service the platform depends on (Postgres, Redis) is unavailable for a moment (SERVICE_UNAVAILABLE); see Retry-After',
};

/** What a file answer is documented as. */
const FILE_BYTES = z.string().describe("the file's bytes");

/** Validated input between the validation middleware and the handler (idempotency runs in between). */
const parsedInputs = new WeakMap<object, unknown>();

/** Registers one route with the router (validation, auth, idempotency) and in the OpenAPI registry. */
// biome-ignore lint/complexity/noBannedTypes: `{}` is "no request schemas", the default a route without any gets
export function defineRoute<R extends RequestSchemas = {}, Res extends Record<number, ResponseSpec> = Record<number, ResponseSpec>>(
  router: Router<AppState>,
  api: HttpApi,
  definition: RouteDefinition<R, Res>,
  handler: RouteHandler<R, Res>,
): void {
  const { method, request = {} as R } = definition;
  const idempotent = method === 'post' && definition.idempotent !== false;
  if (definition.auth && !api.authenticate) throw new Error(`${method.toUpperCase()} ${definition.path}: auth required but no authenticate middleware given`);
  // every signed-in route names its permission: the policy is the one place access is decided
  if (definition.auth && (!definition.permission || !isPermission(definition.permission))) {
    throw new Error(`${method.toUpperCase()} ${definition.path}: an auth route needs a permission of the catalogue (src/write-model/access/permissions.ts)`);
  }
  const statuses = Object.keys(definition.responses).map(Number);
  const successStatus = statuses.find((s) => s >= 200 && s < 300) ?? 200;

  const middleware: Middleware<AppState>[] = [];
  if (definition.auth) middleware.push(api.authenticate!);
  if (api.rateLimit) middleware.push(definition.auth ? api.rateLimit.signedIn : api.rateLimit.anonymous);
  // the one place a credential's scope is checked (an API key's; a session token has every scope)
  if (definition.auth) middleware.push(requireScope(routeScope(definition, api)));
  // then the one access policy: the route's permission for the caller's roles (403 details.reason role / mfa_required), ctx.state.access
  if (definition.auth) middleware.push(requirePermission(definition.permission!, api.access));
  middleware.push(async (ctx, next) => {
    // a parameter given twice that the route takes once: one issue saying so, instead of the schema's about a list
    const issues: ValidationIssue[] = request.query ? repeatedQueryIssues(request.query, ctx.query) : [];
    const repeated = new Set(issues.map((issue) => issue.path[0]));
    const parse = (location: 'params' | 'query' | 'body', schema: z.ZodType | undefined, value: unknown): unknown => {
      if (!schema) return undefined;
      const result = schema.safeParse(value);
      if (result.success) return result.data;
      issues.push(...zodIssues(result.error, location).filter((issue) => location !== 'query' || !repeated.has(issue.path[0])));
      return undefined;
    };
    // text no store can keep is refused before any schema sees it (a route may not validate every string)
    const unsafe = [
      ...unsafeTextIssues('params', ctx.params ?? {}),
      ...unsafeTextIssues('query', ctx.query),
      ...unsafeTextIssues('body', ctx.request.body ?? {}),
    ];
    if (unsafe.length > 0) throw validationError(unsafe, 'request holds text that cannot be stored');
    const input = {
      params: parse('params', request.params, ctx.params ?? {}),
      query: parse('query', request.query, ctx.query),
      body: parse('body', request.body, ctx.request.body ?? {}),
    };
    if (issues.length > 0) throw validationError(issues);
    parsedInputs.set(ctx, input);
    await next();
  });
  if (idempotent && api.idempotency) middleware.push(api.idempotency);
  middleware.push(async (ctx) => {
    const data = await handler(parsedInputs.get(ctx) as RouteInput<R>, ctx);
    // the handler answered itself, or returned the data (or nothing: data null)
    if (ctx.body == null && (data !== undefined || ctx.status === 404)) ok(ctx, data ?? null, successStatus);
  });

  const route = openApiRoute(router, definition, request, idempotent, routeScope(definition, api), api.rateLimit !== undefined);
  // the test harness checks every answer against the document (response-check.ts); off, there is no such middleware
  const check = responseCheckMiddleware({ registry: api.registry, method, path: route.path });
  if (check) middleware.unshift(check);
  router.register(definition.path, [method.toUpperCase()], middleware as never);
  api.registry.registerPath(route);
  api.routes.push({
    method,
    path: route.path,
    auth: definition.auth === true,
    permission: definition.auth ? definition.permission! : null,
    scope: definition.auth ? routeScope(definition, api) : null,
  });
}

/** The scope an API key needs for the route (see RouteDefinition.scope). */
export function routeScope(
  definition: Pick<RouteDefinition<RequestSchemas, Record<number, ResponseSpec>>, 'method' | 'scope'>,
  api: Pick<HttpApi, 'sessionOnly'>,
): ApiKeyScope | 'session' {
  if (api.sessionOnly) return 'session';
  return definition.scope ?? (definition.method === 'get' ? 'read' : 'manage');
}

/** The same api whose `auth: true` routes need a session token (API keys refused with 403): account, keys, billing. */
export function sessionOnly(api: HttpApi): HttpApi {
  return { ...api, sessionOnly: true };
}

function openApiRoute(
  router: Router<AppState>,
  definition: RouteDefinition<RequestSchemas, Record<number, ResponseSpec>>,
  request: RequestSchemas,
  idempotent: boolean,
  scope: ApiKeyScope | 'session',
  /** the api's general rate limit runs on the route: 429 RATE_LIMITED */
  rateLimited: boolean,
): RouteConfig {
  // a collection's route ('/' under its prefix) is documented as the prefix alone, the path clients call
  const joined = `${router.opts.prefix ?? ''}${definition.path}`;
  const fullPath = (joined.length > 1 && joined.endsWith('/') ? joined.slice(0, -1) : joined).replace(/:(\w+)/g, '{$1}');
  const headers: Record<string, z.ZodType> = {};
  if (idempotent) {
    headers['Idempotency-Key'] = z.string().min(1).max(255).optional().describe('repeat a POST safely: same key and body answer the stored response (24 h)');
  }
  if (definition.ifMatch) headers['If-Match'] = z.string().optional().describe('"<revision>" from an ETag: 412 if the resource has moved on');

  const responses: Record<string, ResponseConfig> = {};
  const enveloped = definition.envelope !== false;
  for (const [status, spec] of Object.entries(definition.responses)) {
    const schema = enveloped ? successEnvelopeSchema(spec.schema ?? z.null()) : (spec.schema ?? z.null());
    const types = enveloped ? ['application/json'] : [spec.contentType ?? 'application/json'].flat();
    const content: Record<string, { schema: z.ZodType }> = Object.fromEntries(types.map((type) => [type, { schema }]));
    for (const type of enveloped ? (spec.files ?? []) : []) content[type] = { schema: FILE_BYTES };
    responses[status] = { description: spec.description, content };
  }
  const errors = new Set<number>(enveloped ? [500, 503, ...(definition.errors ?? [])] : []);
  // 422 on every route: text no store can keep is refused wherever it is (path, query, body), a route taking none of them too
  errors.add(422);
  const writes = ['post', 'put', 'patch', 'delete'].includes(definition.method);
  // the JSON body parser reads any POST/PUT/PATCH/DELETE's body, whether the route takes one or not
  if (request.body || writes) [400, 413, 415].forEach((s) => errors.add(s));
  // a command that keeps losing the race to concurrent changes of what it changes, past its retries, is a 409 to retry
  if (writes) errors.add(409);
  // 403 too: an API key without the route's scope (or any key on a session-only route)
  if (definition.auth) [401, 403].forEach((st) => errors.add(st));
  if (definition.ifMatch) [400, 412].forEach((s) => errors.add(s));
  if (idempotent) [409, 422].forEach((s) => errors.add(s));
  // the general rate limit runs on every route of an api that has one but the providers' callbacks, and refuses in the error envelope
  const limited = rateLimited && !CALLBACK_PATH_PREFIXES.some((prefix) => fullPath.startsWith(prefix));
  if (limited) errors.add(429);
  if (!enveloped) {
    // what the middleware refuses before the route answers in its own format, in the error envelope: text no store
    // can keep in the path or query (422), a raw body in any Content-Encoding (415), the general rate limit (429)
    errors.clear();
    errors.add(422);
    if (definition.rawBody) errors.add(415);
    if (limited) errors.add(429);
  }
  for (const status of [...errors].sort((a, b) => a - b)) {
    // a third party's format documents its own answers: an implied error does not replace one
    if (!enveloped && responses[String(status)]) continue;
    responses[String(status)] = {
      description: ERROR_DESCRIPTIONS[status] ?? 'Error',
      content: { 'application/json': { schema: errorEnvelopeSchema } },
    };
  }

  // the permission: an extension for tools, a line for readers
  const permission = definition.auth ? definition.permission : undefined;
  const description = [definition.description, permission ? `Permission: \`${permission}\` (docs/rbac.md).` : undefined].filter(Boolean).join('\n\n');
  // a platform operator's route takes no API key whatever its scope: the policy grants platform permissions to sessions alone
  const sessionAlone = scope === 'session' || (permission !== undefined && isPlatformPermission(permission));
  return {
    method: definition.method,
    path: fullPath,
    summary: definition.summary,
    ...(description ? { description } : {}),
    ...(permission ? { 'x-permission': permission } : {}),
    ...(definition.operationId ? { operationId: definition.operationId } : {}),
    tags: definition.tags ?? [],
    ...(definition.auth ? { security: sessionAlone ? [{ [BEARER_AUTH]: [] }] : [{ [BEARER_AUTH]: [] }, { [API_KEY_AUTH]: [scope] }] } : {}),
    request: {
      ...(request.params ? { params: request.params } : {}),
      ...(request.query ? { query: request.query } : {}),
      ...(Object.keys(headers).length > 0 ? { headers: z.object(headers) } : {}),
      ...(request.body ? { body: { required: true, content: { 'application/json': { schema: request.body } } } } : {}),
      ...(definition.rawBody
        ? {
            body: {
              required: true,
              ...(definition.rawBody.description ? { description: definition.rawBody.description } : {}),
              content: rawBodyContent(definition.rawBody),
            },
          }
        : {}),
    },
    responses,
  };
}

/** A raw body's content map: its schema under each of its content types. */
function rawBodyContent(raw: NonNullable<RouteDefinition<RequestSchemas, Record<number, ResponseSpec>>['rawBody']>): Record<string, { schema: z.ZodType }> {
  return Object.fromEntries([raw.contentType].flat().map((type) => [type, { schema: raw.schema }]));
}
