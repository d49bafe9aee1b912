import { evaluate, type CompiledRuleSet } from '../application/review/engine.js';
import { ruleSetsFor } from '../application/review/pre-review.js';
import { parseSmsNumber } from '../application/sms.js';
import type { Consumer } from '../consumers/consumer.js';
import type { EventStore, RecordedEvent } from '../event-store/port.js';
import { contextFromEvent, type CommandContext } from '../write-model/core/command-context.js';
import { handle, type Loaded } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { eventIdsFrom, uuidFromName } from '../write-model/core/event-ids.js';
import { reviewAggregate } from '../write-model/review/decider.js';
import { MAX_REVIEW_HITS, MAX_REVIEW_TITLE, reviewEvents, type ReviewHit } from '../write-model/review/events.js';
import { smsBatchAggregate, smsBatchStream } from '../write-model/sms-batch/decider.js';
import { smsBatchEvents, type SmsBatchCreatedData } from '../write-model/sms-batch/events.js';
import { smsMessageAggregate, smsMessageDecider } from '../write-model/sms-message/decider.js';
import type { SmsMessageState } from '../write-model/sms-message/state.js';
import { cancelDeadline, scheduleDeadline } from './deadlines/deadline-table.js';
import { SMS_BATCH_DUE_DEADLINE } from './deadlines/sms-batch-actions.js';
import { react, type ProcessManagerDeps } from './shared.js';
import { truncateCharacters } from '../write-model/core/characters.js';

export const SMS_BATCHES = 'pm-sms-batches';
export const SMS_BATCH_DEADLINES = 'pm-sms-batch-deadlines';

/** The rule sets' platform id SMS content is checked under (a rule limited to platforms applies to SMS when it lists `sms`). */
export const SMS_REVIEW_PLATFORM = 'sms';

/** The human review a flagged batch waits for: named after the batch, so a repeat opens the same one. */
export function smsBatchReviewIdFor(batchId: string): string {
  return uuidFromName(`sms-batch-review:${batchId}`);
}

/** The message of a batch's recipient: named after the batch and the recipient's index, so a replayed fan-out requests nothing twice. */
export function smsBatchMessageIdFor(batchId: string, index: number): string {
  return uuidFromName(`sms-batch-message:${batchId}:${index}`);
}

export const SMS_BATCHES_EVENT_TYPES = [
  'SmsBatchCreated',
  'SmsBatchPreReviewPassed',
  'SmsBatchApproved',
  'SmsBatchSendingStarted',
  'SmsBatchCancelled',
  'ReviewApproved',
  'ReviewRejected',
] as const;

/** The automatic pre-review of a batch's text: the platform's rule set and the owner's, under platform `sms`, no region. */
export type SmsPreReview = (ownerId: string, text: string) => Promise<{ verdict: 'pass' | 'flag'; hits: ReviewHit[] }>;

/** A pre-review for one consumer batch: each owner's rule sets looked up once (as publication-pre-review.ts does). */
export function smsBatchPreReviews(store: EventStore): () => SmsPreReview {
  return () => {
    const sets = new Map<string, Promise<CompiledRuleSet[]>>();
    return async (ownerId, text) => {
      let owned = sets.get(ownerId);
      if (!owned) {
        owned = ruleSetsFor(store, ownerId);
        sets.set(ownerId, owned);
        owned.catch(() => sets.delete(ownerId));
      }
      const hits = evaluate(await owned, { platform: SMS_REVIEW_PLATFORM, region: null, title: '', summary: null, body: text, tags: [], imageCount: 0 });
      return { verdict: hits.length > 0 ? 'flag' : 'pass', hits };
    };
  };
}

export interface SmsBatchesDeps extends ProcessManagerDeps {
  /** the automatic pre-review, a fresh one per consumer batch (smsBatchPreReviews) */
  preReviews: () => SmsPreReview;
  /** SMS_DEFAULT_REGION (the numbers are E.164 already; it only reads their country) */
  defaultRegion?: string;
  /** messages requested at once during a fan-out; default 64 */
  concurrency?: number;
}

