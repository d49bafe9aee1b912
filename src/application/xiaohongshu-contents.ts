import type { EventStore } from '../event-store/port.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, type HandleResult } from '../write-model/core/command-handler.js';
import { uuidFromName } from '../write-model/core/event-ids.js';
import { xiaohongshuContentAggregate, type XiaohongshuContentEvent, type XiaohongshuContentState } from '../write-model/xiaohongshu-content/index.js';

/**
 * The owner's decisions about collected Xiaohongshu notes. A note's
 * collections live in the executions' streams; what the owner decides about
 * it lives in a stream of its own per (owner, note), `xiaohongshu_content-{id}`
 * with a name-based id, which holds one event at most.
 */

/** One stream per owner and note: the id is named after both. */
export function xiaohongshuContentId(ownerId: string, noteId: string): string {
  return uuidFromName(`xiaohongshu_content:${ownerId}:${noteId}`);
}

export interface ContentCall {
  store: EventStore;
  ownerId: string;
  now: Date;
  context: CommandContext;
}

/**
 * Deletes a collected note of the owner. `collected`: whether the owner's
 * read model shows the note (within retention); a note neither shown nor
 * deleted before is NOT_FOUND. Deleting again is a no-op (no event).
 */
export async function deleteCollectedContent(
  call: ContentCall,
  noteId: string,
  collected: boolean,
): Promise<HandleResult<XiaohongshuContentState, XiaohongshuContentEvent>> {
  const contentId = xiaohongshuContentId(call.ownerId, noteId);
  return handle(
    call.store,
    xiaohongshuContentAggregate,
    contentId,
    { type: 'DeleteCollectedContent', contentId, ownerId: call.ownerId, noteId, collected, now: call.now.toISOString() },
    { context: call.context },
  );
}
