import type { Knex } from 'knex';
import { keywordWatchId, loadKeywordWatch } from '../application/qidian-keywords.js';
import type { RecordedEvent } from '../event-store/port.js';
import { keywordMatchSchema, novelSnapshotSchema, type QidianKeywordMatch, type QidianNovelSnapshot } from '../platforms/qidian/items.js';
import { upsertRows } from '../projections/sql-batch.js';
import type { Consumer } from '../consumers/consumer.js';
import { novelAlertEvents, type NovelAlertKind } from '../write-model/novel-alert/events.js';
import { workflowExecutionEvents } from '../write-model/workflow-execution/events.js';
import type { NotificationMailOutbox } from './notify-user.js';
import { react } from './shared.js';
import { sendUserNotification, type NotificationToSend, type UserNotificationDeps } from './user-notifications.js';

export const QIDIAN_ALERTS = 'pm-qidian-alerts';

export interface QidianAlertsDeps extends UserNotificationDeps {
  outbox?: NotificationMailOutbox;
}

interface Mark {
  chapters: number;
  wordCount: number;
  status: string;
  capturedAt: string;
}

interface Rule {
  alertId: string;
  kind: NovelAlertKind;
  words: number | null;
}

/**
 * Alerts on what the collection finds: novel alert rules and keyword watches.
 *
 * - NovelAlertCreated / Changed / Deleted → its own index of the rules
 *   (`pm_qidian_alert_rules`), read in the same ordered feed as the
 *   snapshots, so a snapshot is judged by the rules in force when it was
 *   collected.
 * - ItemsCollected of `qidian.novel_snapshot` items → each snapshot compared
 *   with the last one seen of that owner and novel (`pm_qidian_novel_marks`;
 *   the first one seen is the baseline, an older one than the mark is
 *   ignored). A rule fires:
 *   - `update`: the chapter count went up (key `novel_alert:{alertId}:chapters:{chapters}`);
 *   - `completion`: serializing → completed (key `novel_alert:{alertId}:completed`);
 *   - `word_count_threshold`: the word count crossed `words` (below before,
 *     at or above now; key `novel_alert:{alertId}:words:{words}`).
 * - ItemsCollected of `qidian.keyword_match` items → per owner and keyword,
 *   the books not found before (`pm_qidian_keyword_seen`) each give one
 *   `keyword_match` notification (key `keyword_match:{userId}:{keyword}:{novelId}`)
 *   while the keyword is still watched; the first books found for a
 *   keyword are its baseline (nothing is new yet).
 *
 * Once per triggering change: the notification's id and event ids are named
 * after the key, so a redelivered event (or the same change collected by
 * another run) records nothing more; the marks move only after the
 * notifications of a batch are recorded, and only forward (captured_at).
 * Its tables are written outside the batch transaction (no transaction
 * waits on the commands).
 */
export function createQidianAlerts(deps: QidianAlertsDeps, name = QIDIAN_ALERTS): Consumer {
  return {
    name,
    filter: { eventTypes: [...novelAlertEvents.types, 'ItemsCollected'] },
    batchSize: 100,
    async handle(events, { tx, db }) {
      const writer: Knex = db ?? tx;
      for (const event of events) {
        if (novelAlertEvents.owns(event.type) && event.streamName.startsWith('novel_alert-')) {
          await indexRule(writer, event);
        } else if (event.type === 'ItemsCollected' && event.streamName.startsWith('workflow_execution-')) {
          await react(deps, name, event, () => onItems(deps, name, writer, event));
        }
      }
    },
  };
}

async function indexRule(db: Knex, event: RecordedEvent): Promise<void> {
  const e = novelAlertEvents.decode(event);
  const d = e.data;
  const row =
    e.type === 'NovelAlertDeleted'
      ? { alert_id: d.alertId, user_id: d.userId, novel_id: d.novelId, kind: 'update', words: null, active: false, last_revision: event.revision.toString() }
      : {
          alert_id: d.alertId,
          user_id: d.userId,
          novel_id: d.novelId,
          kind: e.data.kind,
          words: e.data.words,
          active: true,
          last_revision: event.revision.toString(),
        };
  const update = e.type === 'NovelAlertDeleted' ? ['active', 'last_revision'] : ['kind', 'words', 'active', 'last_revision'];
  await upsertRows(db, 'pm_qidian_alert_rules', [row], { conflict: ['alert_id'], update, guard: 't.last_revision < excluded.last_revision' });
}

async function onItems(deps: QidianAlertsDeps, name: string, db: Knex, event: RecordedEvent): Promise<void> {
  const decoded = workflowExecutionEvents.decode(event);
  if (decoded.type !== 'ItemsCollected' || decoded.data.platform !== 'qidian') return;
  const ownerId = decoded.data.ownerId;
  const snapshots: QidianNovelSnapshot[] = [];
  const matches = new Map<string, QidianKeywordMatch[]>();
  for (const item of decoded.data.items) {
    if (item.kind === 'qidian.novel_snapshot') {
      const parsed = novelSnapshotSchema.safeParse(item.data);
      if (parsed.success) snapshots.push(parsed.data);
    } else if (item.kind === 'qidian.keyword_match') {
      const parsed = keywordMatchSchema.safeParse(item.data);
      if (!parsed.success) continue;
      const list = matches.get(parsed.data.keyword) ?? [];
      list.push(parsed.data);
      matches.set(parsed.data.keyword, list);
    }
  }
  if (snapshots.length > 0) await onSnapshots(deps, name, db, event, ownerId, snapshots);
  for (const [keyword, found] of matches) await onMatches(deps, name, db, event, ownerId, keyword, found);
}

