import type { Consumer } from '../../consumers/consumer.js';
import { platformAccountEvents } from '../../write-model/platform-account/events.js';
import { cancelDeadline, scheduleDeadline, type DeadlineKind } from './deadline-table.js';

export const OAUTH_REFRESH_SCHEDULE = 'pm-oauth-refresh-schedule';
export const OAUTH_REFRESH: DeadlineKind = 'platform_account.oauth_refresh';

/** OAUTH_REFRESH_LEAD_SECONDS' default. */
export const DEFAULT_OAUTH_REFRESH_LEAD_MS = 600_000;

/**
 * When tokens issued at `issuedAt` and expiring at `expiresAt` are refreshed:
 * `leadMs` before they expire, but never before half their life has passed
 * (a platform that hands out short-lived tokens would otherwise be asked
 * again at every sweep).
 */
export function oauthRefreshDueAt(issuedAt: string, expiresAt: string, leadMs: number): number {
  const expires = Date.parse(expiresAt);
  const life = Math.max(0, expires - Date.parse(issuedAt));
  return expires - Math.min(leadMs, Math.floor(life / 2));
}

/**
 * Keeps one `platform_account.oauth_refresh` deadline per OAuth account (the
 * subject is the account's stream), due `leadMs` before its access token
 * expires (oauthRefreshDueAt): set when the account is bound or its tokens
 * are refreshed (moving it), removed when the account is invalidated or
 * disconnected — the owner must authorize again, and there is nothing to
 * refresh. The sweeper runs the refresh (./oauth-refresh-actions.ts).
 *
 * Why a deadline and not a periodic job: the time is known from the events,
 * one row per account is what the sweeper already leases (one sweeper runs
 * a row at a time, across projector processes: refresh tokens rotate, so
 * two refreshes racing would lose the account), failures are retried with
 * the sweeper's back-off, and nothing scans every account on a timer.
 * Writes go through the consumer's transaction, so a replay rebuilds the rows.
 */
export function createOAuthRefreshSchedule(options: { leadMs: number }, name = OAUTH_REFRESH_SCHEDULE): Consumer {
  return {
    name,
    filter: { eventTypes: ['OAuthAccountBound', 'OAuthTokensRefreshed', 'AccountInvalidated', 'PlatformAccountDisconnected'] },
    async handle(events, { tx }) {
      for (const recorded of events) {
        if (!platformAccountEvents.owns(recorded.type)) continue;
        const event = platformAccountEvents.decode(recorded);
        if (event.type === 'OAuthAccountBound') {
          const due = oauthRefreshDueAt(event.data.boundAt, event.data.expiresAt, options.leadMs);
          await scheduleDeadline(tx, OAUTH_REFRESH, recorded.streamName, new Date(due).toISOString(), recorded);
        } else if (event.type === 'OAuthTokensRefreshed') {
          const due = oauthRefreshDueAt(event.data.refreshedAt, event.data.expiresAt, options.leadMs);
          await scheduleDeadline(tx, OAUTH_REFRESH, recorded.streamName, new Date(due).toISOString(), recorded);
        } else if (event.type === 'AccountInvalidated' || event.type === 'PlatformAccountDisconnected') {
          await cancelDeadline(tx, OAUTH_REFRESH, recorded.streamName);
        }
      }
    },
  };
}
