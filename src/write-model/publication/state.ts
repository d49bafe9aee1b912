import type { PublicationContent, PublicationFailureCode, PublicationStatus } from './events.js';

/** The post's metrics as last recorded. */
export interface PublicationMetrics {
  views: number | null;
  likes: number | null;
  comments: number | null;
  extra: Record<string, number>;
  readAt: string;
}

/** What decisions (and the publish job) need of one publication. */
export interface RequestedPublication {
  status: PublicationStatus;
  publicationId: string;
  ownerId: string;
  articleId: string;
  articleVersion: number;
  accountId: string;
  platform: string;
  region: string;
  content: PublicationContent;
  scheduledAt: string | null;
  clientToken: string;
  requestedAt: string;
  /** the member who asked, when the owner is their organization; null: the owner */
  authorId: string | null;
  /** the human review it went to; null: none (yet) */
  reviewId: string | null;
  /** the highest attempt started; 0: none */
  attempts: number;
  /** the highest attempt recorded failed; 0: none */
  failedAttempts: number;
  /** set once published */
  post: { postId: string; url: string; publishedAt: string; recovered: boolean } | null;
  /** set once failed */
  failure: { code: PublicationFailureCode; reason: string } | null;
  /** an unpublish is asked and not done yet */
  unpublishRequested: boolean;
  metrics: PublicationMetrics | null;
  metricsReadings: number;
}

export type PublicationState = { status: 'none' } | RequestedPublication;

export function initialState(): PublicationState {
  return { status: 'none' };
}
