import type { BlockageBoard, BlockageBoardState } from '../../application/ports/queue-monitoring.js';
import type { Redis } from '../redis/redis.js';

/**
 * The blockage detector's view of the open episodes, in one Redis key
 * (`{QUEUE_PREFIX}:queue-monitor:blockages`, JSON) rewritten every tick with
 * a short expiry: when no detector runs, the key lapses and the monitor
 * says so instead of showing stale alerts.
 */
export class RedisBlockageBoard implements BlockageBoard {
  readonly key: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    /** how long a published state stands without a new one */
    private readonly ttlSeconds = 10,
  ) {
    this.key = `${prefix}:queue-monitor:blockages`;
  }

  async publish(state: BlockageBoardState): Promise<void> {
    await this.redis.set(this.key, JSON.stringify(state), 'EX', this.ttlSeconds);
  }

  async read(): Promise<BlockageBoardState | null> {
    const raw = await this.redis.get(this.key);
    if (!raw) return null;
    try {
      const parsed = JSON.parse(raw) as BlockageBoardState;
      return Array.isArray(parsed.blocked) ? parsed : null;
    } catch {
      return null;
    }
  }
}
