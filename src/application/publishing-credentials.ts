import type { EventStore } from '../event-store/port.js';
import type { PublishingCredentials } from '../platforms/publishing/port.js';
import { load } from '../write-model/core/command-handler.js';
import { platformAccountAggregate } from '../write-model/platform-account/decider.js';
import { openOAuthTokens } from './oauth-accounts.js';
import type { SealedSecret, SecretBox } from './ports/secret-box.js';

/**
 * The credentials a publication is posted with, opened for the publish job:
 * an OAuth account's current access token (the refresh job keeps it fresh;
 * an expired or revoked one is the publisher's PublishAuthError), or a cookie
 * account's cookies and user agent. Clear only in the job's hands — never
 * logged, never in an error.
 *
 * Refused with PublishingCredentialsError: an unknown account or another
 * user's (`not_found`, alike), and one that is not active (`not_active`:
 * pending verification, invalid — the owner must reconnect or authorize
 * again — or disconnected).
 */

export type PublishingCredentialsProblem = 'not_found' | 'not_active';

export class PublishingCredentialsError extends Error {
  override readonly name = 'PublishingCredentialsError';
  constructor(
    readonly problem: PublishingCredentialsProblem,
    message: string,
    readonly details: { accountId: string; status?: string } = { accountId: '' },
  ) {
    super(message);
  }
}

/** As the scrape job opens them (worker/scrape-job.ts openAccountCredentials): `{ cookies, userAgent? }` sealed with the account id. */
function openCookies(secretBox: SecretBox, accountId: string, sealed: SealedSecret): { cookies?: string; userAgent?: string } {
  const clear = secretBox.decrypt(sealed, accountId);
  try {
    const value = JSON.parse(clear) as { cookies?: unknown; userAgent?: unknown };
    return {
      ...(typeof value.cookies === 'string' && value.cookies !== '' ? { cookies: value.cookies } : {}),
      ...(typeof value.userAgent === 'string' ? { userAgent: value.userAgent } : {}),
    };
  } catch {
    // a parse error would quote the secret
    throw new Error(`the sealed credentials of platform account ${accountId} are not JSON`);
  }
}

export async function openPublishingCredentials(
  deps: { store: EventStore; secretBox: SecretBox },
  input: { accountId: string; ownerId: string },
): Promise<{ platform: string; credentials: PublishingCredentials }> {
  const { state } = await load(deps.store, platformAccountAggregate, input.accountId);
  if (state.status === 'none' || state.ownerId !== input.ownerId) {
    throw new PublishingCredentialsError('not_found', `platform account ${input.accountId} is not one of the owner's accounts`, { accountId: input.accountId });
  }
  if (state.status !== 'active') {
    throw new PublishingCredentialsError('not_active', `platform account ${input.accountId} is ${state.status}, not active`, {
      accountId: input.accountId,
      status: state.status,
    });
  }
  if (state.oauth) {
    const { accessToken } = openOAuthTokens(deps.secretBox, state.accountId, state.credentials);
    return { platform: state.platform, credentials: { kind: 'oauth', accessToken, platformUserId: state.platformUserId ?? '' } };
  }
  const opened = openCookies(deps.secretBox, state.accountId, state.credentials);
  if (!opened.cookies)
    throw new PublishingCredentialsError('not_active', `platform account ${input.accountId} holds no cookies`, { accountId: input.accountId });
  return {
    platform: state.platform,
    credentials: { kind: 'cookies', cookies: opened.cookies, userAgent: state.userAgent ?? opened.userAgent ?? null, platformUserId: state.platformUserId },
  };
}
