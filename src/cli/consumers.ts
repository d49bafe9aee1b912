import { Argument, type Command, InvalidArgumentError, Option } from 'commander';
import { consumerOverview, requireKnownConsumer, UnknownConsumerError, type ConsumerOverview } from '../operations/consumers.js';
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
import { someText, wholeNumber } from './parse.js';
import { CliError, usageError } from './program.js';

/** A dead letter's id is its row number (as the admin API's `{id}`): anything else is a wrong call, not an unknown letter. */
function deadLetterId(value: string): string {
  if (!/^\d{1,18}$/.test(value)) throw new InvalidArgumentError('a dead letter id is its row number (see list)');
  return value;
}

export interface ConsumersCommandDeps {
  out: (line: string) => void;
  /** warnings (stderr) */
  err: (line: string) => void;
  /** opens the services (config, container, migrations), runs, disposes them */
  withOps: <T>(run: (ops: OpsDeps, withConsumers: WithConsumers) => Promise<T>) => Promise<T>;
}

/** Builds the consumers with their real adapters for one piece of work (a retry handles events through them). */
export type WithConsumers = <T>(run: (find: (name: string) => Consumer | undefined) => Promise<T>) => Promise<T>;

const positiveInt = wholeNumber(1, 10_000, 'it must be a whole number from 1 to 10000');

const firstLine = (text: string) => text.split('\n', 1)[0]!.slice(0, 200);

function letterLine(l: DeadLetter): string {
  return `#${l.id}  ${l.consumer}  ${l.status}  ${l.type} ${l.stream}@${l.revision}  position ${l.position}  event ${l.eventId}  attempts ${l.attempts}  last failed ${l.lastFailedAt}\n    ${firstLine(l.error)}`;
}

function outcomeLine(o: RetryOutcome): string {
  if (o.ok) return `#${o.letter.id} ${o.letter.consumer}: handled, now retried`;
  if (!o.tried)
    return `#${o.letter.id} ${o.letter.consumer}: not tried, ${o.letter.status === 'parked' ? 'stays parked' : `is ${o.letter.status}`}: ${firstLine(o.error ?? '')}`;
  return `#${o.letter.id} ${o.letter.consumer}: failed again, stays parked: ${firstLine(o.error ?? '')}`;
}

/** `2 of 5 parked events of x were not retried: 1 failed again, 1 could not be tried`; null when every one was. */
function failureSummary(outcomes: RetryOutcome[], consumer: string | undefined): string | null {
  const failed = outcomes.filter((o) => !o.ok && o.tried).length;
  const untried = outcomes.filter((o) => !o.tried).length;
  if (failed + untried === 0) return null;
  if (!consumer) {
    const o = outcomes[0]!;
    return o.tried ? `dead letter ${o.letter.id} failed again and stays parked` : `dead letter ${o.letter.id} was not tried: ${firstLine(o.error ?? '')}`;
  }
  const parts = [
    ...(failed > 0 ? [`${failed} failed again and ${failed === 1 ? 'stays' : 'stay'} parked`] : []),
    ...(untried > 0 ? [`${untried} could not be tried (see above)`] : []),
  ];
  return `${failed + untried} of ${outcomes.length} parked events of ${consumer} were not retried: ${parts.join(', ')}`;
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
    if (error instanceof DeadLetterNotFoundError || error instanceof DeadLetterStateError || error instanceof UnknownConsumerError)
      throw new CliError(error.message);
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
    .option('--consumer <name>', "only this consumer's", someText('--consumer'))
    .addOption(new Option('--status <status>', 'parked, retried, skipped or all').choices([...DEAD_LETTER_STATUSES, 'all']).default('parked'))
    .option('--limit <n>', 'at most this many (1 to 10000; more there: a warning on stderr)', positiveInt, 100)
    .option('--json', 'print JSON')
    .action(async (options: { consumer?: string; status: 'parked' | 'retried' | 'skipped' | 'all'; limit: number; json?: boolean }) => {
      const found = await asCliErrors(() =>
        deps.withOps(async (ops) => {
          if (options.consumer) await requireKnownConsumer(ops, options.consumer);
          // one more than asked: whether the list is cut short
          return listDeadLetters(ops.knex, { ...(options.consumer ? { consumer: options.consumer } : {}), status: options.status, limit: options.limit + 1 });
        }),
      );
      const listed = found.slice(0, options.limit);
      if (options.json) deps.out(JSON.stringify(listed));
      else {
        if (listed.length === 0)
          deps.out(`no ${options.status === 'all' ? '' : `${options.status} `}dead letters${options.consumer ? ` of ${options.consumer}` : ''}`);
        for (const letter of listed) deps.out(letterLine(letter));
      }
      if (found.length > options.limit)
        deps.err(
          `warning: more than ${options.limit} dead letters: only the first ${options.limit} are listed (raise --limit, or narrow by --consumer or --status)`,
        );
    });

  letters
    .command('retry')
    .description(
      "Handle a parked event once more through its consumer's own handler, in one transaction: on success its status becomes retried; " +
        'failing again, it stays parked with the new error (exit 1). Safe while the projector runs the consumer.',
    )
    .addArgument(new Argument('[id]', 'the dead letter (see list)').argParser(deadLetterId))
    .option('--consumer <name>', 'with --all: every parked event of this consumer, oldest first', someText('--consumer'))
    .option('--all', 'every parked event of --consumer')
    .option('--json', 'print JSON: the outcome; with --all, the list of outcomes (tried: false where it was not handled)')
    .action(async (id: string | undefined, options: { consumer?: string; all?: boolean; json?: boolean }, command: Command) => {
      if (id && (options.all || options.consumer)) usageError(command, 'either an id or --consumer <name> --all, not both');
      if (!id && !(options.all && options.consumer)) usageError(command, 'name a dead letter id, or pass --consumer <name> --all');
      const outcomes = await asCliErrors(() =>
        deps.withOps(async (ops, withConsumers) => {
          if (!id) await requireKnownConsumer(ops, options.consumer!);
          return withConsumers(async (find) => {
            // no logger: this command reports every outcome itself, on stdout and in its exit code
            const retry = { knex: ops.knex, store: ops.store, consumers: find };
            return id ? [await retryDeadLetter(retry, id)] : retryDeadLetters(retry, options.consumer!);
          });
        }),
      );
      // with --all, the outcomes as a list, as before (`tried: false`: not handled, stays parked)
      if (options.json) deps.out(JSON.stringify(id ? outcomes[0] : outcomes));
      else if (outcomes.length === 0) deps.out(`no parked dead letters of ${options.consumer}`);
      else {
        for (const o of outcomes) deps.out(outcomeLine(o));
        if (!id && outcomes.every((o) => o.ok)) deps.out(`all ${outcomes.length} parked events of ${options.consumer} retried`);
      }
      const failure = failureSummary(outcomes, id ? undefined : options.consumer);
      if (failure) throw new CliError(failure);
    });

  letters
    .command('skip')
    .description('Give up on a parked event: its status becomes skipped (the consumer went on without it already)')
    .addArgument(new Argument('<id>', 'the dead letter (see list)').argParser(deadLetterId))
    .option('--json', 'print JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      const letter = await asCliErrors(() => deps.withOps((ops) => skipDeadLetter(ops.knex, id)));
      if (options.json) deps.out(JSON.stringify(letter));
      else deps.out(`#${letter.id} ${letter.consumer}: skipped`);
    });

  return consumers;
}
