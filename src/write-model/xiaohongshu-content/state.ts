export interface NoDecision {
  status: 'none';
}

export interface DeletedContent {
  status: 'deleted';
  contentId: string;
  ownerId: string;
  noteId: string;
  deletedAt: string;
}

export type XiaohongshuContentState = NoDecision | DeletedContent;

export function initialState(): XiaohongshuContentState {
  return { status: 'none' };
}
