import type { Knex } from 'knex';
import type { RecordedEvent } from '../event-store/port.js';
import type { Consumer } from '../subscriptions/consumer.js';
import { platformAccountEvents } from '../write-model/platform-account/events.js';

/**
 * Read model of the PlatformAccount aggregate (stream
 * `platform_account-{id}`): `platform_accounts`, one row per account, with
 * its status, health and verification — never its credentials (the sealed
 * box stays in the events; no column is written from `credentials`).
 *
 * Idempotent under redelivery: an event is applied only when its stream
 * revision is above the row's `last_revision`, moved in the same (the
 * consumer's) transaction.
 */
export const PLATFORM_ACCOUNTS_PROJECTION = 'platform-accounts-v1';

export const PLATFORM_ACCOUNT_STREAM_PREFIX = 'platform_account-';

export function createPlatformAccountsProjection(name: string = PLATFORM_ACCOUNTS_PROJECTION): Consumer {
  return {
    name,
    filter: { streamPrefixes: [PLATFORM_ACCOUNT_STREAM_PREFIX] },
    async handle(events, { tx }) {
      for (const event of events) await applyEvent(tx, event);
    },
  };
}

export const platformAccountsProjection: Consumer = createPlatformAccountsProjection();

/** Applies one recorded event unless its revision was applied already. Exported for tests. */
export async function applyEvent(tx: Knex.Transaction | Knex, recorded: RecordedEvent): Promise<void> {
  if (!platformAccountEvents.owns(recorded.type)) return;
  const event = platformAccountEvents.decode(recorded);
  const id = event.data.accountId;
  const revision = recorded.revision.toString();

  const row = (await tx('platform_accounts').where({ id }).forUpdate().first('last_revision')) as { last_revision: string } | undefined;
  if (row && BigInt(row.last_revision) >= recorded.revision) return; // applied already
  if (!row && event.type !== 'PlatformAccountConnected') return; // cannot happen: Connected is revision 0

  const update = (at: string, values: Record<string, unknown>) =>
    tx('platform_accounts')
      .where({ id })
      .update({ ...values, updated_at: at, last_revision: revision });

  switch (event.type) {
    case 'PlatformAccountConnected': {
      const d = event.data;
      // the sealed credentials and the user agent are deliberately not copied
      await tx('platform_accounts')
        .insert({
          id,
          owner_id: d.ownerId,
          platform: d.platform,
          platform_user_id: d.platformUserId,
          display_name: d.displayName,
          nickname: null,
          status: d.status,
          health_score: d.healthScore,
          health_level: d.healthLevel,
          last_invalidation_reason: null,
          invalidated_at: null,
          verified_at: null,
          connected_at: d.connectedAt,
          disconnected_at: null,
          updated_at: d.connectedAt,
          last_revision: revision,
        })
        .onConflict('id')
        .ignore();
      return;
    }
    case 'AccountVerified': {
      const d = event.data;
      await update(d.verifiedAt, { status: 'active', platform_user_id: d.platformUserId, nickname: d.nickname, verified_at: d.verifiedAt });
      return;
    }
    case 'AccountHealthChanged': {
      const d = event.data;
      await update(d.changedAt, { health_score: d.score, health_level: d.level });
      return;
    }
    case 'AccountInvalidated': {
      const d = event.data;
      await update(d.invalidatedAt, { status: 'invalid', last_invalidation_reason: d.reason, invalidated_at: d.invalidatedAt });
      return;
    }
    case 'AccountCredentialsRotated': {
      const d = event.data;
      // the last invalidation stays, as history (like the aggregate's state)
      await update(d.rotatedAt, { status: d.status });
      return;
    }
    case 'PlatformAccountRenamed': {
      const d = event.data;
      await update(d.renamedAt, { display_name: d.displayName });
      return;
    }
    case 'PlatformAccountDisconnected': {
      const d = event.data;
      await update(d.disconnectedAt, { status: 'disconnected', disconnected_at: d.disconnectedAt });
      return;
    }
  }
}
