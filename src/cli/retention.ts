import type { Command } from 'commander';
import type { Knex } from 'knex';
import { runRetention, type RetentionReport } from '../application/retention.js';
import type { EventStore } from '../event-store/port.js';
import type { Logger } from '../logger.js';

export interface RetentionServices {
  knex: Knex;
  store: EventStore;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

export interface RetentionCommandDeps {
  out: (line: string) => void;
  /** opens the services (config, container, migrations), runs, disposes them */
  withServices: <T>(run: (services: RetentionServices) => Promise<T>) => Promise<T>;
  /** the clock; default the real one */
  now?: () => Date;
}

/** `retention run [--dry-run] [--json]`: the daily retention job, now, with its per-table counts. */
export function registerRetentionCommand(program: Command, deps: RetentionCommandDeps): Command {
  const retention = program.command('retention').description('data retention (each owner\'s plan\'s data_retention_days)');
  retention
    .command('run')
    .description('Delete collected rows older than their owner\'s plan keeps them (what the daily 04:00 job does)')
    .option('--dry-run', 'count what would be deleted, delete nothing')
    .option('--json', 'print the report as JSON')
    .action(async (options: { dryRun?: boolean; json?: boolean }) => {
      const report = await deps.withServices(({ knex, store, logger }) =>
        runRetention({ knex, store, logger, now: deps.now?.() ?? new Date(), dryRun: options.dryRun === true }),
      );
      if (options.json) deps.out(JSON.stringify(report));
      else for (const line of formatReport(report)) deps.out(line);
    });
  return retention;
}

export function formatReport(report: RetentionReport): string[] {
  const verb = report.dryRun ? 'would delete' : 'deleted';
  const width = Math.max(...Object.keys(report.deleted).map((t) => t.length));
  return [
    `retention ${report.dryRun ? '(dry run) ' : ''}as of ${report.now}`,
    ...Object.entries(report.deleted).map(([table, n]) => `  ${table.padEnd(width)}  ${verb} ${n}`),
    `total: ${verb} ${report.total} rows (owners: ${Object.entries(report.owners).map(([s, n]) => `${s} ${n}`).join(', ')})`,
  ];
}
