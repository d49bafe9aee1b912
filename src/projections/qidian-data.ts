import type { Knex } from 'knex';
import { quotaDay } from '../application/quota-day.js';
import type { RecordedEvent } from '../event-store/port.js';
import { novelSnapshotSchema, rankingEntrySchema, type QidianNovelSnapshot, type QidianRankingEntry } from '../platforms/qidian/items.js';
import type { Consumer } from '../subscriptions/consumer.js';
import { NOVEL_TRACKING_EVENT_TYPES, novelTrackingEvents } from '../write-model/novel-tracking/events.js';
import { workflowExecutionEvents, type ItemsCollectedData } from '../write-model/workflow-execution/events.js';

/**
 * The Qidian read model (migration 20261123001000_qidian_read_model):
 *
 * - `qidian_trackings` from the NovelTracking streams (`novel_tracking-{id}`):
 *   one row per tracking, `untracked` rows kept (a re-track revives them).
 *   Applied only above `last_revision`, moved in the same transaction.
 * - from ItemsCollected (WorkflowExecution), only the qidian kinds; each
 *   item is checked against its schema again and skipped when it does not
 *   fit (the collector validated it; a bad one must not stall the projection):
 *   - `qidian.novel_snapshot` → `qidian_novel_snapshots` (insert, ignored
 *     when (owner, novel, captured_at) is there) and `qidian_novels` (the
 *     latest capture wins, an older one never overwrites);
 *   - `qidian.ranking_entry` → `qidian_rankings`, one row per (owner,
 *     ranking, day, rank); the day is Qidian's (Asia/Shanghai); a later
 *     capture of the same day replaces the row, an earlier one does not.
 *
 * So redelivering or replaying any batch changes nothing.
 */
export const QIDIAN_DATA_PROJECTION = 'qidian-data-v1';

/** Qidian's boards turn over at midnight China time, whatever the server's zone. */
export const QIDIAN_TIME_ZONE = 'Asia/Shanghai';

export const NOVEL_TRACKING_STREAM_PREFIX = 'novel_tracking-';

export function createQidianDataProjection(name: string = QIDIAN_DATA_PROJECTION): Consumer {
  return {
    name,
    filter: {
      streamPrefixes: [NOVEL_TRACKING_STREAM_PREFIX, 'workflow_execution-'],
      eventTypes: [...NOVEL_TRACKING_EVENT_TYPES, 'ItemsCollected'],
    },
    async handle(events, { tx }) {
      for (const event of events) await applyEvent(tx, event);
    },
  };
}

export const qidianDataProjection: Consumer = createQidianDataProjection();

const TRACKING_TYPES = new Set<string>(NOVEL_TRACKING_EVENT_TYPES);

/** Applies one recorded event (idempotently). Exported for tests. */
export async function applyEvent(tx: Knex.Transaction | Knex, recorded: RecordedEvent): Promise<void> {
  if (TRACKING_TYPES.has(recorded.type) && recorded.streamName.startsWith(NOVEL_TRACKING_STREAM_PREFIX)) {
    await applyTracking(tx, recorded);
  } else if (recorded.type === 'ItemsCollected') {
    const event = workflowExecutionEvents.decode(recorded);
    if (event.type === 'ItemsCollected') await applyItems(tx, event.data);
  }
}

