import { createHmac } from 'node:crypto';
import type { Knex } from 'knex';
import type { Middleware } from 'koa';
import { HttpError } from './http-error.js';
import type { AppContext, AppState } from './state.js';

/** How long a completed key answers with its stored response. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/** A placeholder older than this belongs to a request that died (crash, timeout): it may be taken over. */
export const IN_PROGRESS_LEASE_MS = 60 * 1000;

/** Printable ASCII without spaces, at most 255 characters (a uuid is the usual choice). */
const SANE_KEY = /^[\x21-\x7e]{1,255}$/;

/** Response headers a replay repeats. */
const REPLAYED_HEADERS = ['etag', 'location'];

export interface IdempotencyOptions {
  knex: Knex;
  /**
   * The HMAC key of request fingerprints (idempotencyHashKey of a server
   * secret): a body may hold a password, and a plain hash of it at rest could
   * be tried offline; every API instance must use the same key.
   */
  hashKey: Buffer;
  /** whose key it is: keys are scoped per owner; default the authenticated user's id, else 'anonymous' */
  ownerOf?: (ctx: AppContext) => string | undefined;
  ttlMs?: number;
  leaseMs?: number;
}

interface KeyRow {
  request_method: string;
  request_path: string;
  request_hash: string;
  response_status: number | null;
  response_headers: Record<string, string>;
  response_body: unknown;
}

/**
 * `Idempotency-Key` for POST commands. Without the header the request just runs.
 * With it:
 * - first time: a placeholder row is inserted, the handler runs, and a 2xx
 *   response is stored; an error (or non-2xx answer) releases the key, so the
 *   client may retry it — a failed command wrote nothing;
 * - same key, same method, path and body: the stored response, with
 *   `Idempotent-Replayed: true`, and nothing runs;
 * - same key, different method/path/body: 422 IDEMPOTENCY_KEY_REUSED;
 * - same key while the first is still running: 409 IDEMPOTENCY_IN_PROGRESS.
 * Mount after authentication (the key belongs to its owner) and validation.
 */
export function idempotency(options: IdempotencyOptions): Middleware<AppState> {
  const { knex } = options;
  const ttlMs = options.ttlMs ?? IDEMPOTENCY_TTL_MS;
  const leaseMs = options.leaseMs ?? IN_PROGRESS_LEASE_MS;
  const ownerOf = options.ownerOf ?? defaultOwner;

  return async (ctx, next) => {
    const key = ctx.get('Idempotency-Key');
    if (key === '') return next();
    if (!SANE_KEY.test(key)) {
      throw new HttpError(400, 'INVALID_IDEMPOTENCY_KEY', 'Idempotency-Key must be 1 to 255 printable ASCII characters without spaces');
    }
    const owner = ownerOf(ctx) ?? 'anonymous';
    const fingerprint = { method: ctx.method, path: ctx.path, hash: bodyHash(ctx.request.body, options.hashKey) };

    // claim the key: a new row, or take over one that expired or whose request died
    const { rows: claimed } = await knex.raw<{ rows: unknown[] }>(
      `INSERT INTO http_idempotency_keys AS k (owner, key, request_method, request_path, request_hash, expires_at)
       VALUES (?, ?, ?, ?, ?, now() + make_interval(secs => ?))
       ON CONFLICT (owner, key) DO UPDATE SET
         request_method = excluded.request_method, request_path = excluded.request_path,
         request_hash = excluded.request_hash, response_status = NULL, response_headers = '{}'::jsonb,
         response_body = NULL, created_at = now(), expires_at = excluded.expires_at
       WHERE k.expires_at <= now() OR (k.response_status IS NULL AND k.created_at < now() - make_interval(secs => ?))
       RETURNING 1`,
      [owner, key, fingerprint.method, fingerprint.path, fingerprint.hash, ttlMs / 1000, leaseMs / 1000],
    );

    if (claimed.length === 0) {
      const row = (await knex('http_idempotency_keys')
        .select('request_method', 'request_path', 'request_hash', 'response_status', 'response_headers', 'response_body')
        .where({ owner, key })
        .first()) as KeyRow | undefined;
      // vanished in between (its request failed and released it): the client may simply retry
      if (!row) throw inProgress();
      if (row.request_method !== fingerprint.method || row.request_path !== fingerprint.path || row.request_hash !== fingerprint.hash) {
        throw new HttpError(422, 'IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for a different request');
      }
      if (row.response_status === null) throw inProgress();
      replay(ctx, row);
      return;
    }

    let completed = false;
    try {
      await next();
      if (ctx.status >= 200 && ctx.status < 300) {
        await knex('http_idempotency_keys')
          .update({
            response_status: ctx.status,
            response_headers: JSON.stringify(pickHeaders(ctx)),
            response_body: JSON.stringify(responseJson(ctx.body)),
          })
          .where({ owner, key });
        completed = true;
      }
    } finally {
      if (!completed) {
        const release = () => knex('http_idempotency_keys').delete().where({ owner, key }).whereNull('response_status');
        await release().catch((error: unknown) => {
          // Postgres away (the likely reason the request failed): try again in the background, or a client's
          // retry would meet IDEMPOTENCY_IN_PROGRESS until the lease runs out
          ctx.state.logger.warn({ err: error }, 'could not release an idempotency key; trying again shortly');
          releaseLater(release, ctx.state.logger);
        });
      }
    }
  };
}

