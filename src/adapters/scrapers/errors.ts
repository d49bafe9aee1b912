/**
 * What a scraper raises when a platform refuses to answer, so the worker can
 * turn it into the right command instead of reporting an empty result:
 *
 * - LoginWallError → the platform account is invalid (AccountInvalidated;
 *   the workflows using it are paused).
 * - CaptchaError / BlockedError → the proxy is banned for the platform
 *   (ProxyFailed / ProxyBanned; the execution moves to another proxy and
 *   resumes from its last cursor).
 *
 * Messages never carry cookies or response bodies, only the platform, a short
 * reason and the URL path that answered.
 */

export type ScrapePlatform = 'xiaohongshu' | 'qidian';

export abstract class ScraperError extends Error {
  abstract readonly kind: 'login_wall' | 'captcha' | 'blocked';
  constructor(
    readonly platform: ScrapePlatform,
    /** machine-readable, e.g. `api_code_-101`, `http_461`, `login_button`, `waf_shell` */
    readonly reason: string,
    /** the URL (without query) that answered so */
    readonly url: string | null = null,
    message?: string,
  ) {
    super(message ?? `${platform}: ${reason}${url ? ` at ${url}` : ''}`);
  }
}

/** Logged out / session expired: the account's cookies no longer work. */
export class LoginWallError extends ScraperError {
  override readonly name = 'LoginWallError';
  readonly kind = 'login_wall' as const;
}

/** A captcha or JS challenge the scraper cannot pass: ban the proxy for the platform. */
export class CaptchaError extends ScraperError {
  override readonly name = 'CaptchaError';
  readonly kind = 'captcha' as const;
}

/** The IP is blocked or rate-limited (WAF page, 300012/300013/300015): ban or rest the proxy. */
export class BlockedError extends ScraperError {
  override readonly name = 'BlockedError';
  readonly kind = 'blocked' as const;
  constructor(
    platform: ScrapePlatform,
    reason: string,
    url: string | null = null,
    /** true when the platform says "too often" (back off) rather than "this IP is banned" */
    readonly rateLimited = false,
  ) {
    super(platform, reason, url);
  }
}

/** What the worker should do about an error a scraper raised. */
export function scraperErrorAction(error: unknown): 'invalidate_account' | 'ban_proxy' | 'rate_limited' | null {
  if (error instanceof LoginWallError) return 'invalidate_account';
  if (error instanceof CaptchaError) return 'ban_proxy';
  if (error instanceof BlockedError) return error.rateLimited ? 'rate_limited' : 'ban_proxy';
  return null;
}

/** A URL without its query (tokens live there). */
export function bareUrl(url: string): string {
  const i = url.search(/[?#]/);
  return i === -1 ? url : url.slice(0, i);
}
