import type { Knex } from 'knex';
import { quotaDay } from '../application/quota-day.js';
import type { RecordedEvent } from '../event-store/port.js';
import { novelSnapshotSchema, rankingEntrySchema, type QidianNovelSnapshot, type QidianRankingEntry } from '../platforms/qidian/items.js';
import type { Consumer } from '../consumers/consumer.js';
import { NOVEL_TRACKING_EVENT_TYPES, novelTrackingEvents, type NovelTrackedData, type NovelTrackingEvent } from '../write-model/novel-tracking/events.js';
import { workflowExecutionEvents, type ItemsCollectedData } from '../write-model/workflow-execution/events.js';
import { itemsOfKinds } from './items-collected-reads.js';
import { patchRows, selectRows, upsertRows, type Row } from './sql-batch.js';

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
 * A batch is folded in memory and written with a few statements (one per
 * table and kind of write), however many events and items it holds. So
 * redelivering or replaying any batch changes nothing.
 */
export const QIDIAN_DATA_PROJECTION = 'qidian-data-v1';

/** Qidian's boards turn over at midnight China time, whatever the server's zone. */
export const QIDIAN_TIME_ZONE = 'Asia/Shanghai';

export const NOVEL_TRACKING_STREAM_PREFIX = 'novel_tracking-';

const NOVEL_SNAPSHOT_KIND = 'qidian.novel_snapshot';
const RANKING_ENTRY_KIND = 'qidian.ranking_entry';

export function createQidianDataProjection(name: string = QIDIAN_DATA_PROJECTION): Consumer {
  return {
    name,
    filter: {
      streamPrefixes: [NOVEL_TRACKING_STREAM_PREFIX, 'workflow_execution-'],
      eventTypes: [...NOVEL_TRACKING_EVENT_TYPES, 'ItemsCollected'],
    },
    // a rebuild reads the Qidian items alone, not the other platforms' batches
    rebuildData: { ItemsCollected: itemsOfKinds([NOVEL_SNAPSHOT_KIND, RANKING_ENTRY_KIND]) },
    async handle(events, { tx }) {
      await applyEvents(tx, events);
    },
  };
}

export const qidianDataProjection: Consumer = createQidianDataProjection();

const TRACKING_TYPES = new Set<string>(NOVEL_TRACKING_EVENT_TYPES);

type Db = Knex.Transaction | Knex;

/** Applies one recorded event (idempotently). Exported for tests. */
export async function applyEvent(tx: Db, recorded: RecordedEvent): Promise<void> {
  await applyEvents(tx, [recorded]);
}

/**
 * Applies a batch in its order, folded in memory per row: the trackings it
 * touches are read (and locked) once and written with one insert and one
 * update; the collected items with one statement per table.
 */
export async function applyEvents(tx: Db, events: readonly RecordedEvent[]): Promise<void> {
  const trackings: { recorded: RecordedEvent; event: NovelTrackingEvent }[] = [];
  const items = new CollectedItems();
  for (const recorded of events) {
    if (TRACKING_TYPES.has(recorded.type) && recorded.streamName.startsWith(NOVEL_TRACKING_STREAM_PREFIX)) {
      trackings.push({ recorded, event: novelTrackingEvents.decode(recorded) });
    } else if (recorded.type === 'ItemsCollected') {
      const event = workflowExecutionEvents.decode(recorded);
      if (event.type === 'ItemsCollected') items.add(event.data);
    }
  }
  if (trackings.length > 0) await applyTrackings(tx, trackings);
  await items.write(tx);
}

interface TrackingFold {
  revision: bigint;
  insert?: Row;
  patch?: Row;
}

async function applyTrackings(tx: Db, events: { recorded: RecordedEvent; event: NovelTrackingEvent }[]): Promise<void> {
  const ids = [...new Set(events.map((e) => e.event.data.trackingId))];
  const current = await selectRows<{ id: string; last_revision: string }>(
    tx,
    'qidian_trackings',
    ids.map((id) => ({ id })),
    {
      key: ['id'],
      columns: ['id', 'last_revision'],
      forUpdate: true,
    },
  );
  const folds = new Map<string, TrackingFold>(current.map((r) => [r.id, { revision: BigInt(r.last_revision) }]));

  for (const { recorded, event } of events) {
    const id = event.data.trackingId;
    const revision = recorded.revision;
    const fold = folds.get(id);
    if (fold && fold.revision >= revision) continue; // applied already
    if (event.type === 'NovelTracked' && !fold) {
      const d = event.data;
      const row = { id, stream_name: recorded.streamName, user_id: d.userId, novel_id: d.novelId, created_at: d.trackedAt, ...trackedFields(d) };
      folds.set(id, { revision, insert: { ...row, last_revision: revision.toString() } });
      continue;
    }
    if (!fold) continue; // an update of a tracking never started changes nothing
    Object.assign(fold.insert ?? (fold.patch ??= { id }), trackingChanges(event), { last_revision: revision.toString() });
    fold.revision = revision;
  }

  const all = [...folds.values()];
  await upsertRows(
    tx,
    'qidian_trackings',
    all.flatMap((f) => (f.insert ? [f.insert] : [])),
    { conflict: ['id'] },
  );
  await patchRows(
    tx,
    'qidian_trackings',
    all.flatMap((f) => (f.patch ? [f.patch] : [])),
    { key: ['id'], guard: 't.last_revision < n.last_revision' },
  );
}

