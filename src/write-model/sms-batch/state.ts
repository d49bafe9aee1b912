import type { SmsBatchStatus } from './events.js';

/** What a decision needs of one batch (the recipients stay in their chunks: the fan-out reads them). */
export interface CreatedSmsBatch {
  status: SmsBatchStatus;
  batchId: string;
  ownerId: string;
  organizationId: string | null;
  text: string;
  senderId: string;
  recipientCount: number;
  scheduledAt: string | null;
  createdAt: string;
  /** set once flagged */
  reviewId: string | null;
  /** set once a reviewer decided */
  decision: { reviewerId: string; comment: string | null } | null;
}

export type SmsBatchState = { status: 'none' } | CreatedSmsBatch;

export function initialState(): SmsBatchState {
  return { status: 'none' };
}
