import type { Middleware } from 'koa';
import proxyaddr from 'proxy-addr';
import type { AppState } from '../state.js';

/**
 * The client's address and scheme behind trusted reverse proxies
 * (config TRUST_PROXY: addresses, CIDR ranges, or proxy-addr's names
 * `loopback`, `linklocal`, `uniquelocal`).
 *
 * - Nothing trusted (the default): X-Forwarded-For and X-Forwarded-Proto are
 *   ignored; ctx.ip is the socket's peer and ctx.secure means TLS on this
 *   socket.
 * - Trusted: X-Forwarded-For is walked from the right, skipping trusted hops;
 *   the first untrusted address is the client (what a caller puts at the
 *   left of the header counts for nothing). X-Forwarded-Proto is believed
 *   only when the socket's peer is trusted, and only its last hop's value.
 *
 * ctx.ip keys the per-IP rate limits and is recorded with sessions, so a
 * spoofable one would let anyone dodge or fill another's limit.
 */
export function clientAddress(trusted: readonly string[]): Middleware<AppState> {
  const trust = trusted.length > 0 ? proxyaddr.compile([...trusted]) : undefined;
  return async (ctx, next) => {
    const peer = ctx.req.socket.remoteAddress ?? '';
    if (!trust?.(peer, 0)) {
      delete ctx.req.headers['x-forwarded-for'];
      delete ctx.req.headers['x-forwarded-proto'];
      delete ctx.req.headers['x-forwarded-host'];
    } else {
      ctx.request.ip = proxyaddr(ctx.req, trust);
      const proto = ctx.get('X-Forwarded-Proto').split(',').at(-1)?.trim();
      if (proto) ctx.req.headers['x-forwarded-proto'] = proto;
      delete ctx.req.headers['x-forwarded-host'];
    }
    return next();
  };
}
