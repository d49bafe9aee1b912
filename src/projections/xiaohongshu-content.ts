import type { Knex } from 'knex';
import type { RecordedEvent } from '../event-store/port.js';
import { messageSchema, noteSchema, type XiaohongshuMessage, type XiaohongshuNote } from '../platforms/xiaohongshu/items.js';
import type { Consumer } from '../consumers/consumer.js';
import { workflowExecutionEvents, type ItemsCollectedData } from '../write-model/workflow-execution/events.js';
import { xiaohongshuContentEvents } from '../write-model/xiaohongshu-content/events.js';
import { micros } from './instants.js';
import { itemsOfKinds } from './items-collected-reads.js';
import { deleteRows, insertSkipped, selectRows, upsertRows, type Row } from './sql-batch.js';

/**
 * Read model of collected Xiaohongshu data, from WorkflowExecution's
 * ItemsCollected and XiaohongshuContent's CollectedContentDeleted (tables:
 * migrations/20261123000900_xiaohongshu_read_model.ts,
 * migrations/20261205120000_xiaohongshu_deletions_and_conversations.ts).
 * Only items of kind `xiaohongshu.note` and `xiaohongshu.message` are kept;
 * other kinds (other platforms) are ignored, and so is an item whose data
 * does not fit its schema (the collector validated it; a projection that
 * threw here would stop every later event).
 *
 * Notes: one row per (owner, note id). A later collection (by collected_at)
 * sets the counts and texts and moves last_collected_at; an earlier one that
 * arrives late only adds its history row. Every collection adds one history
 * row per (owner, note, execution).
 *
 * Deleted notes: CollectedContentDeleted removes the note's row and history
 * rows and leaves a tombstone per (owner, note) in
 * xiaohongshu_deleted_contents; a collection of a tombstoned note (later,
 * or earlier and arriving late) adds nothing for that owner. A deletion
 * stream holds one event at most and a tombstone is final, so the order of
 * deletions and collections within or across batches does not change the
 * rows.
 *
 * Messages: one row per (owner, conversation, message), with the peer the
 * collector saw in the conversation list.
 *
 * A batch of events costs at most five statements for its collections (claim,
 * tombstone lookup, history, notes, messages) and three for its deletions
 * (tombstones, history, notes), however many items it holds.
 * Idempotent under redelivery: the (execution, batch) pair is recorded in
 * xiaohongshu_processed_batches in the consumer's transaction, and a pair
 * seen before is skipped; the history's primary key is a second guard.
 */
export const XIAOHONGSHU_CONTENT_PROJECTION = 'xiaohongshu-content-v1';

export const NOTE_KIND = 'xiaohongshu.note';
export const MESSAGE_KIND = 'xiaohongshu.message';

export function createXiaohongshuContentProjection(name: string = XIAOHONGSHU_CONTENT_PROJECTION): Consumer {
  return {
    name,
    filter: { streamPrefixes: ['workflow_execution-', 'xiaohongshu_content-'], eventTypes: ['ItemsCollected', 'CollectedContentDeleted'] },
    // a rebuild reads the Xiaohongshu items alone, not the other platforms' batches
    rebuildData: { ItemsCollected: itemsOfKinds([NOTE_KIND, MESSAGE_KIND]) },
    async handle(events, { tx }) {
      await applyEvents(tx, events);
    },
  };
}

export const xiaohongshuContentProjection: Consumer = createXiaohongshuContentProjection();

type Db = Knex.Transaction | Knex;

/** Applies one recorded ItemsCollected (unless its batch was applied already) or CollectedContentDeleted. Exported for tests. */
export async function applyEvent(tx: Db, recorded: RecordedEvent): Promise<void> {
  await applyEvents(tx, [recorded]);
}

/** One ItemsCollected with the Xiaohongshu items that fit their schemas. */
interface Collected {
  d: ItemsCollectedData;
  /** collectedAt in microseconds */
  at: bigint;
  notes: XiaohongshuNote[];
  messages: XiaohongshuMessage[];
}

const SEP = '\u0000';

