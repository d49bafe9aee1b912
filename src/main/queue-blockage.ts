import { RedisBlockageBoard } from '../adapters/queue/queue-alert-board.js';
import { BullMqQueueStats } from '../adapters/queue/queue-stats.js';
import { MONITORED_QUEUE_NAMES } from '../adapters/queue/monitored-queues.js';
import { QueueFactory } from '../adapters/queue/queues.js';
import type { Redis } from '../adapters/redis/redis.js';
import { QueueBlockageWatch } from '../application/queue-blockage-watch.js';
import type { LockKeeper, LockLease } from '../consumers/lock-keeper.js';
import type { EventStore } from '../event-store/port.js';
import type { Logger } from '../logger.js';

/** The advisory lock that makes the blockage detector a singleton across projector processes. */
export const QUEUE_BLOCKAGE_LOCK = 'queue-blockage-detector';

export interface QueueBlockageDetectorOptions {
  config: { REDIS_URL: string; QUEUE_PREFIX: string; QUEUE_BLOCKAGE_SECONDS: number };
  store: EventStore;
  redis: Redis;
  /** the process's lock keeper (the projector's): whoever holds QUEUE_BLOCKAGE_LOCK runs the detector */
  locks: LockKeeper;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** the queues watched; default every queue of the platform */
  names?: readonly string[];
  intervalMs?: number;
}

/**
 * Runs the queue blockage detector (src/application/queue-blockage-watch.ts)
 * in exactly one process: every projector waits for the advisory lock
 * QUEUE_BLOCKAGE_LOCK, and the holder runs the detector with its own BullMQ
 * readers. When the lock is lost (the connection died) or handed over to a
 * less busy projector, the detector stops and the process waits again; the
 * next holder takes over the open episodes from the event store.
 */
export function startQueueBlockageDetector(options: QueueBlockageDetectorOptions): { stop(): Promise<void> } {
  const { config, logger } = options;
  const factory = new QueueFactory({ redisUrl: config.REDIS_URL, prefix: config.QUEUE_PREFIX, connectionName: 'queue-blockage' });
  const abort = new AbortController();
  let current: { lease: LockLease; watch: QueueBlockageWatch; reader: BullMqQueueStats } | undefined;
  let cycle: Promise<void> = Promise.resolve();

  const teardown = async (release: boolean) => {
    const running = current;
    current = undefined;
    if (!running) return;
    await running.watch.stop();
    await running.reader.close();
    if (release) await running.lease.release();
  };

  // settles once stopped, however late it is awaited (an abort before a listener is added fires no event for it)
  const aborted = new Promise<void>((resolve) => abort.signal.addEventListener('abort', () => resolve(), { once: true }));
  const run = async (): Promise<void> => {
    while (!abort.signal.aborted) {
      let lost!: () => void;
      const ended = new Promise<void>((resolve) => {
        lost = resolve;
      });
      const lease = await options.locks.acquire(QUEUE_BLOCKAGE_LOCK, { onLost: () => lost(), onYield: () => lost(), signal: abort.signal });
      if (!lease) return;
      const reader = new BullMqQueueStats(factory, options.names ?? MONITORED_QUEUE_NAMES);
      const watch = new QueueBlockageWatch({
        store: options.store,
        reader,
        board: new RedisBlockageBoard(options.redis, config.QUEUE_PREFIX),
        thresholdSeconds: config.QUEUE_BLOCKAGE_SECONDS,
        logger,
        ...(options.intervalMs ? { intervalMs: options.intervalMs } : {}),
      });
      current = { lease, watch, reader };
      try {
        await watch.start();
        logger.info({ thresholdSeconds: config.QUEUE_BLOCKAGE_SECONDS }, 'queue blockage detector running in this process');
      } catch (error) {
        logger.error({ err: error }, 'queue blockage detector could not start; trying again');
        lost();
      }
      await Promise.race([ended, aborted]);
      await teardown(true);
      if (!abort.signal.aborted) await new Promise((resolve) => setTimeout(resolve, 1000).unref());
    }
  };
  cycle = run().catch((error: unknown) => logger.error({ err: error }, 'queue blockage detector stopped'));

  return {
    async stop() {
      abort.abort();
      await cycle;
      await teardown(true);
    },
  };
}
