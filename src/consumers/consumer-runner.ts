import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { AllSubscription, EventStore, RecordedEvent } from '../event-store/port.js';
import { comparePositions, formatPosition, type Position } from '../event-store/position.js';
import type { ConsumerMetrics } from '../metrics.js';
import { claimCheckpoint, LostOwnershipError, storeCheckpoint } from './checkpoints.js';
import type { Consumer } from './consumer.js';
import { parkEvent } from './dead-letters.js';
import { LockKeeper, type LockLease } from './lock-keeper.js';
import { isTransientError } from './transient-errors.js';

export interface ConsumerRunnerDeps {
  store: EventStore;
  knex: Knex;
  /** the database of the checkpoints and of the advisory locks */
  databaseUrl: string;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** the process's advisory locks, all on one connection; default: the process's keeper for databaseUrl */
  locks?: LockKeeper;
  metrics?: ConsumerMetrics;
}

export interface ConsumerRunnerOptions {
  /** how often a standby instance asks for the lock */
  lockRetryMs: number;
  /** back-off after a failure: from min, doubling, to max (with jitter) */
  minBackoffMs: number;
  maxBackoffMs: number;
  /** a checkpoint that moved without events is written at most this often */
  idleCheckpointMs: number;
  /**
   * With no batch for this long, the runner reads its checkpoint's epoch: a
   * reset, replay or rebuild's swap that moved it is otherwise found only by
   * the next write, which a quiet store may not bring for hours
   */
  ownershipCheckMs: number;
  /** times an event may fail on its own (not counting transient errors) before it is parked */
  maxAttempts: number;
}

const DEFAULTS: ConsumerRunnerOptions = {
  lockRetryMs: 1_000,
  minBackoffMs: 100,
  maxBackoffMs: 10_000,
  idleCheckpointMs: 1_000,
  ownershipCheckMs: 5_000,
  maxAttempts: 5,
};

export type ConsumerState = 'idle' | 'standby' | 'running' | 'backing-off' | 'stopped' | 'retired';

export interface ConsumerStatus {
  name: string;
  state: ConsumerState;
  /** the position committed with the last batch */
  position: Position | undefined;
  lastError: string | undefined;
  /** events this runner parked since it started */
  parked: number;
}

