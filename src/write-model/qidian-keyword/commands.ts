/**
 * Commands of the KeywordWatch aggregate (stream `qidian_keyword-{watchId}`).
 * The plan gate (custom_keywords) is the application layer's
 * (src/application/qidian-keywords.ts).
 */

export interface WatchKeyword {
  type: 'WatchKeyword';
  watchId: string;
  userId: string;
  /** normalised here (normalizeKeyword) */
  keyword: string;
  now: string;
}

export interface UnwatchKeyword {
  type: 'UnwatchKeyword';
  watchId: string;
  requestedBy: string;
  now: string;
}

export type KeywordWatchCommand = WatchKeyword | UnwatchKeyword;