/**
 * An SMS batch's way from creation to its messages:
 *
 * - SmsBatchCreated → the automatic pre-review of its text (the platform's
 *   rule set and the owner's, platform `sms`) → RecordSmsBatchPreReview:
 *   pass → SmsBatchPreReviewPassed; flag → SmsBatchPreReviewFlagged and
 *   OpenReview (subject `sms_batch`, the text as the body, the hits) in
 *   the human review queue (/reviews).
 * - ReviewApproved / ReviewRejected of an `sms_batch` review →
 *   RecordSmsBatchReviewDecision: SmsBatchApproved, or SmsBatchRejected with
 *   the reviewer's comment (the owner hears of it from pm-notify-user's
 *   review notification).
 * - SmsBatchPreReviewPassed / SmsBatchApproved, due (no schedule, or its
 *   time past) → StartSmsBatchSending; scheduled later: the `sms_batch.due`
 *   deadline starts it (SMS_BATCH_DEADLINES).
 * - SmsBatchSendingStarted → one RequestSms per recipient, message id named
 *   after the batch and the recipient's index (a replay requests nothing
 *   twice); pm-sms-messages charges, paces and queues them.
 * - SmsBatchCancelled with an open review → WithdrawReview.
 *
 * Idempotent on redelivery: commands carry event ids named after the
 * triggering event and decide on the state.
 */