/** The notifications one snapshot gives against the mark before it. */
export function triggered(userId: string, snap: QidianNovelSnapshot, before: Mark, rules: readonly Rule[]): NotificationToSend[] {
  const out: NotificationToSend[] = [];
  const base = {
    novelId: snap.novelId,
    novelTitle: snap.title,
    chapters: snap.chapters,
    previousChapters: before.chapters,
    wordCount: snap.wordCount,
    previousWordCount: before.wordCount,
    status: snap.status,
    capturedAt: snap.capturedAt,
  };
  for (const rule of rules) {
    const data = { ...base, alertId: rule.alertId, trigger: rule.kind };
    if (rule.kind === 'update' && snap.chapters > before.chapters) {
      out.push({ key: `novel_alert:${rule.alertId}:chapters:${snap.chapters}`, userId, kind: 'novel_alert', data, at: snap.capturedAt });
    } else if (rule.kind === 'completion' && before.status === 'serializing' && snap.status === 'completed') {
      out.push({ key: `novel_alert:${rule.alertId}:completed`, userId, kind: 'novel_alert', data, at: snap.capturedAt });
    } else if (rule.kind === 'word_count_threshold' && rule.words !== null && before.wordCount < rule.words && snap.wordCount >= rule.words) {
      out.push({
        key: `novel_alert:${rule.alertId}:words:${rule.words}`,
        userId,
        kind: 'novel_alert',
        data: { ...data, words: rule.words },
        at: snap.capturedAt,
      });
    }
  }
  return out;
}

async function onSnapshots(
  deps: QidianAlertsDeps,
  name: string,
  db: Knex,
  cause: RecordedEvent,
  userId: string,
  snapshots: QidianNovelSnapshot[],
): Promise<void> {
  const novelIds = [...new Set(snapshots.map((s) => s.novelId))];
  const markRows = await db('pm_qidian_novel_marks')
    .where({ user_id: userId })
    .whereIn('novel_id', novelIds)
    .select<{ novel_id: string; chapters: number; word_count: string; status: string; captured_at: Date }[]>(
      'novel_id',
      'chapters',
      'word_count',
      'status',
      'captured_at',
    );
  const marks = new Map<string, Mark>(
    markRows.map((r) => [
      r.novel_id,
      { chapters: r.chapters, wordCount: Number(r.word_count), status: r.status, capturedAt: new Date(r.captured_at).toISOString() },
    ]),
  );
  const ruleRows = await db('pm_qidian_alert_rules')
    .where({ user_id: userId, active: true })
    .whereIn('novel_id', novelIds)
    .orderBy('alert_id')
    .select<{ alert_id: string; novel_id: string; kind: NovelAlertKind; words: string | null }[]>('alert_id', 'novel_id', 'kind', 'words');
  const rules = new Map<string, Rule[]>();
  for (const r of ruleRows) {
    const list = rules.get(r.novel_id) ?? [];
    list.push({ alertId: r.alert_id, kind: r.kind, words: r.words === null ? null : Number(r.words) });
    rules.set(r.novel_id, list);
  }

  const moved = new Set<string>();
  for (const snap of [...snapshots].sort((a, b) => Date.parse(a.capturedAt) - Date.parse(b.capturedAt))) {
    const before = marks.get(snap.novelId);
    if (before && Date.parse(snap.capturedAt) <= Date.parse(before.capturedAt)) continue; // older news
    if (before) for (const n of triggered(userId, snap, before, rules.get(snap.novelId) ?? [])) await sendUserNotification(deps, name, cause, n);
    marks.set(snap.novelId, { chapters: snap.chapters, wordCount: snap.wordCount, status: snap.status, capturedAt: snap.capturedAt });
    moved.add(snap.novelId);
  }
  await upsertRows(
    db,
    'pm_qidian_novel_marks',
    [...moved].map((novelId) => {
      const m = marks.get(novelId)!;
      return { user_id: userId, novel_id: novelId, chapters: m.chapters, word_count: m.wordCount, status: m.status, captured_at: m.capturedAt };
    }),
    { conflict: ['user_id', 'novel_id'], update: ['chapters', 'word_count', 'status', 'captured_at'], guard: 't.captured_at < excluded.captured_at' },
  );
}

async function onMatches(
  deps: QidianAlertsDeps,
  name: string,
  db: Knex,
  cause: RecordedEvent,
  userId: string,
  keyword: string,
  found: QidianKeywordMatch[],
): Promise<void> {
  const seenRows = await db('pm_qidian_keyword_seen').where({ user_id: userId, keyword }).select<{ novel_id: string }[]>('novel_id');
  const seen = new Set(seenRows.map((r) => r.novel_id));
  const baseline = seen.size === 0;
  const fresh = found.filter((m, i) => !seen.has(m.novelId) && found.findIndex((o) => o.novelId === m.novelId) === i);
  if (fresh.length === 0) return;
  if (!baseline) {
    const { state } = await loadKeywordWatch(deps.store, keywordWatchId(userId, keyword));
    if (state.status === 'watching') {
      for (const m of fresh) {
        await sendUserNotification(deps, name, cause, {
          key: `keyword_match:${userId}:${keyword}:${m.novelId}`,
          userId,
          kind: 'keyword_match',
          data: {
            watchId: state.watchId,
            keyword,
            novelId: m.novelId,
            novelTitle: m.title,
            author: m.author,
            category: m.category,
            rank: m.rank,
            capturedAt: m.capturedAt,
          },
          at: m.capturedAt,
        });
      }
    }
  }
  await upsertRows(
    db,
    'pm_qidian_keyword_seen',
    fresh.map((m) => ({ user_id: userId, keyword, novel_id: m.novelId, first_seen_at: m.capturedAt })),
    { conflict: ['user_id', 'keyword', 'novel_id'] },
  );
}
