import { evaluate, type CompiledRuleSet } from '../application/review/engine.js';
import { ruleSetsFor } from '../application/review/pre-review.js';
import type { EventStore } from '../event-store/port.js';
import type { PreReview } from './publication-ports.js';

/**
 * The automatic pre-review as pm-publications runs it over a batch: the
 * same rules and verdict as `preReview` (src/application/review/pre-review.ts:
 * the platform's set and the owner's own, no hit → pass, any hit → flag),
 * with each owner's rule sets looked up once per batch instead of once per
 * publication (their revisions are two reads; the compiled sets are kept by
 * the pre-review's own cache either way). A rule edited while a batch runs
 * counts from the next batch, a fraction of a second later.
 */
export function batchPreReview(store: EventStore): () => PreReview {
  return () => {
    const sets = new Map<string, Promise<CompiledRuleSet[]>>();
    return async (input) => {
      let owned = sets.get(input.ownerId);
      if (!owned) {
        owned = ruleSetsFor(store, input.ownerId);
        sets.set(input.ownerId, owned);
        // a failed read is not kept for the rest of the batch
        owned.catch(() => sets.delete(input.ownerId));
      }
      const hits = evaluate(await owned, input);
      return { verdict: hits.length > 0 ? 'flag' : 'pass', hits };
    };
  };
}
