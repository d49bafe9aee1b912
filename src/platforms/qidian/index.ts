import { z } from 'zod';
import type { PlatformModule } from '../registry.js';
import { itemSchemas } from './items.js';
import { novels, rankings, watchlist } from './workflow-types.js';

/** Rank and book pages are public; cookies only help past the WAF shell (docs/platforms.md, Qidian: WAF shell, login and block markers). */
export const credentialsSchema = z.strictObject({
  cookies: z.string().trim().min(1).optional(),
});
export type QidianCredentials = z.infer<typeof credentialsSchema>;

export const qidian = {
  id: 'qidian',
  service: 'qidian',
  displayName: '起点中文网',
  credentialsSchema,
  workflowTypes: {
    'qidian.rankings': rankings,
    'qidian.novels': novels,
    'qidian.watchlist': watchlist,
  },
  itemSchemas,
} as const satisfies PlatformModule<'qidian', 'qidian'>;

export * from './items.js';
export * from './workflow-types.js';
