import type { Command } from 'commander';
import type { Knex } from 'knex';
import { runScavenge, type ScavengeRunReport } from '../adapters/event-store/scavenge-run.js';
import { runRetention, type RetentionReport } from '../application/retention.js';
import type { EventStore } from '../event-store/port.js';
import type { Logger } from '../logger.js';
import { wholeNumber } from './parse.js';

export interface RetentionServices {
  knex: Knex;
  store: EventStore;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

export interface RetentionCommandDeps {
  out: (line: string) => void;
  /** progress lines (stderr); default: out */
  err?: (line: string) => void;
  /** opens the services (config, container, migrations), runs, disposes them */
  withServices: <T>(run: (services: RetentionServices) => Promise<T>) => Promise<T>;
  /** the clock; default the real one */
  now?: () => Date;
}

/** events per DELETE: 1 to 2^53 − 1, in digits */
const positiveInteger = wholeNumber(1, Number.MAX_SAFE_INTEGER, `must be a whole number from 1 to ${Number.MAX_SAFE_INTEGER}`);

/**
 * `retention run [--dry-run] [--json]`: the daily retention job, now, with its per-table counts.
 * `retention scavenge [--dry-run] [--all] [--batch-size n] [--json]`: deletes the events stream reads hide (Postgres store).
 */
export function registerRetentionCommand(program: Command, deps: RetentionCommandDeps): Command {
  const retention = program.command('retention').description("data retention (each owner's plan's data_retention_days)");
  retention
    .command('run')
    .description("Delete collected rows older than their owner's plan keeps them (what the daily 04:00 job does)")
    .option('--dry-run', 'count what would be deleted, delete nothing')
    .option('--json', 'print the report as JSON')
    .action(async (options: { dryRun?: boolean; json?: boolean }) => {
      const report = await deps.withServices(({ knex, store, logger }) =>
        runRetention({ knex, store, logger, now: deps.now?.() ?? new Date(), dryRun: options.dryRun === true }),
      );
      if (options.json) deps.out(JSON.stringify(report));
      else for (const line of formatReport(report)) deps.out(line);
    });
  retention
    .command('scavenge')
    .description(
      "Delete the events whose stream's maxAge, maxCount or truncateBefore hides them (Postgres event store; the projector does it hourly). Each stream keeps its first and newest event.",
    )
    .option('--dry-run', 'count what would be deleted, delete nothing')
    .option('--all', 'visit every stream with a retention, not only those due')
    .option('--batch-size <n>', 'events per DELETE', positiveInteger, 1000)
    .option('--json', 'print the report as JSON (progress lines go to stderr)')
    .action(async (options: { dryRun?: boolean; all?: boolean; batchSize: number; json?: boolean }) => {
      // stdout holds only the JSON with --json: progress then needs a stderr
      const progress = deps.err ?? (options.json ? () => undefined : deps.out);
      const report = await deps.withServices(({ knex, store, logger }) =>
        runScavenge({
          knex,
          store,
          logger,
          dryRun: options.dryRun === true,
          all: options.all === true,
          batchSize: options.batchSize,
          onProgress: (p) => progress(`scavenge: ${p.streams} streams visited, ${p.events} events ${options.dryRun ? 'to delete' : 'deleted'}`),
        }),
      );
      if (options.json) deps.out(JSON.stringify(report));
      else for (const line of formatScavengeReport(report)) deps.out(line);
    });
  return retention;
}

export function formatScavengeReport(report: ScavengeRunReport): string[] {
  if (report.skipped) return [`scavenge skipped: ${report.skipped}`];
  const verb = report.dryRun ? 'would delete' : 'deleted';
  return [
    `scavenge ${report.dryRun ? '(dry run) ' : ''}as of ${report.asOf}`,
    `  streams visited   ${report.streams}`,
    `  streams scavenged ${report.scavengedStreams}`,
    `  snapshots dropped ${report.snapshots}`,
    `total: ${verb} ${report.events} events`,
  ];
}

export function formatReport(report: RetentionReport): string[] {
  const verb = report.dryRun ? 'would delete' : 'deleted';
  const width = Math.max(...Object.keys(report.deleted).map((t) => t.length));
  return [
    `retention ${report.dryRun ? '(dry run) ' : ''}as of ${report.now}`,
    ...Object.entries(report.deleted).map(([table, n]) => `  ${table.padEnd(width)}  ${verb} ${n}`),
    `total: ${verb} ${report.total} rows (owners: ${Object.entries(report.owners)
      .map(([s, n]) => `${s} ${n}`)
      .join(', ')})`,
  ];
}
