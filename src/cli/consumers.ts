import { type Command, InvalidArgumentError, Option } from 'commander';
import { consumerOverview, type ConsumerOverview } from '../operations/consumers.js';
import {
  DEAD_LETTER_STATUSES,
  DeadLetterNotFoundError,
  DeadLetterStateError,
  listDeadLetters,
  retryDeadLetter,
  retryDeadLetters,
  skipDeadLetter,
  type DeadLetter,
  type RetryOutcome,
} from '../operations/dead-letters.js';
import type { OpsDeps } from '../operations/types.js';
import type { Consumer } from '../consumers/consumer.js';
import { CliError } from './program.js';

export interface ConsumersCommandDeps {
  out: (line: string) => void;
  /** opens the services (config, container, migrations), runs, disposes them */
  withOps: <T>(run: (ops: OpsDeps, withConsumers: WithConsumers) => Promise<T>) => Promise<T>;
}

/** Builds the consumers with their real adapters for one piece of work (a retry handles events through them). */
export type WithConsumers = <T>(run: (find: (name: string) => Consumer | undefined) => Promise<T>) => Promise<T>;

const positiveInt = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new InvalidArgumentError('a whole number from 1 to 10000');
  return n;
};

const firstLine = (text: string) => text.split('\n', 1)[0]!.slice(0, 200);

function letterLine(l: DeadLetter): string {
  return `#${l.id}  ${l.consumer}  ${l.status}  ${l.type} ${l.stream}@${l.revision}  position ${l.position}  event ${l.eventId}  attempts ${l.attempts}  last failed ${l.lastFailedAt}\n    ${firstLine(l.error)}`;
}

function outcomeLine(o: RetryOutcome): string {
  return o.ok
    ? `#${o.letter.id} ${o.letter.consumer}: handled, now retried`
    : `#${o.letter.id} ${o.letter.consumer}: failed again, stays parked: ${firstLine(o.error ?? '')}`;
}

function overviewLine(c: ConsumerOverview, width: number): string {
  const holder = c.heldBy
    ? `run by ${c.heldBy.applicationName || '?'} (backend pid ${c.heldBy.pid})`
    : c.retiredBy
      ? `retired by ${c.retiredBy}`
      : 'not running';
  return `${c.name.padEnd(width)}  ${c.kind.padEnd(15)}  checkpoint ${(c.checkpoint ?? '-').padEnd(14)}  ${holder}${c.parked > 0 ? `  ${c.parked} parked` : ''}`;
}

/** Library errors an operator caused (a wrong id, a letter not parked): a plain message and exit 1. */
async function asCliErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof DeadLetterNotFoundError || error instanceof DeadLetterStateError) throw new CliError(error.message);
    throw error;
  }
}

/**
 * `consumers status` and `consumers dead-letters list | retry | skip`, each with `--json`.
 */
export function registerConsumersCommand(program: Command, deps: ConsumersCommandDeps): Command {
  const consumers = program.command('consumers').description('projections and process managers: who runs them, parked (dead-letter) events');

  consumers
    .command('status')
    .description('Every consumer: checkpoint, which process runs it (the holder of its advisory lock), parked events')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const overview = await deps.withOps((ops) => consumerOverview(ops));
      if (options.json) {
        deps.out(JSON.stringify(overview));
        return;
      }
      const width = Math.max(...overview.map((c) => c.name.length));
      for (const c of overview) deps.out(overviewLine(c, width));
    });

  const letters = consumers
    .command('dead-letters')
    .description('Events a consumer parked after failing on them repeatedly (it went on without them): list, retry, skip');

  letters
    .command('list')
    .description('Dead letters, oldest event first per consumer (default: the parked ones)')
    .option('--consumer <name>', "only this consumer's")
    .addOption(new Option('--status <status>', 'parked, retried, skipped or all').choices([...DEAD_LETTER_STATUSES, 'all']).default('parked'))
    .option('--limit <n>', 'at most this many', positiveInt, 100)
    .option('--json', 'print JSON')
    .action(async (options: { consumer?: string; status: 'parked' | 'retried' | 'skipped' | 'all'; limit: number; json?: boolean }) => {
      const found = await deps.withOps((ops) =>
        listDeadLetters(ops.knex, { ...(options.consumer ? { consumer: options.consumer } : {}), status: options.status, limit: options.limit }),
      );
      if (options.json) {
        deps.out(JSON.stringify(found));
        return;
      }
      if (found.length === 0)
        deps.out(`no ${options.status === 'all' ? '' : `${options.status} `}dead letters${options.consumer ? ` of ${options.consumer}` : ''}`);
      for (const letter of found) deps.out(letterLine(letter));
    });

  letters
    .command('retry')
    .description(
      "Handle a parked event once more through its consumer's own handler, in one transaction: on success its status becomes retried; " +
        'failing again, it stays parked with the new error (exit 1). Safe while the projector runs the consumer.',
    )
    .argument('[id]', 'the dead letter (see list)')
    .option('--consumer <name>', 'with --all: every parked event of this consumer, oldest first')
    .option('--all', 'every parked event of --consumer')
    .option('--json', 'print JSON')
    .action(async (id: string | undefined, options: { consumer?: string; all?: boolean; json?: boolean }) => {
      if (id && (options.all || options.consumer)) throw new CliError('either an id or --consumer <name> --all, not both');
      if (!id && !(options.all && options.consumer)) throw new CliError('name a dead letter id, or pass --consumer <name> --all');
      const outcomes = await asCliErrors(() =>
        deps.withOps((ops, withConsumers) =>
          withConsumers(async (find) => {
            const retry = { knex: ops.knex, store: ops.store, consumers: find, ...(ops.logger ? { logger: ops.logger } : {}) };
            return id ? [await retryDeadLetter(retry, id)] : retryDeadLetters(retry, options.consumer!);
          }),
        ),
      );
      if (options.json) deps.out(JSON.stringify(id ? outcomes[0] : outcomes));
      else if (outcomes.length === 0) deps.out(`no parked dead letters of ${options.consumer}`);
      else for (const o of outcomes) deps.out(outcomeLine(o));
      const failed = outcomes.filter((o) => !o.ok).length;
      if (failed > 0) throw new CliError(`${failed} of ${outcomes.length} failed again and stay parked`);
    });

  letters
    .command('skip')
    .description('Give up on a parked event: its status becomes skipped (the consumer went on without it already)')
    .argument('<id>', 'the dead letter (see list)')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      const letter = await asCliErrors(() => deps.withOps((ops) => skipDeadLetter(ops.knex, id)));
      if (options.json) deps.out(JSON.stringify(letter));
      else deps.out(`#${letter.id} ${letter.consumer}: skipped`);
    });

  return consumers;
}
