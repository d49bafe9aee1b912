import type { Consumer } from '../consumers/consumer.js';
import { reviewRuleSetEvents } from '../write-model/review-rules/events.js';
import type { ReviewRule } from '../write-model/review-rules/events.js';
import { reviewEvents } from '../write-model/review/events.js';
import { patchRows, upsertRows, type Row } from './sql-batch.js';

/**
 * Read models of content review (migrations/20261209120000_reviews_read_model.ts).
 *
 * `reviews-v1` → `reviews`: one row per `review-{id}` stream. A batch is
 * folded in memory and written with two statements: the openings inserted
 * (an existing row stays), then one patch per review carrying what its later
 * events set, guarded by the stream revision.
 *
 * `review-rules-v1` → `review_rules`: one row per rule, the whole rule as its
 * last event in the batch has it, upserted guarded by the stream revision
 * (one statement for the rules the batch added, which set created_at: a rule
 * removed and added again is a new rule; one for the others); a removal
 * leaves a tombstone (`removed`).
 *
 * Both are idempotent: an event the row already reflects is not applied
 * again, so a redelivered batch, or the same events in other batches, leave
 * the same rows.
 */
export const REVIEWS_PROJECTION = 'reviews-v1';
export const REVIEW_RULES_PROJECTION = 'review-rules-v1';

const REVIEW_PREFIX = 'review-';
const RULE_SET_PREFIX = 'review_rule_set-';

export function createReviewsProjection(name: string = REVIEWS_PROJECTION): Consumer {
  return {
    name,
    filter: { streamPrefixes: [REVIEW_PREFIX], eventTypes: [...reviewEvents.types] },
    async handle(events, { tx }) {
      const inserts = new Map<string, Row>();
      const patches = new Map<string, Row>();
      for (const recorded of events) {
        if (!recorded.streamName.startsWith(REVIEW_PREFIX) || !reviewEvents.owns(recorded.type)) continue;
        const event = reviewEvents.decode(recorded);
        const revision = recorded.revision.toString();
        if (event.type === 'ReviewOpened') {
          const d = event.data;
          if (!inserts.has(d.reviewId)) {
            inserts.set(d.reviewId, {
              id: d.reviewId,
              subject: d.subject ?? 'publication',
              publication_id: d.publicationId,
              article_id: d.articleId,
              article_version: d.articleVersion,
              owner_id: d.ownerId,
              platform: d.platform,
              region: d.region,
              title: d.title,
              status: 'open',
              hit_count: d.hits.length,
              hits: d.hits,
              content: d.content,
              opened_at: d.openedAt,
              claimed_by: null,
              claimed_at: null,
              decided_by: null,
              decided_at: null,
              comment: null,
              waited_seconds: null,
              last_revision: revision,
            });
          }
          continue;
        }
        const id = event.data.reviewId;
        const patch: Row = { ...(patches.get(id) ?? { id }), last_revision: revision };
        switch (event.type) {
          case 'ReviewClaimed':
            Object.assign(patch, { claimed_by: event.data.reviewerId, claimed_at: event.data.claimedAt });
            break;
          case 'ReviewReleased':
            Object.assign(patch, { claimed_by: null, claimed_at: null });
            break;
          case 'ReviewApproved':
          case 'ReviewRejected': {
            const d = event.data;
            Object.assign(patch, {
              status: event.type === 'ReviewApproved' ? 'approved' : 'rejected',
              decided_by: d.reviewerId,
              decided_at: d.decidedAt,
              comment: d.comment,
              waited_seconds: d.waitedSeconds,
            });
            break;
          }
          case 'ReviewWithdrawn':
            Object.assign(patch, { status: 'withdrawn', decided_at: event.data.withdrawnAt, claimed_by: null, claimed_at: null });
            break;
        }
        patches.set(id, patch);
      }
      await upsertRows(tx, 'reviews', [...inserts.values()], { conflict: ['id'] });
      await patchRows(tx, 'reviews', [...patches.values()], { key: ['id'], guard: 't.last_revision < n.last_revision' });
    },
  };
}

