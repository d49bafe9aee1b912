import { horizonStatus, horizonWarning } from '../adapters/event-store/postgres/horizon.js';
import { SingleBar } from 'cli-progress';
import { type Command, Option } from 'commander';
import {
  type ProjectionStatusView,
  projectionDefinitions,
  projectionStatuses,
  RebuildAbortedError,
  RebuildBatchError,
  RebuildInProgressError,
  rebuildProjection,
  resetProjection,
  UnknownProjectionError,
} from '../operations/projections.js';
import type { OpsDeps, RebuildProgress } from '../operations/types.js';
import { LOW_PRIORITY, lowerPriority } from './priority.js';
import { CliError, usageError } from './program.js';

export interface ProjectionsCommandDeps {
  out: (line: string) => void;
  err: (line: string) => void;
  /** opens the services (config, container, migrations), runs, disposes them */
  withOps: <T>(run: (ops: OpsDeps) => Promise<T>) => Promise<T>;
  /** stderr is a terminal: a progress bar; otherwise plain progress lines */
  isTty: boolean;
}

/**
 * `projections list | status [name] | rebuild <name>|--all | reset <name>|--all`,
 * each with `--json` (stdout then holds only JSON; progress goes to stderr).
 */
export function registerProjectionsCommand(program: Command, deps: ProjectionsCommandDeps): Command {
  const projections = program.command('projections').description('read-model projections: status, lag, zero-downtime rebuild, reset');

  projections
    .command('list')
    .description('Every projection with its version, state and tables')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const statuses = await deps.withOps((ops) => projectionStatuses(ops));
      if (options.json) {
        deps.out(JSON.stringify(statuses.map((s) => ({ name: s.name, base: s.base, version: s.version, state: s.state, tables: s.tables }))));
        return;
      }
      const width = Math.max(...statuses.map((s) => s.name.length));
      // `rebuilding (not running)` is wider than the other states: the tables stay in one column
      const stateWidth = Math.max(10, ...statuses.map((s) => stateText(s).length));
      for (const s of statuses) deps.out(`${s.name.padEnd(width)}  v${s.version}  ${stateText(s).padEnd(stateWidth)}  ${s.tables.join(', ')}`);
    });

  projections
    .command('status')
    .description('Checkpoint, head position, lag (events and seconds) and state; the progress of a rebuild in flight')
    .argument('[name]', 'one projection (default: all)')
    .option('--json', 'print JSON')
    .action(async (name: string | undefined, options: { json?: boolean }) => {
      const [statuses, warning] = await deps.withOps(
        async (ops) =>
          [
            await projectionStatuses(ops, name ? [name] : undefined),
            ops.store.kind === 'postgres' ? horizonWarning(await horizonStatus(ops.knex)) : undefined,
          ] as const,
      );
      if (options.json) deps.out(JSON.stringify(name ? statuses[0] : statuses));
      else for (const line of formatStatuses(statuses)) deps.out(line);
      // a transaction holding back event delivery: every projection lags until it ends
      if (warning) deps.err(`warning: ${warning}`);
    });

  projections
    .command('rebuild')
    .description(
      "Replay the projection's events into shadow tables while the live projection keeps serving, then swap them in atomically. " +
        'The shadow tables load unlogged with only their keys; the other indexes and foreign keys are added before the swap. ' +
        'Interrupted (Ctrl-C, a crash), it resumes from its own checkpoint when run again; one rebuild of a projection at a time.',
    )
    .argument('[name]', 'the projection (see projections list)')
    .option('--all', 'every projection, one after the other')
    .option('--json', 'print the final progress of each as JSON (progress lines go to stderr)')
    .addOption(
      new Option('--priority <level>', 'CPU priority of this process: low (nice 10: live traffic on the same machine goes first) or normal')
        .choices(['low', 'normal'])
        .default('low'),
    )
    .action(async (name: string | undefined, options: { all?: boolean; json?: boolean; priority: 'low' | 'normal' }, command: Command) => {
      if (!name && !options.all) usageError(command, 'name a projection or pass --all');
      if (name && options.all) usageError(command, 'either a name or --all, not both');
      // a rebuild is background work: on a shared machine the API's and projector's delivery latency comes first
      if (options.priority === 'low') lowerRebuildPriority(deps);
      const controller = new AbortController();
      const onSignal = () => controller.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const results = await deps.withOps(async (ops) => {
          const names = options.all ? projectionDefinitions(ops.timeZone).map((d) => d.name) : [name!];
          const done: RebuildProgress[] = [];
          for (const projection of names) {
            const reporter = progressReporter(deps, projection);
            // the first report comes before any batch: what earlier runs of a resumed rebuild handled
            let handledBefore: number | undefined;
            const onProgress = (p: RebuildProgress) => {
              handledBefore ??= p.processedEvents;
              reporter.update(p);
            };
            try {
              const result = await rebuildProjection(ops, projection, { onProgress, signal: controller.signal });
              reporter.stop();
              done.push(result);
              if (!options.json) deps.out(rebuildSummary(projection, result, handledBefore ?? 0));
            } catch (error) {
              // these say which projection and what to do; anything else gets both here
              if (
                error instanceof RebuildBatchError ||
                error instanceof RebuildInProgressError ||
                error instanceof RebuildAbortedError ||
                error instanceof UnknownProjectionError
              )
                throw error;
              throw new CliError(
                `${projection} rebuild failed: ${error instanceof Error ? error.message : String(error)}; fix it and run the rebuild again to resume`,
              );
            } finally {
              reporter.stop();
            }
          }
          return done;
        });
        if (options.json) deps.out(JSON.stringify(options.all ? results : results[0]));
      } finally {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
    });

  projections
    .command('reset')
    .description(
      "Empty the projection's tables and set its checkpoint back to the start: the running projector replays it. " +
        'NOT zero-downtime (queries see the tables refill); use rebuild for that.',
    )
    .argument('[name]', 'the projection')
    .option('--all', 'every projection')
    .option('--json', 'print JSON')
    .action(async (name: string | undefined, options: { all?: boolean; json?: boolean }, command: Command) => {
      if (!name && !options.all) usageError(command, 'name a projection or pass --all');
      if (name && options.all) usageError(command, 'either a name or --all, not both');
      const names = await deps.withOps(async (ops) => {
        const targets = name ? [name] : projectionDefinitions(ops.timeZone).map((d) => d.name);
        for (const target of targets) await resetProjection(ops, target);
        return targets;
      });
      const results = names.map((n) => ({ name: n, reset: true, checkpoint: '0-0' }));
      // one projection: its result; --all: the list
      if (options.json) deps.out(JSON.stringify(name ? results[0] : results));
      else for (const n of names) deps.out(`${n}: tables emptied, checkpoint at the start; the projector replays it`);
    });

  return projections;
}

