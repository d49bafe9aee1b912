import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { Command, Option } from 'commander';
import { Redis } from 'ioredis';
import knexFactory, { type Knex } from 'knex';
import { buildProgram } from '../../src/cli/program.js';
import { cliBinary, cliInProcess, type CliRun } from '../support/cli-in-process.js';
import { testDatabaseUrl, testRedisUrl } from '../setup/test-env.js';

/**
 * A bad-input sweep of the operator CLI (README "CLI", docs/operations.md):
 * every command of the program, found by walking the commander tree that
 * `buildProgram` builds (nothing starts), called without what it needs, with
 * an unknown option, and with malformed values for each option that takes
 * one. A wrong call is refused before the command touches anything:
 * `error: <what>` first on stderr, then the usage, exit 1; a failure at run
 * time is that one line alone. No stack, no log line, no `undefined`, no
 * SQL; with `--json` stdout stays empty. Nothing is written: the event store,
 * the checkpoints, the dead letters and the queues are as they were.
 *
 * The cases refused while parsing run through `runCli` in this process (what
 * src/main/cli.ts runs; a CLI start costs a second of a core), with a
 * configuration that cannot boot, so a case that got past the parser would
 * fail on that instead of doing anything. The real binary runs every case
 * that reaches the database, Redis or the file system, and a sample of the
 * parser's refusals.
 */

interface Leaf {
  path: string;
  command: Command;
}

/** Every command that runs something (those without subcommands), with its path (`consumers dead-letters list`). */
function leaves(command: Command, prefix: string[] = []): Leaf[] {
  return command.commands.flatMap((sub) => {
    const path = [...prefix, sub.name()];
    return sub.commands.length > 0 ? leaves(sub, path) : [{ path: path.join(' '), command: sub }];
  });
}

const takesValue = (option: Option) => option.required || option.optional;
const hasJson = (leaf: Leaf) => leaf.command.options.some((o) => o.long === '--json');

/** A call each command accepts (what the malformed values are added to). */
const VALID: Record<string, string[]> = {
  'users create-admin': ['--email', 'bad-input@example.test', '--password', 'a good password'],
  'retention run': ['--dry-run'],
  'retention scavenge': ['--dry-run'],
  'projections list': [],
  'projections status': [],
  'projections rebuild': ['users-v1', '--priority', 'normal'],
  'projections reset': ['users-v1'],
  'streams categories': [],
  'streams list': [],
  'streams show': ['user-x'],
  'streams state': ['user-x'],
  'events tail': [],
  'events search': ['--type', 'UserRegistered'],
  replay: ['--consumer', 'users-v1', '--from', 'start', '--dry-run'],
  'audit export': ['--user', 'someone'],
  'consumers status': [],
  'consumers dead-letters list': [],
  'consumers dead-letters retry': ['1'],
  'consumers dead-letters skip': ['1'],
  'queues stats': [],
  'queues pause': ['scrape'],
  'queues resume': ['scrape'],
  'queues retry-failed': ['scrape'],
  'queues retry': ['scrape', '1'],
  'queues promote': ['scrape', '1'],
  'queues remove': ['scrape', '1'],
};

/** Called without what it needs: the arguments, and what the error line says. */
const MISSING: Record<string, [string[], RegExp][]> = {
  'users create-admin': [
    [[], /^error: required option '--email <email>' not specified$/],
    [['--email', 'bad-input@example.test'], /^error: a password is required: --password <password> or --password-stdin$/],
  ],
  'projections rebuild': [[[], /^error: name a projection or pass --all$/]],
  'projections reset': [[[], /^error: name a projection or pass --all$/]],
  'streams show': [[[], /^error: missing required argument 'stream'$/]],
  'streams state': [[[], /^error: missing required argument 'stream'$/]],
  'events search': [[[], /^error: give at least one of --correlation, --user, --type, --stream-prefix, --from, --to$/]],
  replay: [
    [[], /^error: required option '--consumer <name>' not specified$/],
    [['--consumer', 'users-v1'], /^error: required option '--from <position>' not specified$/],
  ],
  'audit export': [[[], /^error: required option '--user <id>' not specified$/]],
  'consumers dead-letters retry': [[[], /^error: name a dead letter id, or pass --consumer <name> --all$/]],
  'consumers dead-letters skip': [[[], /^error: missing required argument 'id'$/]],
  'queues pause': [[[], /^error: missing required argument 'queue'$/]],
  'queues resume': [[[], /^error: missing required argument 'queue'$/]],
  'queues retry-failed': [[[], /^error: missing required argument 'queue'$/]],
  'queues retry': [[['scrape'], /^error: missing required argument 'jobId'$/]],
  'queues promote': [[['scrape'], /^error: missing required argument 'jobId'$/]],
  'queues remove': [[['scrape'], /^error: missing required argument 'jobId'$/]],
};

