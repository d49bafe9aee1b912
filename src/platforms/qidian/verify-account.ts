import type { AccountVerifier, PlatformGet, VerifierAnswer } from '../account-verifier.js';
import { credentialsSchema } from './index.js';
import { joinUrl } from '../url.js';

/**
 * Qidian's login check: GET the home page with the account's cookies and
 * read the header. Public sources document only the logged-out and
 * blocked markers (docs/platforms.md, Qidian: WAF shell, login and block
 * markers); the logged-in marker read here (an element with
 * `data-uid` and a `nick-name` element holding the nickname) is an
 * assumption to check against the live page.
 * - logged-in marker → active (platform user id = the uid);
 * - `login-area-wrap` or the logged-out `buid = "fff…"` → login_wall; no
 *   cookies at all → login_wall without asking;
 * - HTTP 202 probe.js shell or `WAF拦截页面` → blocked (not the account's
 *   fault), like 5xx and pages with neither marker: "unavailable".
 */
export const QIDIAN_LOGIN_CHECK_PATH = '/';

const DEFAULT_USER_AGENT = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';

const UID = /<[^>]*\bdata-uid="(\d+)"[^>]*>/;
const NICKNAME = /<[^>]*\bclass="[^"]*\bnick-name\b[^"]*"[^>]*>\s*([^<]+?)\s*</;
const LOGGED_OUT = /login-area-wrap|var buid\s*=\s*"f{8,}"/;
const WAF = /WAF拦截页面|\/C2WF946J0\/probe\.js/;

function decodeEntities(text: string): string {
  return text
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n: string) => String.fromCodePoint(parseInt(n, 16)))
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

export function qidianVerifier(webBaseUrl: string, get: PlatformGet): AccountVerifier {
  return {
    async verify(credentials: unknown): Promise<VerifierAnswer> {
      const parsed = credentialsSchema.safeParse(credentials);
      if (!parsed.success) return { ok: false, reason: 'credentials_expired', detail: 'the stored credentials no longer fit what qidian needs' };
      if (!parsed.data.cookies) return { ok: false, reason: 'login_wall', detail: 'no cookies were given: nothing to log in with' };
      const res = await get(joinUrl(webBaseUrl, QIDIAN_LOGIN_CHECK_PATH), {
        Accept: 'text/html,application/xhtml+xml',
        Cookie: parsed.data.cookies,
        'User-Agent': DEFAULT_USER_AGENT,
      });
      if (res.status === 202 || WAF.test(res.text))
        return { ok: 'unavailable', problem: 'blocked', detail: `qidian answered its WAF page (HTTP ${res.status})` };
      if (res.status >= 300 && res.status < 400 && /passport|login/i.test(res.headers.get('location') ?? '')) {
        return { ok: false, reason: 'login_wall', detail: 'redirected to the login page' };
      }
      if (res.status !== 200) return { ok: 'unavailable', problem: 'bad_status', detail: `qidian answered HTTP ${res.status}` };
      const uid = UID.exec(res.text)?.[1];
      const nickname = NICKNAME.exec(res.text)?.[1];
      if (uid && nickname) return { ok: true, platformUserId: uid, nickname: decodeEntities(nickname).trim() };
      if (LOGGED_OUT.test(res.text)) return { ok: false, reason: 'login_wall', detail: 'the page shows the login area: the cookies are not logged in' };
      return { ok: 'unavailable', problem: 'bad_response', detail: 'qidian answered a page with neither a user nor a login area' };
    },
  };
}