/** `rebuilding`, or `rebuilding (not running)` for a rebuild that failed or was interrupted. */
function stateText(s: ProjectionStatusView): string {
  return s.rebuild && !s.rebuild.running ? `${s.state} (not running)` : s.state;
}

const eta = (seconds: number | null) => (seconds === null ? '?' : `${seconds}s`);

export function formatStatuses(statuses: ProjectionStatusView[]): string[] {
  const width = Math.max(...statuses.map((s) => s.name.length));
  const lines: string[] = [];
  for (const s of statuses) {
    const lag = s.lagSeconds === null ? `${s.lagEvents} events` : `${s.lagEvents} events, ${s.lagSeconds}s`;
    lines.push(`${s.name.padEnd(width)}  ${s.state.padEnd(10)}  checkpoint ${s.checkpoint ?? '-'}  head ${s.head}  lag ${lag}`);
    if (s.rebuild) {
      const r = s.rebuild;
      const done = `${r.processedEvents}/${r.counted ? r.totalEvents : '?'} events`;
      lines.push(
        r.running
          ? `${''.padEnd(width)}  rebuild: ${done}, ${r.eventsPerSecond}/s, eta ${eta(r.etaSeconds)} (since ${r.startedAt})`
          : `${''.padEnd(width)}  rebuild not running (it failed or was interrupted) at ${done}, ${r.phase === 'replaying' ? 'loading' : 'indexing or swapping'}, ` +
              `started ${r.startedAt}: \`projections rebuild ${s.name}\` resumes it`,
      );
    }
  }
  return lines;
}

/**
 * The line a finished rebuild prints. A resumed one says what this run did:
 * its rate counts this run's events only, so beside the total alone a run
 * that found the load done would read as `0/s`.
 */
export function rebuildSummary(projection: string, result: RebuildProgress, handledBefore: number): string {
  const thisRun = result.processedEvents - handledBefore;
  const events =
    handledBefore === 0
      ? `${result.processedEvents} events, ${result.eventsPerSecond}/s`
      : thisRun > 0
        ? `${result.processedEvents} events; resumed at ${handledBefore}: ${thisRun} in this run, ${result.eventsPerSecond}/s`
        : `${result.processedEvents} events, all loaded before this run resumed it`;
  return `${projection}: rebuilt and swapped in (${events}${timings(result)})`;
}

/** `; load 1.2s, indexes 0.3s, swap 0.1s` when the rebuild says. */
function timings(p: RebuildProgress): string {
  return p.seconds ? `; load ${p.seconds.load}s, indexes ${p.seconds.index}s, catch-up and swap ${p.seconds.swap}s` : '';
}

/** A cli-progress bar on a terminal; otherwise a plain line at most every second and on every phase change. */
function progressReporter(deps: ProjectionsCommandDeps, name: string): { update: (p: RebuildProgress) => void; stop: () => void } {
  if (deps.isTty) {
    const bar = new SingleBar({
      format: `${name} [{bar}] {percentage}% | {value}/{total} events | {rate}/s | ETA {eta_text} | {phase}`,
      hideCursor: true,
      clearOnComplete: false,
    });
    let started = false;
    return {
      update(p) {
        const payload = { rate: p.eventsPerSecond, eta_text: eta(p.etaSeconds), phase: p.phase };
        if (!started) {
          bar.start(Math.max(p.totalEvents, 1), p.processedEvents, payload);
          started = true;
        } else {
          bar.setTotal(Math.max(p.totalEvents, 1));
          bar.update(p.processedEvents, payload);
        }
      },
      stop() {
        if (started) bar.stop();
        started = false;
      },
    };
  }
  let last = 0;
  let phase = '';
  return {
    update(p) {
      if (p.phase === phase && Date.now() - last < 1_000) return;
      last = Date.now();
      phase = p.phase;
      deps.err(`${name}: ${p.phase} ${p.processedEvents}/${p.counted ? p.totalEvents : '?'} events, ${p.eventsPerSecond}/s, eta ${eta(p.etaSeconds)}`);
    },
    stop() {},
  };
}

/** Raises the nice value of this process (every thread) to 10; a platform that refuses leaves it as it is, with a warning. */
function lowerRebuildPriority(deps: { err: (line: string) => void }): void {
  try {
    lowerPriority(LOW_PRIORITY);
  } catch (error) {
    deps.err(`warning: could not lower the CPU priority: ${(error as Error).message}`);
  }
}