const HUGE = '99999999999999999999';
const junkText = 'junk ☃ %_\'"\\ text';
const invalidArg = (flag: string) => new RegExp(`^error: option '${flag} <[a-z]+>' argument '.*' is invalid\\. \\S`);
const numbers = (flag: string, values: string[]): [string, RegExp][] => values.map((v) => [v, invalidArg(flag)]);
const operatorValues: [string, RegExp][] = [
  ['', /--operator must not be empty$/],
  ['  ', /--operator must not be empty$/],
  ['o'.repeat(201), /--operator must be at most 200 characters$/],
];

/**
 * Per command and option that takes a value: values refused while parsing
 * (the error line must match), or `free` with why any text is a fair value
 * (those run once with junk text through the binary below, or are covered
 * there at run time).
 */
const VALUES: Record<string, [string, RegExp][] | { free: string }> = {
  'users create-admin --email': [['', /--email must not be empty$/]],
  'users create-admin --password': { free: 'checked by the registration at run time (binary cases below)' },
  'users create-admin --display-name': { free: 'checked by the registration at run time (binary cases below)' },
  'retention scavenge --batch-size': numbers('--batch-size', ['0', '-5', 'abc', '1.5', '1e3', '0x10', HUGE, '9007199254740992', junkText]),
  'projections rebuild --priority': [
    ['high', /^error: option '--priority <level>' argument 'high' is invalid\. Allowed choices are low, normal\.$/],
    [junkText, /Allowed choices are low, normal\.$/],
  ],
  'streams list --category': { free: 'a filter: junk matches nothing (binary case below)' },
  'streams list --prefix': { free: 'a filter: junk matches nothing' },
  'streams list --page': numbers('--page', ['0', '-1', 'abc', '1.5', '1e3', '0x10', HUGE, '9007199254740993', junkText]),
  'streams list --per-page': numbers('--per-page', ['0', '1001', 'abc', '1e2', HUGE]),
  'streams show --from': numbers('--from', ['-1', 'abc', '1.5', '9223372036854775808', junkText]),
  'streams show --limit': numbers('--limit', ['0', '-1', 'abc', '1e3', HUGE]),
  'streams state --at': numbers('--at', ['-1', 'abc', '9223372036854775808']),
  'events tail --type': { free: 'a filter: junk matches nothing' },
  'events tail --stream-prefix': { free: 'a filter: junk matches nothing' },
  'events tail --from': numbers('--from', ['abc', '-1-2', '1', '18446744073709551616-0', junkText]),
  'events search --correlation': [['', /--correlation must not be empty$/]],
  'events search --user': [['', /--user must not be empty$/]],
  'events search --type': { free: 'a filter: junk matches nothing' },
  'events search --stream-prefix': { free: 'a filter: junk matches nothing' },
  'events search --from': numbers('--from', ['abc', '2026-02-30', '10000-01-01', '5', junkText]),
  'events search --to': numbers('--to', ['yesterday', '2026-13-01', '2026-01-01T25:00:00Z']),
  'events search --limit': numbers('--limit', ['0', '-1', 'abc', '1e3', HUGE]),
  'replay --consumer': [['', /--consumer must not be empty$/]],
  'replay --from': numbers('--from', ['abc', '1-', '-1-0', junkText]),
  'replay --limit': numbers('--limit', ['0', 'abc', HUGE]),
  'audit export --user': [['', /--user must not be empty$/]],
  'audit export --from': numbers('--from', ['abc', '2026-02-30']),
  'audit export --to': numbers('--to', ['tomorrow']),
  'audit export --format': [['xml', /Allowed choices are csv, json\.$/]],
  'audit export --output': { free: 'a file name; one that cannot be written fails at run time (binary case below)' },
  'consumers dead-letters list --consumer': [['', /--consumer must not be empty$/]],
  'consumers dead-letters list --status': [['bogus', /Allowed choices are parked, retried, skipped, all\.$/]],
  'consumers dead-letters list --limit': numbers('--limit', ['0', '10001', 'abc', '1e3', HUGE]),
  'consumers dead-letters retry --consumer': [['', /--consumer must not be empty$/]],
  'queues stats --seconds': numbers('--seconds', ['0', '-1', '61', 'abc', '0x1', '1e1', HUGE]),
  'queues pause --operator': operatorValues,
  'queues resume --operator': operatorValues,
  'queues retry-failed --operator': operatorValues,
  'queues retry --operator': operatorValues,
  'queues promote --operator': operatorValues,
  'queues remove --operator': operatorValues,
};

