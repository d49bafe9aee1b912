import { type Command, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { isCalendarDay } from '../application/quota-day.js';
import { StreamNotFoundError } from '../event-store/errors.js';
import { formatPosition, MAX_COMMIT, MAX_PREPARE, storablePosition } from '../event-store/position.js';
import { auditExport } from '../operations/audit.js';
import { replayConsumer, ReplayError, type ReplayReport } from '../operations/replay.js';
import { listCategories, listStreams, searchEvents, streamEvents, streamStateAt, tailEvents } from '../operations/streams.js';
import type { EventView, OpsDeps } from '../operations/types.js';
import { someText, wholeNumber } from './parse.js';
import { CliError, usageError } from './program.js';

export interface OpsCommandDeps {
  out: (line: string) => void;
  err: (line: string) => void;
  /** opens the services (config, container, migrations), runs, disposes them */
  withOps: <T>(run: (ops: OpsDeps) => Promise<T>) => Promise<T>;
  /** stderr is a terminal: a live progress bar; otherwise plain progress lines */
  isTty: boolean;
}

// ---- parsing -------------------------------------------------------------

const MAX_REVISION = (1n << 63n) - 1n;
const revision = (value: string): bigint => {
  // the store's revisions are signed 64-bit: a larger one is a usage error, not a database error
  if (!/^\d{1,19}$/.test(value.trim()) || BigInt(value.trim()) > MAX_REVISION) {
    throw new InvalidArgumentError('a revision is a whole number from 0 to 9223372036854775807');
  }
  return BigInt(value.trim());
};
/** 1 to 2^53 − 1 in digits: a larger one would be rounded, or refused by the database in its own words */
const positiveInt = wholeNumber(1);
/** What `streams list` shows at most per page: a larger page is refused, not quietly cut to this. */
const MAX_PER_PAGE = 1000;
const perPage = wholeNumber(1, MAX_PER_PAGE);
/** `<commit>-<prepare>`, checked before the command starts: a bad one is a wrong call (usage, exit 1), not a database error. */
const position = (value: string): string => {
  const parsed = storablePosition(value);
  if (!parsed) throw new InvalidArgumentError(`a position is <commit>-<prepare> (e.g. 812-40), commit at most ${MAX_COMMIT}, prepare at most ${MAX_PREPARE}`);
  return formatPosition(parsed);
};
/** replay's `--from`: `start`, or a position */
const positionOrStart = (value: string): string => (value.trim() === 'start' ? 'start' : position(value));
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;
const time = (value: string): string => {
  // Date() alone reads "5" as 2001 and 2026-02-30 as March 2: only ISO-8601 with a real calendar day
  const match = ISO_TIME.exec(value.trim());
  const real = match !== null && isCalendarDay(`${match[1]}-${match[2]}-${match[3]}`);
  if (!real || Number.isNaN(new Date(value.trim()).getTime())) throw new InvalidArgumentError('an ISO-8601 time, e.g. 2026-01-31 or 2026-01-31T08:00:00Z');
  return value.trim();
};
/** `--type A --type B` and `--type A,B` alike */
const collect = (value: string, previous: string[] = []): string[] => [
  ...previous,
  ...value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

// ---- output --------------------------------------------------------------

const meta = (event: EventView, key: string): string => {
  const value = event.metadata[key];
  return typeof value === 'string' ? value : '-';
};

/** One line per event: when, where, what, who, why, which request, which correlation. */
export function eventLine(event: EventView): string {
  return `${event.created}  ${event.position.padEnd(12)}  ${event.stream}@${event.revision}  ${event.type}  who=${meta(event, 'userId')} why=${meta(event, '$causationId')} request=${meta(event, 'requestId')} correlation=${meta(event, '$correlationId')}`;
}

/** Progress on stderr: a bar with rate and ETA on a terminal, a line per second otherwise; an unknown total or ETA is `?`. */
function progress(deps: OpsCommandDeps, label: string) {
  const started = Date.now();
  let bar: cliProgress.SingleBar | undefined;
  let lastLine = 0;
  let value = 0;
  let total: number | null = null;
  const rate = () => value / Math.max(0.001, (Date.now() - started) / 1000);
  const etaText = () => (total !== null && rate() > 0 ? `${Math.ceil(Math.max(0, total - value) / rate())}s` : '?');
  const totalText = () => (total === null ? '?' : String(total));
  return {
    update(done: number, all: number | null) {
      value = done;
      total = all;
      if (deps.isTty) {
        const payload = { speed: rate().toFixed(0), total_text: totalText(), eta_text: etaText() };
        if (!bar) {
          bar = new cliProgress.SingleBar(
            {
              format: `${label} [{bar}] {percentage}% | {value}/{total_text} events | {speed} ev/s | ETA {eta_text}`,
              stream: process.stderr,
              hideCursor: true,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(Math.max(all ?? done, done, 1), 0, payload);
        }
        bar.setTotal(Math.max(all ?? done, done, 1));
        bar.update(done, payload);
      } else if (Date.now() - lastLine >= 1000) {
        lastLine = Date.now();
        deps.err(`${label}: ${done}/${totalText()} events, ${rate().toFixed(0)} ev/s, ETA ${etaText()}`);
      }
    },
    stop() {
      bar?.stop();
      if (!deps.isTty && (value > 0 || total !== null)) deps.err(`${label}: ${value} events in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    },
  };
}

async function orNotFound<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof StreamNotFoundError) throw new CliError(error.message);
    if (error instanceof RangeError || error instanceof ReplayError) throw new CliError(error.message);
    throw error;
  }
}

function replayLines(report: ReplayReport): string[] {
  const verb = report.dryRun ? 'would be re-delivered' : 'will be re-delivered';
  return [
    `replay ${report.consumer} (${report.kind}) from ${report.from}: ${report.count} events ${verb}`,
    `  checkpoint ${report.checkpointBefore ?? 'none (never ran)'} → ${report.checkpointAfter ?? 'none'}${report.dryRun ? ' (dry run: unchanged)' : ''}, head ${report.head}`,
    ...report.events.map((e) => `  ${eventLine(e)}`),
    ...(report.count > report.events.length ? [`  … and ${report.count - report.events.length} more`] : []),
    report.dryRun ? 'dry run: nothing changed' : `${report.consumer} rewound: the running projector handles these events again`,
  ];
}

// ---- commands ------------------------------------------------------------

/** `streams …`, `events …`, `replay`, `audit export`. */
export function registerOpsCommands(program: Command, deps: OpsCommandDeps): void {
  const { out, withOps } = deps;

  const streams = program.command('streams').description("event streams: categories, listings, a stream's events, an aggregate's state");

  streams
    .command('categories')
    .description('Stream categories (the name before the first "-") with stream and event counts')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const categories = await withOps((ops) => listCategories(ops));
      if (options.json) return out(JSON.stringify(categories));
      for (const c of categories)
        out(`${c.category.padEnd(20)} ${String(c.streams).padStart(8)} streams ${String(c.events).padStart(10)} events  last ${c.lastEventAt ?? '-'}`);
    });

  streams
    .command('list')
    .description('Streams, newest activity first')
    .option('--category <category>', 'only this category (e.g. user, subscription)')
    .option('--prefix <prefix>', 'only streams whose name starts with this')
    .option('--page <n>', 'page (from 1)', positiveInt, 1)
    .option('--per-page <n>', `streams per page (1 to ${MAX_PER_PAGE})`, perPage, 50)
    .option('--json', 'print JSON')
    .action(async (options: { category?: string; prefix?: string; page: number; perPage: number; json?: boolean }) => {
      const result = await withOps((ops) =>
        listStreams(ops, {
          ...(options.category ? { category: options.category } : {}),
          ...(options.prefix ? { prefix: options.prefix } : {}),
          page: options.page,
          perPage: options.perPage,
        }),
      );
      if (options.json) return out(JSON.stringify(result));
      for (const s of result.items) out(`${s.stream}  revision ${s.revision}  ${s.events} events  last ${s.lastEventAt}`);
      out(`page ${options.page}: ${result.items.length} of ${result.total} streams`);
    });

  streams
    .command('show <stream>')
    .description("A stream's events: revision, type, time, position, metadata (who, why, request, correlation) and data")
    .option('--from <revision>', 'first revision to show', revision)
    .option('--limit <n>', 'at most this many events', positiveInt)
    .option('--json', 'print the events as a JSON array')
    .action(async (stream: string, options: { from?: bigint; limit?: number; json?: boolean }) => {
      const events = await withOps((ops) =>
        orNotFound(
          streamEvents(ops, stream, {
            ...(options.from !== undefined ? { fromRevision: options.from } : {}),
            ...(options.limit ? { limit: options.limit } : {}),
          }),
        ),
      );
      if (options.json) return out(JSON.stringify(events));
      out(`${stream}: ${events.length} event${events.length === 1 ? '' : 's'}`);
      for (const e of events) {
        out(`#${e.revision}  ${e.type}  ${e.created}  position ${e.position}  id ${e.id}`);
        out(`    metadata ${JSON.stringify(e.metadata)}`);
        out(`    data     ${JSON.stringify(e.data)}`);
      }
    });

  streams
    .command('state <stream>')
    .description("The aggregate's state (its events decoded, folded by its decider) up to and including a revision, and the event at it")
    .option('--at <revision>', 'the revision (default: the newest)', revision)
    .option('--json', 'print JSON')
    .action(async (stream: string, options: { at?: bigint; json?: boolean }) => {
      const result = await withOps((ops) => orNotFound(streamStateAt(ops, stream, options.at)));
      if (options.json) return out(JSON.stringify(result));
      out(`${stream} at revision ${result.revision} (${result.events} events folded; aggregate ${result.aggregate ?? 'none: no decider for this category'})`);
      if (result.event) out(`event: ${eventLine(result.event)}`);
      out(JSON.stringify(result.state, null, 2));
    });

  const events = program.command('events').description('events across streams: follow live, search');

  events
    .command('tail')
    .description('Print events as they are written, until interrupted (Ctrl-C)')
    .option('--type <type>', 'only these event types (repeat or comma-separate)', collect)
    .option('--stream-prefix <prefix>', 'only streams whose name starts with this')
    .addOption(new Option('--from <position>', 'start after this position (<commit>-<prepare>) instead of the end').argParser(position).conflicts('fromStart'))
    .option('--from-start', 'start from the beginning of $all')
    .option('--json', 'one JSON object per line (NDJSON)')
    .action(async (options: { type?: string[]; streamPrefix?: string; from?: string; fromStart?: boolean; json?: boolean }) => {
      await withOps(async (ops) => {
        const from = options.fromStart ? undefined : (options.from ?? formatPosition(await ops.store.headPosition()));
        const iterator = tailEvents(ops, {
          ...(options.type ? { types: options.type } : {}),
          ...(options.streamPrefix ? { streamPrefix: options.streamPrefix } : {}),
          fromEnd: false,
          ...(from !== undefined ? { from } : {}),
        })[Symbol.asyncIterator]();
        let stop!: () => void;
        const stopped = new Promise<'stop'>((resolve) => (stop = () => resolve('stop')));
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        deps.err(
          `tailing $all after ${from ?? 'the start'}${options.type ? ` types ${options.type.join(',')}` : ''}${options.streamPrefix ? ` streams ${options.streamPrefix}*` : ''} (Ctrl-C to stop)`,
        );
        try {
          for (;;) {
            const next = iterator.next();
            next.catch(() => undefined);
            const result = await Promise.race([next, stopped]);
            if (result === 'stop' || result.done) break;
            out(options.json ? JSON.stringify(result.value) : eventLine(result.value));
          }
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          // a pending read ends with the store, which withOps closes
          void iterator.return?.(undefined).catch(() => undefined);
        }
      });
    });

  events
    .command('search')
    .description('Events matching every given criterion, in $all order (give at least one)')
    .option('--correlation <id>', 'metadata $correlationId: a request and every reaction to it, across aggregates', someText('--correlation'))
    .option(
      '--user <id>',
      'caused by this user (metadata.userId) or concerning them (data.userId / data.ownerId); also pm:<name>, scheduler, worker:<name>',
      someText('--user'),
    )
    .option('--type <type>', 'event types (repeat or comma-separate)', collect)
    .option('--stream-prefix <prefix>', 'streams whose name starts with this')
    .option('--from <time>', 'written at or after (ISO-8601)', time)
    .option('--to <time>', 'written before (ISO-8601)', time)
    .option('--limit <n>', 'at most this many', positiveInt, 1000)
    .option('--json', 'print the events as a JSON array')
    .action(
      async (
        options: {
          correlation?: string;
          user?: string;
          type?: string[];
          streamPrefix?: string;
          from?: string;
          to?: string;
          limit: number;
          json?: boolean;
        },
        command: Command,
      ) => {
        if (!options.correlation && !options.user && !options.type?.length && !options.streamPrefix && !options.from && !options.to) {
          usageError(command, 'give at least one of --correlation, --user, --type, --stream-prefix, --from, --to');
        }
        // as GET /admin/events: a period that ends before it starts is a mistake, not an empty answer
        if (options.from && options.to && Date.parse(options.from) > Date.parse(options.to)) usageError(command, '--from is after --to');
        const found = await withOps((ops) =>
          orNotFound(
            searchEvents(ops, {
              ...(options.correlation ? { correlationId: options.correlation } : {}),
              ...(options.user ? { userId: options.user } : {}),
              ...(options.type ? { types: options.type } : {}),
              ...(options.streamPrefix ? { streamPrefix: options.streamPrefix } : {}),
              ...(options.from ? { from: options.from } : {}),
              ...(options.to ? { to: options.to } : {}),
              limit: options.limit,
            }),
          ),
        );
        if (options.json) return out(JSON.stringify(found));
        for (const e of found) out(eventLine(e));
        out(`${found.length} event${found.length === 1 ? '' : 's'}${found.length === options.limit ? ' (the limit: there may be more)' : ''}`);
      },
    );

  program
    .command('replay')
    .description('Re-drive a projection or process manager from a position: rewinds its checkpoint; the running projector handles those events again')
    .requiredOption('--consumer <name>', 'the consumer (e.g. pm-free-plans-on-registration, users-v1)', someText('--consumer'))
    .requiredOption('--from <position>', '"start", or a position <commit>-<prepare>: the event at it is the first handled again', positionOrStart)
    .option('--dry-run', 'list what would be re-delivered; change nothing')
    .option('--limit <n>', 'list at most this many of the events', positiveInt, 20)
    .option('--json', 'print the report as JSON')
    .action(async (options: { consumer: string; from: string; dryRun?: boolean; limit: number; json?: boolean }) => {
      const bar = progress(deps, `replay ${options.consumer}`);
      let report: ReplayReport;
      try {
        report = await withOps((ops) =>
          orNotFound(
            replayConsumer(ops, {
              consumer: options.consumer,
              from: options.from,
              dryRun: options.dryRun === true,
              sample: options.limit,
              onProgress: (p) => bar.update(p.scannedEvents, p.totalEvents),
            }),
          ),
        );
      } finally {
        bar.stop();
      }
      if (options.json) return out(JSON.stringify(report));
      for (const line of replayLines(report)) out(line);
    });

  const audit = program.command('audit').description('audit trails');
  audit
    .command('export')
    .description('Every event a user caused or that concerns them, with who / why (causation) / request / when, as CSV or JSON')
    .requiredOption('--user <id>', 'the user id', someText('--user'))
    .option('--from <time>', 'written at or after (ISO-8601)', time)
    .option('--to <time>', 'written before (ISO-8601)', time)
    .addOption(new Option('--format <format>', 'csv or json').choices(['csv', 'json']).default('csv'))
    .option('--output <file>', 'write to this file (default: stdout)')
    .action(async (options: { user: string; from?: string; to?: string; format: 'csv' | 'json'; output?: string }, command: Command) => {
      // as events search: a period that ends before it starts is a mistake, not an empty export
      if (options.from && options.to && Date.parse(options.from) > Date.parse(options.to)) usageError(command, '--from is after --to');
      const bar = progress(deps, `audit ${options.user}`);
      let rows = 0;
      try {
        await withOps(async (ops) => {
          const source = auditExport(ops, {
            userId: options.user,
            format: options.format,
            ...(options.from ? { from: options.from } : {}),
            ...(options.to ? { to: options.to } : {}),
            onProgress: (n) => {
              rows = n;
              bar.update(n, null);
            },
          });
          if (options.output) {
            const file = createWriteStream(options.output);
            await pipeline(source, file);
          } else {
            // line by line through `out`, so stdout stays the CLI's one writer
            let pending = '';
            const lines = new Writable({
              write(chunk: Buffer | string, _encoding, done) {
                pending += chunk.toString();
                const parts = pending.split('\n');
                pending = parts.pop()!;
                for (const line of parts) out(line);
                done();
              },
              final(done) {
                if (pending) out(pending);
                done();
              },
            });
            await pipeline(source, lines);
          }
        });
      } finally {
        bar.stop();
      }
      if (options.output) deps.err(`audit export of ${options.user}: ${rows} events written to ${options.output}`);
    });
}