/**
 * Applies a batch of ItemsCollected and CollectedContentDeleted, with a fixed
 * number of statements whatever its size: claim the (execution, batch) pairs,
 * apply the deletions (tombstones, then the rows go), look up the tombstones
 * of the batch's notes, insert the history rows, upsert the notes folded per
 * (owner, note), insert the messages.
 * Only a pair claimed now counts, and of its notes only those whose history
 * row is new: what applying the events one by one would have kept.
 */
export async function applyEvents(tx: Db, events: readonly RecordedEvent[]): Promise<void> {
  const collected: Collected[] = [];
  const pairs = new Set<string>();
  const deletions = new Map<string, Row>();
  for (const recorded of events) {
    if (recorded.type === 'CollectedContentDeleted') {
      const deleted = xiaohongshuContentEvents.decode(recorded);
      const d = deleted.data;
      const key = d.ownerId + SEP + d.noteId;
      // the first deletion's time stays (there is only one per stream)
      if (!deletions.has(key)) deletions.set(key, { owner_id: d.ownerId, note_id: d.noteId, deleted_at: d.deletedAt });
      continue;
    }
    if (recorded.type !== 'ItemsCollected') continue;
    const event = workflowExecutionEvents.decode(recorded);
    if (event.type !== 'ItemsCollected') continue;
    const c = itemsOf(event.data);
    if (!c) continue;
    const pair = event.data.executionId + SEP + event.data.batchId;
    if (pairs.has(pair)) continue; // the same batch twice: the first claims it
    pairs.add(pair);
    collected.push(c);
  }
  let fresh: Collected[] = [];
  if (collected.length > 0) {
    const skipped = await insertSkipped<{ execution_id: string; batch_id: string }>(
      tx,
      'xiaohongshu_processed_batches',
      collected.map(({ d }) => ({ execution_id: d.executionId, batch_id: d.batchId })),
      { conflict: ['execution_id', 'batch_id'], key: ['execution_id', 'batch_id'] },
    );
    // a pair there already was applied before
    const skippedPairs = new Set(skipped.map((r) => r.execution_id + SEP + r.batch_id));
    fresh = skipped.length === 0 ? collected : collected.filter(({ d }) => !skippedPairs.has(d.executionId + SEP + d.batchId));
  }

  // deletions before the batch's notes: a note collected in the same batch finds its tombstone
  await applyDeletions(tx, [...deletions.values()]);
  if (fresh.length === 0) return;
  await applyNotes(tx, fresh);
  await applyMessages(tx, fresh);
}

/** Tombstones (the first stays), then the notes' rows and history go. Idempotent: a redelivery finds nothing left to delete. */
async function applyDeletions(tx: Db, tombstones: Row[]): Promise<void> {
  if (tombstones.length === 0) return;
  await upsertRows(tx, 'xiaohongshu_deleted_contents', tombstones, { conflict: ['owner_id', 'note_id'] });
  const keys = tombstones.map((t) => ({ owner_id: t.owner_id, note_id: t.note_id }));
  await deleteRows(tx, 'xiaohongshu_content_history', keys, { key: ['owner_id', 'note_id'] });
  await deleteRows(tx, 'xiaohongshu_contents', keys, { key: ['owner_id', 'note_id'] });
}

/** The (owner, note) pairs among these collections that the owner deleted. */
async function deletedAmong(tx: Db, fresh: Collected[]): Promise<Set<string>> {
  const keys = new Map<string, Row>();
  for (const { d, notes } of fresh) for (const n of notes) keys.set(d.ownerId + SEP + n.noteId, { owner_id: d.ownerId, note_id: n.noteId });
  const found = await selectRows<{ owner_id: string; note_id: string }>(tx, 'xiaohongshu_deleted_contents', [...keys.values()], {
    key: ['owner_id', 'note_id'],
    columns: ['owner_id', 'note_id'],
  });
  return new Set(found.map((r) => r.owner_id + SEP + r.note_id));
}

