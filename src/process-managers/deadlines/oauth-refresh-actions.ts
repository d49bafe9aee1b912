import { openOAuthTokens } from '../../application/oauth-accounts.js';
import type { SecretBox } from '../../application/ports/secret-box.js';
import type { EventStore } from '../../event-store/port.js';
import type { Logger } from '../../logger.js';
import { OAuthError, refreshTokens, type TokenSet } from '../../platforms/open-platform/oauth-client.js';
import type { OpenPlatformClient } from '../../platforms/open-platform/transport.js';
import { handle, load } from '../../write-model/core/command-handler.js';
import { eventIdsFrom } from '../../write-model/core/event-ids.js';
import { platformAccountAggregate } from '../../write-model/platform-account/decider.js';
import type { DeadlineAction } from './expiry-actions.js';
import { oauthRefreshDueAt } from './oauth-refresh-schedule.js';

export interface OAuthRefreshOptions {
  /** the configured client of a platform (config: OAUTH_CLIENT_…); undefined: no longer offered */
  client(platform: string): OpenPlatformClient | undefined;
  secretBox: SecretBox;
  /** OAUTH_REFRESH_LEAD_SECONDS in ms */
  leadMs: number;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

/**
 * `platform_account.oauth_refresh` (subject: the account stream): the
 * account's tokens are refreshed at the platform and the new ones recorded
 * (RecordOAuthTokensRefreshed → OAuthTokensRefreshed, which moves the
 * deadline to the new expiry).
 *
 * - Decided on the account as it is now: not OAuth, invalid, disconnected,
 *   or tokens no longer due (refreshed or bound again meanwhile) → nothing.
 * - The platform refuses the refresh token (`invalid_grant`: revoked,
 *   expired, or the grant withdrawn) → InvalidateAccount with reason
 *   credentials_expired; pm-notify-user tells the owner (account_invalidated),
 *   who authorizes the account again.
 * - No answer, a 5xx, an unsigned answer, our client refused
 *   (invalid_client): thrown, so the sweeper retries with back-off; the
 *   refresh token was not spent.
 * - No race: the sweeper leases the deadline row (one sweeper at a time, in
 *   any projector process), and nothing else refreshes tokens. Event ids are
 *   named after the deadline and the expiry being replaced.
 */
export function oauthRefreshActions(store: EventStore, options: OAuthRefreshOptions | undefined): Record<'platform_account.oauth_refresh', DeadlineAction> {
  return {
    'platform_account.oauth_refresh': async (deadline, now, context) => {
      const accountId = deadline.subjectId.replace(/^platform_account-/, '');
      const { state } = await load(store, platformAccountAggregate, accountId);
      if (state.status === 'none' || !state.oauth || state.status === 'invalid' || state.status === 'disconnected') return;
      if (oauthRefreshDueAt(state.oauth.issuedAt, state.oauth.expiresAt, options?.leadMs ?? 0) > now.getTime()) return;
      const client = options?.client(state.platform);
      if (!options || !client) {
        options?.logger?.warn({ account: accountId, platform: state.platform }, 'OAuth tokens not refreshed: the platform is not configured');
        return;
      }
      const eventIds = eventIdsFrom(`deadline:${deadline.key}:${state.oauth.expiresAt}`);
      const { refreshToken } = openOAuthTokens(options.secretBox, accountId, state.credentials);
      let tokens: TokenSet;
      try {
        tokens = await refreshTokens(client, refreshToken, now);
      } catch (error) {
        if (error instanceof OAuthError && error.code === 'invalid_grant') {
          options.logger?.info({ account: accountId, platform: state.platform }, 'OAuth refresh refused (invalid_grant): account invalidated');
          await handle(
            store,
            platformAccountAggregate,
            accountId,
            {
              type: 'InvalidateAccount',
              accountId,
              requestedBy: null,
              reason: 'credentials_expired',
              detail: `${state.platform} refused the refresh token (invalid_grant): authorize the account again`,
              now: now.toISOString(),
            },
            { context, eventIds },
          );
          return;
        }
        throw error;
      }
      const sealed = options.secretBox.encrypt(JSON.stringify({ accessToken: tokens.accessToken, refreshToken: tokens.refreshToken }), accountId);
      await handle(
        store,
        platformAccountAggregate,
        accountId,
        { type: 'RecordOAuthTokensRefreshed', accountId, tokens: sealed, expiresAt: tokens.expiresAt.toISOString(), now: now.toISOString() },
        { context, eventIds },
      );
    },
  };
}
