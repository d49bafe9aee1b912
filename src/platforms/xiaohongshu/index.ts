import { z } from 'zod';
import type { PlatformModule } from '../registry.js';
import { itemSchemas } from './items.js';
import { messages, notes } from './workflow-types.js';

/**
 * The web API needs a logged-in session: the cookie header with `a1` and
 * `web_session` (docs/platforms.md, Xiaohongshu: cookies and signing). It is sealed before it reaches a command.
 */
export const credentialsSchema = z.strictObject({
  cookies: z
    .string()
    .trim()
    .min(1)
    .refine((header) => /(^|;\s*)a1=[^;]+/.test(header) && /(^|;\s*)web_session=[^;]+/.test(header), {
      message: 'the cookie header must carry a1 and web_session',
    }),
  userAgent: z.string().trim().min(1).max(512).optional(),
});
export type XiaohongshuCredentials = z.infer<typeof credentialsSchema>;

export const xiaohongshu = {
  id: 'xiaohongshu',
  service: 'xiaohongshu',
  displayName: '小红书',
  credentialsSchema,
  workflowTypes: {
    'xiaohongshu.notes': notes,
    'xiaohongshu.messages': messages,
  },
  itemSchemas,
} as const satisfies PlatformModule<'xiaohongshu', 'xiaohongshu'>;

export * from './items.js';
export * from './workflow-types.js';