function itemsOf(d: ItemsCollectedData): Collected | undefined {
  const notes = new Map<string, XiaohongshuNote>();
  const messages: XiaohongshuMessage[] = [];
  for (const item of d.items) {
    if (item.kind === NOTE_KIND) {
      const parsed = noteSchema.safeParse(item.data);
      if (parsed.success) notes.set(parsed.data.noteId, parsed.data);
    } else if (item.kind === MESSAGE_KIND) {
      const parsed = messageSchema.safeParse(item.data);
      if (parsed.success) messages.push(parsed.data);
    }
  }
  if (notes.size === 0 && messages.length === 0) return undefined;
  return { d, at: micros(d.collectedAt), notes: [...notes.values()], messages };
}

/** The columns the latest collection of a note sets. */
const LATEST = [
  'content_type',
  'title',
  'content',
  'author_id',
  'author_name',
  'published_at',
  'like_count',
  'comment_count',
  'share_count',
  'collect_count',
  'images',
  'tags',
  'location',
  'url',
  'last_workflow_id',
  'last_execution_id',
  'platform_account_id',
] as const;

/** A note's new collections in a batch, as one row. */
interface NoteFold {
  row: Row;
  /** the latest collection's time (µs): the later of equal ones wins, as a later event overwrote a row no newer */
  latest: bigint;
  earliest: bigint;
}

async function applyNotes(tx: Db, fresh: Collected[]): Promise<void> {
  if (!fresh.some((c) => c.notes.length > 0)) return;
  const deleted = await deletedAmong(tx, fresh);
  // one history row per (owner, note, execution): the first of the batch; none for a deleted note
  const seen = new Set<string>();
  const occurrences: { c: Collected; n: XiaohongshuNote; key: string }[] = [];
  const historyRows: Row[] = [];
  for (const c of fresh) {
    const d = c.d;
    for (const n of c.notes) {
      if (deleted.has(d.ownerId + SEP + n.noteId)) continue;
      const key = d.ownerId + SEP + n.noteId + SEP + d.executionId;
      if (seen.has(key)) continue;
      seen.add(key);
      occurrences.push({ c, n, key });
      historyRows.push({
        owner_id: d.ownerId,
        note_id: n.noteId,
        execution_id: d.executionId,
        workflow_id: d.workflowId,
        collected_at: d.collectedAt,
        like_count: n.likes,
        comment_count: n.comments,
        share_count: n.shares,
        collect_count: n.collects,
      });
    }
  }
  if (historyRows.length === 0) return;
  const skipped = await insertSkipped<{ owner_id: string; note_id: string; execution_id: string }>(tx, 'xiaohongshu_content_history', historyRows, {
    conflict: ['owner_id', 'note_id', 'execution_id'],
    key: ['owner_id', 'note_id', 'execution_id'],
  });
  const skippedKeys = new Set(skipped.map((r) => r.owner_id + SEP + r.note_id + SEP + r.execution_id));

  // a collection counts for the note only when its history row is new (a second guard against a redelivery)
  const folds = new Map<string, NoteFold>();
  for (const { c, n, key } of occurrences) {
    if (skippedKeys.has(key)) continue;
    const d = c.d;
    const noteKey = d.ownerId + SEP + n.noteId;
    const fold = folds.get(noteKey);
    if (!fold) {
      folds.set(noteKey, { row: contentRow(d, n), latest: c.at, earliest: c.at });
      continue;
    }
    const row = fold.row;
    if (c.at >= fold.latest) {
      setLatest(row, d, n);
      row.last_collected_at = d.collectedAt;
      fold.latest = c.at;
    }
    if (c.at < fold.earliest) {
      row.first_collected_at = d.collectedAt;
      fold.earliest = c.at;
    }
    const workflowIds = row.workflow_ids as string[];
    if (!workflowIds.includes(d.workflowId)) workflowIds.push(d.workflowId);
    row.times_collected = (row.times_collected as number) + 1;
  }
  if (folds.size === 0) return;

  // the newer collection's values win; an older one arriving late keeps the row as it is
  const update: Record<string, string> = {};
  for (const column of LATEST) update[column] = `CASE WHEN excluded.last_collected_at >= t.last_collected_at THEN excluded.${column} ELSE t.${column} END`;
  await upsertRows(
    tx,
    'xiaohongshu_contents',
    [...folds.values()].map((f) => f.row),
    {
      conflict: ['owner_id', 'note_id'],
      update: {
        ...update,
        // the batch's workflows not in the row yet, in the order they first collected the note
        workflow_ids:
          't.workflow_ids || ARRAY(SELECT w FROM unnest(excluded.workflow_ids) WITH ORDINALITY AS u(w, i) WHERE w <> ALL (t.workflow_ids) ORDER BY i)',
        times_collected: 't.times_collected + excluded.times_collected',
        first_collected_at: 'LEAST(t.first_collected_at, excluded.first_collected_at)',
        last_collected_at: 'GREATEST(t.last_collected_at, excluded.last_collected_at)',
      },
    },
  );
}

