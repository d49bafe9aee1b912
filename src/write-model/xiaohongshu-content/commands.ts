/**
 * Commands of the XiaohongshuContent aggregate (stream
 * `xiaohongshu_content-{contentId}`). The owner is part of the content id,
 * so a command names the owner it acts for.
 */

export interface DeleteCollectedContent {
  type: 'DeleteCollectedContent';
  contentId: string;
  ownerId: string;
  /** the Xiaohongshu note id (24 hex) */
  noteId: string;
  /**
   * Whether the owner has this note among their collected data (the read
   * model, within retention), as the application saw it before deciding:
   * the collections live in the executions' streams, not in this one.
   */
  collected: boolean;
  now: string;
}

export type XiaohongshuContentCommand = DeleteCollectedContent;
