import { Redis } from 'ioredis';
import type { Logger } from '../../logger.js';

export type { Redis };

/**
 * The shared Redis client. It reconnects forever, but a command issued while
 * Redis is down fails after one reconnection attempt instead of waiting in
 * the offline queue, so callers (and /readyz) learn about it at once.
 * BullMQ workers need their own connections (maxRetriesPerRequest: null).
 */
export function createRedis(url: string, logger: Logger): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, connectionName: 'collector' });
  // Log the first error of an outage, not one per reconnection attempt.
  let down = false;
  redis.on('error', (error: Error) => {
    if (down) return;
    down = true;
    logger.warn({ err: error }, 'redis connection lost; reconnecting');
  });
  redis.on('ready', () => {
    if (down) logger.info('redis connection restored');
    down = false;
  });
  return redis;
}

/** QUIT when connected (lets pending replies arrive); otherwise just stop reconnecting. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'ready') await redis.quit();
  else redis.disconnect();
}