/** Arguments refused while parsing: command, arguments, what the error line says. */
const BAD_ARGUMENTS: [string, string[], RegExp][] = [
  ['consumers dead-letters retry', ['abc'], /^error: command-argument value 'abc' is invalid for argument 'id'\. a dead letter id is its row number/],
  ['consumers dead-letters retry', ['1', '--all'], /^error: either an id or --consumer <name> --all, not both$/],
  ['consumers dead-letters skip', ['-1'], /^error: unknown option '-1'$/],
  ['consumers dead-letters skip', [HUGE], /^error: command-argument value '99999999999999999999' is invalid for argument 'id'/],
  ['projections rebuild', ['users-v1', '--all'], /^error: either a name or --all, not both$/],
  ['projections reset', ['users-v1', '--all'], /^error: either a name or --all, not both$/],
  ['events tail', ['--from', '1-0', '--from-start'], /^error: option '--from <position>' cannot be used with option '--from-start'$/],
  ['events search', ['--from', '2026-03-01', '--to', '2026-01-01'], /^error: --from is after --to$/],
  ['audit export', ['--user', 'u', '--from', '2026-03-01', '--to', '2026-01-01'], /^error: --from is after --to$/],
  ['users create-admin', ['--email', 'a@example.test', '--password', 'x', '--password-stdin'], /cannot be used with option '--password-stdin'$/],
  ['queues retry', ['scrape', 'a:b'], /^error: command-argument value 'a:b' is invalid for argument 'jobId'\. a job id is 1 to 200 characters without ":"$/],
  ['queues remove', ['scrape', 'j'.repeat(201)], /argument 'jobId'\. a job id is 1 to 200 characters without ":"$/],
  ['queues promote', ['scrape', ''], /argument 'jobId'\. a job id is 1 to 200 characters without ":"$/],
];

