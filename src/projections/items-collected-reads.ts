import { z } from 'zod';
import type { RecordedEvent } from '../event-store/port.js';
import { workflowExecutionEvents } from '../write-model/workflow-execution/events.js';

/**
 * What a rebuild reads of ItemsCollected (Consumer.rebuildData), the event
 * that carries a batch's collected items: kilobytes of JSON a projection
 * may only count, or keep only some kinds of. Live delivery and the other
 * stores send the whole data, so a handler takes both shapes.
 */

/**
 * The data with only the items of these kinds. A batch of another
 * platform's items (which the projection would parse and drop) arrives with
 * none; a batch of only the kept kinds is sent as it is stored, without
 * being rebuilt in Postgres.
 *
 *   rebuildData: { ItemsCollected: itemsOfKinds(['qidian.novel_snapshot', 'qidian.ranking_entry']) }
 */
export function itemsOfKinds(kinds: readonly string[]): string {
  if (kinds.length === 0) throw new Error('itemsOfKinds: no kinds');
  // a jsonpath string literal has JSON's escapes; the path is then an SQL literal
  const kept = kinds.map((kind) => `@.kind == ${JSON.stringify(kind)}`).join(' || ');
  const path = (filter: string) => `'${`$.items[*] ? (${filter})`.replace(/'/g, "''")}'`;
  return (
    `CASE WHEN jsonb_path_exists(data, ${path(`!(${kept})`)})` +
    ` THEN jsonb_set(data, '{items}', jsonb_path_query_array(data, ${path(kept)}))` +
    ' ELSE data END'
  );
}

/**
 * The data with no items (an empty list), for a projection that uses only
 * the batch's other fields; it still decodes as an ItemsCollected. Data that
 * is not an object is read as stored (the decoder refuses it).
 */
export const ITEMS_LEFT_OUT = `CASE WHEN jsonb_typeof(data) = 'object' THEN data || '{"items": []}'::jsonb ELSE data END`;

/**
 * The data without its items, with their number as `batchItemCount`; read
 * back with itemsCounted. Items that are not an array count as null, which
 * itemsCounted refuses as the decoder refuses such data whole (the handler
 * throws on that event): jsonb_array_length would fail the read instead.
 */
export const ITEMS_COUNTED = `(data - 'items') || jsonb_build_object('batchItemCount', CASE WHEN jsonb_typeof(data->'items') = 'array' THEN jsonb_array_length(data->'items') END)`;

const counted = z.object({
  executionId: z.string(),
  workflowId: z.string(),
  ownerId: z.string(),
  platform: z.string(),
  platformAccountId: z.string().nullable(),
  collectedAt: z.string(),
  batchItemCount: z.number().int().min(0),
});

/** An ItemsCollected's data but its items, and how many items it carried. */
export type ItemsCounted = z.infer<typeof counted>;

/** An ItemsCollected, whole or read as ITEMS_COUNTED, as its count of items. */
export function itemsCounted(recorded: RecordedEvent): ItemsCounted {
  const data = recorded.data as Record<string, unknown> | null;
  if (data !== null && typeof data === 'object' && 'batchItemCount' in data) {
    const parsed = counted.safeParse(data);
    if (!parsed.success) throw new Error(`ItemsCollected ${recorded.id} read as its count is not one: ${parsed.error.message}`);
    return parsed.data;
  }
  const event = workflowExecutionEvents.decode(recorded);
  if (event.type !== 'ItemsCollected') throw new Error(`${recorded.id} is a ${event.type}, not an ItemsCollected`);
  const { executionId, workflowId, ownerId, platform, platformAccountId, collectedAt, items } = event.data;
  return { executionId, workflowId, ownerId, platform, platformAccountId, collectedAt, batchItemCount: items.length };
}
