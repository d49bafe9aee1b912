import type { AccountVerifier, PlatformGet, VerifierAnswer } from '../account-verifier.js';
import { credentialsSchema } from './index.js';
import { joinUrl } from '../url.js';

/**
 * Xiaohongshu's login check (docs/platforms.md, Xiaohongshu: web API envelope): GET
 * `/api/sns/web/v2/user/me` with the account's cookie header. The envelope
 * `{code, success, msg, data}` says:
 * - `success` with a user id and nickname, and no `guest: true` → active;
 * - `guest: true` → the cookie's web_session is no longer logged in
 *   (credentials_expired); `code -100` 登录已过期 → credentials_expired;
 *   `code -101` 无登录信息 → login_wall; HTTP 461/471 or a redirect to the
 *   captcha page → captcha;
 * - 300012 (IP blocked), 300013 (frequency), 300015 (environment refused),
 *   5xx, other codes and unreadable bodies are not the account's fault:
 *   "unavailable", never an invalidation.
 * The signed headers (X-s, X-t) are not computed here.
 */
export const XIAOHONGSHU_ME_PATH = '/api/sns/web/v2/user/me';

/** A desktop browser, when the owner gave no user agent with the cookies. */
const DEFAULT_USER_AGENT = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';

const NOT_THE_ACCOUNT: Record<number, 'blocked' | 'rate_limited'> = { 300012: 'blocked', 300013: 'rate_limited', 300015: 'blocked' };

export function xiaohongshuVerifier(apiBaseUrl: string, get: PlatformGet): AccountVerifier {
  return {
    async verify(credentials: unknown): Promise<VerifierAnswer> {
      const parsed = credentialsSchema.safeParse(credentials);
      // connected under an older schema: the owner has to give them again
      if (!parsed.success) return { ok: false, reason: 'credentials_expired', detail: 'the stored credentials no longer fit what xiaohongshu needs' };
      const res = await get(joinUrl(apiBaseUrl, XIAOHONGSHU_ME_PATH), {
        Accept: 'application/json, text/plain, */*',
        Cookie: parsed.data.cookies,
        'User-Agent': parsed.data.userAgent ?? DEFAULT_USER_AGENT,
      });
      if (res.status === 461 || res.status === 471) {
        return { ok: false, reason: 'captcha', detail: `HTTP ${res.status}, verify type ${res.headers.get('verifytype') ?? 'unknown'}` };
      }
      if (res.status >= 300 && res.status < 400 && (res.headers.get('location') ?? '').includes('/website-login/captcha')) {
        return { ok: false, reason: 'captcha', detail: 'redirected to the captcha page' };
      }
      if (res.status !== 200) return { ok: 'unavailable', problem: 'bad_status', detail: `xiaohongshu answered HTTP ${res.status}` };
      let body: { code?: unknown; success?: unknown; msg?: unknown; data?: Record<string, unknown> | null };
      try {
        body = JSON.parse(res.text);
      } catch {
        return { ok: 'unavailable', problem: 'bad_response', detail: 'xiaohongshu answered something other than JSON' };
      }
      const msg = typeof body.msg === 'string' ? body.msg.slice(0, 200) : '';
      if (body.success !== true) {
        const code = typeof body.code === 'number' ? body.code : Number.NaN;
        if (code === -100) return { ok: false, reason: 'credentials_expired', detail: `code -100 ${msg}`.trim() };
        if (code === -101) return { ok: false, reason: 'login_wall', detail: `code -101 ${msg}`.trim() };
        const problem = NOT_THE_ACCOUNT[code];
        if (problem) return { ok: 'unavailable', problem, detail: `xiaohongshu refused the request, not the account: code ${code} ${msg}`.trim() };
        return { ok: 'unavailable', problem: 'bad_response', detail: `xiaohongshu answered code ${String(body.code)} ${msg}`.trim() };
      }
      const data = body.data ?? {};
      if (data.guest === true) return { ok: false, reason: 'credentials_expired', detail: 'the cookie is a guest session: web_session is not logged in' };
      const userId = typeof data.user_id === 'string' ? data.user_id.trim() : '';
      const nickname = typeof data.nickname === 'string' ? data.nickname.trim() : '';
      if (userId === '' || nickname === '') return { ok: 'unavailable', problem: 'bad_response', detail: 'xiaohongshu answered without a user id or nickname' };
      return { ok: true, platformUserId: userId, nickname };
    },
  };
}
