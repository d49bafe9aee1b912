import type { Knex } from 'knex';
import type { RecordedEvent } from '../event-store/port.js';
import type { Consumer } from '../consumers/consumer.js';
import { platformAccountEvents, type PlatformAccountEvent } from '../write-model/platform-account/events.js';
import { patchRows, selectRows, upsertRows, type Row } from './sql-batch.js';

/**
 * Read model of the PlatformAccount aggregate (stream
 * `platform_account-{id}`): `platform_accounts`, one row per account, with
 * its status, health and verification — never its credentials (the sealed
 * box stays in the events; no column is written from `credentials` or
 * `tokens`). `binding` says how the account is bound (`cookies`, or `oauth`
 * with `token_expires_at`, when its access token expires).
 *
 * A batch is folded per account in memory and written with one insert and
 * one update. Idempotent under redelivery: an event is applied only when
 * its stream revision is above the row's `last_revision` (read, locked, at
 * the start of the batch; the update is guarded the same way), moved in the
 * same (the consumer's) transaction.
 */
export const PLATFORM_ACCOUNTS_PROJECTION = 'platform-accounts-v1';

export const PLATFORM_ACCOUNT_STREAM_PREFIX = 'platform_account-';

export function createPlatformAccountsProjection(name: string = PLATFORM_ACCOUNTS_PROJECTION): Consumer {
  return {
    name,
    filter: { streamPrefixes: [PLATFORM_ACCOUNT_STREAM_PREFIX] },
    async handle(events, { tx }) {
      await applyEvents(tx, events);
    },
  };
}

export const platformAccountsProjection: Consumer = createPlatformAccountsProjection();

async function applyEvents(tx: Knex.Transaction, events: readonly RecordedEvent[]): Promise<void> {
  const decoded: { event: PlatformAccountEvent; revision: bigint }[] = [];
  for (const recorded of events) {
    if (platformAccountEvents.owns(recorded.type)) decoded.push({ event: platformAccountEvents.decode(recorded), revision: recorded.revision });
  }
  if (decoded.length === 0) return;

  const ids = [...new Set(decoded.map((e) => e.event.data.accountId))];
  const current = await selectRows<{ id: string; last_revision: string }>(
    tx,
    'platform_accounts',
    ids.map((id) => ({ id })),
    {
      key: ['id'],
      columns: ['id', 'last_revision'],
      forUpdate: true,
    },
  );
  const rows = new Map<string, { revision: bigint; insert?: Row; patch?: Row }>(current.map((r) => [r.id, { revision: BigInt(r.last_revision) }]));

  for (const { event, revision } of decoded) {
    const id = event.data.accountId;
    const row = rows.get(id);
    if (row && revision <= row.revision) continue; // applied already
    if (event.type === 'PlatformAccountConnected') {
      if (row) continue;
      const d = event.data;
      // the sealed credentials and the user agent are deliberately not copied
      rows.set(id, {
        revision,
        insert: {
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
          binding: 'cookies',
          token_expires_at: null,
          last_revision: revision.toString(),
        },
      });
      continue;
    }
    if (event.type === 'OAuthAccountBound' && event.data.previousStatus === null) {
      if (row) continue;
      const d = event.data;
      // the sealed tokens are deliberately not copied
      rows.set(id, {
        revision,
        insert: {
          id,
          owner_id: d.ownerId,
          platform: d.platform,
          platform_user_id: d.platformUserId,
          display_name: d.displayName,
          nickname: d.displayName,
          status: d.status,
          health_score: d.healthScore,
          health_level: d.healthLevel,
          last_invalidation_reason: null,
          invalidated_at: null,
          verified_at: d.boundAt,
          connected_at: d.boundAt,
          disconnected_at: null,
          updated_at: d.boundAt,
          binding: 'oauth',
          token_expires_at: d.expiresAt,
          last_revision: revision.toString(),
        },
      });
      continue;
    }
    if (!row) continue; // cannot happen: Connected (or the first OAuthAccountBound) is revision 0
    const target = row.insert ?? (row.patch ??= { id });
    Object.assign(target, changesOf(event), { last_revision: revision.toString() });
    row.revision = revision;
  }

  const inserts = [...rows.values()].flatMap((r) => (r.insert ? [r.insert] : []));
  const patches = [...rows.values()].flatMap((r) => (r.patch ? [r.patch] : []));
  await upsertRows(tx, 'platform_accounts', inserts, { conflict: ['id'] });
  await patchRows(tx, 'platform_accounts', patches, { key: ['id'], guard: 't.last_revision < n.last_revision' });
}

/** The columns an event after the connection sets. */
function changesOf(event: Exclude<PlatformAccountEvent, { type: 'PlatformAccountConnected' }>): Row {
  switch (event.type) {
    case 'AccountVerified': {
      const d = event.data;
      return { status: 'active', platform_user_id: d.platformUserId, nickname: d.nickname, verified_at: d.verifiedAt, updated_at: d.verifiedAt };
    }
    case 'AccountHealthChanged': {
      const d = event.data;
      return { health_score: d.score, health_level: d.level, updated_at: d.changedAt };
    }
    case 'AccountInvalidated': {
      const d = event.data;
      return { status: 'invalid', last_invalidation_reason: d.reason, invalidated_at: d.invalidatedAt, updated_at: d.invalidatedAt };
    }
    case 'AccountCredentialsRotated':
      // the last invalidation stays, as history (like the aggregate's state)
      return { status: event.data.status, updated_at: event.data.rotatedAt };
    case 'PlatformAccountRenamed':
      return { display_name: event.data.displayName, updated_at: event.data.renamedAt };
    case 'PlatformAccountDisconnected':
      return { status: 'disconnected', disconnected_at: event.data.disconnectedAt, updated_at: event.data.disconnectedAt };
    case 'OAuthAccountBound': {
      // a re-authorization: the owner's label stays
      const d = event.data;
      return {
        status: d.status,
        platform_user_id: d.platformUserId,
        nickname: d.displayName,
        health_score: d.healthScore,
        health_level: d.healthLevel,
        verified_at: d.boundAt,
        binding: 'oauth',
        token_expires_at: d.expiresAt,
        updated_at: d.boundAt,
      };
    }
    case 'OAuthTokensRefreshed':
      return { token_expires_at: event.data.expiresAt, updated_at: event.data.refreshedAt };
  }
}