const GROUPS: [string[], RegExp][] = [
  [[], /^error: missing command \(one of: users, retention, projections, streams, events, replay, audit, consumers, queues\)$/],
  [['retention'], /^error: missing command \(one of: run, scavenge\)$/],
  [['consumers', 'dead-letters'], /^error: missing command \(one of: list, retry, skip\)$/],
  [['help', 'bogus'], /^error: unknown command 'bogus' \(commands: users, retention, /],
  [['projections', 'bogus'], /^error: unknown command 'bogus'$/],
];

/**
 * What is wrong with how a call was refused, or null: a wrong call (`usage`:
 * the error line, then the command's usage) or a failure at run time (the
 * error line alone), exit 1, nothing on stdout.
 */
function refusalProblem(run: CliRun, call: string, mentions: RegExp, usage: boolean): string | null {
  const lines = run.stderr.replace(/\n$/, '').split('\n');
  const problems = [
    run.code !== 1 && `exit ${run.code}`,
    run.stdout !== '' && 'stdout not empty',
    !/^error: \S/.test(lines[0]!) && 'stderr does not start with "error: "',
    !mentions.test(lines[0]!) && `the error line does not match ${mentions}`,
    usage && !/\n\nUsage: cli /.test(run.stderr) && 'no usage after the error line',
    !usage && lines.length !== 1 && 'more than one line on stderr',
    /^\s+at \S/m.test(run.stderr) && 'a stack trace',
    /undefined|\[object Object\]|NaN|"level":|ZodError|\bSELECT\b|invalid input syntax|out of range for type/.test(run.stderr) && 'internals on stderr',
  ].filter(Boolean);
  if (problems.length === 0) return null;
  return `cli ${call}: ${problems.join(', ')}\n  stdout: ${run.stdout.slice(0, 300)}\n  stderr: ${run.stderr.split('\n').slice(0, 3).join('\n          ')}`;
}

const quote = (args: readonly string[]) => args.map((a) => (/^[\w./:-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');

/** Runs `work` over `items`, `width` at a time (each CLI start takes about a second of a core). */
async function pooled<T, R>(items: readonly T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const at = next++;
        results[at] = await work(items[at]!);
      }
    }),
  );
  return results;
}

