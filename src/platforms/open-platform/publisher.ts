import {
  PublishAuthError,
  PublishRefusedError,
  TransientPublishError,
  type PostContent,
  type PostMetrics,
  type PublishedPost,
  type Publisher,
  type PublishTarget,
} from '../publishing/port.js';
import { callOpenPlatform, errorOf, OpenPlatformUnavailableError, type OpenPlatformClient, type VerifiedAnswer } from './transport.js';

/**
 * The Publisher of one open platform: its publishing API with the account's
 * OAuth access token, every request signed with our app secret and every
 * answer verified with the platform's key (transport.ts).
 *
 * What is sent: `{ client_token, title, body (Markdown as written), format:
 * 'markdown', summary, tags, images: [{ media_id, content_type, data: base64 }] }`.
 * The platform keeps `client_token`: a repeat returns the post it already
 * made, and `findExisting` looks the post up by it — so a publish whose
 * answer was lost is found, never made twice.
 *
 * How answers map (port.ts):
 * - 401 (invalid_token), 403 insufficient_scope → PublishAuthError: the
 *   owner must authorize again (the refresh job keeps tokens fresh; this is a
 *   revoked or expired grant);
 * - 422 (content_rejected, invalid_image), 413, 400 invalid_request →
 *   PublishRefusedError with the platform's code;
 * - 429, 5xx, a timeout, no answer, an unsigned or forged answer, and a
 *   refused signature (a clock skew, a nonce seen) → TransientPublishError.
 */
export class OpenPlatformPublisher implements Publisher {
  readonly platform: string;
  readonly canUnpublish = true;
  readonly canReadMetrics = true;

  constructor(private readonly client: OpenPlatformClient) {
    this.platform = client.platform;
  }

  async findExisting(target: PublishTarget, content: PostContent, _after: Date): Promise<PublishedPost | null> {
    const answer = await this.call(target, 'GET', `/api/posts?client_token=${encodeURIComponent(content.clientToken)}`);
    if (answer.status !== 200) throw this.failure(answer, 'looking the post up');
    const posts = Array.isArray(answer.body.posts) ? (answer.body.posts as unknown[]) : [];
    const first = posts[0];
    return first === undefined ? null : this.post(first);
  }

  async publish(target: PublishTarget, content: PostContent): Promise<PublishedPost> {
    const answer = await this.call(target, 'POST', '/api/posts', {
      client_token: content.clientToken,
      title: content.title,
      body: content.body,
      format: 'markdown',
      summary: content.summary,
      tags: content.tags,
      images: content.images.map((i) => ({ media_id: i.mediaId, content_type: i.contentType, data: i.bytes.toString('base64') })),
    });
    if (answer.status === 200 || answer.status === 201) return this.post(answer.body.post);
    throw this.failure(answer, 'publishing');
  }

  async unpublish(target: PublishTarget, postId: string): Promise<void> {
    const answer = await this.call(target, 'DELETE', `/api/posts/${encodeURIComponent(postId)}`);
    // gone already is what was asked for
    if (answer.status === 200 || answer.status === 204 || answer.status === 404) return;
    throw this.failure(answer, 'unpublishing');
  }

  async metrics(target: PublishTarget, postId: string): Promise<PostMetrics> {
    const answer = await this.call(target, 'GET', `/api/posts/${encodeURIComponent(postId)}/metrics`);
    if (answer.status !== 200) throw this.failure(answer, 'reading metrics');
    const count = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : null);
    const shares = count(answer.body.shares);
    return {
      views: count(answer.body.views),
      likes: count(answer.body.likes),
      comments: count(answer.body.comments),
      ...(shares !== null ? { extra: { shares } } : {}),
    };
  }

  private async call(target: PublishTarget, method: 'GET' | 'POST' | 'DELETE', path: string, json?: unknown): Promise<VerifiedAnswer> {
    if (target.credentials.kind !== 'oauth') throw new PublishAuthError(`${this.platform} publishes through OAuth-bound accounts only`);
    try {
      return await callOpenPlatform(this.client, {
        method,
        path,
        accessToken: target.credentials.accessToken,
        sign: true,
        ...(json !== undefined ? { json } : {}),
      });
    } catch (error) {
      if (error instanceof OpenPlatformUnavailableError) throw new TransientPublishError(error.message);
      throw error;
    }
  }

  private post(value: unknown): PublishedPost {
    const p = (value ?? {}) as Record<string, unknown>;
    if (typeof p.id !== 'string' || typeof p.url !== 'string') throw new TransientPublishError(`${this.platform}: a post answer without id or url`);
    return { postId: p.id, url: p.url, publishedAt: typeof p.published_at === 'string' ? new Date(p.published_at).toISOString() : null };
  }

  private failure(answer: VerifiedAnswer, doing: string): Error {
    const { error, description } = errorOf(answer);
    const message = `${this.platform}: ${doing} answered ${answer.status} ${error}${description ? `: ${description}` : ''}`;
    if (answer.status === 401 || (answer.status === 403 && error === 'insufficient_scope')) return new PublishAuthError(message);
    if (answer.status === 429 || answer.status >= 500) return new TransientPublishError(message);
    if (answer.status === 400 && ['invalid_signature', 'stale_request', 'replayed_request'].includes(error)) return new TransientPublishError(message);
    if (answer.status === 422 || answer.status === 413 || answer.status === 400) return new PublishRefusedError(message, error);
    if (answer.status === 404) return new PublishRefusedError(message, 'not_found');
    return new TransientPublishError(message);
  }
}