async function applyTracking(tx: Knex.Transaction | Knex, recorded: RecordedEvent): Promise<void> {
  const event = novelTrackingEvents.decode(recorded);
  const id = event.data.trackingId;
  const revision = recorded.revision.toString();
  const row = (await tx('qidian_trackings').where({ id }).forUpdate().first('last_revision')) as { last_revision: string } | undefined;
  if (row && BigInt(row.last_revision) >= recorded.revision) return; // applied already

  switch (event.type) {
    case 'NovelTracked': {
      const d = event.data;
      const fields = { title: d.title, settings: JSON.stringify(d.settings), status: 'tracking', updated_at: d.trackedAt, untracked_at: null, last_revision: revision };
      // a re-track starts the row again: created_at is when this tracking began
      await tx('qidian_trackings')
        .insert({ id, stream_name: recorded.streamName, user_id: d.userId, novel_id: d.novelId, created_at: d.trackedAt, ...fields })
        .onConflict('id')
        .merge({ ...fields, created_at: d.trackedAt });
      return;
    }
    case 'NovelTrackingUpdated': {
      const d = event.data;
      await tx('qidian_trackings').where({ id }).update({ title: d.title, settings: JSON.stringify(d.settings), updated_at: d.updatedAt, last_revision: revision });
      return;
    }
    case 'NovelUntracked': {
      const d = event.data;
      await tx('qidian_trackings').where({ id }).update({ status: 'untracked', updated_at: d.untrackedAt, untracked_at: d.untrackedAt, last_revision: revision });
      return;
    }
  }
}

async function applyItems(tx: Knex.Transaction | Knex, d: ItemsCollectedData): Promise<void> {
  for (const item of d.items ?? []) {
    if (item.kind === 'qidian.novel_snapshot') {
      const parsed = novelSnapshotSchema.safeParse(item.data);
      if (parsed.success) await applySnapshot(tx, d, parsed.data);
    } else if (item.kind === 'qidian.ranking_entry') {
      const parsed = rankingEntrySchema.safeParse(item.data);
      if (parsed.success) await applyRankingEntry(tx, d, parsed.data);
    }
  }
}

async function applySnapshot(tx: Knex.Transaction | Knex, d: ItemsCollectedData, s: QidianNovelSnapshot): Promise<void> {
  const capturedAt = new Date(s.capturedAt).toISOString();
  const latest = { title: s.title, author: s.author, category: s.category, status: s.status, word_count: s.wordCount, chapters: s.chapters };
  await tx('qidian_novel_snapshots')
    .insert({
      owner_id: d.ownerId,
      novel_id: s.novelId,
      captured_at: capturedAt,
      ...latest,
      clicks: s.stats.clicks,
      recommendations: s.stats.recommendations,
      collections: s.stats.collections,
      monthly_tickets: s.stats.monthlyTickets,
      last_updated_at: s.lastUpdatedAt ?? null,
      execution_id: d.executionId,
      workflow_id: d.workflowId,
    })
    .onConflict(['owner_id', 'novel_id', 'captured_at'])
    .ignore();
  await tx('qidian_novels')
    .insert({ owner_id: d.ownerId, novel_id: s.novelId, ...latest, last_captured_at: capturedAt })
    .onConflict(['owner_id', 'novel_id'])
    .merge()
    .where('qidian_novels.last_captured_at', '<=', capturedAt);
}

async function applyRankingEntry(tx: Knex.Transaction | Knex, d: ItemsCollectedData, e: QidianRankingEntry): Promise<void> {
  const capturedAt = new Date(e.capturedAt).toISOString();
  const row = {
    captured_at: capturedAt,
    novel_id: e.novelId,
    title: e.title,
    author: e.author,
    category: e.category,
    sub_category: e.subCategory ?? null,
    status: e.status ?? null,
    score: e.score,
    score_label: e.scoreLabel ?? null,
    execution_id: d.executionId,
  };
  await tx('qidian_rankings')
    .insert({ owner_id: d.ownerId, ranking: e.ranking, day: qidianDay(capturedAt), rank: e.rank, ...row })
    .onConflict(['owner_id', 'ranking', 'day', 'rank'])
    .merge(row)
    .where('qidian_rankings.captured_at', '<', capturedAt);
}

/** The Qidian (China) day of an instant, YYYY-MM-DD. */
export function qidianDay(instant: string | Date): string {
  return quotaDay(new Date(instant), QIDIAN_TIME_ZONE).day;
}
