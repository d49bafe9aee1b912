import type { ProxyLeases } from './ports.js';
import type { MessageSendOutbox } from './ports.js';
import type { ScrapeJobs } from './ports.js';
import type { WorkflowJobSchedulers } from './ports.js';
import type { Consumer } from '../consumers/consumer.js';
import { createAccountHealth } from './account-health.js';
import { createExpirySchedule, createOAuthRefreshSchedule, DEFAULT_OAUTH_REFRESH_LEAD_MS } from './deadlines/index.js';
import { createDispatchExecutions } from './dispatch-executions.js';
import { createEndSessions } from './end-sessions.js';
import { createExecutionRetention } from './execution-retention.js';
import { createFreePlansOnOrganization, createFreePlansOnRegistration } from './free-plans-on-registration.js';
import { createNotifyUser, type NotificationMailOutbox } from './notify-user.js';
import { createOutgoingMessages } from './outgoing-messages.js';
import { batchPreReview } from './publication-pre-review.js';
import type { PublicationJobs } from './publication-ports.js';
import { createPublicationDeadlines, createPublications } from './publications.js';
import { createPauseOnAccountInvalidated } from './pause-on-account-invalidated.js';
import { createPauseOnQuotaExceeded } from './pause-on-quota-exceeded.js';
import { createPlanOnPayment } from './plan-on-payment.js';
import { createPlanOnRefund } from './plan-on-refund.js';
import { createProxyFailover } from './proxy-failover.js';
import { createQidianAlerts } from './qidian-alerts.js';
import { createQidianWatchlist } from './qidian-watchlist.js';
import { createQueueAlerts } from './queue-alerts.js';
import { createSmsMessages } from './sms-messages.js';
import { createSmsBatchDeadlines, createSmsBatches, smsBatchPreReviews } from './sms-batches.js';
import type { SmsSendWindows } from '../application/sms/send-windows.js';
import { createLedgerDeposits } from './ledger-deposits.js';
import { overageCharger, overageEnabled } from '../application/ledger/overage.js';
import type { LedgerCharges } from '../application/ports/ledger.js';
import type { Turns } from '../application/ports/turns.js';
import { createNotificationSms } from './notification-sms.js';
import { createMfaResetNotifications } from './mfa-reset-notifications.js';
import { createPasswordChangeNotifications } from './password-change-notifications.js';
import type { SmsSendOutbox } from './sms-ports.js';
import type { ProcessManagerDeps } from './shared.js';
import { createWorkflowSchedules } from './workflow-schedules.js';

export type { ProcessManagerDeps } from './shared.js';
export {
  FREE_PLANS_ON_ORGANIZATION,
  FREE_PLANS_ON_REGISTRATION,
  createFreePlansOnOrganization,
  createFreePlansOnRegistration,
} from './free-plans-on-registration.js';
export { END_SESSIONS, createEndSessions } from './end-sessions.js';
export { PLAN_ON_PAYMENT, createPlanOnPayment, commandForPayment, addBillingCycle } from './plan-on-payment.js';
export { PLAN_ON_REFUND, createPlanOnRefund } from './plan-on-refund.js';
export { subscriptionIdFor } from './shared.js';
export * from './deadlines/index.js';

/** What the whole catalogue of process managers needs (src/main/automation.ts builds it from config). */
export interface ProcessManagerWiring extends ProcessManagerDeps {
  /** an unpaid order is closed this long after it expires (PAYMENT_EXPIRY_GRACE_MINUTES) */
  paymentGraceMs: number;
  /** a paid period's renewal deadline (renewal order or expiry reminder) is due this long before its end (SUBSCRIPTION_RENEWAL_LEAD_DAYS); unset: none */
  renewalLeadMs?: number;
  /** an OAuth account's tokens are refreshed this long before they expire (OAUTH_REFRESH_LEAD_SECONDS); default 10 minutes */
  oauthRefreshLeadMs?: number;
  /** QUOTA_TIME_ZONE */
  timeZone: string;
  /** enqueues scrape jobs (QUEUE_PREFIX, the scrape retry policy) */
  dispatcher: ScrapeJobs;
  /** one BullMQ job scheduler per scheduled workflow */
  schedulers: WorkflowJobSchedulers;
  /** the workers' proxy leases: live leases sharpen the dispatcher's choice */
  leases?: ProxyLeases;
  /** the mail outbox (the `mail` queue); none: notifications stay in-app */
  outbox?: NotificationMailOutbox;
  /** the `message-send` queue outgoing private messages are sent from */
  messages?: MessageSendOutbox;
  /** the `publish` queue and the metrics readings' delays after publishing (PUBLICATION_METRICS_SCHEDULE) */
  publications?: { jobs: PublicationJobs; metricsScheduleMs: readonly number[] };
  /** the `sms-send` queue SMS are sent from; absent where SMS is not configured */
  sms?: SmsSendOutbox;
  /** prepaid balances (TOKENS.LedgerCharges): runs past the quota charged when the holder opted in; none: refused */
  ledger?: LedgerCharges;
  /** SMS_CHARGE_LEDGER: SMS charged to the balance through `ledger` (default true) */
  smsChargeLedger?: boolean;
  /** SMS_SENDS_PER_ORGANIZATION_PER_MINUTE's windows, pacing SMS batches */
  smsPacing?: SmsSendWindows;
  /** the single sends' charge turns, shared with the API (Redis) */
  smsChargeTurns?: Turns;
  /** SMS_DEFAULT_REGION */
  smsDefaultRegion?: string;
}

