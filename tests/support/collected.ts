import { randomBytes, randomUUID } from 'node:crypto';
import type { EventStore } from '../../src/event-store/port.js';
import type { Position } from '../../src/event-store/position.js';
import type { XiaohongshuNote } from '../../src/platforms/xiaohongshu/items.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { workflowExecutionAggregate, type CollectedItem, type WorkflowExecutionCommand } from '../../src/write-model/workflow-execution/index.js';

const hex24 = () => randomBytes(12).toString('hex');

/** A Xiaohongshu note as the scraper reports it: `title` in Shanghai, `likes` liked. */
export function sampleNote(noteId: string, title: string, likes: number): XiaohongshuNote {
  return {
    noteId,
    type: 'normal',
    title,
    text: `${title}，周末去试试`,
    author: { id: hex24(), nickname: '小鹿爱喝咖啡' },
    publishedAt: '2026-11-01T02:00:00.000Z',
    likes,
    comments: 1,
    shares: 0,
    collects: 2,
    images: [],
    tags: ['咖啡'],
    location: '上海',
    url: `https://www.xiaohongshu.com/explore/${noteId}`,
  };
}

/** Xiaohongshu notes as a run's collected items. */
export const noteItems = (notes: readonly XiaohongshuNote[]): CollectedItem[] =>
  notes.map((x) => ({ platformContentId: x.noteId, kind: 'xiaohongshu.note', data: x as unknown as Record<string, unknown> }));

/**
 * One execution of `ownerId`'s workflow that collected `items`, recorded as
 * the worker reports it (requested, started, one batch); the batch's
 * position, to read it with after_position.
 */
export async function collectedRun(
  store: EventStore,
  run: {
    ownerId: string;
    site: 'xiaohongshu' | 'qidian';
    workflowType: string;
    items: CollectedItem[];
    workflowId?: string;
    platformAccountId?: string | null;
    /** the run's config; default: a keyword search, or the 热销榜 board */
    config?: Record<string, unknown>;
  },
): Promise<Position> {
  const executionId = randomUUID();
  const now = new Date().toISOString();
  const context = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  const send = (command: WorkflowExecutionCommand) => handle(store, workflowExecutionAggregate, executionId, command, { context });
  await send({
    type: 'RequestExecution',
    executionId,
    workflowId: run.workflowId ?? `wf-${randomUUID()}`,
    ownerId: run.ownerId,
    platform: run.site,
    workflowType: run.workflowType,
    config: run.config ?? (run.site === 'xiaohongshu' ? { mode: 'keyword', keyword: '咖啡', maxItems: 20 } : { rankings: ['热销榜'] }),
    platformAccountId: run.platformAccountId ?? null,
    trigger: 'manual',
    requestedBy: run.ownerId,
    now,
  });
  await send({ type: 'StartExecution', executionId, workerId: 'worker-1', now });
  const result = await send({ type: 'CollectItems', executionId, batchId: 'batch-1', items: run.items, cursor: null, now });
  return result.position!;
}

/** A Qidian book page as the collector reports it (诡秘之主 by 爱潜水的乌贼, 玄幻), with these figures at `capturedAt`. */
export function qidianSnapshot(
  novelId: string,
  capturedAt: string,
  wordCount: number,
  chapters: number,
  collections: number,
  monthlyTickets: number,
): CollectedItem {
  return {
    platformContentId: novelId,
    kind: 'qidian.novel_snapshot',
    data: {
      novelId,
      title: '诡秘之主',
      author: '爱潜水的乌贼',
      category: '玄幻',
      wordCount,
      chapters,
      status: 'serializing',
      stats: { clicks: null, recommendations: 2_510_000, collections, monthlyTickets },
      lastUpdatedAt: capturedAt,
      capturedAt,
    },
  };
}

/** A Qidian board entry as the collector reports it (玄幻 / 东方玄幻, a 月票 score falling with the rank). */
export function qidianEntry(ranking: string, rank: number, novelId: string, title: string, author: string, capturedAt: string): CollectedItem {
  return {
    platformContentId: `${ranking}:${novelId}`,
    kind: 'qidian.ranking_entry',
    data: {
      ranking,
      rank,
      novelId,
      title,
      author,
      category: '玄幻',
      subCategory: '东方玄幻',
      status: 'serializing',
      score: 20_000 - rank * 100,
      scoreLabel: '月票',
      capturedAt,
    },
  };
}
