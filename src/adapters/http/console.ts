import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { KoaAdapter } from '@bull-board/koa';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Middleware } from 'koa';
import { InvalidAccessTokenError, type AccessTokens } from '../auth/access-tokens.js';
import type { Redis } from '../redis/redis.js';
import { ok } from './envelope.js';
import { HttpError } from './http-error.js';
import type { AdminQueues } from './routes/admin.js';
import type { AppContext, AppState } from './state.js';
import { authorize, type Principal } from '../../application/authorization/policy.js';
import type { Permission } from '../../write-model/access/permissions.js';
import type { UserRole } from '../../write-model/user/events.js';

/** Signing in to the console needs one of these (the review workbench, the queue dashboard). */
const CONSOLE_PERMISSIONS: readonly Permission[] = ['platform.reviews.view', 'platform.queues.view'];

/** The console's caller as the policy sees them: platform work only (a session; no organization's roles or rules reach it). */
const platformPrincipal = (userId: string, role: UserRole): Principal => ({
  userId,
  platformRole: role,
  credential: 'session',
  membership: null,
  mfaEnabled: true,
});

/**
 * The operator console, served by the api process itself:
 *
 * - `GET /console/` and `GET /console/<file>`: the page app in src/console
 *   (plain HTML, JS and CSS, no build step). Only the files found there at
 *   start are served, looked up by exact name in a table: no path from the
 *   request ever reaches the file system, so there is nothing to traverse.
 * - `POST /console/session` (Authorization: Bearer <admin access token>; a
 *   reviewer's too, whose page app shows only the review workbench)
 *   → a console session: a random id kept in Redis (hashed) for as long as
 *   the access token has left, at most `sessionTtlSeconds`, sent back as the
 *   cookie `collector_console` (HttpOnly, SameSite=Strict, Path=/console,
 *   Secure on https). `DELETE /console/session` ends it. Browsers do not send
 *   bearer tokens on navigations and iframes; the cookie is what lets them
 *   open the queue dashboard. Nothing else accepts it: the admin JSON API is
 *   bearer only, and the cookie's path keeps it off every /api route.
 * - `/console/queues/*`: bull-board over the platform's queues, only with a
 *   live console session of an admin (401 / 403 otherwise). Requests that
 *   change something must come from the console's own origin (Origin header),
 *   on top of SameSite=Strict.
 */

export const CONSOLE_PATH = '/console';
export const CONSOLE_QUEUES_PATH = '/console/queues';
export const CONSOLE_SESSION_COOKIE = 'collector_console';
export const DEFAULT_CONSOLE_SESSION_TTL_SECONDS = 15 * 60;

export interface ConsoleDeps {
  accessTokens: AccessTokens;
  redis: Redis;
  queues: AdminQueues;
  /** Redis key namespace of the sessions: `<keyPrefix>:console-session:<sha256(id)>` */
  keyPrefix: string;
  /** a session's longest life (it never outlives the access token it came from); default 15 min */
  sessionTtlSeconds?: number;
  /** the page app's files; default src/console */
  staticDir?: string;
  /** the board's title */
  title?: string;
}

interface ConsoleSession {
  userId: string;
  role: UserRole;
  expiresAt: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
};

/** The page app's CSP: its own scripts, styles and API only; framed by nobody; it frames only the queue dashboard (same origin). */
/**
 * bull-board's page: its scripts and styles are files under its own path,
 * its config a JSON (not script) element; it styles with inline attributes
 * and loads its fonts from Google Fonts.
 */
const QUEUES_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline' https://fonts.googleapis.com",
  "font-src 'self' https://fonts.gstatic.com",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'self'",
].join('; ');

const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "object-src 'none'",
].join('; ');

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
}

