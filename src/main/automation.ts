import type { Container } from 'inversify';
import { RedisProxyLeaseStore } from '../adapters/proxies/redis-lease-store.js';
import { QUEUE_NAMES, QueueFactory, scrapeRetryPolicy, type ScrapeJobData, type WorkflowTickJobData } from '../adapters/queue/queues.js';
import { ScrapeDispatcher } from '../adapters/queue/scrape-dispatcher.js';
import { BullMqMailOutbox, mailRetryPolicy } from '../adapters/queue/mail-queue.js';
import type { NotificationMailJob } from '../application/notification-mail.js';
import { WorkflowSchedulers } from '../adapters/queue/workflow-schedulers.js';
import type { Config } from '../config.js';
import type { ProcessManagerWiring } from '../process-managers/index.js';
import { TOKENS } from '../tokens.js';

/**
 * What the process managers need from the outside world, built once from the
 * container and config: the scrape queue (QUEUE_PREFIX, retry policy), the
 * workflow-tick schedulers (QUOTA_TIME_ZONE), the lease store the workers use
 * (`{QUEUE_PREFIX}:` keys), the mail outbox (the `mail` queue). Shared by the projector and the tests
 * that run the real process managers in-process.
 */
export function buildProcessManagerWiring(container: Container, config: Config): { wiring: ProcessManagerWiring; close(): Promise<void> } {
  const factory = new QueueFactory({ redisUrl: config.REDIS_URL, prefix: config.QUEUE_PREFIX, connectionName: 'projector' });
  const scrapeQueue = factory.queue<ScrapeJobData>(QUEUE_NAMES.scrape);
  const tickQueue = factory.queue<WorkflowTickJobData>(QUEUE_NAMES.workflowTick);
  const mailQueue = factory.queue<NotificationMailJob>(QUEUE_NAMES.mail);
  const wiring: ProcessManagerWiring = {
    store: container.get(TOKENS.EventStore),
    logger: container.get(TOKENS.Logger),
    paymentGraceMs: config.PAYMENT_EXPIRY_GRACE_MINUTES * 60_000,
    timeZone: config.QUOTA_TIME_ZONE,
    dispatcher: new ScrapeDispatcher(scrapeQueue, { retry: scrapeRetryPolicy(config) }),
    schedulers: new WorkflowSchedulers(tickQueue, { timeZone: config.QUOTA_TIME_ZONE }),
    leases: new RedisProxyLeaseStore(container.get(TOKENS.Redis), { prefix: `${config.QUEUE_PREFIX}:` }),
    outbox: new BullMqMailOutbox(mailQueue, mailRetryPolicy(config)),
  };
  return {
    wiring,
    async close() {
      await Promise.all([scrapeQueue.close(), tickQueue.close(), mailQueue.close()]);
    },
  };
}