/**
 * The process managers, one Consumer each (`pm-…`, its own
 * checkpoint). src/main/projector.ts runs them beside the projections.
 */
export function processManagers(wiring: ProcessManagerWiring): Consumer[] {
  const { store, logger, dispatcher, leases } = wiring;
  const base: ProcessManagerDeps = { store, ...(logger ? { logger } : {}) };
  const withLeases = leases ? { leases } : {};
  return [
    createFreePlansOnRegistration(base),
    createFreePlansOnOrganization(base),
    createEndSessions(base),
    createPlanOnPayment(base),
    createPlanOnRefund(base),
    createExpirySchedule({ paymentGraceMs: wiring.paymentGraceMs, ...(wiring.renewalLeadMs !== undefined ? { renewalLeadMs: wiring.renewalLeadMs } : {}) }),
    createOAuthRefreshSchedule({ leadMs: wiring.oauthRefreshLeadMs ?? DEFAULT_OAUTH_REFRESH_LEAD_MS }),
    createDispatchExecutions({
      ...base,
      dispatcher,
      timeZone: wiring.timeZone,
      ...withLeases,
      ...(wiring.ledger ? { overage: overageCharger(store, wiring.ledger) } : {}),
    }),
    // top-ups paid → deposits, top-ups refunded → withdrawals (docs/ledger.md)
    createLedgerDeposits({ ...base, ledger: { timeZone: wiring.timeZone } }),
    createProxyFailover({ ...base, dispatcher, ...withLeases }),
    createPauseOnQuotaExceeded({
      ...base,
      ...(wiring.ledger ? { overageOn: async (userId: string) => overageEnabled(store, await wiring.ledger!.holderOf(userId)) } : {}),
    }),
    createPauseOnAccountInvalidated(base),
    createAccountHealth(base),
    createWorkflowSchedules({ ...base, schedulers: wiring.schedulers }),
    createNotifyUser({
      ...base,
      timeZone: wiring.timeZone,
      ...(wiring.outbox ? { outbox: wiring.outbox } : {}),
    }),
    createExecutionRetention(base),
    createQidianWatchlist(base),
    createQidianAlerts({ ...base, timeZone: wiring.timeZone, ...(wiring.outbox ? { outbox: wiring.outbox } : {}) }),
    createOutgoingMessages({ ...base, ...(wiring.messages ? { outbox: wiring.messages } : {}) }),
    // publications: pre-review → review → publish queue; the scheduled ones' deadlines
    createPublications({
      ...base,
      preReviews: batchPreReview(store),
      ...(wiring.publications ? { jobs: wiring.publications.jobs, metricsScheduleMs: wiring.publications.metricsScheduleMs } : {}),
    }),
    createPublicationDeadlines(),
    // a blocked queue (the projector's blockage detector) told to every admin
    createQueueAlerts({ ...base, timeZone: wiring.timeZone, ...(wiring.outbox ? { outbox: wiring.outbox } : {}) }),
    createSmsMessages({
      ...base,
      ...(wiring.sms ? { outbox: wiring.sms } : {}),
      ...(wiring.ledger && wiring.smsChargeLedger !== false ? { ledger: wiring.ledger } : {}),
      ...(wiring.smsPacing ? { pacing: wiring.smsPacing } : {}),
      ...(wiring.smsChargeTurns ? { chargeTurns: wiring.smsChargeTurns } : {}),
    }),
    // SMS batches: pre-review → human review → one message per recipient; the scheduled ones' deadlines
    createSmsBatches({ ...base, preReviews: smsBatchPreReviews(store), ...(wiring.smsDefaultRegion ? { defaultRegion: wiring.smsDefaultRegion } : {}) }),
    createSmsBatchDeadlines(),
    // notifications a user wants by SMS too → SmsRequested to the verified number; an admin's MFA reset → a notification
    createNotificationSms({ ...base, smsConfigured: wiring.sms !== undefined }),
    createMfaResetNotifications({ ...base, timeZone: wiring.timeZone, ...(wiring.outbox ? { outbox: wiring.outbox } : {}) }),
    // a password changed (signed in or by a reset link) → a notification to its user
    createPasswordChangeNotifications({ ...base, timeZone: wiring.timeZone, ...(wiring.outbox ? { outbox: wiring.outbox } : {}) }),
  ];
}
