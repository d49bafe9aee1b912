import { z } from 'zod';
import { int32Count, itemInstant } from '../item-fields.js';
import type { ItemSpec } from '../registry.js';

/**
 * What a Xiaohongshu run collects, after parsing (docs/platforms.md, Xiaohongshu): the
 * parser has already turned count strings like "1.5万" into integers and
 * detail times (ms) into ISO-8601. Shapes fit the read tables
 * xiaohongshu_contents and xiaohongshu_messages (docs/platforms.md,
 * Xiaohongshu: items and read tables).
 */

/** kept in integer columns (xiaohongshu_contents, xiaohongshu_content_history) */
const count = int32Count;
const isoTime = itemInstant;

export const noteSchema = z.object({
  /** 24 hex characters; the dedup key */
  noteId: z.string().regex(/^[0-9a-f]{24}$/),
  /** normal = image note (read model: `note`), video */
  type: z.enum(['normal', 'video']),
  /** may be empty on the platform */
  title: z.string(),
  text: z.string(),
  author: z.object({ id: z.string().min(1), nickname: z.string() }),
  /** null when only a search card's relative date text was seen */
  publishedAt: isoTime.nullable(),
  likes: count,
  comments: count,
  shares: count,
  collects: count,
  images: z.array(z.url()),
  /** topic names */
  tags: z.array(z.string().min(1)),
  /** the note's IP region, e.g. 上海 */
  location: z.string().nullable().optional(),
  url: z.url(),
});
export type XiaohongshuNote = z.infer<typeof noteSchema>;

export const messageSchema = z.object({
  conversationId: z.string().min(1),
  messageId: z.string().min(1),
  /** seen from the connected account */
  direction: z.enum(['sent', 'received']),
  /** the sender */
  from: z.object({ id: z.string().min(1), nickname: z.string().nullable() }),
  /** text, image, … (xiaohongshu_messages.message_type) */
  messageType: z.string().min(1).default('text'),
  text: z.string(),
  sentAt: isoTime,
  /**
   * the other side of the conversation, as the conversation list shows it
   * (absent in messages collected before it was recorded)
   */
  peer: z.object({ id: z.string().min(1), nickname: z.string().nullable() }).optional(),
});
export type XiaohongshuMessage = z.infer<typeof messageSchema>;

export const itemSchemas: Record<string, ItemSpec> = {
  'xiaohongshu.note': { schema: noteSchema, key: (item) => (item as XiaohongshuNote).noteId },
  // message ids are only known unique within their conversation
  'xiaohongshu.message': {
    schema: messageSchema,
    key: (item) => `${(item as XiaohongshuMessage).conversationId}:${(item as XiaohongshuMessage).messageId}`,
  },
};
