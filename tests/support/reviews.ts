import { randomUUID } from 'node:crypto';
import type { EventStore } from '../../src/event-store/port.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { reviewAggregate } from '../../src/write-model/review/decider.js';
import type { ReviewHit } from '../../src/write-model/review/events.js';

/** The hits of a dry run's answer (POST /review-rules/test), as a review records them. */
export function hitsOfDryRun(data: { hits: Record<string, any>[] }): ReviewHit[] {
  return data.hits.map((h) => ({
    ruleId: h.rule_id,
    ruleName: h.rule_name,
    kind: h.kind,
    category: h.category,
    field: h.field,
    start: h.start,
    end: h.end,
    match: h.match,
  }));
}

/** A flagged publication's review, opened as pm-publications opens it (a publication of its own, Xiaohongshu, CN); its id. */
export async function openFlaggedReview(
  store: EventStore,
  review: { ownerId: string; title: string; body: string; tags?: string[]; hits?: ReviewHit[] },
): Promise<string> {
  const reviewId = randomUUID();
  await handle(
    store,
    reviewAggregate,
    reviewId,
    {
      type: 'OpenReview',
      reviewId,
      publicationId: randomUUID(),
      articleId: randomUUID(),
      articleVersion: 1,
      ownerId: review.ownerId,
      platform: 'xiaohongshu',
      region: 'CN',
      title: review.title,
      hits: review.hits ?? [],
      content: { summary: null, body: review.body, tags: review.tags ?? [] },
      now: new Date().toISOString(),
    },
    { context: { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' } },
  );
  return reviewId;
}
