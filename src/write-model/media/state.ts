import type { MediaUploadedData } from './events.js';

/** An uploaded item, as recorded. */
export interface KnownMedia extends MediaUploadedData {
  status: 'active' | 'deleted';
  deletedAt: string | null;
}

export type MediaState = { status: 'none' } | KnownMedia;

export function initialState(): MediaState {
  return { status: 'none' };
}
