import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { AllSubscription, EventStore, RecordedEvent, SubscriptionBatch } from '../event-store/port.js';
import { formatPosition, type Position } from '../event-store/position.js';
import { AdvisoryLock } from './advisory-lock.js';
import { claimCheckpoint, storeCheckpoint } from './checkpoints.js';
import type { Consumer } from './consumer.js';

export interface ConsumerRunnerDeps {
  store: EventStore;
  knex: Knex;
  /** the database of the checkpoints; the advisory lock holds a connection of its own there */
  databaseUrl: string;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

export interface ConsumerRunnerOptions {
  /** how often a standby instance asks for the lock */
  lockRetryMs: number;
  /** back-off after a failure: from min, doubling, to max (with jitter) */
  minBackoffMs: number;
  maxBackoffMs: number;
  /** a checkpoint that moved without events is written at most this often */
  idleCheckpointMs: number;
}

const DEFAULTS: ConsumerRunnerOptions = { lockRetryMs: 1_000, minBackoffMs: 100, maxBackoffMs: 10_000, idleCheckpointMs: 1_000 };

export type ConsumerState = 'idle' | 'standby' | 'running' | 'backing-off' | 'stopped' | 'retired';

export interface ConsumerStatus {
  name: string;
  state: ConsumerState;
  /** the position committed with the last batch */
  position: Position | undefined;
  lastError: string | undefined;
}

/**
 * Runs one consumer: one instance at a time (advisory lock), resumed from
 * its checkpoint, each batch and its checkpoint in one transaction, and
 * resubscribed with back-off whenever anything fails.
 */
export class ConsumerRunner {
  private readonly options: ConsumerRunnerOptions;
  private readonly lock: AdvisoryLock;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private subscription: AllSubscription | undefined;
  private wakeSleep: (() => void) | undefined;
  private current: ConsumerStatus;

  constructor(
    private readonly deps: ConsumerRunnerDeps,
    private readonly consumer: Consumer,
    options: Partial<ConsumerRunnerOptions> = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
    this.lock = new AdvisoryLock(deps.databaseUrl, `consumer:${consumer.name}`);
    this.current = { name: consumer.name, state: 'idle', position: undefined, lastError: undefined };
  }

  status(): ConsumerStatus {
    return { ...this.current };
  }

  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.loop = this.run();
  }

  /** Finishes the batch in hand, then lets go of the lock. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeSleep?.();
    await this.subscription?.close();
    await this.loop;
    this.loop = undefined;
    this.current.state = 'stopped';
  }

  private async run(): Promise<void> {
    let backoff = this.options.minBackoffMs;
    while (!this.stopping) {
      try {
        if (!this.lock.held) {
          const acquired = await this.lock.tryAcquire(() => void this.subscription?.close());
          if (!acquired) {
            this.current.state = 'standby';
            await this.sleep(this.options.lockRetryMs);
            continue;
          }
        }
        this.current.state = 'running';
        const retired = await this.consume(() => {
          backoff = this.options.minBackoffMs;
        });
        if (retired) break;
        if (!this.lock.held && !this.stopping) throw new Error('advisory lock connection lost');
      } catch (error) {
        if (this.stopping) break;
        this.current.state = 'backing-off';
        this.current.lastError = error instanceof Error ? error.message : String(error);
        this.deps.logger?.warn({ consumer: this.consumer.name, err: error, retryInMs: backoff }, 'consumer failed; resubscribing after back-off');
        await this.lock.release();
        await this.sleep(backoff * (0.5 + Math.random()));
        backoff = Math.min(backoff * 2, this.options.maxBackoffMs);
      }
    }
    await this.lock.release();
  }

  /** Runs the subscription until it ends or fails; true when the consumer turned out to be retired. */
  private async consume(onProgress: () => void): Promise<boolean> {
    const { knex, store } = this.deps;
    const { position, epoch, retiredBy } = await claimCheckpoint(knex, this.consumer.name);
    if (retiredBy !== null) {
      // a rebuilt newer version replaced this one: running it would write into the new version's tables
      this.current.state = 'retired';
      this.deps.logger?.warn({ consumer: this.consumer.name, retiredBy }, 'consumer retired by a newer version; not running it');
      return true;
    }
    this.current.position = position;
    this.deps.logger?.info({ consumer: this.consumer.name, from: formatPosition(position) }, 'consumer subscribed');
    const subscription = store.subscribeToAll({ fromPosition: position, filter: this.consumer.filter, batchSize: this.consumer.batchSize });
    this.subscription = subscription;
    if (this.stopping) await subscription.close();
    let lastWrite = Date.now();
    const write = async (events: RecordedEvent[], checkpoint: Position) => {
      await knex.transaction(async (tx) => {
        // A batch and its checkpoint commit together; a crash may lose the
        // last few of them (asynchronous commit), which only means those
        // events are handled again, as any redelivery is. The events
        // themselves were committed durably when they were appended. Not
        // waiting for a WAL flush per batch leaves the disk to the appends.
        await tx.raw('SET LOCAL synchronous_commit = off');
        if (events.length > 0) await this.consumer.handle(events, { tx });
        await storeCheckpoint(tx, this.consumer.name, epoch, checkpoint);
      });
      lastWrite = Date.now();
      this.current.position = checkpoint;
      this.current.lastError = undefined;
      onProgress();
    };
    const batches = subscription[Symbol.asyncIterator]();
    // An empty batch (only others' events went by) moves the checkpoint at most
    // every idleCheckpointMs; one held back is written when no batch follows
    // within that time, so a quiet consumer still reaches the head (lag, and
    // read-your-writes waits, see it there).
    let deferred: Position | undefined;
    try {
      let next = batches.next();
      for (;;) {
        let result: IteratorResult<SubscriptionBatch>;
        if (deferred) {
          let timer: NodeJS.Timeout | undefined;
          const quiet = new Promise<'quiet'>((resolve) => (timer = setTimeout(() => resolve('quiet'), this.options.idleCheckpointMs)));
          const raced = await Promise.race([next, quiet]);
          clearTimeout(timer);
          if (raced === 'quiet') {
            await write([], deferred);
            deferred = undefined;
            if (this.stopping) break;
            continue;
          }
          result = raced;
        } else {
          result = await next;
        }
        if (result.done) break;
        next = batches.next();
        const batch = result.value;
        const idle = batch.events.length === 0;
        if (idle && Date.now() - lastWrite < this.options.idleCheckpointMs) {
          deferred = batch.checkpoint;
          continue;
        }
        deferred = undefined;
        await write(batch.events, batch.checkpoint);
        if (this.stopping) break;
      }
    } finally {
      this.subscription = undefined;
      await subscription.close();
    }
    return false;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeSleep = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
