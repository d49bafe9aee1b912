import type { Knex } from 'knex';
import type { EventFilter, RecordedEvent } from '../event-store/port.js';

export interface ConsumerContext {
  /** the transaction the checkpoint is written in: write through it, and both land or neither */
  tx: Knex.Transaction;
  /**
   * The database outside that transaction: each write commits at once. A
   * process manager that runs commands keeps its own (idempotent) tables
   * through it, so the batch's transaction takes a transaction id only with
   * its checkpoint and never holds one while commands run: an open one holds
   * back every subscriber of $all. Absent where there is no such choice
   * (rebuilds, specs): write through tx.
   */
  db?: Knex;
}

/** A projection or process manager: a named, checkpointed reader of $all. */
export interface Consumer {
  /** unique and stable: it names the checkpoint */
  name: string;
  filter?: EventFilter;
  /** most events per transaction (default 500) */
  batchSize?: number;
  /**
   * Per event type, the part of its data the handler reads, as a Postgres
   * expression over `data` (jsonb). A rebuild's reader on the Postgres event
   * store sends that instead of the whole data (ItemsCollected carries
   * kilobytes of items a projection may only count); live delivery and the
   * other stores send the whole data, so the handler takes both shapes.
   */
  rebuildData?: Readonly<Record<string, string>>;
  /**
   * handles events in global order; throwing rolls the batch back, and the
   * runner applies it again in parts to find the event that fails: that one
   * is retried, then parked (consumer_dead_letters) so the rest goes on.
   * Any split of a batch must give the same result as the whole batch.
   */
  handle(events: RecordedEvent[], context: ConsumerContext): Promise<void>;
}
