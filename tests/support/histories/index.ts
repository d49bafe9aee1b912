import { apiKeyHistories, apiKeyUsageHistories } from './api-key.js';
import { articleHistories, mediaHistories } from './article.js';
import { emailReservationHistories } from './email-reservation.js';
import type { HistorySource } from './harness.js';
import { notificationHistories } from './notification.js';
import { novelAlertHistories, novelAlertRuleHistories } from './novel-alert.js';
import { novelTrackingHistories } from './novel-tracking.js';
import { outgoingMessageHistories } from './outgoing-message.js';
import { publicationHistories } from './publication.js';
import { queueAlertHistories, queueInterventionHistories } from './queue-alert.js';
import { reviewHistories, reviewRuleSetHistories } from './review.js';
import { keywordWatchHistories } from './qidian-keyword.js';
import { paymentOrderHistories } from './payment-order.js';
import { platformAccountHistories } from './platform-account.js';
import { proxyHealthHistories } from './proxy-health.js';
import { proxyHistories } from './proxy.js';
import { reportHistories, reportRunHistories } from './report.js';
import { sessionHistories } from './session.js';
import { smsInboundHistories, smsMessageHistories } from './sms-message.js';
import { smsBatchHistories, smsKeywordHistories } from './sms-batch.js';
import { statisticsExportHistories } from './statistics-export.js';
import { invitationHistories, membershipClaimHistories, organizationHistories } from './organization.js';
import { subscriptionHistories } from './subscription.js';
import { ledgerAccountHistories, ledgerHistories } from './ledger.js';
import { subscriptionUsageHistories } from './subscription-usage.js';
import { userHistories } from './user.js';
import { usernameReservationHistories } from './username-reservation.js';
import { workflowExecutionHistories } from './workflow-execution.js';
import { workflowHistories } from './workflow.js';
import { xiaohongshuContentHistories } from './xiaohongshu-content.js';

/**
 * One history source per aggregate binding (src/write-model/*): a new aggregate
 * adds its own (tests/unit/snapshot-equivalence.test.ts checks these cover
 * AGGREGATES in src/operations/aggregates.ts).
 */
export const HISTORY_SOURCES: readonly HistorySource[] = [
  userHistories,
  emailReservationHistories,
  usernameReservationHistories,
  sessionHistories,
  subscriptionHistories,
  subscriptionUsageHistories,
  ledgerHistories,
  ledgerAccountHistories,
  paymentOrderHistories,
  platformAccountHistories,
  proxyHistories,
  proxyHealthHistories,
  workflowHistories,
  workflowExecutionHistories,
  novelTrackingHistories,
  novelAlertHistories,
  novelAlertRuleHistories,
  keywordWatchHistories,
  notificationHistories,
  xiaohongshuContentHistories,
  apiKeyHistories,
  apiKeyUsageHistories,
  outgoingMessageHistories,
  publicationHistories,
  reviewRuleSetHistories,
  reviewHistories,
  reportHistories,
  reportRunHistories,
  articleHistories,
  mediaHistories,
  queueAlertHistories,
  queueInterventionHistories,
  smsMessageHistories,
  smsInboundHistories,
  smsBatchHistories,
  smsKeywordHistories,
  statisticsExportHistories,
  organizationHistories,
  membershipClaimHistories,
  invitationHistories,
];
