import type { Consumer } from '../consumers/consumer.js';
import type { RecordedEvent } from '../event-store/port.js';
import { contextFromEvent, type CommandContext } from '../write-model/core/command-context.js';
import { handle, load, type Loaded } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { eventIdsFrom, uuidFromName } from '../write-model/core/event-ids.js';
import { publicationAggregate, publicationDecider } from '../write-model/publication/decider.js';
import { publicationEvents } from '../write-model/publication/events.js';
import type { PublicationState, RequestedPublication } from '../write-model/publication/state.js';
import { cancelDeadline, scheduleDeadline } from './deadlines/deadline-table.js';
import { PUBLICATION_DUE_DEADLINE as PUBLICATION_DUE } from './deadlines/publication-actions.js';
import type { PreReview, PreReviewVerdict, PublicationJobs, PublishJobData } from './publication-ports.js';
import { closeHumanReview, decisionOfReviewEvent, openHumanReview, REVIEW_DECISION_EVENT_TYPES } from './publication-reviews.js';
import { react, type ProcessManagerDeps } from './shared.js';

export const PUBLICATIONS = 'pm-publications';
export const PUBLICATION_DEADLINES = 'pm-publication-deadlines';

/** The human review a flagged publication waits for: named after the publication, so a repeat opens the same one. */
export function reviewIdFor(publicationId: string): string {
  return uuidFromName(`publication-review:${publicationId}`);
}

export const PUBLICATIONS_EVENT_TYPES = [
  'PublicationRequested',
  'PublicationDue',
  'PublicationQueued',
  'PublicationCancelled',
  'PublicationPublished',
  'PublicationUnpublishRequested',
  ...REVIEW_DECISION_EVENT_TYPES,
] as const;

export interface PublicationsDeps extends ProcessManagerDeps {
  /**
   * The automatic pre-review for one batch (a fresh one per batch: it may
   * look the rule sets up once for the whole batch; publication-pre-review.ts)
   */
  preReviews: () => PreReview;
  /** the `publish` queue; absent only where nothing is dispatched (the operator tooling lists consumers) */
  jobs?: PublicationJobs;
  /** delays of the metrics readings after publishing (PUBLICATION_METRICS_SCHEDULE); empty: none */
  metricsScheduleMs?: readonly number[];
  /** the platforms whose publisher reads metrics; absent: every platform (the job skips those that cannot) */
  readsMetrics?: (platform: string) => boolean;
  /** publications handled at once within a batch (each one's events stay in order); default 256 */
  concurrency?: number;
}

/**
 * A publication's way from request to the queue, and the reactions around it:
 *
 * - PublicationRequested due now, or PublicationDue (a scheduled one's time
 *   came: the deadline sweeper's `publication.due`) → the automatic
 *   pre-review on the content snapshot → RecordPreReview: pass →
 *   PreReviewPassed + PublicationQueued; flag → PreReviewFlagged, then
 *   OpenReview on the review aggregate (review id named after the
 *   publication, the pre-review's hits with it).
 * - ReviewApproved / ReviewRejected (the review aggregate; they name the
 *   publication) → RecordReviewDecision: queued, or failed `review_rejected`.
 * - PublicationQueued → the `publish` job (job id = publication id).
 * - PublicationCancelled with an open review → WithdrawReview.
 * - PublicationPublished → the metrics readings (PUBLICATION_METRICS_SCHEDULE)
 *   as delayed jobs, where the platform's publisher reads metrics.
 * - PublicationUnpublishRequested → an `unpublish` job.
 *
 * Idempotent on redelivery: commands carry event ids named after the
 * triggering event (a repeat appends nothing) and decide on the state (a
 * publication cancelled meanwhile is a no-op); job ids are named after the
 * publication (BullMQ adds nothing for an id it has). A redelivered request
 * that finds the publication already flagged opens the review again (the
 * review's no-op). The pre-review and the queue are called outside any
 * transaction: this consumer writes no table (the deadlines are
 * PUBLICATION_DEADLINES's), so its batch never holds a transaction id.
 *
 * Throughput: a batch's publications are handled `concurrency` at a time
 * (256: their appends in flight together are merged by the store's group
 * commit), each one's events in order; the rule sets are looked up once per
 * batch and owner (publication-pre-review.ts); publish jobs are added in one
 * bulk per batch.
 */
