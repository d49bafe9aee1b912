import { apiKeyEvents, apiKeyUsageEvents, type ApiKeyEvent, type ApiKeyUsageEvent } from './api-key/events.js';
import { articleEvents, type ArticleEvent } from './article/events.js';
import { mediaEvents, type MediaEvent } from './media/events.js';
import { combineCodecs } from './core/event-codec.js';
import { notificationEvents, type NotificationEvent } from './notification/events.js';
import { novelAlertEvents, type NovelAlertEvent } from './novel-alert/events.js';
import { novelAlertRuleEvents, type NovelAlertRuleEvent } from './novel-alert/rule-reservation.js';
import { novelTrackingEvents, type NovelTrackingEvent } from './novel-tracking/events.js';
import { outgoingMessageEvents, type OutgoingMessageEvent } from './outgoing-message/events.js';
import { keywordWatchEvents, type KeywordWatchEvent } from './qidian-keyword/events.js';
import { paymentOrderEvents, type PaymentOrderEvent } from './payment-order/events.js';
import { publicationEvents, type PublicationEvent } from './publication/events.js';
import { queueAlertEvents, type QueueAlertEvent } from './queue-alert/events.js';
import { queueInterventionEvents, type QueueInterventionEvent } from './queue-intervention/events.js';
import { reviewRuleSetEvents, type ReviewRuleSetEvent } from './review-rules/events.js';
import { reviewEvents, type ReviewEvent } from './review/events.js';
import { subscriptionEvents, type SubscriptionEvent } from './subscription/events.js';
import { subscriptionUsageEvents, type SubscriptionUsageEvent } from './subscription-usage/events.js';
import { sessionEvents, type SessionEvent } from './session/events.js';
import { smsMessageEvents, type SmsMessageEvent } from './sms-message/events.js';
import { smsInboundEvents, type SmsInboundEvent } from './sms-message/inbound.js';
import { ledgerEvents, type LedgerEvent } from './ledger/events.js';
import { ledgerAccountEvents, type LedgerAccountEvent } from './ledger-account/events.js';
import { smsBatchEvents, type SmsBatchEvent } from './sms-batch/events.js';
import { smsKeywordEvents, type SmsKeywordEvent } from './sms-keyword/decider.js';
import { statisticsExportEvents, type StatisticsExportEvent } from './statistics-export/events.js';
import { organizationEvents, type OrganizationEvent } from './organization/events.js';
import { invitationEvents, type InvitationEvent } from './organization/invitation.js';
import { membershipClaimEvents, type MembershipClaimEvent } from './organization/membership-claim.js';
import { emailReservationEvents, type EmailReservationEvent } from './user/email-reservation.js';
import { userEvents, type UserEvent } from './user/events.js';
import { usernameReservationEvents, type UsernameReservationEvent } from './user/username-reservation.js';
import { platformAccountEvents, type PlatformAccountEvent } from './platform-account/events.js';
import { proxyEvents, type ProxyEvent } from './proxy/events.js';
import { proxyHealthEvents, type ProxyHealthEvent } from './proxy-health/events.js';
import { reportEvents, type ReportEvent } from './report/events.js';
import { reportRunEvents, type ReportRunEvent } from './report-run/events.js';
import { workflowEvents, type WorkflowEvent } from './workflow/events.js';
import { workflowExecutionEvents, type WorkflowExecutionEvent } from './workflow-execution/events.js';
import { xiaohongshuContentEvents, type XiaohongshuContentEvent } from './xiaohongshu-content/events.js';

/**
 * Every aggregate's events as one decoder, for consumers of `$all`
 * (projections, process managers, the worker, the CLI and the console).
 * A new aggregate adds its codec and its event union here.
 */
export type AnyDomainEvent =
  | UserEvent
  | EmailReservationEvent
  | UsernameReservationEvent
  | SessionEvent
  | SubscriptionEvent
  | SubscriptionUsageEvent
  | PaymentOrderEvent
  | PlatformAccountEvent
  | ProxyEvent
  | ProxyHealthEvent
  | NotificationEvent
  | WorkflowEvent
  | WorkflowExecutionEvent
  | NovelTrackingEvent
  | NovelAlertEvent
  | NovelAlertRuleEvent
  | KeywordWatchEvent
  | XiaohongshuContentEvent
  | ApiKeyEvent
  | ApiKeyUsageEvent
  | OutgoingMessageEvent
  | PublicationEvent
  | ReviewRuleSetEvent
  | ReviewEvent
  | ReportEvent
  | ReportRunEvent
  | ArticleEvent
  | MediaEvent
  | QueueAlertEvent
  | QueueInterventionEvent
  | SmsMessageEvent
  | SmsInboundEvent
  | LedgerEvent
  | LedgerAccountEvent
  | SmsBatchEvent
  | SmsKeywordEvent
  | StatisticsExportEvent
  | OrganizationEvent
  | MembershipClaimEvent
  | InvitationEvent;

export const domainEvents = combineCodecs<AnyDomainEvent>([
  userEvents,
  emailReservationEvents,
  usernameReservationEvents,
  sessionEvents,
  subscriptionEvents,
  subscriptionUsageEvents,
  paymentOrderEvents,
  platformAccountEvents,
  proxyEvents,
  proxyHealthEvents,
  notificationEvents,
  workflowEvents,
  workflowExecutionEvents,
  novelTrackingEvents,
  novelAlertEvents,
  novelAlertRuleEvents,
  keywordWatchEvents,
  xiaohongshuContentEvents,
  apiKeyEvents,
  apiKeyUsageEvents,
  outgoingMessageEvents,
  publicationEvents,
  reviewRuleSetEvents,
  reviewEvents,
  reportEvents,
  reportRunEvents,
  articleEvents,
  mediaEvents,
  queueAlertEvents,
  queueInterventionEvents,
  smsMessageEvents,
  smsInboundEvents,
  ledgerEvents,
  ledgerAccountEvents,
  smsBatchEvents,
  smsKeywordEvents,
  statisticsExportEvents,
  organizationEvents,
  membershipClaimEvents,
  invitationEvents,
]);
