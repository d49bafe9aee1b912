export interface NoWatch {
  status: 'none';
}

export interface KnownWatch {
  /** `unwatched` until KeywordWatched starts it again */
  status: 'watching' | 'unwatched';
  watchId: string;
  userId: string;
  keyword: string;
  watchedAt: string;
  updatedAt: string;
}

export type KeywordWatchState = NoWatch | KnownWatch;

export function initialState(): KeywordWatchState {
  return { status: 'none' };
}
