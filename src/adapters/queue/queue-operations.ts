import type { Queue } from 'bullmq';
import { QueueInterventions } from '../../application/queue-interventions.js';
import { QueueMonitor } from '../../application/queue-monitor.js';
import type { EventStore } from '../../event-store/port.js';
import type { Logger } from '../../logger.js';
import type { Redis } from '../redis/redis.js';
import { RedisBlockageBoard } from './queue-alert-board.js';
import { BullMqQueueControl } from './queue-control.js';
import { BullMqQueueStats } from './queue-stats.js';
import type { QueueFactory } from './queues.js';

export interface QueueOperations {
  monitor: QueueMonitor;
  interventions: QueueInterventions;
  /** ends every live subscription and closes the readers (the shared queue handles stay the caller's) */
  close(): Promise<void>;
}

/**
 * The api's queue monitor and interventions over BullMQ, sharing the
 * producer handles the admin API already has (`queue(name)`); the monitor's
 * event readers open on its first sample.
 */
export function createQueueOperations(options: {
  factory: QueueFactory;
  names: readonly string[];
  queue: (name: string) => Queue;
  redis: Redis;
  store: EventStore;
  logger: Pick<Logger, 'error' | 'warn'>;
}): QueueOperations {
  const reader = new BullMqQueueStats(options.factory, options.names, options.queue);
  const control = new BullMqQueueControl(options.factory, options.names, options.queue);
  const monitor = new QueueMonitor({
    reader,
    board: new RedisBlockageBoard(options.redis, options.factory.prefix),
    onError: (error) => options.logger.warn({ err: error }, 'queue monitor sample failed'),
  });
  return {
    monitor,
    interventions: new QueueInterventions({ store: options.store, control, logger: options.logger }),
    async close() {
      await monitor.close();
      await Promise.all([reader.close(), control.close()]);
    },
  };
}
