import type { NovelTrackingSettings } from './events.js';

/**
 * Commands of the NovelTracking aggregate (stream
 * `novel_tracking-{trackingId}`). All are the owner's and carry `now`.
 * The quota (novel_tracking_limit) is held by the application layer around
 * them (src/application/novel-trackings.ts), not here.
 */

export interface TrackNovel {
  type: 'TrackNovel';
  trackingId: string;
  userId: string;
  novelId: string;
  title?: string | null;
  settings: NovelTrackingSettings;
  now: string;
}

/** Absent fields stay as they are; `title: null` clears the label. */
export interface UpdateNovelTracking {
  type: 'UpdateNovelTracking';
  trackingId: string;
  requestedBy: string;
  title?: string | null;
  settings?: NovelTrackingSettings;
  now: string;
}

export interface UntrackNovel {
  type: 'UntrackNovel';
  trackingId: string;
  requestedBy: string;
  now: string;
}

export type NovelTrackingCommand = TrackNovel | UpdateNovelTracking | UntrackNovel;
