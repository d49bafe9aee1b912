import type { Knex } from 'knex';
import type { EventStore } from '../../event-store/port.js';
import type { Logger } from '../../logger.js';
import { scavengeEvents, type ScavengeOptions, type ScavengeReport } from './postgres/scavenge.js';

export interface ScavengeDeps extends ScavengeOptions {
  knex: Knex;
  store: EventStore;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

export interface ScavengeRunReport extends ScavengeReport {
  /** why nothing was looked at (the store scavenges itself) */
  skipped?: string;
}

/**
 * The event store's half of retention: deletes the events whose stream's
 * maxAge (set on finished executions by pm-execution-retention from the same
 * data_retention_days) has passed, so a replay or rebuild cannot bring the
 * rows this job deleted back. Postgres only: EventStoreDB hides them itself
 * and its own scavenge deletes them.
 */
export async function runScavenge(deps: ScavengeDeps): Promise<ScavengeRunReport> {
  const dryRun = deps.dryRun ?? false;
  if (deps.store.kind !== 'postgres') {
    const skipped = `the ${deps.store.kind} event store scavenges on its own (start its scavenge there)`;
    return { dryRun, asOf: new Date().toISOString(), streams: 0, events: 0, scavengedStreams: 0, snapshots: 0, skipped };
  }
  const { knex, logger } = deps;
  const report = await scavengeEvents(knex, {
    dryRun,
    all: deps.all,
    batchSize: deps.batchSize,
    streamsPerPage: deps.streamsPerPage,
    onProgress: deps.onProgress,
  });
  // the database's clock, read as text (its microseconds) for the queries: reported in ISO-8601 like every other time
  const asOf = await isoTime(knex, report.asOf);
  if (report.events > 0 || dryRun)
    logger?.info({ ...report, asOf }, `scavenge ${dryRun ? '(dry run) ' : ''}finished: ${report.events} events of ${report.scavengedStreams} streams`);
  return { ...report, asOf };
}

async function isoTime(knex: Knex, text: string): Promise<string> {
  const { rows } = (await knex.raw('SELECT ?::timestamptz AS t', [text])) as { rows: { t: Date }[] };
  return rows[0]!.t.toISOString();
}
