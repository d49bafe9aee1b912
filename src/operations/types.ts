import type { Knex } from 'knex';
import type { EventStore } from '../event-store/port.js';
import type { Logger } from '../logger.js';

/**
 * The operator tooling's shared vocabulary: the CLI
 * (src/cli), the console's admin API (src/adapters/http/routes/admin*.ts)
 * and the maintenance worker use these services; nothing here is HTTP or
 * terminal specific.
 */
export interface OpsDeps {
  store: EventStore;
  knex: Knex;
  /** the event store's and read models' database (advisory locks of consumers) */
  databaseUrl: string;
  /** QUOTA_TIME_ZONE: projections that depend on it are built with it */
  timeZone: string;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

/** One event as operators see it: everything, metadata included; positions and revisions as text. */
export interface EventView {
  id: string;
  stream: string;
  /** the stream revision, decimal */
  revision: string;
  /** `<commit>-<prepare>` (formatPosition) */
  position: string;
  type: string;
  /** ISO-8601 */
  created: string;
  data: unknown;
  metadata: Record<string, unknown>;
}

export interface ProjectionStatus {
  /** the consumer name, e.g. `subscriptions-v1` */
  name: string;
  /** the base name and version parsed from it (`subscriptions`, 1) */
  base: string;
  version: number;
  tables: readonly string[];
  /** formatPosition of the live checkpoint; null: never ran */
  checkpoint: string | null;
  head: string;
  /** events in $all after the checkpoint (all types: an upper bound of what it still has to look at) */
  lagEvents: number;
  /** age of the oldest event not yet passed; null when caught up */
  lagSeconds: number | null;
  state: 'live' | 'rebuilding' | 'never-ran';
  rebuild: RebuildProgress | null;
}

export interface RebuildProgress {
  name: string;
  /** replaying: loading the shadow tables; swapping: indexing them, catching up, swapping them in */
  phase: 'replaying' | 'swapping' | 'done';
  /**
   * The projection's events handled so far, and in all: those in $all when
   * the rebuild began (counted once), or the handled count when more came.
   */
  processedEvents: number;
  totalEvents: number;
  /** false while the events are still being counted (beside the load): totalEvents is then the handled count */
  counted: boolean;
  /** handled events per second since this run of the rebuild started */
  eventsPerSecond: number;
  etaSeconds: number | null;
  startedAt: string;
  /** on `done`: seconds of this run loading, adding indexes and keys, and catching up and swapping */
  seconds?: { load: number; index: number; swap: number };
}
