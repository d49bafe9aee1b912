import { argon2BindingProblem } from '../adapters/crypto/argon2-binding.js';
import { Command, CommanderError, type HelpContext, Option, type ParseOptionsResult } from 'commander';
import { ZodError } from 'zod';
import { ConfigError, loadConfig } from '../config.js';
import { buildContainer, disposeContainer } from '../container.js';
import { prepareDatabase } from '../main/boot.js';
import { TOKENS } from '../tokens.js';
import { EmailTakenError } from '../application/register-user.js';
import { formatPosition } from '../event-store/position.js';
import { createAdmin } from './create-admin.js';
import { someText } from './parse.js';
import { registerRetentionCommand } from './retention.js';
import { registerProjectionsCommand } from './projections.js';
import { registerOpsCommands } from './streams.js';
import { registerConsumersCommand } from './consumers.js';
import { registerQueuesCommand } from './queues.js';
import { MONITORED_QUEUE_NAMES } from '../adapters/queue/monitored-queues.js';
import { QueueFactory } from '../adapters/queue/queues.js';
import { BullMqQueueStats } from '../adapters/queue/queue-stats.js';
import { BullMqQueueControl } from '../adapters/queue/queue-control.js';
import { RedisBlockageBoard } from '../adapters/queue/queue-alert-board.js';
import { QueueInterventions } from '../application/queue-interventions.js';
import { withConsumerCatalogue } from '../main/consumers.js';

/** What a command failed with: printed to stderr as `error: <message>`, exit code 1. */
export class CliError extends Error {}

/**
 * A command called wrongly in a way its options cannot say (an argument or
 * a flag, not both): commander's own usage error, with the command's help.
 */
export function usageError(command: Command, message: string): never {
  command.error(`error: ${message}`);
}

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** the whole of stdin (for --password-stdin) */
  readStdin: () => Promise<string>;
  env: NodeJS.ProcessEnv;
}

export async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** What create-admin's fields must be (src/application/register-user.ts), said when one is not. */
const INPUT_RULES: Record<string, string> = {
  email: '--email must be an email address (at most 254 characters)',
  password: 'the password must be 8 to 1024 characters',
  displayName: '--display-name must be 1 to 100 characters',
};

/** Config → container → migrations, like src/main/{api,projector}.ts; the container is disposed afterwards. */
async function withContainer<T>(io: CliIo, run: (container: Awaited<ReturnType<typeof buildContainer>>) => Promise<T>): Promise<T> {
  let config;
  try {
    // a CLI keeps its logs to warnings unless LOG_LEVEL says otherwise (empty counts as unset, as everywhere)
    config = loadConfig({ ...io.env, LOG_LEVEL: io.env.LOG_LEVEL || 'warn' });
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(`Invalid configuration:\n${error.problems.map((line) => `  ${line}`).join('\n')}`);
    throw error;
  }
  // log lines go to stderr: stdout holds only the command's output (one JSON document with --json)
  const container = await buildContainer(config, { processName: 'cli', logDestination: { write: (line: string) => io.err(line.replace(/\n$/, '')) } });
  try {
    await prepareDatabase(config, container.get(TOKENS.Knex), container.get(TOKENS.Logger));
    return await run(container);
  } finally {
    await disposeContainer(container);
  }
}

function stripLineEnd(text: string): string {
  return text.replace(/\r?\n$/, '');
}

/**
 * A command of this CLI. A group (`projections`, `consumers dead-letters`, …)
 * called without one of its commands, or `help` with a name that is none,
 * is a wrong call like any other: an `error: …` line naming the commands,
 * then the usage, exit 1 (commander alone prints only the usage).
 */
class CliCommand extends Command {
  override createCommand(name?: string): Command {
    return new CliCommand(name);
  }

  override help(context?: HelpContext | ((text: string) => string)): never {
    if (typeof context === 'object' && context.error && this.commands.length > 0) {
      const names = this.commands.map((c) => c.name()).join(', ');
      // `help <name>` leaves ['help', '<name>'] in args; a group called alone leaves none
      const asked = this.args[0] === 'help' ? this.args[1] : undefined;
      this.error(asked !== undefined ? `error: unknown command '${asked}' (commands: ${names})` : `error: missing command (one of: ${names})`);
    }
    return super.help(context as HelpContext);
  }

  /**
   * An option's value is the next word whatever it is, so `--category --json`
   * would filter on the text "--json" (and print text, not JSON): a value
   * that is one of this command's own options is taken for a forgotten value.
   */
  override parseOptions(argv: string[]): ParseOptionsResult {
    for (let i = 0; i < argv.length - 1; i++) {
      if (argv[i] === '--') break;
      const option = this.options.find((o) => o.required && (o.long === argv[i] || o.short === argv[i]));
      const next = argv[i + 1]!;
      if (option && (next === '--help' || next === '-h' || this.options.some((o) => o.long === next || o.short === next)))
        this.error(`error: option '${option.flags}' argument missing ('${next}' is an option)`, { code: 'commander.optionMissingArgument' });
    }
    return super.parseOptions(argv);
  }
}