/** The row of a note's first collection in the batch. */
function contentRow(d: ItemsCollectedData, n: XiaohongshuNote): Row {
  return {
    owner_id: d.ownerId,
    note_id: n.noteId,
    content_type: n.type === 'video' ? 'video' : 'note',
    title: n.title,
    content: n.text,
    author_id: n.author.id,
    author_name: n.author.nickname,
    published_at: n.publishedAt,
    like_count: n.likes,
    comment_count: n.comments,
    share_count: n.shares,
    collect_count: n.collects,
    images: n.images,
    tags: n.tags,
    location: n.location ?? null,
    url: n.url,
    workflow_ids: [d.workflowId],
    last_workflow_id: d.workflowId,
    last_execution_id: d.executionId,
    platform_account_id: d.platformAccountId,
    times_collected: 1,
    first_collected_at: d.collectedAt,
    last_collected_at: d.collectedAt,
  };
}

/** The LATEST columns of a later collection. */
function setLatest(row: Row, d: ItemsCollectedData, n: XiaohongshuNote): void {
  row.content_type = n.type === 'video' ? 'video' : 'note';
  row.title = n.title;
  row.content = n.text;
  row.author_id = n.author.id;
  row.author_name = n.author.nickname;
  row.published_at = n.publishedAt;
  row.like_count = n.likes;
  row.comment_count = n.comments;
  row.share_count = n.shares;
  row.collect_count = n.collects;
  row.images = n.images;
  row.tags = n.tags;
  row.location = n.location ?? null;
  row.url = n.url;
  row.last_workflow_id = d.workflowId;
  row.last_execution_id = d.executionId;
  row.platform_account_id = d.platformAccountId;
}

async function applyMessages(tx: Db, fresh: Collected[]): Promise<void> {
  // a message does not change once sent: the first copy stays (but for the peer, below)
  const rows = new Map<string, Row>();
  for (const { d, messages } of fresh) {
    for (const m of messages) {
      const key = d.ownerId + SEP + m.conversationId + SEP + m.messageId;
      const first = rows.get(key);
      if (first) {
        if (first.peer_user_id === null && m.peer) Object.assign(first, { peer_user_id: m.peer.id, peer_nickname: m.peer.nickname });
        continue;
      }
      rows.set(key, {
        owner_id: d.ownerId,
        conversation_id: m.conversationId,
        message_id: m.messageId,
        direction: m.direction,
        content: m.text,
        message_type: m.messageType,
        from_user_id: m.from.id,
        from_nickname: m.from.nickname,
        peer_user_id: m.peer?.id ?? null,
        peer_nickname: m.peer?.nickname ?? null,
        sent_at: m.sentAt,
        platform_account_id: d.platformAccountId,
        workflow_id: d.workflowId,
        execution_id: d.executionId,
        collected_at: d.collectedAt,
      });
    }
  }
  // a copy collected before the peer was recorded gains it from a later one
  await upsertRows(tx, 'xiaohongshu_messages', [...rows.values()], {
    conflict: ['owner_id', 'conversation_id', 'message_id'],
    update: { peer_user_id: 'COALESCE(t.peer_user_id, excluded.peer_user_id)', peer_nickname: 'COALESCE(t.peer_nickname, excluded.peer_nickname)' },
    guard: 't.peer_user_id IS NULL AND excluded.peer_user_id IS NOT NULL',
  });
}