/** An event failed on its own (not transiently): the runner backs off and tries it again, keeping its lock. */
export class EventFailedError extends Error {
  override readonly name = 'EventFailedError';
  constructor(
    consumer: string,
    readonly event: RecordedEvent,
    readonly attempts: number,
    override readonly cause: unknown,
  ) {
    super(
      `consumer ${consumer}: event ${event.id} (${event.type} in ${event.streamName}) failed, attempt ${attempts}: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
}

/** What the handler threw in the whole-batch transaction (anything else there is the runner's or the database's). */
class HandlerError extends Error {
  constructor(override readonly cause: unknown) {
    super('handler failed');
  }
}

interface Suspect {
  event: RecordedEvent;
  attempts: number;
  firstFailedAt: Date;
  lastFailedAt: Date;
}

interface Applied {
  /** the checkpoint committed, if it moved */
  position: Position | undefined;
  failure: EventFailedError | undefined;
  /** the batch's events after one it parked: applied next, in a transaction of their own */
  rest?: RecordedEvent[];
}

/**
 * Runs one consumer: one instance at a time (an advisory lock kept by the
 * process's LockKeeper), resumed from its checkpoint, each batch and its
 * checkpoint in one transaction, and resubscribed with back-off whenever
 * anything fails.
 *
 * A batch whose handler fails is split: one transaction applies it half by
 * half in savepoints, down to the single event, up to the first event that
 * fails on its own; what went before it commits with a checkpoint just
 * before it. That event is tried again (with back-off) up to maxAttempts
 * times; then it is parked in consumer_dead_letters in the transaction that
 * moves the checkpoint past it, and the rest of the batch goes on in a new
 * transaction (the parking one holds a transaction id, which must not wait
 * on the rest's process managers and hold every subscriber back). Transient errors
 * (connections, deadlocks, timeouts, a lost epoch) never count.
 */
export class ConsumerRunner {
  private readonly options: ConsumerRunnerOptions;
  private readonly keeper: LockKeeper;
  private readonly lockKey: string;
  private lease: LockLease | undefined;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private subscription: AllSubscription | undefined;
  private wakeSleep: (() => void) | undefined;
  private current: ConsumerStatus;
  /** the event that failed on its own last, and how often */
  private suspect: Suspect | undefined;
  /** the keeper asked for the lock back (another projector has room for this consumer) */
  private handingOver = false;

  constructor(
    private readonly deps: ConsumerRunnerDeps,
    private readonly consumer: Consumer,
    options: Partial<ConsumerRunnerOptions> = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
    this.keeper = deps.locks ?? LockKeeper.forDatabase(deps.databaseUrl);
    this.lockKey = consumerLockKey(consumer.name);
    this.current = { name: consumer.name, state: 'idle', position: undefined, lastError: undefined, parked: 0 };
  }

  status(): ConsumerStatus {
    return { ...this.current };
  }

  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.abort = new AbortController();
    this.loop = this.run(this.abort.signal);
  }

  /** Finishes the batch in hand, then lets go of the lock. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort?.abort();
    this.wakeSleep?.();
    await this.subscription?.close();
    await this.loop;
    this.loop = undefined;
    this.current.state = 'stopped';
  }

  private async run(signal: AbortSignal): Promise<void> {
    const detach = this.keeper.retain();
    let backoff = this.options.minBackoffMs;
    try {
      while (!this.stopping) {
        try {
          if (this.handingOver) {
            // after the batch in hand: another process takes the consumer over from the committed checkpoint
            this.handingOver = false;
            await this.releaseLock();
            this.deps.logger?.info({ consumer: this.consumer.name }, 'consumer handed over (the projectors share the consumers out)');
          }
          if (!this.lease?.held) {
            this.lease = undefined;
            const lease = await this.keeper.acquire(this.lockKey, {
              onLost: () => {
                this.deps.metrics?.lockHeld.set({ consumer: this.consumer.name }, 0);
                void this.subscription?.close();
              },
              retryMs: this.options.lockRetryMs,
              onWaiting: () => {
                this.current.state = 'standby';
              },
              onYield: () => {
                this.handingOver = true;
                void this.subscription?.close();
              },
              signal,
            });
            if (!lease) continue;
            this.lease = lease;
            this.deps.metrics?.lockHeld.set({ consumer: this.consumer.name }, 1);
          }
          this.current.state = 'running';
          const retired = await this.consume(() => {
            backoff = this.options.minBackoffMs;
          });
          if (retired) break;
          if (!this.lease?.held && !this.stopping) throw new Error('advisory lock connection lost');
        } catch (error) {
          if (this.stopping) break;
          this.current.state = 'backing-off';
          this.current.lastError = error instanceof Error ? error.message : String(error);
          if (error instanceof EventFailedError) {
            // the same event comes first again after the back-off; the lock stays, and with it the count
            this.deps.logger?.warn(
              {
                consumer: this.consumer.name,
                eventId: error.event.id,
                eventType: error.event.type,
                stream: error.event.streamName,
                attempts: error.attempts,
                maxAttempts: this.options.maxAttempts,
                err: error.cause,
                retryInMs: backoff,
              },
              'consumer: an event failed; retrying it after back-off',
            );
          } else {
            if (error instanceof LostOwnershipError) {
              // a rebuild's swap, a reset or a replay moved the checkpoint to a new epoch: expected, not a fault
              this.deps.logger?.info(
                { consumer: this.consumer.name, retryInMs: backoff },
                'consumer: its checkpoint was moved (a rebuild swapped in, a reset or a replay); resubscribing from there',
              );
            } else {
              this.deps.logger?.warn({ consumer: this.consumer.name, err: error, retryInMs: backoff }, 'consumer failed; resubscribing after back-off');
            }
            await this.releaseLock();
          }
          await this.sleep(backoff * (0.5 + Math.random()));
          backoff = Math.min(backoff * 2, this.options.maxBackoffMs);
        }
      }
    } finally {
      await this.releaseLock();
      await detach();
    }
  }

  private async releaseLock(): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    if (!lease) return;
    this.deps.metrics?.lockHeld.set({ consumer: this.consumer.name }, 0);
    await lease.release();
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
    // the lock may have gone while subscribing (its loss closes only a subscription already there)
    if (this.stopping || this.handingOver || !this.lease?.held) await subscription.close();
    let lastWrite = Date.now();
    const write = async (events: RecordedEvent[], checkpoint: Position) => {
      let applied = await this.apply(events, checkpoint, epoch);
      while (applied.rest && !applied.failure) {
        if (applied.position) this.current.position = applied.position;
        applied = await this.apply(applied.rest, checkpoint, epoch);
      }
      lastWrite = Date.now();
      if (applied.position) this.current.position = applied.position;
      if (applied.failure) throw applied.failure;
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
        let timer: NodeJS.Timeout | undefined;
        const wait = deferred ? this.options.idleCheckpointMs : this.options.ownershipCheckMs;
        const quiet = new Promise<'quiet'>((resolve) => (timer = setTimeout(() => resolve('quiet'), wait)));
        const result = await Promise.race([next, quiet]);
        clearTimeout(timer);
        if (result === 'quiet') {
          if (deferred) {
            await write([], deferred);
            deferred = undefined;
          } else {
            // quiet: a checkpoint moved under us (a reset on a quiet store) must not wait for an event to be noticed
            await this.assertOwnership(epoch);
          }
          if (this.stopping) break;
          continue;
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

  /** Throws LostOwnershipError when the checkpoint has another epoch than the one this run claimed. */
  private async assertOwnership(epoch: bigint): Promise<void> {
    const row = (await this.deps.knex('consumer_checkpoints').first('epoch').where({ consumer: this.consumer.name })) as { epoch: string } | undefined;
    if (!row || BigInt(row.epoch) !== epoch) throw new LostOwnershipError(this.consumer.name);
  }

  // ---------------------------------------------------------------------------
  // applying a batch

  /**
   * A batch and its checkpoint in one transaction. Should the handler fail,
   * the batch is applied again event-isolated (applyIsolating). Transient
   * errors are thrown as they are: nothing was committed, the runner resubscribes.
   */
  private async apply(events: RecordedEvent[], checkpoint: Position, epoch: bigint): Promise<Applied> {
    try {
      await this.transaction(async (tx) => {
        if (events.length > 0) {
          try {
            await this.consumer.handle(events, { tx, db: this.deps.knex });
          } catch (error) {
            throw new HandlerError(error);
          }
        }
        await storeCheckpoint(tx, this.consumer.name, epoch, checkpoint);
      });
      this.passed(checkpoint);
      return { position: checkpoint, failure: undefined };
    } catch (error) {
      if (!(error instanceof HandlerError)) throw error;
      if (isTransientError(error.cause)) {
        this.deps.metrics?.failures.inc({ consumer: this.consumer.name, kind: 'transient' });
        throw error.cause;
      }
    }
    return this.applyIsolating(events, checkpoint, epoch);
  }

  /**
   * One transaction: the events in order, each run of them in a savepoint,
   * halved on failure down to the single event. The events before the first
   * one that fails on its own commit, with the checkpoint at the last of
   * them; that event is tried again later, or parked with the checkpoint on
   * it (the rest of the batch is returned, for a transaction of its own).
   * Every event commits at most once.
   */
  private async applyIsolating(events: RecordedEvent[], checkpoint: Position, epoch: bigint): Promise<Applied> {
    const parked: { event: RecordedEvent; id: string; suspect: Suspect; error: unknown }[] = [];
    const applied = await this.transaction(async (tx): Promise<Applied> => {
      let index = 0;
      let position: Position | undefined;
      let failure: EventFailedError | undefined;
      while (index < events.length) {
        const run = await this.applyUntilFailure(tx, events.slice(index));
        index += run.applied;
        if (run.applied > 0) position = events[index - 1]!.position;
        if (!run.failed) break;
        const bad = events[index]!;
        const suspect = this.failedAlone(bad);
        this.deps.metrics?.failures.inc({ consumer: this.consumer.name, kind: 'event' });
        if (suspect.attempts < this.options.maxAttempts) {
          failure = new EventFailedError(this.consumer.name, bad, suspect.attempts, run.error);
          break;
        }
        const id = await parkEvent(tx, { consumer: this.consumer.name, error: run.error, ...suspect });
        parked.push({ event: bad, id, suspect, error: run.error });
        position = bad.position;
        index++;
        break;
      }
      const reached = index >= events.length ? checkpoint : position;
      if (reached) await storeCheckpoint(tx, this.consumer.name, epoch, reached);
      const rest = !failure && index < events.length ? events.slice(index) : undefined;
      return { position: reached, failure, ...(rest ? { rest } : {}) };
    });
    for (const { event, id, suspect, error } of parked) {
      this.current.parked++;
      this.deps.metrics?.parked.inc({ consumer: this.consumer.name });
      this.deps.logger?.error(
        {
          consumer: this.consumer.name,
          deadLetterId: id,
          eventId: event.id,
          eventType: event.type,
          stream: event.streamName,
          position: formatPosition(event.position),
          attempts: suspect.attempts,
          err: error,
        },
        `consumer ${this.consumer.name} parked event ${event.id} (${event.type}) after ${suspect.attempts} failed attempts and moved on; see \`npm run cli -- consumers dead-letters list\``,
      );
    }
    if (applied.position) this.passed(applied.position);
    return applied;
  }

  /** Applies events in a savepoint, halving on failure; stops at the first event that fails on its own. */
  private async applyUntilFailure(tx: Knex.Transaction, events: RecordedEvent[]): Promise<{ applied: number; failed: boolean; error?: unknown }> {
    // the event that failed last time comes first: try it alone straight away
    if (events.length > 1 && this.suspect?.event.id === events[0]!.id) {
      const first = await this.applyUntilFailure(tx, events.slice(0, 1));
      if (first.failed) return first;
      const rest = await this.applyUntilFailure(tx, events.slice(1));
      return { ...rest, applied: 1 + rest.applied };
    }
    const outcome = await this.inSavepoint(tx, events);
    if (outcome.ok) return { applied: events.length, failed: false };
    if (events.length === 1) return { applied: 0, failed: true, error: outcome.error };
    const half = Math.ceil(events.length / 2);
    const left = await this.applyUntilFailure(tx, events.slice(0, half));
    if (left.failed) return left;
    const right = await this.applyUntilFailure(tx, events.slice(half));
    return { ...right, applied: half + right.applied };
  }

  private async inSavepoint(tx: Knex.Transaction, events: RecordedEvent[]): Promise<{ ok: true } | { ok: false; error: unknown }> {
    try {
      await tx.transaction(async (savepoint) => {
        await this.consumer.handle(events, { tx: savepoint, db: this.deps.knex });
      });
      return { ok: true };
    } catch (error) {
      if (isTransientError(error)) {
        this.deps.metrics?.failures.inc({ consumer: this.consumer.name, kind: 'transient' });
        throw error;
      }
      return { ok: false, error };
    }
  }

  /** Counts a failure of this event on its own. */
  private failedAlone(event: RecordedEvent): Suspect {
    const now = new Date();
    if (this.suspect?.event.id !== event.id) this.suspect = { event, attempts: 0, firstFailedAt: now, lastFailedAt: now };
    this.suspect.attempts++;
    this.suspect.lastFailedAt = now;
    return { ...this.suspect };
  }

  /** The checkpoint passed the suspect: it went through (or was parked). */
  private passed(position: Position): void {
    if (this.suspect && comparePositions(position, this.suspect.event.position) >= 0) this.suspect = undefined;
  }

  private transaction<T>(work: (tx: Knex.Transaction) => Promise<T>): Promise<T> {
    return this.deps.knex.transaction(async (tx) => {
      // A batch and its checkpoint commit together; a crash may lose the
      // last few of them (asynchronous commit), which only means those
      // events are handled again, as any redelivery is. The events
      // themselves were committed durably when they were appended. Not
      // waiting for a WAL flush per batch leaves the disk to the appends.
      await tx.raw('SET LOCAL synchronous_commit = off');
      return work(tx);
    });
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

/** The advisory lock key of a consumer (the same key the older per-lock connections used). */
export const consumerLockKey = (name: string): string => `consumer:${name}`;
