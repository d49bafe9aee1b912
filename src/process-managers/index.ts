import type { Consumer } from '../subscriptions/consumer.js';
import { createFreePlansOnRegistration } from './free-plans-on-registration.js';
import { createPlanOnPayment } from './plan-on-payment.js';
import { createExpirySchedule } from './deadlines/index.js';
import type { ProcessManagerDeps } from './shared.js';

export type { ProcessManagerDeps } from './shared.js';
export { FREE_PLANS_ON_REGISTRATION, createFreePlansOnRegistration } from './free-plans-on-registration.js';
export { PLAN_ON_PAYMENT, createPlanOnPayment, commandForPayment, addBillingCycle } from './plan-on-payment.js';
export { subscriptionIdFor } from './shared.js';
export * from './deadlines/index.js';

/**
 * The process managers (DESIGN §6), one Consumer each (`pm-…`, its own
 * checkpoint). src/main/projector.ts runs them beside the projections.
 */
export function processManagers(deps: ProcessManagerDeps, options: { paymentGraceMs: number }): Consumer[] {
  return [createFreePlansOnRegistration(deps), createPlanOnPayment(deps), createExpirySchedule(options)];
}
