import { randomUUID } from 'node:crypto';
import type { EventStore } from '../../src/event-store/port.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import type { PlanCode, Service } from '../../src/write-model/subscription/plans.js';
import { subscriptionAggregate, subscriptionKey } from '../../src/write-model/subscription/index.js';

/**
 * A test's shortcut to a plan: what an operator's grant appends (ChangePlan
 * without an order), a month from now unless told otherwise, on the
 * subscription of a user or an organization (`holderId`). The subscription
 * must be started: registration starts the free plans where the process
 * managers run; startOnPlan starts it where they do not.
 */

export interface PlanOptions {
  /** how long the granted period lasts; default 30 days */
  days?: number;
  /** the grant's time; default now */
  now?: Date;
  context?: CommandContext;
}

const testContext = (): CommandContext => ({ correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' });

/** Moves the started subscription to `plan` (a paid one: its period ends `days` after `now`). Answers the period end. */
export async function grantPlan(store: EventStore, holderId: string, service: Service, plan: PlanCode, options: PlanOptions = {}): Promise<string> {
  const now = options.now ?? new Date();
  const periodEnd = new Date(now.getTime() + (options.days ?? 30) * 86_400_000).toISOString();
  await handle(
    store,
    subscriptionAggregate,
    subscriptionKey(holderId, service),
    { type: 'ChangePlan', plan, periodEnd, now: now.toISOString() },
    { context: options.context ?? testContext() },
  );
  return periodEnd;
}

/** Starts a user's subscription on free (as the free-plans process manager would), then grants `plan` unless it is free. */
export async function startOnPlan(store: EventStore, userId: string, service: Service, plan: PlanCode, options: PlanOptions = {}): Promise<void> {
  const now = options.now ?? new Date();
  await handle(
    store,
    subscriptionAggregate,
    subscriptionKey(userId, service),
    { type: 'StartSubscription', subscriptionId: `sub-${userId}-${service}`, userId, service, plan: 'free', now: now.toISOString() },
    { context: options.context ?? testContext() },
  );
  if (plan !== 'free') await grantPlan(store, userId, service, plan, { ...options, now });
}
