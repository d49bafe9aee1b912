import type { Middleware } from 'koa';
import type { AppState } from '../state.js';

/** Strict-Transport-Security: a year, subdomains included (sent only over HTTPS, as browsers ignore it otherwise). */
const HSTS = 'max-age=31536000; includeSubDomains';

/**
 * Headers every response carries: no MIME sniffing, no framing, no referrer
 * leaking ids in URLs, and for the JSON API a Content-Security-Policy that
 * allows nothing (a response rendered as a page runs no script). The console
 * sets its own, looser policy for its pages after this one. HSTS goes out
 * when the request came over HTTPS (directly, or through a trusted proxy:
 * TRUST_PROXY).
 */
export function securityHeaders(): Middleware<AppState> {
  return async (ctx, next) => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
    ctx.set('Cross-Origin-Resource-Policy', 'same-origin');
    if (ctx.secure) ctx.set('Strict-Transport-Security', HSTS);
    return next();
  };
}
