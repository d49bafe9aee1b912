import type { CollectItems } from './commands.js';
import type { CollectedItem } from './events.js';

/**
 * Items' JSON per ItemsCollected event. EventStoreDB takes at most 1 MiB in
 * one append (its MaxAppendSize); half of it leaves room for the event's
 * other fields, its metadata and the client's framing. Postgres has no such
 * limit, but events stay the same size on both stores.
 */
export const ITEM_BYTES_PER_EVENT = 512 * 1024;

/**
 * Consecutive chunks of `items` whose JSON stays within `maxBytes` each (an
 * item larger than that on its own makes a chunk of one). The same items
 * always give the same chunks: a re-sent batch is split the same way, and
 * each chunk is recognised by its batch id.
 */
export function chunkItemsByBytes<T>(items: readonly T[], maxBytes = ITEM_BYTES_PER_EVENT): T[][] {
  const chunks: T[][] = [];
  let chunk: T[] = [];
  // the array's brackets; each item adds its bytes and a comma
  let bytes = 2;
  for (const item of items) {
    const size = Buffer.byteLength(JSON.stringify(item) ?? 'null') + 1;
    if (chunk.length > 0 && bytes + size > maxBytes) {
      chunks.push(chunk);
      chunk = [];
      bytes = 2;
    }
    chunk.push(item);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** Chunk `index` of a batch: the first keeps the batch's own id, so a batch that needs no split is recorded as it always was. */
export function chunkBatchId(batchId: string, index: number): string {
  return index === 0 ? batchId : `${batchId}#part${index + 1}`;
}

/**
 * One CollectItems per chunk, each its own append. Only the last moves the
 * cursor on: a run that stops between chunks resumes at the batch's start,
 * sends the whole batch again, and the chunks already recorded are no-ops.
 */
export function collectItemsInChunks(
  batch: { executionId: string; batchId: string; items: CollectedItem[]; startCursor: string | null; endCursor: string | null; now: string },
  maxBytes = ITEM_BYTES_PER_EVENT,
): CollectItems[] {
  const chunks = chunkItemsByBytes(batch.items, maxBytes);
  if (chunks.length === 0) chunks.push([]);
  return chunks.map((items, index) => ({
    type: 'CollectItems',
    executionId: batch.executionId,
    batchId: chunkBatchId(batch.batchId, index),
    items,
    cursor: index === chunks.length - 1 ? batch.endCursor : batch.startCursor,
    now: batch.now,
  }));
}
