import type { Decider, DomainEvent } from '../write-model/core/decider.js';
import { notificationDecider } from '../write-model/notification/decider.js';
import { novelTrackingDecider } from '../write-model/novel-tracking/decider.js';
import { paymentOrderDecider } from '../write-model/payment-order/decider.js';
import { platformAccountDecider } from '../write-model/platform-account/decider.js';
import { proxyDecider } from '../write-model/proxy/decider.js';
import { subscriptionDecider } from '../write-model/subscription/decider.js';
import { userDecider } from '../write-model/user/decider.js';
import { emailReservationDecider } from '../write-model/user/email-reservation.js';
import { workflowExecutionDecider } from '../write-model/workflow-execution/decider.js';
import { workflowDecider } from '../write-model/workflow/decider.js';

/** What the operator tooling needs of an aggregate: its name and how to fold its events. */
export interface AggregateEntry {
  /** the write-model folder it lives in */
  aggregate: string;
  category: string;
  decider: Pick<Decider<unknown, never, DomainEvent>, 'initialState' | 'evolve'>;
}

const entry = <S, C, E extends DomainEvent>(aggregate: string, category: string, decider: Decider<S, C, E>): AggregateEntry => ({
  aggregate,
  category,
  decider: decider as unknown as AggregateEntry['decider'],
});

/**
 * Every aggregate of src/write-model by stream category (the stream name
 * before the first '-', as each `xStream(id)` builds it). A new aggregate
 * adds its line here; tests/integration/operations-streams.test.ts checks
 * every category's name against its stream function.
 */
export const AGGREGATES: readonly AggregateEntry[] = [
  entry('user', 'user', userDecider),
  entry('email-reservation', 'user_email', emailReservationDecider),
  entry('subscription', 'subscription', subscriptionDecider),
  entry('payment-order', 'payment', paymentOrderDecider),
  entry('platform-account', 'platform_account', platformAccountDecider),
  entry('proxy', 'proxy', proxyDecider),
  entry('workflow', 'workflow', workflowDecider),
  entry('workflow-execution', 'workflow_execution', workflowExecutionDecider),
  entry('novel-tracking', 'novel_tracking', novelTrackingDecider),
  entry('notification', 'notifications', notificationDecider),
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
