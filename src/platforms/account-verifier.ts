import type { Config } from '../config.js';
import type { VerificationOutcome } from '../write-model/platform-account/commands.js';
import { qidianVerifier } from './qidian/verify-account.js';
import { xiaohongshuVerifier } from './xiaohongshu/verify-account.js';

/**
 * The port the verify route uses to try an account's credentials on its
 * platform, and the registry of one verifier per platform.
 *
 * A verifier answers what the platform said about the account (active, or
 * invalid with a reason) — or that the platform could not be asked or gave
 * no answer about the account (network error, timeout, 5xx, rate limit, IP
 * block, an unknown page). The latter is never an invalidation: the caller
 * turns it into UpstreamUnavailableError (HTTP 502 UPSTREAM_UNAVAILABLE).
 *
 * Clear credentials live only for the call; nothing here logs them or puts
 * them into an error.
 */

export type UpstreamProblem = 'network' | 'timeout' | 'bad_status' | 'bad_response' | 'rate_limited' | 'blocked';

export type VerifierAnswer = VerificationOutcome | { ok: 'unavailable'; problem: UpstreamProblem; detail: string };

export interface AccountVerifier {
  /** `credentials`: the clear object the user gave (the platform's credentialsSchema shape) */
  verify(credentials: unknown): Promise<VerifierAnswer>;
}

export interface UpstreamResponse {
  status: number;
  headers: Headers;
  text: string;
}

/** A GET on a platform; throws UpstreamUnavailableError when no answer comes (network, timeout). */
export type PlatformGet = (url: string, headers: Record<string, string>) => Promise<UpstreamResponse>;

export class UpstreamUnavailableError extends Error {
  override readonly name = 'UpstreamUnavailableError';
  constructor(
    readonly platform: string,
    readonly problem: UpstreamProblem,
    message: string,
  ) {
    super(message);
  }
}

/** How long one platform request may take (no config variable: verification is interactive). */
export const DEFAULT_VERIFY_TIMEOUT_MS = 10_000;
/** A login check answers a small page; more than this is not one. */
const MAX_BODY_CHARS = 2_000_000;

export function platformGet(platform: string, timeoutMs: number): PlatformGet {
  return async (url, headers) => {
    let res: Response;
    try {
      // manual: a redirect (to a login or captcha page) is itself the answer
      res = await fetch(url, { method: 'GET', headers, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      // the URL is a platform endpoint (no secret); the headers are never shown
      throw new UpstreamUnavailableError(
        platform,
        timedOut ? 'timeout' : 'network',
        `${platform} did not answer ${new URL(url).origin}${timedOut ? ` within ${timeoutMs} ms` : ''}`,
      );
    }
    let text: string;
    try {
      text = await res.text();
    } catch {
      throw new UpstreamUnavailableError(platform, 'network', `${platform} broke off its answer`);
    }
    return { status: res.status, headers: res.headers, text: text.slice(0, MAX_BODY_CHARS) };
  };
}

export type AccountVerifiers = (platform: string) => AccountVerifier | undefined;

export interface VerifierOptions {
  timeoutMs?: number;
}

/** One verifier per platform of the registry, against the configured hosts (fixture servers in tests). */
export function createAccountVerifiers(config: Pick<Config, 'XIAOHONGSHU_API_URL' | 'QIDIAN_WEB_URL'>, options: VerifierOptions = {}): AccountVerifiers {
  const timeoutMs = options.timeoutMs ?? DEFAULT_VERIFY_TIMEOUT_MS;
  const verifiers: Record<string, AccountVerifier> = {
    xiaohongshu: xiaohongshuVerifier(config.XIAOHONGSHU_API_URL, platformGet('xiaohongshu', timeoutMs)),
    qidian: qidianVerifier(config.QIDIAN_WEB_URL, platformGet('qidian', timeoutMs)),
  };
  return (platform) => (Object.hasOwn(verifiers, platform) ? verifiers[platform] : undefined);
}

/** The platform's verdict on the credentials; throws UpstreamUnavailableError when it gave none. */
export async function verifyCredentials(verifiers: AccountVerifiers, platform: string, credentials: unknown): Promise<VerificationOutcome> {
  const verifier = verifiers(platform);
  if (!verifier) throw new UpstreamUnavailableError(platform, 'bad_response', `no verifier for platform ${platform}`);
  const answer = await verifier.verify(credentials);
  if (answer.ok === 'unavailable') throw new UpstreamUnavailableError(platform, answer.problem, answer.detail);
  return answer;
}
