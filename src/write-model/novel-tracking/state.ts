import type { NovelTrackingSettings } from './events.js';

export interface NoTracking {
  status: 'none';
}

export interface KnownTracking {
  /** `untracked` until NovelTracked starts it again */
  status: 'tracking' | 'untracked';
  trackingId: string;
  userId: string;
  novelId: string;
  title: string | null;
  settings: NovelTrackingSettings;
  trackedAt: string;
  updatedAt: string;
  untrackedAt: string | null;
}

export type NovelTrackingState = NoTracking | KnownTracking;

export function initialState(): NovelTrackingState {
  return { status: 'none' };
}
