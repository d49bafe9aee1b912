import { StreamNotFoundError } from '../../event-store/errors.js';
import type { EventStore } from '../../event-store/port.js';
import { load } from '../../write-model/core/command-handler.js';
import { reviewRuleSetAggregate, reviewRuleSetStream } from '../../write-model/review-rules/decider.js';
import { PLATFORM_SCOPE } from '../../write-model/review-rules/events.js';
import type { ReviewHit } from '../../write-model/review/events.js';
import { compileRuleSet, evaluate, type CompiledRuleSet } from './engine.js';

/**
 * The automatic pre-review every publication passes before it goes out
 * (called by pm-publications; POST /api/v1/review-rules/test runs it as a
 * dry run): the platform's rule set and, when the owner has one (an
 * enterprise tenant), their own, checked against the title, summary, body
 * and tags, the image count and the target platform and region. No hit:
 * `pass`; any hit: `flag`, and the content waits for a human review.
 *
 * A set is compiled once per revision of its stream and kept in this process;
 * each call reads only the streams' last revisions (one indexed read each)
 * to know whether what it keeps is still current, so an edit counts from the
 * next call on.
 */

export type { ReviewHit } from '../../write-model/review/events.js';

export interface PreReviewInput {
  ownerId: string;
  platform: string;
  /** the region the content is published to; null: none (only rules without regions apply) */
  region: string | null;
  title: string;
  summary: string | null;
  body: string;
  tags: string[];
  imageCount: number;
}

export interface PreReviewResult {
  verdict: 'pass' | 'flag';
  hits: ReviewHit[];
}

export interface PreReviewDeps {
  store: EventStore;
}

interface Kept {
  revision: bigint;
  compiled: Promise<CompiledRuleSet>;
}

/** Most tenant sets kept compiled per store (the least recently used go first). */
const MAX_KEPT_SETS = 500;
const keptByStore = new WeakMap<EventStore, Map<string, Kept>>();

async function lastRevision(store: EventStore, scope: string): Promise<bigint | null> {
  try {
    const [last] = await store.readStream(reviewRuleSetStream(scope), { direction: 'backwards', fromRevision: 'end', maxCount: 1 });
    return last?.revision ?? null;
  } catch (error) {
    if (error instanceof StreamNotFoundError) return null;
    throw error;
  }
}

/** The scope's rule set compiled at its current revision; null when the scope has no set. */
export async function compiledRuleSet(store: EventStore, scope: string): Promise<CompiledRuleSet | null> {
  let kept = keptByStore.get(store);
  if (!kept) keptByStore.set(store, (kept = new Map()));
  const revision = await lastRevision(store, scope);
  if (revision === null) {
    kept.delete(scope);
    return null;
  }
  const hit = kept.get(scope);
  if (hit && hit.revision >= revision) {
    // most recently used last
    kept.delete(scope);
    kept.set(scope, hit);
    return hit.compiled;
  }
  const compiled = load(store, reviewRuleSetAggregate, scope).then(({ state }) => compileRuleSet(Object.values(state.rules)));
  const entry: Kept = { revision, compiled };
  kept.delete(scope);
  kept.set(scope, entry);
  if (kept.size > MAX_KEPT_SETS) kept.delete(kept.keys().next().value!);
  compiled.catch(() => {
    if (kept.get(scope) === entry) kept.delete(scope);
  });
  return compiled;
}

/** The platform's set and the owner's own (when they have one), as the pre-review applies them. */
export async function ruleSetsFor(store: EventStore, ownerId: string): Promise<CompiledRuleSet[]> {
  const sets = await Promise.all([compiledRuleSet(store, PLATFORM_SCOPE), ownerId === PLATFORM_SCOPE ? null : compiledRuleSet(store, ownerId)]);
  return sets.filter((s): s is CompiledRuleSet => s !== null);
}

export async function preReview(deps: PreReviewDeps, input: PreReviewInput): Promise<PreReviewResult> {
  const sets = await ruleSetsFor(deps.store, input.ownerId);
  const hits = evaluate(sets, {
    platform: input.platform,
    region: input.region,
    title: input.title,
    summary: input.summary,
    body: input.body,
    tags: input.tags,
    imageCount: input.imageCount,
  });
  return { verdict: hits.length > 0 ? 'flag' : 'pass', hits };
}
