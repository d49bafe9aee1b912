import type { NovelAlertKind } from './events.js';

export interface NoAlert {
  status: 'none';
}

export interface KnownAlert {
  /** `deleted` is final */
  status: 'active' | 'deleted';
  alertId: string;
  userId: string;
  novelId: string;
  kind: NovelAlertKind;
  words: number | null;
  createdAt: string;
  updatedAt: string;
}

export type NovelAlertState = NoAlert | KnownAlert;

export function initialState(): NovelAlertState {
  return { status: 'none' };
}