function ruleRow(scope: string, rule: ReviewRule, at: string, by: string, revision: string): Row {
  return {
    scope,
    id: rule.ruleId,
    kind: rule.kind,
    name: rule.name,
    category: rule.category,
    phrases: rule.phrases,
    phrase_count: rule.phrases.length,
    platforms: rule.platforms,
    regions: rule.regions,
    params: rule.params,
    enabled: rule.enabled,
    removed: false,
    created_at: at,
    updated_at: at,
    updated_by: by,
    last_revision: revision,
  };
}

const RULE_UPDATE = [
  'kind',
  'name',
  'category',
  'phrases',
  'phrase_count',
  'platforms',
  'regions',
  'params',
  'enabled',
  'removed',
  'updated_at',
  'updated_by',
  'last_revision',
];

export function createReviewRulesProjection(name: string = REVIEW_RULES_PROJECTION): Consumer {
  return {
    name,
    filter: { streamPrefixes: [RULE_SET_PREFIX], eventTypes: [...reviewRuleSetEvents.types] },
    async handle(events, { tx }) {
      // per rule, the row as the batch's last event on it leaves it (an addition keeps its time as created_at)
      const rows = new Map<string, Row>();
      const removals = new Map<string, Row>();
      // the rules added in this batch: a rule removed and added again is a new rule (its created_at is the new addition's)
      const added = new Set<string>();
      for (const recorded of events) {
        if (!recorded.streamName.startsWith(RULE_SET_PREFIX) || !reviewRuleSetEvents.owns(recorded.type)) continue;
        const event = reviewRuleSetEvents.decode(recorded);
        const revision = recorded.revision.toString();
        const d = event.data;
        if (event.type === 'ReviewRuleAdded' || event.type === 'ReviewRuleChanged') {
          const at = event.type === 'ReviewRuleAdded' ? event.data.addedAt : event.data.changedAt;
          const key = `${d.scope}\u0000${event.data.rule.ruleId}`;
          const row = ruleRow(d.scope, event.data.rule, at, d.by, revision);
          const before = rows.get(key);
          if (before && event.type === 'ReviewRuleChanged') row.created_at = before.created_at;
          if (event.type === 'ReviewRuleAdded') added.add(key);
          removals.delete(key);
          rows.set(key, row);
        } else {
          const r = event.data;
          const key = `${r.scope}\u0000${r.ruleId}`;
          const removal = { phrases: [], phrase_count: 0, removed: true, updated_at: r.removedAt, updated_by: r.by, last_revision: revision };
          const before = rows.get(key);
          // added or changed earlier in this batch: the whole row, as a tombstone; else a patch of the row already there
          if (before) rows.set(key, { ...before, ...removal });
          else removals.set(key, { scope: r.scope, id: r.ruleId, ...removal });
        }
      }
      const [fresh, kept] = partition(rows, added);
      const guard = 't.last_revision < excluded.last_revision';
      await upsertRows(tx, 'review_rules', fresh, { conflict: ['scope', 'id'], update: [...RULE_UPDATE, 'created_at'], guard });
      await upsertRows(tx, 'review_rules', kept, { conflict: ['scope', 'id'], update: RULE_UPDATE, guard });
      await patchRows(tx, 'review_rules', [...removals.values()], { key: ['scope', 'id'], guard: 't.last_revision < n.last_revision' });
    },
  };
}

/** The rows whose key is in `keys`, and the others. */
function partition(rows: ReadonlyMap<string, Row>, keys: ReadonlySet<string>): [Row[], Row[]] {
  const inKeys: Row[] = [];
  const others: Row[] = [];
  for (const [key, row] of rows) (keys.has(key) ? inKeys : others).push(row);
  return [inKeys, others];
}

export const reviewsProjection: Consumer = createReviewsProjection();
export const reviewRulesProjection: Consumer = createReviewRulesProjection();