export function createPublications(deps: PublicationsDeps, name = PUBLICATIONS): Consumer {
  const concurrency = Math.max(1, deps.concurrency ?? 256);
  const jobsOf = () => {
    if (!deps.jobs) throw new Error(`${name}: no publish queue wired`);
    return deps.jobs;
  };

  const jobDataOf = (p: Pick<RequestedPublication, 'publicationId' | 'ownerId' | 'platform' | 'accountId'>): PublishJobData => ({
    publicationId: p.publicationId,
    ownerId: p.ownerId,
    platform: p.platform,
    accountId: p.accountId,
  });

  async function runPreReview(preReview: PreReview, p: RequestedPublication): Promise<PreReviewVerdict> {
    const c = p.content;
    return preReview({
      ownerId: p.ownerId,
      platform: p.platform,
      region: p.region,
      title: c.title,
      summary: c.summary,
      body: c.body,
      tags: c.tags,
      imageCount: new Set([...(c.coverMediaId ? [c.coverMediaId] : []), ...c.imageMediaIds]).size,
    });
  }

  /** Pre-review a due publication and record the verdict; a flagged one gets its human review. */
  async function preReviewDue(
    preReview: PreReview,
    event: RecordedEvent,
    publicationId: string,
    context: CommandContext,
    known?: Loaded<PublicationState>,
  ): Promise<void> {
    // a request's own event is the whole state at its revision: no read (a stream moved on since fails the append, which reads afresh)
    const loaded = known ?? (await load(deps.store, publicationAggregate, publicationId));
    const state = loaded.state;
    if (state.status === 'none') return;
    let verdict: PreReviewVerdict | undefined;
    let current: RequestedPublication = state;
    if (state.status === 'pending_review') {
      verdict = await runPreReview(preReview, state);
      const flagged = verdict.verdict === 'flag';
      const result = await handle(
        deps.store,
        publicationAggregate,
        publicationId,
        {
          type: 'RecordPreReview',
          publicationId,
          verdict: verdict.verdict,
          hitCount: verdict.hits.length,
          reviewId: flagged ? reviewIdFor(publicationId) : null,
          now: new Date().toISOString(),
        },
        { context, eventIds: eventIdsFrom(`${name}:${event.id}:pre-review`), loaded },
      );
      if (result.state.status === 'none') return;
      current = result.state;
    }
    // flagged now, or by an earlier delivery that stopped before the review was opened
    if (current.status === 'in_review' && current.reviewId !== null) {
      verdict ??= await runPreReview(preReview, current);
      await openHumanReview(deps.store, current, current.reviewId, verdict.hits, { context, eventIds: eventIdsFrom(`${name}:${event.id}:open-review`) });
    }
  }

  /** One event's reaction; publish jobs are collected for the batch's bulk add. */
  async function reactTo(event: RecordedEvent, preReview: PreReview, publish: PublishJobData[]): Promise<void> {
    const context = contextFromEvent(event, name);
    if (!publicationEvents.owns(event.type)) {
      const decision = decisionOfReviewEvent(event);
      if (!decision) return;
      await handle(
        deps.store,
        publicationAggregate,
        decision.publicationId,
        {
          type: 'RecordReviewDecision',
          publicationId: decision.publicationId,
          reviewId: decision.reviewId,
          decision: decision.decision,
          reviewerId: decision.reviewerId,
          comment: decision.comment,
          now: decision.decidedAt,
        },
        { context, eventIds: eventIdsFrom(`${name}:${event.id}`) },
      );
      return;
    }
    const decoded = publicationEvents.decode(event);
    switch (decoded.type) {
      case 'PublicationRequested':
        if (decoded.data.scheduledAt === null)
          await preReviewDue(preReview, event, decoded.data.publicationId, context, {
            state: publicationDecider.evolve(publicationDecider.initialState(), decoded),
            revision: event.revision,
          });
        return;
      case 'PublicationDue':
        await preReviewDue(preReview, event, decoded.data.publicationId, context);
        return;
      case 'PublicationQueued':
        publish.push(jobDataOf(decoded.data));
        return;
      case 'PublicationCancelled':
        if (decoded.data.reviewId !== null)
          await closeHumanReview(deps.store, decoded.data.reviewId, { context, eventIds: eventIdsFrom(`${name}:${event.id}`) });
        return;
      case 'PublicationPublished': {
        const schedule = deps.metricsScheduleMs ?? [];
        if (schedule.length === 0 || deps.readsMetrics?.(decoded.data.platform) === false) return;
        await jobsOf().enqueueMetrics(jobDataOf(decoded.data), schedule);
        return;
      }
      case 'PublicationUnpublishRequested':
        await jobsOf().enqueueUnpublish(jobDataOf(decoded.data), event.revision);
        return;
      default:
        return;
    }
  }

  /** The publication an event concerns (its events are handled in order, one after another). */
  function keyOf(event: RecordedEvent): string {
    if (publicationEvents.owns(event.type)) return event.streamName;
    return decisionOfReviewEvent(event)?.publicationId ?? event.streamName;
  }

  // a publication cancelled or decided meanwhile: the decider's CONFLICT / NOT_FOUND means there is nothing left to do
  const settled = (error: unknown) => error instanceof DomainError && (error.code === 'CONFLICT' || error.code === 'NOT_FOUND');

  return {
    name,
    filter: { eventTypes: [...PUBLICATIONS_EVENT_TYPES] },
    batchSize: 500,
    async handle(events) {
      const groups = new Map<string, RecordedEvent[]>();
      for (const event of events) {
        const key = keyOf(event);
        const group = groups.get(key);
        if (group) group.push(event);
        else groups.set(key, [event]);
      }
      const publish: PublishJobData[] = [];
      const preReview = deps.preReviews();
      const queue = [...groups.values()];
      const worker = async () => {
        for (let group = queue.shift(); group; group = queue.shift()) {
          for (const event of group) await react(deps, name, event, () => reactTo(event, preReview, publish), settled);
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
      if (publish.length > 0) {
        const first = events.find((e) => e.type === 'PublicationQueued')!;
        await react(deps, name, first, () => jobsOf().enqueuePublish(publish));
      }
    },
  };
}

/**
 * The `publication.due` deadlines, written from the events in the batch's
 * transaction (so a replay rebuilds them): a scheduled PublicationRequested
 * sets one at scheduledAt; PublicationDue and PublicationCancelled remove it.
 * The sweeper runs it (deadlines/publication-actions.ts): ReleaseScheduledPublication.
 */
export function createPublicationDeadlines(name = PUBLICATION_DEADLINES): Consumer {
  return {
    name,
    filter: { streamPrefixes: ['publication-'], eventTypes: ['PublicationRequested', 'PublicationDue', 'PublicationCancelled'] },
    async handle(events, { tx }) {
      for (const event of events) {
        if (!publicationEvents.owns(event.type)) continue;
        const decoded = publicationEvents.decode(event);
        if (decoded.type === 'PublicationRequested') {
          if (decoded.data.scheduledAt !== null) await scheduleDeadline(tx, PUBLICATION_DUE, event.streamName, decoded.data.scheduledAt, event);
        } else if (decoded.type === 'PublicationDue' || decoded.type === 'PublicationCancelled') {
          await cancelDeadline(tx, PUBLICATION_DUE, event.streamName);
        }
      }
    },
  };
}
