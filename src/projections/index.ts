import type { Consumer } from '../consumers/consumer.js';
import { apiKeysProjection } from './api-keys.js';
import { articlesProjection } from './articles.js';
import { notificationsProjection } from './notifications.js';
import { outgoingMessagesProjection } from './outgoing-messages.js';
import { paymentOrdersProjection } from './payment-orders.js';
import { platformAccountsProjection } from './platform-accounts.js';
import { publicationsProjection } from './publications.js';
import { proxiesProjection } from './proxies.js';
import { createProxyUsageProjection } from './proxy-usage.js';
import { qidianAlertsProjection } from './qidian-alerts.js';
import { qidianDataProjection } from './qidian-data.js';
import { reportsProjection } from './reports.js';
import { smsProjection } from './sms.js';
import { ledgerProjection } from './ledger.js';
import { createFinanceProjection } from './finance.js';
import { smsBatchesProjection } from './sms-batches.js';
import { statisticsExportsProjection } from './statistics-exports.js';
import { createUsageStatisticsProjection } from './usage-statistics.js';
import { organizationsProjection } from './organizations.js';
import { reviewRulesProjection, reviewsProjection } from './reviews.js';
import { subscriptionsProjection } from './subscriptions.js';
import { usersProjection } from './users.js';
import { workflowsProjection } from './workflows.js';
import { xiaohongshuContentProjection } from './xiaohongshu-content.js';

/**
 * The read models the projector keeps up to date, one Consumer each (its own
 * checkpoint); the projector starts every one. Built from the configuration
 * where a projection depends on it (the usage day's time zone).
 */
export function createProjections(options: { timeZone: string }): Consumer[] {
  return [
    usersProjection,
    subscriptionsProjection,
    platformAccountsProjection,
    proxiesProjection,
    createProxyUsageProjection({ timeZone: options.timeZone }),
    xiaohongshuContentProjection,
    workflowsProjection,
    qidianDataProjection,
    qidianAlertsProjection,
    notificationsProjection,
    paymentOrdersProjection,
    apiKeysProjection,
    outgoingMessagesProjection,
    publicationsProjection,
    reportsProjection,
    reviewsProjection,
    reviewRulesProjection,
    articlesProjection,
    smsProjection,
    ledgerProjection,
    createFinanceProjection({ timeZone: options.timeZone }),
    smsBatchesProjection,
    createUsageStatisticsProjection({ timeZone: options.timeZone }),
    statisticsExportsProjection,
    organizationsProjection,
  ];
}