export function buildProgram(io: CliIo): Command {
  const program = new CliCommand('cli')
    .description('Operator commands for the collector platform (uses DATABASE_URL and the rest of the usual configuration)')
    // inherited by every command: an extra argument is a mistake to point out, not to drop
    .allowExcessArguments(false)
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) })
    .exitOverride();

  const users = program.command('users').description('user accounts');

  users
    .command('create-admin')
    .description('Register a user with role admin (reserves the email like POST /api/v1/auth/register). Exits 1 if the email is taken.')
    .requiredOption('--email <email>', "the admin's email address (normalised: trimmed, lower-case)", someText('--email'))
    .addOption(new Option('--password <password>', 'the password (visible in the process list: prefer --password-stdin)').conflicts('passwordStdin'))
    .addOption(new Option('--password-stdin', 'read the password from stdin (one line; a trailing newline is dropped)').conflicts('password'))
    .option('--display-name <name>', 'display name', 'Admin')
    .option('--json', 'print the result as JSON')
    .action(async (options: { email: string; password?: string; passwordStdin?: boolean; displayName: string; json?: boolean }, command: Command) => {
      let password: string;
      if (options.passwordStdin) password = stripLineEnd(await io.readStdin());
      else if (options.password !== undefined) password = options.password;
      else usageError(command, 'a password is required: --password <password> or --password-stdin');
      const bindingProblem = argon2BindingProblem();
      if (bindingProblem) throw new CliError(bindingProblem);

      try {
        const admin = await withContainer(io, (container) =>
          createAdmin(
            { store: container.get(TOKENS.EventStore), passwordHasher: container.get(TOKENS.PasswordHasher) },
            { email: options.email, password, displayName: options.displayName },
          ),
        );
        if (options.json)
          io.out(
            JSON.stringify({ user_id: admin.userId, email: admin.email, role: admin.role, position: admin.position ? formatPosition(admin.position) : null }),
          );
        else io.out(`admin ${admin.email} created (user id ${admin.userId})`);
      } catch (error) {
        if (error instanceof EmailTakenError) throw new CliError(`cannot create admin: ${error.message}`);
        if (error instanceof ZodError) {
          // never echo the input: it may be the password
          // one line, as every error: which field, with this command's own words (never zod's)
          const fields = [...new Set(error.issues.map((issue) => String(issue.path[0] ?? '')))];
          const problems = fields.map((field) => INPUT_RULES[field] ?? `${field || 'the input'} is invalid`);
          throw new CliError(`cannot create admin: invalid input: ${problems.join('; ')}`);
        }
        throw error;
      }
    });

  registerRetentionCommand(program, {
    out: io.out,
    err: io.err,
    withServices: (run) =>
      withContainer(io, (container) =>
        run({ knex: container.get(TOKENS.Knex), store: container.get(TOKENS.EventStore), logger: container.get(TOKENS.Logger) }),
      ),
  });
  registerProjectionsCommand(program, {
    out: io.out,
    err: io.err,
    isTty: process.stderr.isTTY === true,
    withOps: (run) =>
      withContainer(io, (c) => {
        const config = c.get(TOKENS.Config);
        return run({
          store: c.get(TOKENS.EventStore),
          knex: c.get(TOKENS.Knex),
          databaseUrl: config.DATABASE_URL,
          timeZone: config.QUOTA_TIME_ZONE,
          logger: c.get(TOKENS.Logger),
        });
      }),
  });
  registerOpsCommands(program, {
    out: io.out,
    err: io.err,
    isTty: process.stderr.isTTY === true,
    withOps: (run) =>
      withContainer(io, (c) => {
        const config = c.get(TOKENS.Config);
        return run({
          store: c.get(TOKENS.EventStore),
          knex: c.get(TOKENS.Knex),
          databaseUrl: config.DATABASE_URL,
          timeZone: config.QUOTA_TIME_ZONE,
          logger: c.get(TOKENS.Logger),
        });
      }),
  });
  registerConsumersCommand(program, {
    out: io.out,
    err: io.err,
    withOps: (run) =>
      withContainer(io, (c) => {
        const config = c.get(TOKENS.Config);
        const ops = {
          store: c.get(TOKENS.EventStore),
          knex: c.get(TOKENS.Knex),
          databaseUrl: config.DATABASE_URL,
          timeZone: config.QUOTA_TIME_ZONE,
          logger: c.get(TOKENS.Logger),
        };
        return run(ops, (work) => withConsumerCatalogue(c, config, (catalogue) => work(catalogue.find)));
      }),
  });

  registerQueuesCommand(program, {
    out: io.out,
    withQueues: (run) =>
      withContainer(io, async (c) => {
        const config = c.get(TOKENS.Config);
        const factory = new QueueFactory({ redisUrl: config.REDIS_URL, prefix: config.QUEUE_PREFIX, connectionName: 'cli' });
        const reader = new BullMqQueueStats(factory, MONITORED_QUEUE_NAMES);
        const control = new BullMqQueueControl(factory, MONITORED_QUEUE_NAMES);
        try {
          return await run({
            interventions: new QueueInterventions({ store: c.get(TOKENS.EventStore), control, logger: c.get(TOKENS.Logger) }),
            reader,
            board: new RedisBlockageBoard(c.get(TOKENS.Redis), config.QUEUE_PREFIX),
          });
        } finally {
          await Promise.all([reader.close(), control.close()]);
        }
      }),
  });

  return program;
}

/** Runs argv (process.argv form); resolves to the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    // commander's own exits (help, version, usage errors): it printed already
    if (error instanceof CommanderError) return error.exitCode;
    // one line, the same style as commander's: never a stack
    io.err(`error: ${messageOf(error)}`);
    return 1;
  }
}

/** An error's message; a connection refused on every address (an AggregateError without one) by its first cause. */
function messageOf(error: unknown): string {
  if (error instanceof AggregateError && !error.message && error.errors.length > 0) return messageOf(error.errors[0]);
  if (error instanceof Error) return error.message || (error as { code?: string }).code || error.name;
  return String(error);
}
