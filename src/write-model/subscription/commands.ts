import type { PlanCode, ResourceFeature, Service } from './plans.js';

/**
 * Commands of the Subscription aggregate (stream
 * `subscription-{userId}_{service}`). Every one carries `now` (ISO-8601):
 * each records a time or compares against the period's end.
 */

/** Open the stream. Every user starts on free (on UserRegistered). */
export interface StartSubscription {
  type: 'StartSubscription';
  subscriptionId: string;
  userId: string;
  service: Service;
  plan: PlanCode;
  /** required for a paid plan (after `now`); null or absent for free */
  periodEnd?: string | null;
  now: string;
}

/**
 * Move to another plan: higher = upgrade at once, lower = downgrade at the
 * end of the period. `orderId` is the paid order it comes from (a repeat of
 * the same order is a no-op); `periodEnd` is the end of the period it paid for.
 */
export interface ChangePlan {
  type: 'ChangePlan';
  plan: PlanCode;
  orderId?: string;
  periodEnd?: string;
  now: string;
}

/** The current plan was paid for another period (a no-op for an order already applied). */
export interface RenewSubscription {
  type: 'RenewSubscription';
  orderId: string;
  periodEnd: string;
  now: string;
}

/** Cancel at the end of the period. */
export interface CancelSubscription {
  type: 'CancelSubscription';
  now: string;
}

/** Sent by the expiry scheduler once `now >= periodEnd`. */
export interface ExpireSubscription {
  type: 'ExpireSubscription';
  now: string;
}

/** Hold one unit of a resource limit (an account, a workflow, a tracked novel, an alert). */
export interface ReserveResource {
  type: 'ReserveResource';
  feature: ResourceFeature;
  resourceId: string;
  /** the quota day (YYYY-MM-DD) a refusal is recorded for, and when it ends (the 429's resets_at) */
  day: string;
  resetsAt: string;
  now: string;
}

export interface ReleaseResource {
  type: 'ReleaseResource';
  feature: ResourceFeature;
  resourceId: string;
  now: string;
}

export type SubscriptionCommand =
  | StartSubscription
  | ChangePlan
  | RenewSubscription
  | CancelSubscription
  | ExpireSubscription
  | ReserveResource
  | ReleaseResource;

export type SubscriptionCommandType = SubscriptionCommand['type'];
