import type { Knex } from 'knex';
import type { RecordedEvent } from '../event-store/port.js';
import { messageSchema, noteSchema, type XiaohongshuMessage, type XiaohongshuNote } from '../platforms/xiaohongshu/items.js';
import type { Consumer } from '../subscriptions/consumer.js';
import { workflowExecutionEvents, type ItemsCollectedData } from '../write-model/workflow-execution/events.js';

/**
 * Read model of collected Xiaohongshu data, from WorkflowExecution's
 * ItemsCollected (tables: migrations/20261123000900_xiaohongshu_read_model.ts).
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
    filter: { streamPrefixes: ['workflow_execution-'], eventTypes: ['ItemsCollected'] },
    async handle(events, { tx }) {
      for (const event of events) await applyEvent(tx, event);
    },
  };
}

export const xiaohongshuContentProjection: Consumer = createXiaohongshuContentProjection();

/** Applies one recorded ItemsCollected unless its batch was applied already. Exported for tests. */
export async function applyEvent(tx: Knex.Transaction | Knex, recorded: RecordedEvent): Promise<void> {
  if (recorded.type !== 'ItemsCollected') return;
  const event = workflowExecutionEvents.decode(recorded);
  if (event.type !== 'ItemsCollected') return;
  const d = event.data;
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
  if (notes.size === 0 && messages.length === 0) return;

  const claimed = await tx('xiaohongshu_processed_batches')
    .insert({ execution_id: d.executionId, batch_id: d.batchId })
    .onConflict(['execution_id', 'batch_id'])
    .ignore()
    .returning('batch_id');
  if (claimed.length === 0) return; // applied already

  if (notes.size > 0) await applyNotes(tx, d, [...notes.values()]);
  if (messages.length > 0) await applyMessages(tx, d, messages);
}

async function applyNotes(tx: Knex.Transaction | Knex, d: ItemsCollectedData, notes: XiaohongshuNote[]): Promise<void> {
  const counts = (n: XiaohongshuNote) => ({ like_count: n.likes, comment_count: n.comments, share_count: n.shares, collect_count: n.collects });
  const inserted = (await tx('xiaohongshu_content_history')
    .insert(notes.map((n) => ({ owner_id: d.ownerId, note_id: n.noteId, execution_id: d.executionId, workflow_id: d.workflowId, collected_at: d.collectedAt, ...counts(n) })))
    .onConflict(['owner_id', 'note_id', 'execution_id'])
    .ignore()
    .returning('note_id')) as { note_id: string }[];
  const fresh = new Set(inserted.map((r) => r.note_id));
  const rows = notes
    .filter((n) => fresh.has(n.noteId))
    .map((n) => ({
      owner_id: d.ownerId,
      note_id: n.noteId,
      content_type: n.type === 'video' ? 'video' : 'note',
      title: n.title,
      content: n.text,
      author_id: n.author.id,
      author_name: n.author.nickname,
      published_at: n.publishedAt,
      ...counts(n),
      images: JSON.stringify(n.images),
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
    }));
  if (rows.length === 0) return;
  // the newer collection's values win; an older one arriving late keeps the row as it is
  const newer = 'excluded.last_collected_at >= xiaohongshu_contents.last_collected_at';
  const latest = (column: string) => tx.raw(`CASE WHEN ${newer} THEN excluded.${column} ELSE xiaohongshu_contents.${column} END`);
  const merged: Record<string, Knex.Raw> = {};
  for (const column of [
    'content_type', 'title', 'content', 'author_id', 'author_name', 'published_at', 'like_count', 'comment_count', 'share_count',
    'collect_count', 'images', 'tags', 'location', 'url', 'last_workflow_id', 'last_execution_id', 'platform_account_id',
  ]) {
    merged[column] = latest(column);
  }
  await tx('xiaohongshu_contents')
    .insert(rows)
    .onConflict(['owner_id', 'note_id'])
    .merge({
      ...merged,
      workflow_ids: tx.raw(
        'CASE WHEN excluded.last_workflow_id = ANY (xiaohongshu_contents.workflow_ids) THEN xiaohongshu_contents.workflow_ids ELSE xiaohongshu_contents.workflow_ids || excluded.workflow_ids END',
      ),
      times_collected: tx.raw('xiaohongshu_contents.times_collected + 1'),
      first_collected_at: tx.raw('LEAST(xiaohongshu_contents.first_collected_at, excluded.first_collected_at)'),
      last_collected_at: tx.raw('GREATEST(xiaohongshu_contents.last_collected_at, excluded.last_collected_at)'),
    });
}

async function applyMessages(tx: Knex.Transaction | Knex, d: ItemsCollectedData, messages: XiaohongshuMessage[]): Promise<void> {
  // a message does not change once sent: the first copy stays
  await tx('xiaohongshu_messages')
    .insert(
      messages.map((m) => ({
        owner_id: d.ownerId,
        conversation_id: m.conversationId,
        message_id: m.messageId,
        direction: m.direction,
        content: m.text,
        message_type: m.messageType,
        from_user_id: m.from.id,
        from_nickname: m.from.nickname,
        sent_at: m.sentAt,
        platform_account_id: d.platformAccountId,
        workflow_id: d.workflowId,
        execution_id: d.executionId,
        collected_at: d.collectedAt,
      })),
    )
    .onConflict(['owner_id', 'conversation_id', 'message_id'])
    .ignore();
}