const trackedFields = (d: NovelTrackedData) => ({ title: d.title, settings: d.settings, status: 'tracking', updated_at: d.trackedAt, untracked_at: null });

/** The columns a tracking event sets on a row that is there. */
function trackingChanges(event: NovelTrackingEvent): Row {
  switch (event.type) {
    case 'NovelTracked':
      // a re-track starts the row again: created_at is when this tracking began
      return { ...trackedFields(event.data), created_at: event.data.trackedAt };
    case 'NovelTrackingUpdated': {
      const d = event.data;
      return { title: d.title, settings: d.settings, updated_at: d.updatedAt };
    }
    case 'NovelUntracked': {
      const d = event.data;
      return { status: 'untracked', updated_at: d.untrackedAt, untracked_at: d.untrackedAt };
    }
  }
}

const SNAPSHOT_COLUMNS = ['title', 'author', 'category', 'status', 'word_count', 'chapters'] as const;
const RANKING_COLUMNS = ['captured_at', 'novel_id', 'title', 'author', 'category', 'sub_category', 'status', 'score', 'score_label', 'execution_id'] as const;

/**
 * A batch's qidian items folded per row: the first snapshot of each (owner,
 * novel, captured_at); per novel the latest capture (the later of equal
 * ones, as when each overwrote a row no newer); per ranking place the
 * latest capture (the first of equal ones, as when only a strictly later one
 * replaced the row). The writes repeat the same comparisons against the
 * rows already there.
 */
class CollectedItems {
  private readonly snapshots = new Map<string, Row>();
  private readonly novels = new Map<string, { at: number; row: Row }>();
  private readonly rankings = new Map<string, { at: number; row: Row }>();
  private readonly days = new Map<string, string>();

  add(d: ItemsCollectedData): void {
    for (const item of d.items ?? []) {
      if (item.kind === NOVEL_SNAPSHOT_KIND) {
        const parsed = novelSnapshotSchema.safeParse(item.data);
        if (parsed.success) this.addSnapshot(d, parsed.data);
      } else if (item.kind === RANKING_ENTRY_KIND) {
        const parsed = rankingEntrySchema.safeParse(item.data);
        if (parsed.success) this.addRankingEntry(d, parsed.data);
      }
    }
  }

  private addSnapshot(d: ItemsCollectedData, s: QidianNovelSnapshot): void {
    const at = Date.parse(s.capturedAt);
    const capturedAt = new Date(at).toISOString();
    const latest = { title: s.title, author: s.author, category: s.category, status: s.status, word_count: s.wordCount, chapters: s.chapters };
    const key = `${d.ownerId}\u0000${s.novelId}`;
    const snapshotKey = `${key}\u0000${capturedAt}`;
    if (!this.snapshots.has(snapshotKey)) {
      this.snapshots.set(snapshotKey, {
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
      });
    }
    const novel = this.novels.get(key);
    if (!novel || novel.at <= at) this.novels.set(key, { at, row: { owner_id: d.ownerId, novel_id: s.novelId, ...latest, last_captured_at: capturedAt } });
  }

  private addRankingEntry(d: ItemsCollectedData, e: QidianRankingEntry): void {
    const at = Date.parse(e.capturedAt);
    const capturedAt = new Date(at).toISOString();
    const day = this.dayOf(capturedAt);
    const key = `${d.ownerId}\u0000${e.ranking}\u0000${day}\u0000${e.rank}`;
    const current = this.rankings.get(key);
    if (current && current.at >= at) return;
    this.rankings.set(key, {
      at,
      row: {
        owner_id: d.ownerId,
        ranking: e.ranking,
        day,
        rank: e.rank,
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
      },
    });
  }

  /** The entries of a board share their capture time: its day is worked out once. */
  private dayOf(capturedAt: string): string {
    let day = this.days.get(capturedAt);
    if (day === undefined) this.days.set(capturedAt, (day = qidianDay(capturedAt)));
    return day;
  }

  async write(tx: Db): Promise<void> {
    await upsertRows(tx, 'qidian_novel_snapshots', [...this.snapshots.values()], { conflict: ['owner_id', 'novel_id', 'captured_at'] });
    await upsertRows(
      tx,
      'qidian_novels',
      [...this.novels.values()].map((n) => n.row),
      {
        conflict: ['owner_id', 'novel_id'],
        update: [...SNAPSHOT_COLUMNS, 'last_captured_at'],
        guard: 't.last_captured_at <= excluded.last_captured_at',
      },
    );
    await upsertRows(
      tx,
      'qidian_rankings',
      [...this.rankings.values()].map((r) => r.row),
      {
        conflict: ['owner_id', 'ranking', 'day', 'rank'],
        update: RANKING_COLUMNS,
        guard: 't.captured_at < excluded.captured_at',
      },
    );
  }
}

/** The Qidian (China) day of an instant, YYYY-MM-DD. */
export function qidianDay(instant: string | Date): string {
  return quotaDay(new Date(instant), QIDIAN_TIME_ZONE).day;
}