/** Retries a release every half second for up to ten seconds (in the background, never holding a request). */
function releaseLater(release: () => Promise<unknown>, logger: AppContext['state']['logger'], attempt = 1): void {
  setTimeout(() => {
    release().catch((error: unknown) => {
      if (attempt < RELEASE_ATTEMPTS) releaseLater(release, logger, attempt + 1);
      else logger.warn({ err: error }, 'gave up releasing an idempotency key: it frees itself when its lease ends');
    });
  }, 500).unref();
}

const RELEASE_ATTEMPTS = 20;

/** Deletes expired keys; for a periodic job. Expired keys are also taken over in place when reused. */
export async function pruneIdempotencyKeys(knex: Knex): Promise<number> {
  return knex('http_idempotency_keys').delete().where('expires_at', '<=', knex.fn.now());
}

function defaultOwner(ctx: AppContext): string | undefined {
  const state = ctx.state as { user?: { id?: unknown }; userId?: unknown };
  const id = state.user?.id ?? state.userId;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

function inProgress(): HttpError {
  return new HttpError(409, 'IDEMPOTENCY_IN_PROGRESS', 'a request with this Idempotency-Key is still being processed; retry later');
}

function replay(ctx: AppContext, row: KeyRow): void {
  for (const [name, value] of Object.entries(row.response_headers ?? {})) ctx.set(name, value);
  ctx.set('Idempotent-Replayed', 'true');
  ctx.status = row.response_status!;
  if (ctx.status === 204 || row.response_body === null) return;
  ctx.type = 'application/json';
  ctx.body = JSON.stringify(row.response_body);
}

function pickHeaders(ctx: AppContext): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of REPLAYED_HEADERS) {
    const value = ctx.response.get(name);
    if (typeof value === 'string' && value !== '') headers[name] = value;
  }
  return headers;
}

/** The envelope helpers answer a JSON string; anything else is stored as it would be sent. */
function responseJson(body: unknown): unknown {
  if (typeof body === 'string') {
    try {
      return JSON.parse(body);
    } catch {
      return body;
    }
  }
  return body ?? null;
}

/** HMAC-SHA256 of the body in canonical JSON (keys sorted), so formatting and key order do not matter. */
export function bodyHash(body: unknown, key: Buffer): string {
  return createHmac('sha256', key)
    .update(canonicalJson(body ?? null))
    .digest('hex');
}

/** The fingerprint key derived from a server secret (JWT_SECRET): one purpose, one key. */
export function idempotencyHashKey(secret: string): Buffer {
  return createHmac('sha256', secret).update('idempotency request fingerprint').digest();
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
