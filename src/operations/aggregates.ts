import { apiKeyAggregate } from '../write-model/api-key/decider.js';
import { apiKeyUsageAggregate } from '../write-model/api-key/usage.js';
import { articleAggregate } from '../write-model/article/decider.js';
import { mediaAggregate } from '../write-model/media/decider.js';
import { smsMessageAggregate } from '../write-model/sms-message/decider.js';
import { smsInboundAggregate } from '../write-model/sms-message/inbound.js';
import { ledgerAggregate } from '../write-model/ledger/decider.js';
import { ledgerAccountAggregate } from '../write-model/ledger-account/decider.js';
import { smsBatchAggregate } from '../write-model/sms-batch/decider.js';
import { smsKeywordAggregate } from '../write-model/sms-keyword/decider.js';
import { statisticsExportAggregate } from '../write-model/statistics-export/decider.js';
import { invitationAggregate, membershipClaimAggregate, organizationAggregate } from '../write-model/organization/index.js';
import type { Aggregate } from '../write-model/core/aggregate.js';
import { fold, type DomainEvent } from '../write-model/core/decider.js';
import type { StoredEvent } from '../write-model/core/event-codec.js';
import { notificationAggregate } from '../write-model/notification/decider.js';
import { novelAlertAggregate } from '../write-model/novel-alert/decider.js';
import { novelAlertRuleAggregate } from '../write-model/novel-alert/rule-reservation.js';
import { novelTrackingAggregate } from '../write-model/novel-tracking/decider.js';
import { outgoingMessageAggregate } from '../write-model/outgoing-message/decider.js';
import { keywordWatchAggregate } from '../write-model/qidian-keyword/decider.js';
import { paymentOrderAggregate } from '../write-model/payment-order/decider.js';
import { platformAccountAggregate } from '../write-model/platform-account/decider.js';
import { publicationAggregate } from '../write-model/publication/decider.js';
import { queueAlertAggregate } from '../write-model/queue-alert/decider.js';
import { queueInterventionAggregate } from '../write-model/queue-intervention/decider.js';
import { reviewRuleSetAggregate } from '../write-model/review-rules/decider.js';
import { reviewAggregate } from '../write-model/review/decider.js';
import { proxyHealthAggregate } from '../write-model/proxy-health/decider.js';
import { proxyAggregate } from '../write-model/proxy/decider.js';
import { reportRunAggregate } from '../write-model/report-run/decider.js';
import { reportAggregate } from '../write-model/report/decider.js';
import { sessionAggregate } from '../write-model/session/decider.js';
import { subscriptionUsageAggregate } from '../write-model/subscription-usage/decider.js';
import { subscriptionAggregate } from '../write-model/subscription/decider.js';
import { userAggregate } from '../write-model/user/decider.js';
import { emailReservationAggregate } from '../write-model/user/email-reservation.js';
import { usernameReservationAggregate } from '../write-model/user/username-reservation.js';
import { workflowExecutionAggregate } from '../write-model/workflow-execution/decider.js';
import { workflowAggregate } from '../write-model/workflow/decider.js';
import { xiaohongshuContentAggregate } from '../write-model/xiaohongshu-content/decider.js';

/**
 * What the operator tooling needs of an aggregate: its names and its
 * binding's decoder and fold, closed over so one list holds every
 * aggregate whatever its state and event types.
 */
export interface AggregateEntry {
  /** the write-model folder it lives in */
  aggregate: string;
  /** the binding's short name */
  name: string;
  /** the stream name before the first '-', as the binding's streamName builds it */
  category: string;
  /** whether the binding snapshots its streams */
  snapshots: boolean;
  /** a stored event of this aggregate as its typed event (EventDecodeError when it does not fit) */
  decode(event: StoredEvent): DomainEvent;
  /** the state after these stored events, decoded and folded from the initial state */
  stateAfter(events: readonly StoredEvent[]): unknown;
}

const entry = <S, C, E extends DomainEvent>(aggregate: string, binding: Aggregate<S, C, E>): AggregateEntry => ({
  aggregate,
  name: binding.name,
  category: categoryOf(binding.streamName('x')),
  snapshots: binding.snapshot !== undefined,
  decode: (event) => binding.events.decode(event),
  stateAfter: (events) =>
    fold(
      binding.decider,
      events.map((event) => binding.events.decode(event)),
    ),
});

/**
 * Every aggregate of src/write-model by stream category. A new aggregate
 * adds its binding here; tests/integration/operations-streams.test.ts checks
 * every stream function's category is found.
 */
export const AGGREGATES: readonly AggregateEntry[] = [
  entry('user', userAggregate),
  entry('email-reservation', emailReservationAggregate),
  entry('username-reservation', usernameReservationAggregate),
  entry('session', sessionAggregate),
  entry('subscription', subscriptionAggregate),
  entry('subscription-usage', subscriptionUsageAggregate),
  entry('payment-order', paymentOrderAggregate),
  entry('platform-account', platformAccountAggregate),
  entry('proxy', proxyAggregate),
  entry('proxy-health', proxyHealthAggregate),
  entry('workflow', workflowAggregate),
  entry('workflow-execution', workflowExecutionAggregate),
  entry('novel-tracking', novelTrackingAggregate),
  entry('novel-alert', novelAlertAggregate),
  entry('novel-alert-rule', novelAlertRuleAggregate),
  entry('qidian-keyword', keywordWatchAggregate),
  entry('notification', notificationAggregate),
  entry('xiaohongshu-content', xiaohongshuContentAggregate),
  entry('api-key', apiKeyAggregate),
  entry('api-key-usage', apiKeyUsageAggregate),
  entry('outgoing-message', outgoingMessageAggregate),
  entry('publication', publicationAggregate),
  entry('review-rules', reviewRuleSetAggregate),
  entry('review', reviewAggregate),
  entry('report', reportAggregate),
  entry('report-run', reportRunAggregate),
  entry('article', articleAggregate),
  entry('media', mediaAggregate),
  entry('queue-alert', queueAlertAggregate),
  entry('queue-intervention', queueInterventionAggregate),
  entry('sms-message', smsMessageAggregate),
  entry('sms-inbound', smsInboundAggregate),
  entry('ledger', ledgerAggregate),
  entry('ledger-account', ledgerAccountAggregate),
  entry('sms-batch', smsBatchAggregate),
  entry('sms-keyword', smsKeywordAggregate),
  entry('statistics-export', statisticsExportAggregate),
  entry('organization', organizationAggregate),
  entry('organization-member', membershipClaimAggregate),
  entry('organization-invitation', invitationAggregate),
];

const byCategory = new Map(AGGREGATES.map((a) => [a.category, a]));

/** `user-42` → `user`; a name without '-' is its own category. */
export function categoryOf(stream: string): string {
  const dash = stream.indexOf('-');
  return dash < 0 ? stream : stream.slice(0, dash);
}

/** The aggregate whose streams are in that category; undefined when none (no decider: no state). */
export function aggregateFor(streamOrCategory: string): AggregateEntry | undefined {
  return byCategory.get(categoryOf(streamOrCategory));
}
