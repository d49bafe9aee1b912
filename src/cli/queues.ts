import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import { Argument, type Command, InvalidArgumentError } from 'commander';
import type { QueueInterventions, InterventionResult } from '../application/queue-interventions.js';
import { statsOf, type QueueStats } from '../application/queue-monitor.js';
import type { BlockageBoard, QueueStatsReader } from '../application/ports/queue-monitoring.js';
import { characterCount } from '../write-model/core/characters.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { decimal, someText } from './parse.js';
import { CliError } from './program.js';

/**
 * What the audit record takes (src/write-model/queue-intervention/decider.ts),
 * checked before the queue is touched: an operator or job id it refuses
 * would leave an intervention carried out and not recorded.
 */
const operatorName = someText('--operator', 200);
function jobIdArgument(value: string): string {
  if (value.trim() === '' || characterCount(value) > 200 || value.includes(':')) throw new InvalidArgumentError('a job id is 1 to 200 characters without ":"');
  return value;
}

export interface QueuesCommandDeps {
  out: (line: string) => void;
  /** opens the services and the BullMQ handles, runs, closes them */
  withQueues: <T>(run: (q: { interventions: QueueInterventions; reader: QueueStatsReader; board: BlockageBoard }) => Promise<T>) => Promise<T>;
  /** who the interventions are recorded as; default `cli:<os user>` */
  operator?: string;
}

function seconds(value: string): number {
  const n = decimal(value);
  if (!Number.isFinite(n) || n <= 0 || n > 60) throw new InvalidArgumentError('it must be more than 0 and at most 60');
  return n;
}

const rate = (n: number | null) => (n === null ? '-' : n.toFixed(1));

function statsLine(q: QueueStats, width: number): string {
  const alert = q.blocked ? `  BLOCKED since ${q.blocked.blockedSince}` : '';
  return (
    `${q.name.padEnd(width)}  ${q.paused ? 'paused ' : 'running'}  waiting ${String(q.waiting).padStart(5)}  active ${String(q.active).padStart(4)}  ` +
    `delayed ${String(q.delayed).padStart(5)}  failed ${String(q.failed).padStart(5)}  in/s ${rate(q.addedPerSecond).padStart(6)}  ` +
    `done/s ${rate(q.completedPerSecond).padStart(6)}  failed/s ${rate(q.failedPerSecond).padStart(6)}  oldest ${q.oldestWaitingSeconds === null ? '-' : `${q.oldestWaitingSeconds}s`}${alert}`
  );
}

function resultLine(r: InterventionResult): string {
  const what = r.jobId ? `job ${r.jobId} in ${r.queue}` : `queue ${r.queue}`;
  if (!r.changed) {
    if (r.action === 'pause') return `queue ${r.queue} is already paused: nothing recorded`;
    if (r.action === 'resume') return `queue ${r.queue} is not paused: nothing recorded`;
    return `queue ${r.queue} has no failed jobs: nothing recorded`;
  }
  const done: Record<InterventionResult['action'], string> = {
    pause: 'paused',
    resume: 'resumed',
    retry_failed: `${r.count} failed job(s) moved back to waiting`,
    retry_job: `retried (was ${r.previousState})`,
    promote_job: 'promoted (runs now)',
    remove_job: `removed (was ${r.previousState})`,
  };
  return `${what}: ${done[r.action]}; recorded ${r.event}`;
}

/** A wrong queue or job, or a job in the wrong state: the message and exit 1. */
async function asCliErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof DomainError && (error.code === 'NOT_FOUND' || error.code === 'CONFLICT')) {
      const known = Array.isArray(error.details?.queues) ? ` (queues: ${(error.details.queues as string[]).join(', ')})` : '';
      throw new CliError(`${error.message}${known}`);
    }
    throw error;
  }
}

/**
 * `queues …`: the live monitor's numbers once (`stats`) and the audited
 * interventions of the admin API (pause, resume, retry-failed, retry,
 * promote, remove), recorded as `cli:<os user>` (or --operator).
 */
export function registerQueuesCommand(program: Command, deps: QueuesCommandDeps): void {
  const queues = program
    .command('queues')
    .description('the BullMQ queues: live numbers and manual interventions (each recorded on queue_intervention-{queue}_{day})');
  const operator = (given?: string) => given ?? deps.operator ?? `cli:${userInfo().username}`;
  const context = (who: string) => {
    const id = randomUUID();
    return { correlationId: id, causationId: id, actor: who, requestId: id };
  };

  queues
    .command('stats')
    .description('every queue: waiting, active, delayed, failed, paused, jobs in/out per second (over --seconds), oldest waiting job, blockage alert')
    .option('--seconds <n>', 'how long to count jobs in and out (more than 0, at most 60)', seconds, 1)
    .option('--json', 'print the stats as JSON')
    .action(async (options: { seconds: number; json?: boolean }) => {
      const { seconds } = options;
      await deps.withQueues(async ({ reader, board }) => {
        const first = await reader.sample();
        await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
        const [second, alerts] = await Promise.all([reader.sample(), board.read()]);
        const stats = statsOf(second, first, alerts);
        if (options.json) {
          deps.out(JSON.stringify({ at: new Date(second.at).toISOString(), detector_running: alerts !== null, queues: stats }));
          return;
        }
        const width = Math.max(...stats.map((q) => q.name.length));
        for (const q of stats) deps.out(statsLine(q, width));
        if (!alerts) deps.out('(no blockage detector has reported in the last seconds: is a projector running?)');
      });
    });

  const queueAction = (name: string, description: string, run: (i: QueueInterventions, queue: string, who: string) => Promise<InterventionResult>) =>
    queues
      .command(`${name} <queue>`)
      .description(description)
      .option('--operator <name>', 'record the intervention as this operator (default cli:<os user>; at most 200 characters)', operatorName)
      .action(async (queue: string, options: { operator?: string }) => {
        const result = await deps.withQueues(({ interventions }) => asCliErrors(() => run(interventions, queue, operator(options.operator))));
        deps.out(resultLine(result));
      });

  queueAction('pause', 'pause a queue: workers take no new job from it (QueuePaused)', (i, q, who) => i.pause(q, who, context(who)));
  queueAction('resume', 'resume a paused queue (QueueResumed)', (i, q, who) => i.resume(q, who, context(who)));
  queueAction('retry-failed', "move a queue's failed jobs back to waiting (FailedJobsRetried)", (i, q, who) => i.retryFailed(q, who, context(who)));

  const jobAction = (name: string, description: string, run: (i: QueueInterventions, queue: string, job: string, who: string) => Promise<InterventionResult>) =>
    queues
      .command(name)
      .description(description)
      .argument('<queue>', 'the queue (see queues stats)')
      .addArgument(new Argument('<jobId>', 'the job (1 to 200 characters without ":")').argParser(jobIdArgument))
      .option('--operator <name>', 'record the intervention as this operator (default cli:<os user>; at most 200 characters)', operatorName)
      .action(async (queue: string, jobId: string, options: { operator?: string }) => {
        const result = await deps.withQueues(({ interventions }) => asCliErrors(() => run(interventions, queue, jobId, operator(options.operator))));
        deps.out(resultLine(result));
      });

  jobAction('retry', 'retry one failed job (JobRetried)', (i, q, j, who) => i.retryJob(q, j, who, context(who)));
  jobAction('promote', 'run one delayed job now (JobPromoted)', (i, q, j, who) => i.promoteJob(q, j, who, context(who)));
  jobAction('remove', 'remove one job that is not active (JobRemoved)', (i, q, j, who) => i.removeJob(q, j, who, context(who)));
}
