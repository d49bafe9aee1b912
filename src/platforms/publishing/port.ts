/**
 * Publishing to a platform: the port every platform's publisher implements
 * (API-based for the OAuth open platforms, browser-based for Xiaohongshu's
 * creator page). The publish job (src/worker/publish-job.ts) drives it; the
 * adapters live beside each platform in src/platforms/.
 *
 * Never twice: before posting, the job asks `findExisting` for a post the
 * platform may already hold for this publication (by the client token where
 * the platform keeps one, else by title and a time window), so a retry after
 * a lost answer records the post it finds instead of posting again.
 */

/** What is posted: one version of an article, images already read from storage. */
export interface PostContent {
  /** unique per publication: sent where the platform keeps a client token, else used to recognise our own post */
  clientToken: string;
  title: string;
  /** Markdown as the author wrote it; a publisher converts it to what the platform takes */
  body: string;
  summary: string | null;
  tags: readonly string[];
  /** the cover first (when there is one), then the body's images, in order */
  images: readonly PostImage[];
}

export interface PostImage {
  mediaId: string;
  contentType: string;
  bytes: Buffer;
}

/** A post the platform holds. */
export interface PublishedPost {
  postId: string;
  url: string;
  /** as the platform says, ISO-8601; null when it does not say */
  publishedAt: string | null;
}

export interface PostMetrics {
  views: number | null;
  likes: number | null;
  comments: number | null;
  /** collects, shares and the like, where the platform has them */
  extra?: Record<string, number>;
}

/** The account a post is made through, credentials opened (never logged). */
export type PublishingCredentials =
  | { kind: 'oauth'; accessToken: string; platformUserId: string }
  | { kind: 'cookies'; cookies: string; userAgent: string | null; platformUserId: string | null };

export interface PublishTarget {
  accountId: string;
  credentials: PublishingCredentials;
  /** http://user:pass@host:port of the leased proxy; null for API platforms reached directly */
  proxyUrl: string | null;
}

export interface Publisher {
  readonly platform: string;
  /** can posts be taken down through the platform (DELETE on the API, the creator page's delete) */
  readonly canUnpublish: boolean;
  /** can a post's metrics be read */
  readonly canReadMetrics: boolean;
  /** the post this publication already made, if the platform holds one; `after` bounds a title+time match */
  findExisting(target: PublishTarget, content: PostContent, after: Date): Promise<PublishedPost | null>;
  publish(target: PublishTarget, content: PostContent): Promise<PublishedPost>;
  unpublish(target: PublishTarget, postId: string): Promise<void>;
  metrics(target: PublishTarget, postId: string): Promise<PostMetrics>;
}

/** Worth another attempt (5xx, timeouts, rate limits). */
export class TransientPublishError extends Error {
  override readonly name = 'TransientPublishError';
}

/** The platform refused the post itself (content rules, bad image): retrying will not help. */
export class PublishRefusedError extends Error {
  override readonly name = 'PublishRefusedError';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** The account's credentials no longer work (expired or revoked token, login wall). */
export class PublishAuthError extends Error {
  override readonly name = 'PublishAuthError';
}