/** Every regular file directly in `dir` with a known type, read once. */
function loadStaticFiles(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const name of readdirSync(dir)) {
    const type = CONTENT_TYPES[extname(name).toLowerCase()];
    const path = join(dir, name);
    if (!type || !/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith('.') || !statSync(path).isFile()) continue;
    const body = readFileSync(path);
    files.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
  }
  if (!files.has('index.html')) throw new Error(`the console has no index.html in ${dir}`);
  return files;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function sameOrigin(ctx: AppContext): boolean {
  const origin = ctx.get('Origin');
  if (origin === '') return true; // not a browser's cross-origin request (same-origin GETs may omit it too)
  try {
    return new URL(origin).host === ctx.host;
  } catch {
    return false;
  }
}

/** The console: the page app, its session endpoint and the queue dashboard (mounted after the API routers). */
export function consoleApp(deps: ConsoleDeps): Middleware<AppState> {
  const staticDir = deps.staticDir ?? fileURLToPath(new URL('../../console/', import.meta.url));
  const files = loadStaticFiles(staticDir);
  const maxTtl = deps.sessionTtlSeconds ?? DEFAULT_CONSOLE_SESSION_TTL_SECONDS;
  const sessionKey = (id: string) => `${deps.keyPrefix}:console-session:${sha256(id)}`;
  let board: Middleware | undefined;

  const queueBoard = (): Middleware => {
    if (board) return board;
    const serverAdapter = new KoaAdapter();
    serverAdapter.setBasePath(CONSOLE_QUEUES_PATH);
    createBullBoard({
      queues: deps.queues.all().map((q) => new BullMQAdapter(q)),
      serverAdapter,
      options: { uiConfig: { boardTitle: deps.title ?? 'Collector queues' } },
    });
    // bull-board's Koa adapter declares its plugin against its own copy of Koa's types; at run time it is a Koa middleware
    board = serverAdapter.registerPlugin() as unknown as Middleware;
    return board;
  };

  async function sessionOf(ctx: AppContext): Promise<ConsoleSession | null> {
    const id = ctx.cookies.get(CONSOLE_SESSION_COOKIE);
    if (!id || !/^[A-Za-z0-9_-]{20,100}$/.test(id)) return null;
    const stored = await deps.redis.get(sessionKey(id));
    if (!stored) return null;
    const session = JSON.parse(stored) as ConsoleSession;
    return Date.parse(session.expiresAt) > Date.now() ? session : null;
  }

  function setCookie(ctx: AppContext, value: string | null, maxAgeSeconds: number): void {
    ctx.cookies.set(CONSOLE_SESSION_COOKIE, value, {
      httpOnly: true,
      sameSite: 'strict',
      path: CONSOLE_PATH,
      secure: ctx.secure,
      overwrite: true,
      ...(value === null ? { expires: new Date(0) } : { maxAge: maxAgeSeconds * 1000 }),
    });
  }

  async function startSession(ctx: AppContext): Promise<void> {
    if (!sameOrigin(ctx)) throw new HttpError(403, 'PERMISSION_DENIED', 'cross-origin request refused');
    // the scheme is named case-insensitively, as for every route (authenticate.ts)
    const match = /^Bearer ([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+)$/i.exec(ctx.get('Authorization').trim());
    if (!match) {
      ctx.set('WWW-Authenticate', 'Bearer');
      throw new HttpError(401, 'UNAUTHENTICATED', 'a valid access token is required');
    }
    let verified;
    try {
      verified = await deps.accessTokens.verify(match[1]!);
    } catch (error) {
      if (!(error instanceof InvalidAccessTokenError)) throw error;
      ctx.state.logger.info({ reason: error.reason }, 'console session refused');
      ctx.set('WWW-Authenticate', 'Bearer error="invalid_token"');
      throw new HttpError(401, 'UNAUTHENTICATED', 'a valid access token is required');
    }
    // the access policy decides (docs/rbac.md): platform reviewers sign in for the review workbench, admins for the queue dashboard below too
    if (!CONSOLE_PERMISSIONS.some((permission) => authorize(platformPrincipal(verified.userId, verified.role), permission).allowed))
      throw new HttpError(403, 'PERMISSION_DENIED', 'the console is for platform admins (and reviewers, for the review queue)', {
        permission: CONSOLE_PERMISSIONS.join(' | '),
        reason: 'role',
        required: ['admin', 'reviewer'],
      });
    const ttl = Math.min(maxTtl, Math.floor((verified.expiresAt.getTime() - Date.now()) / 1000));
    if (ttl < 1) throw new HttpError(401, 'UNAUTHENTICATED', 'the access token is about to expire');
    // a previous session of this browser ends: one cookie, one session
    const previous = ctx.cookies.get(CONSOLE_SESSION_COOKIE);
    if (previous) await deps.redis.del(sessionKey(previous));
    const id = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + ttl * 1000).toISOString();
    const session: ConsoleSession = { userId: verified.userId, role: verified.role, expiresAt };
    await deps.redis.set(sessionKey(id), JSON.stringify(session), 'EX', ttl);
    setCookie(ctx, id, ttl);
    ctx.set('Cache-Control', 'no-store');
    ctx.state.logger.info({ userId: verified.userId }, 'console session started');
    ok(ctx, { expires_at: expiresAt, expires_in: ttl }, 201);
  }

  async function endSession(ctx: AppContext): Promise<void> {
    if (!sameOrigin(ctx)) throw new HttpError(403, 'PERMISSION_DENIED', 'cross-origin request refused');
    const id = ctx.cookies.get(CONSOLE_SESSION_COOKIE);
    if (id) await deps.redis.del(sessionKey(id));
    setCookie(ctx, null, 0);
    ok(ctx, null);
  }

  async function queues(ctx: AppContext, next: () => Promise<unknown>): Promise<void> {
    const session = await sessionOf(ctx);
    if (!session) throw new HttpError(401, 'UNAUTHENTICATED', 'sign in to the console first (/console/)');
    const permission: Permission = ['GET', 'HEAD'].includes(ctx.method) ? 'platform.queues.view' : 'platform.queues.edit';
    if (!authorize(platformPrincipal(session.userId, session.role), permission).allowed)
      throw new HttpError(403, 'PERMISSION_DENIED', 'the queue dashboard is for platform admins', { permission, reason: 'role' });
    if (!['GET', 'HEAD'].includes(ctx.method) && !sameOrigin(ctx)) throw new HttpError(403, 'PERMISSION_DENIED', 'cross-origin request refused');
    ctx.set('X-Frame-Options', 'SAMEORIGIN');
    ctx.set('Referrer-Policy', 'same-origin');
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Content-Security-Policy', QUEUES_CSP);
    await queueBoard()(ctx as never, next as never);
  }

  function serveFile(ctx: AppContext, name: string): boolean {
    const file = files.get(name);
    if (!file) return false;
    ctx.set('Content-Security-Policy', CONSOLE_CSP);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Referrer-Policy', 'same-origin');
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('ETag', file.etag);
    if (ctx.get('If-None-Match') === file.etag) {
      ctx.status = 304;
      return true;
    }
    ctx.type = file.type;
    ctx.body = file.body;
    return true;
  }

  return async (ctx, next) => {
    const path = ctx.path;
    if (path !== CONSOLE_PATH && !path.startsWith(`${CONSOLE_PATH}/`)) return next();
    if (path === CONSOLE_QUEUES_PATH || path.startsWith(`${CONSOLE_QUEUES_PATH}/`)) return queues(ctx, next);
    if (path === `${CONSOLE_PATH}/session`) {
      if (ctx.method === 'POST') return startSession(ctx);
      if (ctx.method === 'DELETE') return endSession(ctx);
      ctx.set('Allow', 'POST, DELETE');
      throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'POST or DELETE');
    }
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.set('Allow', 'GET, HEAD');
      throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'the console is read with GET');
    }
    if (path === CONSOLE_PATH) {
      ctx.redirect(`${CONSOLE_PATH}/`);
      return;
    }
    const name = path.slice(CONSOLE_PATH.length + 1);
    if (serveFile(ctx, name === '' ? 'index.html' : name)) return;
    throw new HttpError(404, 'NOT_FOUND', 'no such console file');
  };
}
