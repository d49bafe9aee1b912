import type { Container } from 'inversify';
import { RedisProxyLeaseStore } from '../adapters/proxies/redis-lease-store.js';
import { QUEUE_NAMES, QueueFactory, scrapeRetryPolicy, type ScrapeJobData, type WorkflowTickJobData } from '../adapters/queue/queues.js';
import { ScrapeDispatcher } from '../adapters/queue/scrape-dispatcher.js';
import { BullMqMailOutbox, mailRetryPolicy } from '../adapters/queue/mail-queue.js';
import { BullMqMessageSendOutbox, messageSendRetryPolicy } from '../adapters/queue/message-send-queue.js';
import { BullMqPublicationJobs, type PublishJobData } from '../adapters/queue/publish-queue.js';
import { BullMqSmsSendOutbox, smsSendRetryPolicy, type SmsSendJobData } from '../adapters/queue/sms-send-queue.js';
import { smsUnavailableReason } from '../adapters/sms/from-config.js';
import { smsSendWindows } from '../adapters/sms/send-windows.js';
import { redisTurns } from '../adapters/redis/turns.js';
import type { MessageSendJobData } from '../adapters/queue/queues.js';
import type { NotificationMailJob } from '../application/notification-mail.js';
import { WorkflowSchedulers, type WorkflowSchedulersOptions } from '../adapters/queue/workflow-schedulers.js';
import type { Config } from '../config.js';
import { paymentProvidersFromConfig } from '../adapters/payments/from-config.js';
import type { EventStore } from '../event-store/port.js';
import type { Logger } from '../logger.js';
import { expiryActions, type ProcessManagerWiring } from '../process-managers/index.js';
import { createSecretBox } from '../adapters/crypto/secret-box.js';
import { oauthPlatform } from '../platforms/open-platform/clients.js';
import { TOKENS } from '../tokens.js';

/**
 * What the process managers need from the outside world, built once from the
 * container and config: the scrape queue (QUEUE_PREFIX, retry policy), the
 * workflow-tick schedulers (QUOTA_TIME_ZONE), the lease store the workers use
 * (`{QUEUE_PREFIX}:` keys), the mail outbox (the `mail` queue). Shared by the projector and the tests
 * that run the real process managers in-process. `intervals` shortens the
 * interval schedules (the sandbox of `npm run demo`; default: daily, hourly, 5 min).
 */
export function buildProcessManagerWiring(
  container: Container,
  config: Config,
  options: { intervals?: WorkflowSchedulersOptions['intervals'] } = {},
): { wiring: ProcessManagerWiring; close(): Promise<void> } {
  const factory = new QueueFactory({ redisUrl: config.REDIS_URL, prefix: config.QUEUE_PREFIX, connectionName: 'projector' });
  const scrapeQueue = factory.queue<ScrapeJobData>(QUEUE_NAMES.scrape);
  const tickQueue = factory.queue<WorkflowTickJobData>(QUEUE_NAMES.workflowTick);
  const mailQueue = factory.queue<NotificationMailJob>(QUEUE_NAMES.mail);
  const messageQueue = factory.queue<MessageSendJobData>(QUEUE_NAMES.messageSend);
  const publishQueue = factory.queue<PublishJobData>(QUEUE_NAMES.publish);
  // SMS requests are queued only where the provider is configured (elsewhere the API refuses them)
  const smsQueue = smsUnavailableReason(config) === null ? factory.queue<SmsSendJobData>(QUEUE_NAMES.smsSend) : undefined;
  const wiring: ProcessManagerWiring = {
    store: container.get(TOKENS.EventStore),
    logger: container.get(TOKENS.Logger),
    paymentGraceMs: config.PAYMENT_EXPIRY_GRACE_MINUTES * 60_000,
    renewalLeadMs: config.SUBSCRIPTION_RENEWAL_LEAD_DAYS * 24 * 60 * 60_000,
    oauthRefreshLeadMs: config.OAUTH_REFRESH_LEAD_SECONDS * 1000,
    timeZone: config.QUOTA_TIME_ZONE,
    dispatcher: new ScrapeDispatcher(scrapeQueue, { retry: scrapeRetryPolicy(config) }),
    schedulers: new WorkflowSchedulers(tickQueue, { timeZone: config.QUOTA_TIME_ZONE, ...(options.intervals ? { intervals: options.intervals } : {}) }),
    leases: new RedisProxyLeaseStore(container.get(TOKENS.Redis), { prefix: `${config.QUEUE_PREFIX}:` }),
    outbox: new BullMqMailOutbox(mailQueue, mailRetryPolicy(config)),
    messages: new BullMqMessageSendOutbox(messageQueue, messageSendRetryPolicy(config)),
    publications: { jobs: new BullMqPublicationJobs(publishQueue, config.PUBLISH_RETRY_DELAY_MS), metricsScheduleMs: config.PUBLICATION_METRICS_SCHEDULE },
    ...(smsQueue ? { sms: new BullMqSmsSendOutbox(smsQueue, smsSendRetryPolicy(config)) } : {}),
    ledger: container.get(TOKENS.LedgerCharges),
    // SMS: charged through the ledger unless SMS_CHARGE_LEDGER=false; batches paced by the organization's limit
    smsChargeLedger: config.SMS_CHARGE_LEDGER,
    smsPacing: smsSendWindows(container.get(TOKENS.Redis), config),
    smsChargeTurns: redisTurns(container.get(TOKENS.Redis), config.QUEUE_PREFIX),
    smsDefaultRegion: config.SMS_DEFAULT_REGION,
  };
  return {
    wiring,
    async close() {
      await Promise.all([scrapeQueue.close(), tickQueue.close(), mailQueue.close(), messageQueue.close(), publishQueue.close(), smsQueue?.close()]);
    },
  };
}

/**
 * What the deadline sweeper runs (src/process-managers/deadlines): the
 * renewal orders placed with the providers configured here, due
 * SUBSCRIPTION_RENEWAL_LEAD_DAYS before a paid period ends.
 */
export function deadlineActionsFromConfig(
  store: EventStore,
  config: Config,
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>,
): ReturnType<typeof expiryActions> {
  return expiryActions(store, {
    renewals: {
      providers: paymentProvidersFromConfig(config),
      leadMs: config.SUBSCRIPTION_RENEWAL_LEAD_DAYS * 24 * 60 * 60_000,
      ...(logger ? { logger } : {}),
    },
    // OAuth-bound accounts' tokens, refreshed at the platforms configured here
    oauthRefresh: {
      client: (platform) => oauthPlatform(config, platform),
      secretBox: createSecretBox(config),
      leadMs: config.OAUTH_REFRESH_LEAD_SECONDS * 1000,
      ...(logger ? { logger } : {}),
    },
  });
}
