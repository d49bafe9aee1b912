import type { Knex } from 'knex';
import type { RecordedEvent } from '../event-store/port.js';
import type { Consumer } from '../consumers/consumer.js';
import { novelAlertEvents, type NovelAlertEvent } from '../write-model/novel-alert/events.js';
import { keywordWatchEvents, type KeywordWatchEvent } from '../write-model/qidian-keyword/events.js';
import { patchRows, selectRows, upsertRows, type Row } from './sql-batch.js';

/**
 * The read model of Qidian alert rules and keyword watches (migration
 * 20261205160000_qidian_alerts_keywords), GET /api/v1/qidian/alerts and
 * /keywords:
 *
 * - `qidian_alerts` from the NovelAlert streams (`novel_alert-{id}`): one
 *   row per rule, deleted rules kept as `deleted`;
 * - `qidian_keywords` from the KeywordWatch streams (`qidian_keyword-{id}`):
 *   one row per watch, unwatched ones kept (a re-watch revives them).
 *
 * A batch is folded in memory per row over the rows as it finds them (read
 * and locked once): new rows inserted with one statement, existing ones
 * patched with one, each event applied only above the row's
 * `last_revision` (and the patch guarded the same way), so redelivering or
 * replaying any batch changes nothing.
 */
export const QIDIAN_ALERTS_PROJECTION = 'qidian-alerts-v1';

const ALERT_PREFIX = 'novel_alert-';
const KEYWORD_PREFIX = 'qidian_keyword-';

export function createQidianAlertsProjection(name: string = QIDIAN_ALERTS_PROJECTION): Consumer {
  return {
    name,
    filter: { streamPrefixes: [ALERT_PREFIX, KEYWORD_PREFIX], eventTypes: [...novelAlertEvents.types, ...keywordWatchEvents.types] },
    async handle(events, { tx }) {
      await applyEvents(tx, events);
    },
  };
}

export const qidianAlertsProjection: Consumer = createQidianAlertsProjection();

type Db = Knex.Transaction | Knex;

interface Fold {
  revision: bigint;
  insert?: Row;
  patch?: Row;
}

/** Applies a batch in its order (exported for tests). */
export async function applyEvents(tx: Db, events: readonly RecordedEvent[]): Promise<void> {
  const alerts: { revision: bigint; event: NovelAlertEvent }[] = [];
  const keywords: { revision: bigint; event: KeywordWatchEvent }[] = [];
  for (const recorded of events) {
    if (novelAlertEvents.owns(recorded.type) && recorded.streamName.startsWith(ALERT_PREFIX))
      alerts.push({ revision: recorded.revision, event: novelAlertEvents.decode(recorded) });
    else if (keywordWatchEvents.owns(recorded.type) && recorded.streamName.startsWith(KEYWORD_PREFIX))
      keywords.push({ revision: recorded.revision, event: keywordWatchEvents.decode(recorded) });
  }
  await fold(tx, 'qidian_alerts', alerts, (e) => e.data.alertId, alertRow);
  await fold(tx, 'qidian_keywords', keywords, (e) => e.data.watchId, keywordRow);
}

/** The row a first event inserts (`insert`), or the columns an event sets on a row that is there. */
type RowOf<E> = (event: E, id: string) => { insert?: Row; set: Row };

function alertRow(event: NovelAlertEvent, id: string): { insert?: Row; set: Row } {
  switch (event.type) {
    case 'NovelAlertCreated': {
      const d = event.data;
      return {
        insert: {
          id,
          user_id: d.userId,
          novel_id: d.novelId,
          kind: d.kind,
          words: d.words,
          status: 'active',
          created_at: d.createdAt,
          updated_at: d.createdAt,
        },
        set: { kind: d.kind, words: d.words, status: 'active', updated_at: d.createdAt },
      };
    }
    case 'NovelAlertChanged':
      return { set: { kind: event.data.kind, words: event.data.words, updated_at: event.data.changedAt } };
    case 'NovelAlertDeleted':
      return { set: { status: 'deleted', updated_at: event.data.deletedAt } };
  }
}

function keywordRow(event: KeywordWatchEvent, id: string): { insert?: Row; set: Row } {
  if (event.type === 'KeywordWatched') {
    const d = event.data;
    return {
      insert: { id, user_id: d.userId, keyword: d.keyword, status: 'watching', created_at: d.watchedAt, updated_at: d.watchedAt },
      // a re-watch starts the row again
      set: { status: 'watching', created_at: d.watchedAt, updated_at: d.watchedAt },
    };
  }
  return { set: { status: 'unwatched', updated_at: event.data.unwatchedAt } };
}

async function fold<E>(tx: Db, table: string, events: { revision: bigint; event: E }[], idOf: (e: E) => string, rowOf: RowOf<E>): Promise<void> {
  if (events.length === 0) return;
  const ids = [...new Set(events.map((e) => idOf(e.event)))];
  const current = await selectRows<{ id: string; last_revision: string }>(
    tx,
    table,
    ids.map((id) => ({ id })),
    { key: ['id'], columns: ['id', 'last_revision'], forUpdate: true },
  );
  const folds = new Map<string, Fold>(current.map((r) => [r.id, { revision: BigInt(r.last_revision) }]));
  for (const { revision, event } of events) {
    const id = idOf(event);
    const f = folds.get(id);
    if (f && f.revision >= revision) continue; // applied already
    const { insert, set } = rowOf(event, id);
    if (!f) {
      if (insert) folds.set(id, { revision, insert: { ...insert, last_revision: revision.toString() } });
      continue; // a change of a row never started changes nothing
    }
    Object.assign(f.insert ?? (f.patch ??= { id }), set, { last_revision: revision.toString() });
    f.revision = revision;
  }
  const all = [...folds.values()];
  await upsertRows(
    tx,
    table,
    all.flatMap((f) => (f.insert ? [f.insert] : [])),
    { conflict: ['id'] },
  );
  await patchRows(
    tx,
    table,
    all.flatMap((f) => (f.patch ? [f.patch] : [])),
    { key: ['id'], guard: 't.last_revision < n.last_revision' },
  );
}