export function createSmsBatches(deps: SmsBatchesDeps, name = SMS_BATCHES): Consumer {
  const concurrency = Math.max(1, deps.concurrency ?? 64);
  // a batch cancelled or decided meanwhile: CONFLICT / NOT_FOUND mean there is nothing left to do
  const settled = (error: unknown) => error instanceof DomainError && (error.code === 'CONFLICT' || error.code === 'NOT_FOUND');

  async function preReviewCreated(preReview: SmsPreReview, event: RecordedEvent, c: SmsBatchCreatedData, context: CommandContext): Promise<void> {
    const verdict = await preReview(c.ownerId, c.text);
    const flagged = verdict.verdict === 'flag';
    const reviewId = flagged ? smsBatchReviewIdFor(c.batchId) : null;
    const result = await handle(
      deps.store,
      smsBatchAggregate,
      c.batchId,
      { type: 'RecordSmsBatchPreReview', batchId: c.batchId, verdict: verdict.verdict, hitCount: verdict.hits.length, reviewId, now: new Date().toISOString() },
      { context, eventIds: eventIdsFrom(`${name}:${event.id}:pre-review`) },
    );
    if (!flagged || result.state.status !== 'in_review') return;
    await handle(
      deps.store,
      reviewAggregate,
      reviewId!,
      {
        type: 'OpenReview',
        reviewId: reviewId!,
        subject: 'sms_batch',
        publicationId: c.batchId,
        articleId: c.batchId,
        articleVersion: 1,
        ownerId: c.ownerId,
        platform: SMS_REVIEW_PLATFORM,
        region: null,
        title: truncateCharacters(`SMS batch: ${c.recipientCount} recipient${c.recipientCount === 1 ? '' : 's'}, sender ${c.senderId}`, MAX_REVIEW_TITLE),
        hits: verdict.hits.slice(0, MAX_REVIEW_HITS),
        content: {
          summary: `An SMS batch to ${c.recipientCount} numbers from sender id "${c.senderId}", ${c.segments} ${c.encoding} segment(s) each${c.scheduledAt ? `, scheduled for ${c.scheduledAt}` : ''}. The body is the text sent.`,
          body: c.text,
          tags: [],
        },
        now: new Date().toISOString(),
      },
      { context, eventIds: eventIdsFrom(`${name}:${event.id}:open-review`) },
    );
  }

  async function startIfDue(event: RecordedEvent, batchId: string, scheduledAt: string | null, context: CommandContext): Promise<void> {
    if (scheduledAt !== null && Date.parse(scheduledAt) > Date.now()) return;
    await handle(
      deps.store,
      smsBatchAggregate,
      batchId,
      { type: 'StartSmsBatchSending', batchId, now: new Date().toISOString() },
      { context, eventIds: eventIdsFrom(`${name}:${event.id}:start`) },
    );
  }

  /** One RequestSms per recipient, `concurrency` at a time; each on a fresh stream (a replay finds its events there: the store's no-op). */
  async function fanOut(event: RecordedEvent, batchId: string, context: CommandContext): Promise<void> {
    const stored = await deps.store.readStream(smsBatchStream(batchId));
    let created: SmsBatchCreatedData | undefined;
    const recipients: { index: number; to: string }[] = [];
    for (const e of stored) {
      const decoded = smsBatchEvents.decode(e);
      if (decoded.type === 'SmsBatchCreated') created = decoded.data;
      else if (decoded.type === 'SmsBatchRecipientsAdded') decoded.data.recipients.forEach((to, i) => recipients.push({ index: decoded.data.offset + i, to }));
    }
    if (!created) return;
    const c = created;
    const now = new Date().toISOString();
    const queue = [...recipients];
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const { index, to } = next;
        const number = parseSmsNumber(to, deps.defaultRegion ?? 'CN');
        // validated when the batch was created; a number the library no longer takes is skipped (logged)
        if (!number.ok) {
          deps.logger?.warn({ processManager: name, batchId, index }, 'batch recipient no longer a valid number: skipped');
          continue;
        }
        const messageId = smsBatchMessageIdFor(batchId, index);
        const fresh: Loaded<SmsMessageState> = { state: smsMessageDecider.initialState(), revision: -1n };
        await handle(
          deps.store,
          smsMessageAggregate,
          messageId,
          {
            type: 'RequestSms',
            messageId,
            ownerId: c.ownerId,
            to: number.e164,
            country: number.country,
            callingCode: number.callingCode,
            text: c.text,
            batchId,
            organizationId: c.organizationId,
            now,
          },
          { context, eventIds: eventIdsFrom(`${name}:${event.id}:message:${index}`), loaded: fresh },
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
  }

  async function reactTo(event: RecordedEvent, preReview: SmsPreReview): Promise<void> {
    const context = contextFromEvent(event, name);
    if (reviewEvents.owns(event.type)) {
      const decoded = reviewEvents.decode(event);
      if ((decoded.type !== 'ReviewApproved' && decoded.type !== 'ReviewRejected') || decoded.data.subject !== 'sms_batch') return;
      const d = decoded.data;
      await handle(
        deps.store,
        smsBatchAggregate,
        d.publicationId,
        {
          type: 'RecordSmsBatchReviewDecision',
          batchId: d.publicationId,
          reviewId: d.reviewId,
          decision: decoded.type === 'ReviewApproved' ? 'approved' : 'rejected',
          reviewerId: d.reviewerId,
          comment: d.comment,
          now: d.decidedAt,
        },
        { context, eventIds: eventIdsFrom(`${name}:${event.id}`) },
      );
      return;
    }
    if (!smsBatchEvents.owns(event.type)) return;
    const decoded = smsBatchEvents.decode(event);
    switch (decoded.type) {
      case 'SmsBatchCreated':
        await preReviewCreated(preReview, event, decoded.data, context);
        return;
      case 'SmsBatchPreReviewPassed':
      case 'SmsBatchApproved':
        await startIfDue(event, decoded.data.batchId, decoded.data.scheduledAt, context);
        return;
      case 'SmsBatchSendingStarted':
        await fanOut(event, decoded.data.batchId, context);
        return;
      case 'SmsBatchCancelled':
        if (decoded.data.reviewId !== null)
          await handle(
            deps.store,
            reviewAggregate,
            decoded.data.reviewId,
            { type: 'WithdrawReview', reviewId: decoded.data.reviewId, now: new Date().toISOString() },
            { context, eventIds: eventIdsFrom(`${name}:${event.id}`) },
          );
        return;
      default:
        return;
    }
  }

  return {
    name,
    filter: { eventTypes: [...SMS_BATCHES_EVENT_TYPES] },
    batchSize: 100,
    async handle(events) {
      const preReview = deps.preReviews();
      // one batch's events in order; batches are few per consumer batch (a fan-out is the heavy part, concurrent within)
      for (const event of events) await react(deps, name, event, () => reactTo(event, preReview), settled);
    },
  };
}

/**
 * The `sms_batch.due` deadlines, written from the events in the batch's
 * transaction (so a replay rebuilds them): a scheduled SmsBatchCreated sets
 * one at scheduledAt; SmsBatchSendingStarted, SmsBatchRejected and
 * SmsBatchCancelled remove it. The sweeper runs it (deadlines/sms-batch-actions.ts).
 */
export function createSmsBatchDeadlines(name = SMS_BATCH_DEADLINES): Consumer {
  return {
    name,
    filter: { streamPrefixes: ['sms_batch-'], eventTypes: ['SmsBatchCreated', 'SmsBatchSendingStarted', 'SmsBatchRejected', 'SmsBatchCancelled'] },
    async handle(events, { tx }) {
      for (const event of events) {
        if (!smsBatchEvents.owns(event.type)) continue;
        const decoded = smsBatchEvents.decode(event);
        if (decoded.type === 'SmsBatchCreated') {
          if (decoded.data.scheduledAt !== null) await scheduleDeadline(tx, SMS_BATCH_DUE_DEADLINE, event.streamName, decoded.data.scheduledAt, event);
        } else {
          await cancelDeadline(tx, SMS_BATCH_DUE_DEADLINE, event.streamName);
        }
      }
    },
  };
}