describe('cli: bad input to every command (e2e, real binary)', function () {
  this.timeout(240_000);
  const id = randomUUID().replaceAll('-', '').slice(0, 10);
  const queuePrefix = `cli-bad-input-${id}`;
  // the queues of this suite alone: a case that touched one must not pause anything else
  const binaryEnv: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'test',
    DATABASE_URL: testDatabaseUrl,
    REDIS_URL: testRedisUrl,
    QUEUE_PREFIX: queuePrefix,
    // the CLI's own default (warnings): a log line on a refusal is a finding
    LOG_LEVEL: '',
  };
  // parsing alone: a case that got past it fails here on the configuration instead of doing anything
  const parseOnlyEnv: NodeJS.ProcessEnv = { ...binaryEnv, DATABASE_URL: 'not-a-database-url' };
  const program = buildProgram({ out: () => undefined, err: () => undefined, readStdin: async () => '', env: {} });
  const all = leaves(program);
  let knex: Knex;
  const takenEmail = `taken-${id}@example.test`;

  /** What a failed command must leave as it was. */
  async function written(): Promise<string> {
    const { rows } = await knex.raw<{ rows: { state: string }[] }>(
      `SELECT concat_ws('|',
         (SELECT count(*) FROM es_events),
         (SELECT md5(coalesce(string_agg(c::text, ',' ORDER BY c.consumer), '')) FROM consumer_checkpoints c),
         (SELECT md5(coalesce(string_agg(d::text, ',' ORDER BY d.id), '')) FROM consumer_dead_letters d)) AS state`,
    );
    return rows[0]!.state;
  }

  before(async () => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 1 } });
    const created = await cliBinary(['users', 'create-admin', '--email', takenEmail, '--password', 'a good password', '--json'], binaryEnv);
    expect(created.code, created.stderr).to.equal(0);
  });
  after(async () => {
    await knex?.destroy();
    // reading a queue's numbers leaves its meta key: this suite's prefix goes with it
    const redis = new Redis(testRedisUrl, { lazyConnect: true });
    try {
      await redis.connect();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${queuePrefix}:*`, 'COUNT', 500);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  });

  it('every command and every option that takes a value is in the sweep', () => {
    expect(all.map((l) => l.path).sort()).to.deep.equal(Object.keys(VALID).sort());
    const swept = all.flatMap((leaf) => leaf.command.options.filter(takesValue).map((o) => `${leaf.path} ${o.long}`));
    expect(swept.sort()).to.deep.equal(Object.keys(VALUES).sort());
  });

  it('refuses a wrong call to any command before it starts: the error line, the usage, exit 1 (--json: nothing on stdout)', async () => {
    const cases: { args: string[]; mentions: RegExp }[] = [];
    const withJson = (leaf: Leaf, args: string[], mentions: RegExp) => {
      cases.push({ args, mentions });
      if (hasJson(leaf)) cases.push({ args: [...args, '--json'], mentions });
    };
    for (const leaf of all) {
      const words = leaf.path.split(' ');
      const valid = VALID[leaf.path]!;
      withJson(leaf, [...words, ...valid, '--no-such-option'], /^error: unknown option '--no-such-option'$/);
      withJson(leaf, [...words, ...valid, '--no-such-option=junk'], /^error: unknown option '--no-such-option=junk'$/);
      const extra = Array.from({ length: leaf.command.registeredArguments.length + 1 }, (_, n) => `junk${n}`);
      withJson(leaf, [...words, ...valid, ...extra], /^error: too many arguments for '[a-z-]+'\. Expected \d+ arguments? but got \d+\.$/);
      for (const [args, mentions] of MISSING[leaf.path] ?? []) withJson(leaf, [...words, ...args], mentions);
      for (const option of leaf.command.options.filter(takesValue)) {
        // last: an option's value is the next word whatever it is (`--limit --json` reads --json as the limit)
        cases.push({ args: [...words, ...valid, option.long!], mentions: /^error: option '--[a-z-]+ <[a-z]+>' argument missing$/ });
        // a value forgotten before another option: that option is not taken for the value (`--category --json`)
        for (const next of hasJson(leaf) ? ['--json', '--help'] : ['--help'])
          cases.push({
            args: [...words, ...valid, option.long!, next],
            mentions: new RegExp(`^error: option '--[a-z-]+ <[a-z]+>' argument missing \\('${next}' is an option\\)$`),
          });
        const values = VALUES[`${leaf.path} ${option.long}`]!;
        if (!Array.isArray(values)) continue;
        for (const [value, mentions] of values) withJson(leaf, [...words, ...valid, option.long!, value], mentions);
      }
    }
    for (const [path, args, mentions] of BAD_ARGUMENTS) {
      const leaf = all.find((l) => l.path === path)!;
      withJson(leaf, [...path.split(' '), ...args], mentions);
    }
    for (const [args, mentions] of GROUPS) cases.push({ args, mentions });

    expect(cases.length).to.be.above(300);
    const problems: string[] = [];
    for (const { args, mentions } of cases) {
      const problem = refusalProblem(await cliInProcess(args, parseOnlyEnv), quote(args), mentions, true);
      if (problem) problems.push(problem);
    }
    expect(problems, `${problems.length} of ${cases.length} calls:\n${problems.join('\n')}`).to.deep.equal([]);
  });

  it('the real binary: failures at run time are one line, wrong calls are refused, --json prints nothing, and nothing is written', async () => {
    const before = await written();
    // [arguments, what the error line says, a wrong call (usage follows)]
    const failures: [string[], RegExp, boolean][] = [
      // run time: what the command looks up is not there
      [['projections', 'status', 'nosuch-v1', '--json'], /^error: unknown projection "nosuch-v1" \(known: users-v1, /, false],
      [['projections', 'rebuild', 'nosuch-v1', '--priority', 'normal', '--json'], /^error: unknown projection "nosuch-v1" \(known: users-v1, /, false],
      [['projections', 'reset', 'nosuch-v1', '--json'], /^error: unknown projection "nosuch-v1" \(known: users-v1, /, false],
      [['streams', 'show', `user-${id}`, '--json'], new RegExp(`^error: stream user-${id} not found$`), false],
      [['streams', 'state', `user-${id}`, '--at', '3', '--json'], new RegExp(`^error: stream user-${id} not found$`), false],
      [['replay', '--consumer', 'nosuch-v1', '--from', 'start', '--json'], /^error: unknown consumer "nosuch-v1"; known: users-v1, /, false],
      [
        ['replay', '--consumer', 'users-v1', '--from', '18446744073709551615-9223372036854775807', '--json'],
        /^error: users-v1 is at .*: from 18446744073709551615-9223372036854775807 would skip events, not replay them$/,
        false,
      ],
      [['consumers', 'dead-letters', 'retry', '--consumer', 'nosuch-v1', '--all', '--json'], /^error: unknown consumer "nosuch-v1"; known: /, false],
      [['consumers', 'dead-letters', 'retry', '999999999', '--json'], /^error: no dead letter 999999999$/, false],
      [['consumers', 'dead-letters', 'skip', '999999999', '--json'], /^error: no dead letter 999999999$/, false],
      [['queues', 'pause', 'nosuch'], /^error: no queue nosuch \(queues: scrape, /, false],
      [['queues', 'retry-failed', junkText], /^error: no queue junk ☃ .* \(queues: scrape, /, false],
      [['queues', 'promote', 'scrape', '999999'], /^error: no job 999999 in queue scrape$/, false],
      [
        ['users', 'create-admin', '--email', takenEmail, '--password', 'a good password', '--json'],
        /^error: cannot create admin: the email address .* is already registered$/,
        false,
      ],
      [
        ['users', 'create-admin', '--email', 'not an email', '--password', 'a good password', '--json'],
        /^error: cannot create admin: invalid input: --email must be an email address/,
        false,
      ],
      [
        ['users', 'create-admin', '--email', `short-${id}@example.test`, '--password', 'short', '--json'],
        /^error: cannot create admin: invalid input: the password must be 8 to 1024 characters$/,
        false,
      ],
      [
        ['users', 'create-admin', '--email', `nameless-${id}@example.test`, '--password', 'a good password', '--display-name', ' ', '--json'],
        /^error: cannot create admin: invalid input: --display-name must be 1 to 100 characters$/,
        false,
      ],
      [
        ['audit', 'export', '--user', 'someone', '--output', `/nonexistent-${id}/audit.csv`],
        /^error: ENOENT: no such file or directory, open '\/nonexistent-/,
        false,
      ],
      // a sample of wrong calls through the real process (the in-process sweep has every one)
      [['queues', 'pause', 'scrape', '--operator', ''], /^error: option '--operator <name>' argument '' is invalid\. --operator must not be empty$/, true],
      [
        ['streams', 'list', '--page', HUGE, '--json'],
        /^error: option '--page <n>' argument '99999999999999999999' is invalid\. a whole number from 1 to/,
        true,
      ],
      [['events', 'search', '--type', 'X', '--limit', '1e3', '--json'], /^error: option '--limit <n>' argument '1e3' is invalid/, true],
      [['retention'], /^error: missing command \(one of: run, scavenge\)$/, true],
      [['projections', 'rebuild', 'users-v1', '--priority', 'high', '--json'], /^error: option '--priority <level>' argument 'high' is invalid/, true],
      [[], /^error: missing command \(one of: users, /, true],
    ];
    const runs = await pooled(failures, 2, ([args]) => cliBinary(args, binaryEnv));
    const problems = failures.map(([args, mentions, usage], n) => refusalProblem(runs[n]!, quote(args), mentions, usage)).filter((p) => p !== null);

    // junk text where any text is a fair filter: a clean empty answer
    const [category, correlation, stats] = await pooled(
      [
        ['streams', 'list', '--category', junkText, '--json'],
        ['events', 'search', '--correlation', junkText, '--json'],
        ['queues', 'stats', '--seconds', '0.1', '--json'],
      ],
      2,
      (args) => cliBinary(args, binaryEnv),
    );
    expect(category!.code, category!.stderr).to.equal(0);
    expect(JSON.parse(category!.stdout)).to.deep.include({ items: [], total: 0 });
    expect(correlation!.code, correlation!.stderr).to.equal(0);
    expect(JSON.parse(correlation!.stdout)).to.deep.equal([]);
    // a refused intervention did nothing to the queue either
    expect(stats!.code, stats!.stderr).to.equal(0);
    const queues = (JSON.parse(stats!.stdout) as { queues: { name: string; paused: boolean }[] }).queues;
    const paused = queues.filter((q) => q.paused).map((q) => q.name);
    if (paused.length > 0) problems.push(`paused by a refused call: ${paused.join(', ')}`);
    if ((await written()) !== before) problems.push('events, checkpoints or dead letters changed');
    expect(problems, problems.join('\n')).to.deep.equal([]);
  });
});
