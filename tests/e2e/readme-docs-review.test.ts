import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory from 'knex';
import { ConfigError, DEV_ONLY_SECRETS, loadConfig, parseDurations } from '../../src/config.js';
import { demoSettings } from '../../sandbox/demo/run.js';
import { testDatabaseUrl, testRedisUrl } from '../setup/test-env.js';
import { cliBinary, cliInProcess, type CliRun } from '../support/cli-in-process.js';
import { startPlatform, type Platform } from '../support/platform.js';

/**
 * README.md read top to bottom as a newcomer would, each claim the other
 * docs reviews leave alone tried for real: the configuration table against
 * src/config.ts both ways (names, defaults, ranges, the values it takes and
 * the one line a bad one gets, in production too), the variable tables of
 * docs/*.md, the processes refusing a bad value before doing anything, the
 * CLI commands and flags the README shows (help, the forms shown, wrong
 * calls), the npm scripts it names, and the requests it (and the demo it
 * describes) shows, sent as written to a started platform.
 */

const README = readFileSync('README.md', 'utf8');
const PACKAGE = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };

interface Row {
  names: string[];
  default: string;
  meaning: string;
}

/** The rows of a markdown table whose first cell names variables (`A`, `B`, `…_C_D` after `X_Y_Z`, `X_<PLATFORM>_Y`). */
function variableRows(text: string): Row[] {
  const rows: Row[] = [];
  for (const line of text.split('\n')) {
    if (!/^\| `[A-Z]/.test(line)) continue;
    const [, first = '', def = '', ...rest] = line.split(/(?<!\\)\|/).map((cell) => cell.trim());
    const tokens = [...first.matchAll(/`([A-Z0-9_…<>]+)`/g)].map((m) => m[1]!);
    if (tokens.length === 0) continue;
    const names: string[] = [];
    let prefix = '';
    for (const token of tokens) {
      if (token.startsWith('…')) names.push(`${prefix}${token.slice(1)}`);
      else if (token.includes('<PLATFORM>')) names.push(...['BAIDU', 'SOHU', 'NETEASE'].map((p) => token.replace('<PLATFORM>', p)));
      else {
        names.push(token);
        prefix = token.split('_').slice(0, 2).join('_');
      }
    }
    rows.push({ names, default: def, meaning: rest.join('|') });
  }
  return rows;
}

const configSection = README.slice(README.indexOf('## Configuration'), README.indexOf('## npm scripts'));
const readmeRows = variableRows(configSection);
const rowOf = (name: string): Row => {
  const row = readmeRows.find((r) => r.names.includes(name));
  if (!row) expect.fail(`README's configuration table has no row for ${name}`);
  return row;
};

/** What production needs on top of the defaults. */
const productionSecrets = {
  NODE_ENV: 'production',
  JWT_SECRET: randomBytes(36).toString('base64'),
  ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
  SMTP_URL: 'smtps://mail.example.test',
  PUBLIC_WEB_URL: 'https://app.example.test',
  OPS_TOKEN: randomBytes(24).toString('hex'),
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return (error as ConfigError).problems.slice();
  }
  return [];
}

const DEFAULTS = loadConfig({}) as unknown as Record<string, unknown>;
const VARIABLES = Object.keys(DEFAULTS);

/** [min, max] of an integer variable, read from what the code answers to a non-number. */
function integerRange(name: string): [number, number] | null {
  const [line] = problemsOf({ [name]: 'abc' });
  const m = new RegExp(`^${name}: must be an integer between (\\d+) and (\\d+) \\(got "abc"\\)$`).exec(line ?? '');
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/** The first `a–b` of a row's text (the README's way of writing a range). */
const documentedRange = (text: string): [number, number] | null => {
  const m = /(\d[\d.]*)–(\d[\d.]*)/.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : null;
};

/** What the default cell of a variable row says the default is, as loadConfig({}) gives it. */
function documentedDefault(name: string, cell: string): unknown {
  if (/^(unset|—)/.test(cell)) return name === 'TRUST_PROXY' ? [] : undefined;
  if (cell === 'empty') return {};
  if (name === 'JWT_SECRET') return /dev-only value/.test(cell) ? DEV_ONLY_SECRETS.JWT_SECRET : cell;
  if (name === 'ENCRYPTION_KEY_ID') return /the first id in `ENCRYPTION_KEYS`/.test(cell) ? 'dev' : cell;
  const split = /production `([^`]*)`, otherwise `([^`]*)`/.exec(cell);
  if (split) return split[2];
  const literal = /`([^`]*)`/.exec(cell)?.[1];
  if (literal === undefined) return cell;
  if (name === 'ENCRYPTION_KEYS') return literal.startsWith('dev:') ? 'dev' : literal;
  if (name === 'PUBLICATION_METRICS_SCHEDULE') return parseDurations(literal);
  if (/^\d+$/.test(literal)) return Number(literal);
  if (literal === 'true' || literal === 'false') return literal === 'true';
  return literal;
}

const actualDefault = (name: string): unknown => (name === 'ENCRYPTION_KEYS' ? (DEFAULTS[name] as { id: string }[])[0]!.id : DEFAULTS[name]);

/** Variables the README documents beside config.ts: read by the demo and the tests. */
const OUTSIDE_CONFIG = ['TEST_DATABASE_URL', 'TEST_REDIS_URL', 'TEST_LOG_LEVEL', 'DEMO_DATABASE', 'DEMO_PORT'];
/** Ranges the README writes for variables that are not integers (checked by hand below). */
const NON_INTEGER_RANGES = ['SMS_CODE_TTL_MINUTES', 'PUBLICATION_METRICS_SCHEDULE'];

describe('README as a newcomer reads it (e2e review)', function () {
  this.timeout(60_000);

  describe('Configuration', () => {
    it('the table names every variable src/config.ts reads, and every variable it names is read there (or by the demo and tests)', () => {
      const documented = readmeRows.flatMap((r) => r.names);
      expect(
        VARIABLES.filter((name) => !documented.includes(name)),
        'read by config.ts, missing from the README',
      ).to.deep.equal([]);
      expect(
        documented.filter((name) => !VARIABLES.includes(name) && !OUTSIDE_CONFIG.includes(name)),
        'in the README, read nowhere',
      ).to.deep.equal([]);
      expect(new Set(documented).size, 'a variable with two rows').to.equal(documented.length);
    });

    it('every default is the documented one, in development and (where it says so) in production', () => {
      for (const row of readmeRows) {
        for (const name of row.names.filter((n) => VARIABLES.includes(n))) {
          expect(actualDefault(name), `${name}: README says ${row.default}`).to.deep.equal(documentedDefault(name, row.default));
          const production = /production `([^`]*)`, otherwise/.exec(row.default)?.[1];
          if (production !== undefined) {
            expect((loadConfig(productionSecrets) as unknown as Record<string, unknown>)[name], `${name} in production`).to.equal(production);
          }
        }
      }
    });

    it('every integer variable states its range; both edges are taken and one past either is one line naming the variable', () => {
      const unstated: string[] = [];
      for (const name of VARIABLES) {
        const range = integerRange(name);
        const stated = documentedRange(rowOf(name).meaning);
        if (!range) {
          if (stated) expect(NON_INTEGER_RANGES, `${name}: the README states a range ${stated.join('–')}, the code takes no integer`).to.include(name);
          continue;
        }
        if (!stated) {
          unstated.push(`${name} (${range.join('–')})`);
          continue;
        }
        expect(stated, `${name}: README range`).to.deep.equal(range);
        const [min, max] = range;
        for (const edge of [min, max]) expect((loadConfig({ [name]: String(edge) }) as unknown as Record<string, unknown>)[name], name).to.equal(edge);
        for (const past of [min - 1, max + 1].filter((v) => v >= 0)) {
          expect(problemsOf({ [name]: String(past) }), name).to.deep.equal([`${name}: must be an integer between ${min} and ${max} (got "${past}")`]);
        }
      }
      expect(unstated, 'integer variables whose README row states no range').to.deep.equal([]);
    });

    it('the decimal and list variables keep their stated bounds: SMS_CODE_TTL_MINUTES 0.05–60, PUBLICATION_METRICS_SCHEDULE 1–12 durations of at most 30 d', () => {
      expect(documentedRange(rowOf('SMS_CODE_TTL_MINUTES').meaning)).to.deep.equal([0.05, 60]);
      for (const ok of ['0.05', '0.5', '60']) expect(loadConfig({ SMS_CODE_TTL_MINUTES: ok }).SMS_CODE_TTL_MINUTES).to.equal(Number(ok));
      for (const bad of ['0.04', '60.01', '-1', '1e1']) {
        expect(problemsOf({ SMS_CODE_TTL_MINUTES: bad })).to.deep.equal([
          `SMS_CODE_TTL_MINUTES: must be a number of minutes between 0.05 and 60 (got "${bad}")`,
        ]);
      }
      expect(rowOf('PUBLICATION_METRICS_SCHEDULE').meaning).to.include('1–12 comma-separated durations').and.include('each at most 30 d');
      expect(loadConfig({ PUBLICATION_METRICS_SCHEDULE: Array(12).fill('30d').join(',') }).PUBLICATION_METRICS_SCHEDULE).to.have.length(12);
      expect(loadConfig({ PUBLICATION_METRICS_SCHEDULE: '90s,30m' }).PUBLICATION_METRICS_SCHEDULE).to.deep.equal([90_000, 1_800_000]);
      for (const bad of [Array(13).fill('1h').join(','), '31d', '0s', '1w']) {
        const lines = problemsOf({ PUBLICATION_METRICS_SCHEDULE: bad });
        expect(lines, bad).to.have.length(1);
        expect(lines[0]).to.match(/^PUBLICATION_METRICS_SCHEDULE: must be 1-12 comma-separated durations/);
      }
    });

    it('an enumerated variable takes exactly the values its row lists', () => {
      let seen = 0;
      for (const name of VARIABLES) {
        const m = new RegExp(`^${name}: must be one of ([a-z]+(?:, [a-z]+)+) \\(got "bogus"\\)$`).exec(problemsOf({ [name]: 'bogus' })[0] ?? '');
        if (!m) continue;
        seen++;
        const listed = [...rowOf(name).meaning.matchAll(/`([a-z]+)`/g)].map((v) => v[1]);
        expect(listed, name).to.have.members(m[1]!.split(', '));
      }
      expect(seen, 'NODE_ENV, LOG_LEVEL, EMAIL_VERIFICATION').to.equal(3);
    });

    it('takes the documented forms: keys as PEM, one-line PEM with \\n escapes or bare base64; media storage as file: or s3:', () => {
      const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const ed = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const bare = (pem: string) => pem.replace(/-----[^-]+-----|\s/g, '');
      for (const form of [rsa, rsa.replaceAll('\n', '\\n'), bare(rsa)]) expect(loadConfig({ ALIPAY_PUBLIC_KEY: form }).ALIPAY_PUBLIC_KEY).to.equal(rsa);
      for (const form of [ed, ed.replaceAll('\n', '\\n'), bare(ed)]) expect(loadConfig({ SMS_PROVIDER_PUBLIC_KEY: form }).SMS_PROVIDER_PUBLIC_KEY).to.equal(ed);
      for (const url of [
        'file:./data/media',
        'file:///var/lib/collector/media',
        's3://AK:S%2Fe%2Bc@127.0.0.1:9000/bucket/prefix?region=us-east-1&path_style=true&tls=false',
      ]) {
        expect(loadConfig({ MEDIA_STORAGE_URL: url }).MEDIA_STORAGE_URL).to.equal(url);
      }
      expect(loadConfig({ SMTP_URL: 'smtp://mail.example:587?requireTLS=true' }).SMTP_URL).to.include('requireTLS=true');
    });

    it('each documented refusal is one line naming the variable and saying what it wants, never a secret', () => {
      const cases: [Record<string, string>, string][] = [
        [{ OPS_TOKEN: 'x'.repeat(31) }, 'OPS_TOKEN: must be at least 32 characters (got a value of 31 characters)'],
        [{ WECHAT_API_V3_KEY: 'x'.repeat(31) }, 'WECHAT_API_V3_KEY: must be exactly 32 characters (got a value of 31 characters)'],
        [{ OAUTH_CLIENT_SOHU_SECRET: 'x'.repeat(15) }, 'OAUTH_CLIENT_SOHU_SECRET: must be at least 16 characters (got a value of 15 characters)'],
        [{ SMS_API_SECRET: 'x'.repeat(31) }, 'SMS_API_SECRET: must be at least 32 characters (got a value of 31 characters)'],
        [{ SMS_API_KEY: 'k'.repeat(201) }, 'SMS_API_KEY: must be at most 200 characters (got a value of 201 characters)'],
        [{ TOTP_ISSUER: 'Acme:Corp' }, 'TOTP_ISSUER: must not contain ":" (got "Acme:Corp")'],
        [{ TOTP_ISSUER: 'x'.repeat(65) }, `TOTP_ISSUER: must be at most 64 characters (got "${'x'.repeat(65)}")`],
        [{ TOTP_ISSUER: '   ' }, 'TOTP_ISSUER: must not be blank (got "   ")'],
        [{ QUEUE_PREFIX: 'my queues' }, 'QUEUE_PREFIX: must be 1-64 letters, digits, _ : - (got "my queues")'],
        [{ SMS_DEFAULT_REGION: 'China' }, 'SMS_DEFAULT_REGION: must be an ISO 3166-1 alpha-2 code (got "China")'],
        [{ QUOTA_TIME_ZONE: 'Mars/Olympus_Mons' }, 'QUOTA_TIME_ZONE: must be an IANA time zone such as Asia/Shanghai (got "Mars/Olympus_Mons")'],
        [{ SMS_CHARGE_LEDGER: 'yes' }, 'SMS_CHARGE_LEDGER: must be true or false (got "yes")'],
        [{ ENCRYPTION_KEY_ID: 'k9' }, 'ENCRYPTION_KEY_ID: must be one of the ENCRYPTION_KEYS ids (dev) (got "k9")'],
        [{ EVENTSTORE_USERNAME: 'admin' }, 'EVENTSTORE_USERNAME: needs EVENTSTORE_CONNECTION_STRING (it is for EventStoreDB) (got "admin")'],
      ];
      for (const [env, line] of cases) expect(problemsOf(env), JSON.stringify(env)).to.deep.equal([line]);
      // the table's words for EventStoreDB's user: set both, needs TLS, not also in the connection string
      expect(rowOf('EVENTSTORE_USERNAME').meaning).to.include('set both; needs TLS; not also in the connection string');
      for (const env of [
        { EVENTSTORE_CONNECTION_STRING: 'esdb://es:2113', EVENTSTORE_USERNAME: 'admin' } as Record<string, string>,
        { EVENTSTORE_CONNECTION_STRING: 'esdb://es:2113?tls=false', EVENTSTORE_USERNAME: 'admin', EVENTSTORE_PASSWORD: 'changeit' },
        { EVENTSTORE_CONNECTION_STRING: 'esdb://admin:changeit@es:2113', EVENTSTORE_USERNAME: 'admin', EVENTSTORE_PASSWORD: 'changeit' },
      ]) {
        const lines = problemsOf(env);
        expect(lines, JSON.stringify(env)).to.have.length(1);
        expect(lines[0])
          .to.match(/^EVENTSTORE_CONNECTION_STRING: /)
          .and.not.include('changeit');
      }
      for (const [name, value] of [
        ['PROXY_COSTS_CENTS', 'p1=3,p2=x'],
        ['SMS_COSTS_CENTS', 'cn=3'],
        ['ALIPAY_PUBLIC_KEY', 'not a key'],
        ['OAUTH_CLIENT_BAIDU_PUBLIC_KEY', 'not a key'],
        ['MEDIA_STORAGE_URL', 'ftp://media.example'],
      ] as const) {
        const lines = problemsOf({ [name]: value });
        expect(lines, name).to.have.length(1);
        expect(lines[0]).to.match(new RegExp(`^${name}: must be`));
      }
    });

    it('no value of any variable is refused in the schema library’s words: every line names a variable and says what it wants', () => {
      const odd = ['abc', ' ', '-1', '1.5', 'x'.repeat(300), 'http://', ':', '0', '%', 'a:b'];
      for (const name of VARIABLES) {
        for (const value of odd) {
          for (const line of problemsOf({ [name]: value })) {
            const named = /^([A-Z][A-Z0-9_]*): (.+)$/.exec(line);
            expect(named, `${name}=${JSON.stringify(value)} → ${line}`).to.not.equal(null);
            expect(VARIABLES, line).to.include(named![1]);
            expect(named![2], `${name}=${JSON.stringify(value)}`).to.not.match(/Too (big|small)|Invalid input|expected (string|number)/);
            if (named![1] !== name) expect(named![2], line).to.equal(`is required when ${name} is set`);
          }
        }
      }
    });

    it('variables that go together: setting one asks for exactly the ones its row names, one line each', () => {
      const privateKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      const named = (row: Row): string[] => {
        const m = /with it ((?:`[A-Z0-9_]+`(?:, | and )?)+) are required/.exec(row.meaning);
        return m ? [...m[1]!.matchAll(/`([A-Z0-9_]+)`/g)].map((v) => v[1]!) : [];
      };
      const smsIndex = readmeRows.findIndex((r) => r.names.includes('SMS_PROVIDER_URL'));
      expect(readmeRows[smsIndex]!.meaning).to.include('the four below are required');
      const together: [string, string, string[]][] = [
        ['ALIPAY_APP_PRIVATE_KEY', privateKey, named(rowOf('ALIPAY_APP_PRIVATE_KEY'))],
        ['WECHAT_MCH_PRIVATE_KEY', privateKey, named(rowOf('WECHAT_MCH_PRIVATE_KEY'))],
        ['SMS_PROVIDER_URL', 'https://sms.example.test', readmeRows.slice(smsIndex + 1, smsIndex + 5).flatMap((r) => r.names)],
      ];
      expect(rowOf('OAUTH_CLIENT_SOHU_ID').meaning).to.include(
        'with it the `_SECRET` and `_PUBLIC_KEY` of the same platform and `OPEN_PLATFORM_URL` are required',
      );
      for (const p of ['BAIDU', 'SOHU', 'NETEASE']) {
        together.push([`OAUTH_CLIENT_${p}_ID`, 'our-client', [`OAUTH_CLIENT_${p}_SECRET`, `OAUTH_CLIENT_${p}_PUBLIC_KEY`, 'OPEN_PLATFORM_URL']]);
      }
      for (const [given, value, wanted] of together) {
        expect(wanted, given).to.not.be.empty;
        expect(problemsOf({ [given]: value }), given).to.have.members(wanted.map((name) => `${name}: is required when ${given} is set`));
      }
    });

    it('production: a start without configuration names at once every variable the table marks required in production, and mail without TLS', () => {
      const required = readmeRows.filter((r) => r.default.includes('**required in production**')).flatMap((r) => r.names);
      expect(required).to.have.members(['OPS_TOKEN', 'JWT_SECRET', 'ENCRYPTION_KEYS', 'PUBLIC_WEB_URL']);
      expect(rowOf('SMTP_URL').meaning).to.include('production requires `smtps://` or `?requireTLS=true`');
      const lines = problemsOf({ NODE_ENV: 'production' });
      expect(lines.map((l) => l.split(':')[0])).to.have.members([...required, 'SMTP_URL']);
      for (const name of required) expect(lines.find((l) => l.startsWith(`${name}:`))).to.match(new RegExp(`^${name}: is required in production`));
      // beside a value the schema refuses, the weak one is still named, and a refused one keeps its own line
      expect(problemsOf({ ...productionSecrets, PORT: 'abc', OPS_TOKEN: 'short', JWT_SECRET: 'a'.repeat(40) })).to.deep.equal([
        'OPS_TOKEN: must be at least 32 characters (got a value of 5 characters)',
        'PORT: must be an integer between 0 and 65535 (got "abc")',
        'JWT_SECRET: too little variety to be a secret (fewer than 12 distinct characters); use e.g. `openssl rand -base64 48`',
      ]);
      // the gateways want https in production only once their provider is offered (a merchant key set)
      expect(problemsOf({ ...productionSecrets, ALIPAY_GATEWAY_URL: 'http://gateway.example' })).to.deep.equal([]);
    });

    it('the variable tables of docs/*.md agree with the code: names, defaults, ranges', () => {
      let checked = 0;
      for (const file of ['ledger', 'mfa', 'publishing', 'sms', 'automation', 'operations', 'scaling', 'organizations', 'statistics', 'plans', 'http-api']) {
        for (const row of variableRows(readFileSync(`docs/${file}.md`, 'utf8'))) {
          for (const name of row.names) {
            if (!/^[A-Z][A-Z0-9]*_[A-Z0-9_]+$/.test(name)) continue;
            checked++;
            expect(VARIABLES, `docs/${file}.md names ${name}`).to.include(name);
            expect(actualDefault(name), `docs/${file}.md: ${name} defaults to ${row.default}`).to.deep.equal(documentedDefault(name, row.default));
            const stated = documentedRange(row.meaning);
            if (stated && !NON_INTEGER_RANGES.includes(name)) expect(stated, `docs/${file}.md: ${name}'s range`).to.deep.equal(integerRange(name));
          }
        }
      }
      expect(checked).to.be.greaterThan(30);
    });

    it('DEMO_DATABASE and DEMO_PORT default as documented, log to $TMPDIR/<DEMO_DATABASE>.log and refuse a bad value in one line; TEST_* too', () => {
      expect(documentedDefault('DEMO_DATABASE', rowOf('DEMO_DATABASE').default)).to.equal('collector_demo');
      expect(demoSettings({})).to.deep.include({ database: 'collector_demo', port: 3000, logFile: path.join(os.tmpdir(), 'collector_demo.log') });
      expect(demoSettings({ DEMO_DATABASE: 'mine', DEMO_PORT: '0' })).to.deep.include({
        database: 'mine',
        port: 0,
        logFile: path.join(os.tmpdir(), 'mine.log'),
      });
      expect(demoSettings({ DEMO_DATABASE: '', DEMO_PORT: '' })).to.deep.include({ database: 'collector_demo', port: 3000 });
      expect(demoSettings({ DEMO_PORT: 'http' })).to.deep.equal({ problem: 'DEMO_PORT must be a port number (0 picks a free one), not "http"' });
      expect((demoSettings({ DEMO_DATABASE: 'My-Demo' }) as { problem: string }).problem).to.match(/^DEMO_DATABASE must be a plain database name/);
      const testEnv = readFileSync('tests/setup/test-env.ts', 'utf8');
      for (const name of ['TEST_DATABASE_URL', 'TEST_REDIS_URL']) {
        expect(testEnv, name).to.include(`process.env.${name} ?? '${documentedDefault(name, rowOf(name).default)}'`);
      }
      expect(readFileSync('tests/support/platform.ts', 'utf8') + readFileSync('tests/setup/test-env.ts', 'utf8')).to.include(
        `process.env.TEST_LOG_LEVEL ?? '${documentedDefault('TEST_LOG_LEVEL', rowOf('TEST_LOG_LEVEL').default)}'`,
      );
    });

    it('every process refuses a bad value before doing anything: exit 1, "Invalid configuration:" and one line per variable', async () => {
      const run = (entry: string, env: Record<string, string>, args: string[] = []): Promise<CliRun> =>
        new Promise((resolve, reject) => {
          const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
            env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATABASE_URL: testDatabaseUrl, REDIS_URL: testRedisUrl, ...env },
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (c) => (stdout += c));
          child.stderr.on('data', (c) => (stderr += c));
          child.on('error', reject);
          child.on('close', (code) => resolve({ code, stdout, stderr }));
        });
      const [migrate, projector, worker, cli] = await Promise.all([
        run('src/main/migrate.ts', { HTTP_BODY_LIMIT_BYTES: '1kb' }),
        run('src/main/projector.ts', { METRICS_PORT: '9464x', QUEUE_BLOCKAGE_SECONDS: '0' }),
        run('src/main/worker.ts', { WORKER_CONCURRENCY: '65' }),
        run('src/main/cli.ts', { DB_POOL_SIZE: '1' }, ['retention', 'run']),
      ]);
      expect(migrate).to.deep.equal({
        code: 1,
        stdout: '',
        stderr: 'Invalid configuration:\n  HTTP_BODY_LIMIT_BYTES: must be an integer between 1024 and 52428800 (got "1kb")\n',
      });
      expect(projector).to.deep.equal({
        code: 1,
        stdout: '',
        stderr: [
          'Invalid configuration:',
          '  METRICS_PORT: must be an integer between 0 and 65535 (got "9464x")',
          '  QUEUE_BLOCKAGE_SECONDS: must be an integer between 1 and 86400 (got "0")',
          '',
        ].join('\n'),
      });
      expect(worker).to.deep.equal({
        code: 1,
        stdout: '',
        stderr: 'Invalid configuration:\n  WORKER_CONCURRENCY: must be an integer between 1 and 64 (got "65")\n',
      });
      expect(cli).to.deep.equal({
        code: 1,
        stdout: '',
        stderr: 'error: Invalid configuration:\n  DB_POOL_SIZE: must be an integer between 2 and 100 (got "1")\n',
      });
    });
  });

  describe('npm scripts', () => {
    it('every npm script the README names exists, and the table’s entry points are the ones they run', () => {
      // (`npm run bench:*` is the family of the table below)
      const named = new Set([...README.matchAll(/npm run (?:-s )?([a-z][\w:-]*)/g)].map((m) => m[1]!).filter((s) => !s.endsWith(':')));
      for (const m of README.matchAll(/`npm (test|start)\b/g)) named.add(m[1]!);
      expect(named.size).to.be.greaterThan(15);
      for (const script of named) expect(PACKAGE.scripts, `npm run ${script}`).to.have.property(script);
      const table = README.slice(README.indexOf('## npm scripts'), README.indexOf('## CLI'));
      for (const [script, file] of [
        ['demo', 'scripts/demo.ts'],
        ['up', 'scripts/up.sh'],
        ['start', 'src/main/api.ts'],
        ['start:projector', 'src/main/projector.ts'],
        ['worker', 'src/main/worker.ts'],
        ['migrate', 'src/main/migrate.ts'],
        ['cli', 'src/main/cli.ts'],
      ] as const) {
        expect(PACKAGE.scripts[script], script).to.include(file);
      }
      expect(table).to.include('`scripts/demo.ts`').and.include('`scripts/up.sh`').and.include('(`src/main/api.ts`)');
      expect(PACKAGE.scripts['test:unit']).to.include("'tests/unit/");
      expect(PACKAGE.scripts['test:chaos']).to.include('tests/chaos/');
    });

    it('every file and folder the README points at exists', () => {
      const layout = README.slice(README.indexOf('## Layout'), README.indexOf('## Configuration'));
      const paths = new Set<string>();
      for (const m of layout.matchAll(/^([a-z.][\w./-]*\/)/gm)) paths.add(m[1]!);
      for (const m of README.matchAll(/`((?:src|sandbox|scripts|tests|docs|migrations|bench)\/[\w./-]+)`/g)) paths.add(m[1]!);
      for (const m of README.matchAll(/\]\((docs\/[\w.-]+)\)/g)) paths.add(m[1]!);
      const docs = /^docs\/\s+(.+)$/m.exec(layout)![1]!.split(', ');
      for (const doc of docs) paths.add(`docs/${doc.trim()}.md`);
      expect(paths.size).to.be.greaterThan(30);
      const missing = [...paths].filter((p) => {
        try {
          readFileSync(p);
          return false;
        } catch (error) {
          return (error as NodeJS.ErrnoException).code !== 'EISDIR';
        }
      });
      expect(missing).to.deep.equal([]);
      // the layout's list of docs is every page there is
      expect(docs.map((d) => `${d.trim()}.md`)).to.have.members(readdirSync('docs').filter((f) => f.endsWith('.md')));
    });
  });

  describe('CLI', () => {
    /** Every command the README shows or lists (Operations, CLI, npm scripts), with the flags it shows. */
    const COMMANDS: [string[], string[]][] = [
      [
        ['users', 'create-admin'],
        ['--email', '--password-stdin', '--password', '--display-name', '--json'],
      ],
      [
        ['retention', 'run'],
        ['--dry-run', '--json'],
      ],
      [
        ['retention', 'scavenge'],
        ['--dry-run', '--all', '--batch-size', '--json'],
      ],
      [
        ['queues', 'stats'],
        ['--seconds', '--json'],
      ],
      ...(['pause', 'resume', 'retry-failed', 'retry', 'promote', 'remove'] as const).map((c): [string[], string[]] => [['queues', c], ['--operator']]),
      ...(['list', 'status', 'rebuild', 'reset'] as const).map((c): [string[], string[]] => [['projections', c], []]),
      ...(['categories', 'list', 'show', 'state'] as const).map((c): [string[], string[]] => [['streams', c], []]),
      [['events', 'tail'], []],
      [['events', 'search'], []],
      [['replay'], []],
      [['audit', 'export'], []],
      [['consumers', 'status'], []],
      ...(['list', 'retry', 'skip'] as const).map((c): [string[], string[]] => [['consumers', 'dead-letters', c], []]),
    ];

    it('--help lists every command the README shows under its parent, and each command’s help the flags the README shows', async () => {
      for (const [command, flags] of COMMANDS) {
        const parent = await cliInProcess([...command.slice(0, -1), '--help']);
        expect(parent.code, command.join(' ')).to.equal(0);
        expect(parent.stdout, `${command.slice(0, -1).join(' ') || 'cli'} --help`).to.match(new RegExp(`^  ${command.at(-1)}\\b`, 'm'));
        const help = await cliInProcess([...command, '--help']);
        expect(help.code, command.join(' ')).to.equal(0);
        expect(help.stdout).to.include(`Usage: cli ${command.join(' ')} `);
        for (const flag of flags) expect(help.stdout, `${command.join(' ')} ${flag}`).to.include(flag);
      }
    });

    it('a wrong call — unknown command or option, missing or extra argument, a value the option does not take — exits 1 with the error and the usage', async () => {
      const wrong: [string[], string][] = [
        [['nosuch'], "error: unknown command 'nosuch'"],
        [['retention', 'run', '--no-such-flag'], "error: unknown option '--no-such-flag'"],
        [['retention', 'run', 'extra'], 'error: too many arguments'],
        [['retention', 'scavenge', '--batch-size', '0'], "error: option '--batch-size <n>' argument '0' is invalid"],
        [['queues', 'stats', '--seconds', '61'], "error: option '--seconds <n>' argument '61' is invalid"],
        [['queues', 'stats', '--seconds', '0'], "error: option '--seconds <n>' argument '0' is invalid"],
        [['queues', 'pause'], "error: missing required argument 'queue'"],
        [['queues', 'retry', 'mail'], "error: missing required argument 'jobId'"],
        [['queues', 'resume', 'mail', '--reason', 'x'], "error: unknown option '--reason'"],
        [['users', 'create-admin'], "error: required option '--email <email>' not specified"],
        [['users', 'create-admin', '--email', 'ops@example.com'], 'error: a password is required: --password <password> or --password-stdin'],
        [['users', 'create-admin', '--email', 'ops@example.com', '--password', 'x', '--password-stdin'], 'cannot be used with option'],
      ];
      for (const [args, message] of wrong) {
        const run = await cliInProcess(args);
        expect(run.code, args.join(' ')).to.equal(1);
        expect(run.stderr, args.join(' ')).to.include(message);
        const usage =
          args[0] === 'nosuch'
            ? 'Usage: cli [options] [command]'
            : `Usage: cli ${args
                .filter((a) => !a.startsWith('-') && /^[a-z-]+$/.test(a))
                .slice(0, 2)
                .join(' ')}`;
        expect(run.stderr, args.join(' ')).to.include(usage);
        expect(run.stdout, args.join(' ')).to.equal('');
      }
    });

    describe('run as shown, against a platform', () => {
      let platform: Platform;
      let env: NodeJS.ProcessEnv;
      before(async () => {
        platform = await startPlatform({ proxies: 0 });
        env = {
          ...process.env,
          NODE_ENV: 'test',
          LOG_LEVEL: 'silent',
          DATABASE_URL: platform.config.DATABASE_URL,
          REDIS_URL: testRedisUrl,
          QUEUE_PREFIX: platform.config.QUEUE_PREFIX,
        };
      });
      after(async () => {
        await platform?.stop();
      });
      const cli = (args: string[], stdin = '') => cliInProcess(args, env, stdin);

      it('users create-admin: the README’s two forms print what it says, the admin signs in; a taken email is the documented line', async () => {
        const password = `pw ${randomUUID()}`;
        const created = await cli(['users', 'create-admin', '--email', 'ops@example.com', '--password-stdin', '--display-name', 'Ops'], `${password}\n`);
        expect(created.code, created.stderr).to.equal(0);
        expect(created.stdout).to.match(/^admin ops@example\.com created \(user id [0-9a-f-]{36}\)$/);
        const json = await cli(['users', 'create-admin', '--email', 'ops2@example.com', '--password', password, '--json']);
        expect(json.code, json.stderr).to.equal(0);
        const doc = JSON.parse(json.stdout);
        expect(Object.keys(doc)).to.deep.equal(['user_id', 'email', 'role', 'position']);
        expect(doc).to.include({ email: 'ops2@example.com', role: 'admin' });
        const login = await platform.call('POST', '/api/v1/auth/login', { body: { email: 'ops@example.com', password } });
        expect(login.status, login.text).to.equal(200);
        const again = await cli(['users', 'create-admin', '--email', 'ops2@example.com', '--password', password]);
        expect(again).to.deep.include({ code: 1, stdout: '', stderr: 'error: cannot create admin: the email address ops2@example.com is already registered' });
        expect(created.stdout + json.stdout + again.stderr).to.not.include(password);
      });

      it('retention run / scavenge and queues stats / pause / resume run as the README writes them, --json one document on stdout', async () => {
        for (const args of [
          ['retention', 'run', '--dry-run', '--json'],
          ['retention', 'run', '--json'],
          ['retention', 'scavenge', '--dry-run', '--all', '--batch-size', '500', '--json'],
          ['queues', 'stats', '--seconds', '0.2', '--json'],
        ]) {
          const run = await cli(args);
          expect(run.code, `${args.join(' ')}: ${run.stderr}`).to.equal(0);
          expect(() => JSON.parse(run.stdout), args.join(' ')).to.not.throw();
        }
        const dry = await cli(['retention', 'run', '--dry-run']);
        expect(dry.stdout)
          .to.match(/^retention \(dry run\) as of /)
          .and.match(/would delete/);
        const paused = await cli(['queues', 'pause', 'mail', '--operator', 'readme-review']);
        expect(paused).to.deep.include({ code: 0, stdout: 'queue mail: paused; recorded QueuePaused' });
        const stats = JSON.parse((await cli(['queues', 'stats', '--seconds', '0.2', '--json'])).stdout);
        expect(stats.queues.find((q: { name: string }) => q.name === 'mail')).to.include({ paused: true });
        expect(await cli(['queues', 'resume', 'mail'])).to.deep.include({ code: 0, stdout: 'queue mail: resumed; recorded QueueResumed' });
        const missing = await cli(['queues', 'promote', 'mail', 'no-such-job']);
        expect(missing).to.deep.include({ code: 1, stderr: 'error: no job no-such-job in queue mail' });
      });

      it('the real binary: logs stay off stdout, and an empty LOG_LEVEL is unset (warnings only), on a database it creates and migrates', async () => {
        const url = new URL(testDatabaseUrl);
        url.pathname = `/readme_cli_${randomUUID().replaceAll('-', '').slice(0, 10)}`;
        try {
          const run = await cliBinary(['retention', 'run', '--json'], { ...env, DATABASE_URL: url.toString(), LOG_LEVEL: '' });
          expect(run.code, run.stderr).to.equal(0);
          expect(JSON.parse(run.stdout)).to.include({ dryRun: false, total: 0 });
          // "created the database" and "ran N migration(s)" are info lines: not shown unless LOG_LEVEL asks
          expect(run.stderr).to.equal('');
        } finally {
          const admin = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 1 } });
          await admin.raw(`DROP DATABASE IF EXISTS "${url.pathname.slice(1)}" WITH (FORCE)`).finally(() => admin.destroy());
        }
      });

      it('the requests the Quick start shows: /healthz, /readyz and /metrics open in development; the demo’s login one-liner, contents and rankings', async () => {
        expect((await platform.call('GET', '/healthz')).body.data.status).to.equal('ok');
        expect((await platform.call('GET', '/readyz')).body.data).to.deep.include({ status: 'ready' });
        const metrics = await platform.call('GET', '/metrics');
        expect(metrics.status).to.equal(200);
        expect(metrics.text).to.include('process_cpu_seconds_total');
        const user = await platform.signUp('readme');
        const profile = await platform.call('GET', '/api/v1/users/profile', { token: user.token });
        const email = profile.body.data.email as string;
        // TOKEN=$(curl -s …/api/v1/auth/login -H 'Content-Type: application/json' -d '{"email":…,"password":…}' | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
        const res = await fetch(`${platform.url}/api/v1/auth/login`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: `{"email":"${email}","password":"correct horse battery"}`,
        });
        const text = await res.text();
        expect(text.split('\n')).to.have.length(1);
        const token = /.*"access_token":"([^"]*)".*/.exec(text)?.[1];
        expect(token).to.equal(JSON.parse(text).data.access_token);
        const contents = await platform.call('GET', '/api/v1/xiaohongshu/contents', { token });
        expect(contents.status, contents.text).to.equal(200);
        expect(contents.body.data).to.have.keys('items', 'pagination');
        const rankings = await platform.call('GET', '/api/v1/qidian/rankings', { token });
        expect(rankings.status, rankings.text).to.equal(200);
        expect(rankings.body.data.rankings).to.be.an('array');
      });

      it('every route the README writes as METHOD /path is in the OpenAPI 3.1 document at /api/v1/openapi.json, with its x-permission when signed in', async () => {
        const doc = (await platform.call('GET', '/api/v1/openapi.json')).body;
        expect(doc.openapi).to.match(/^3\.1\./);
        const shape = (p: string) => p.replace(/\{[^}]*\}/g, '{}');
        const operations = new Map<string, { security?: unknown[]; 'x-permission'?: string }>();
        for (const [p, item] of Object.entries(doc.paths as Record<string, Record<string, object>>)) {
          for (const [method, op] of Object.entries(item)) operations.set(`${method.toUpperCase()} ${shape(p)}`, op);
        }
        const mentioned = new Set<string>();
        for (const m of README.matchAll(/`((?:GET|POST|PUT|PATCH|DELETE)(?:\|(?:GET|POST|PUT|PATCH|DELETE))*) (\/[^\s`]+)/g)) {
          const route = m[2]!;
          if (route.startsWith('/v3/') || ['/healthz', '/readyz', '/metrics'].includes(route)) continue; // WeChat Pay's API; the ops endpoints
          const full = route.startsWith('/api/v1/') ? route : `/api/v1${route}`;
          // {a,b} is a list of routes, {id} a parameter
          const expanded = /\{([^}]*,[^}]*)\}/.exec(full);
          const paths = expanded ? expanded[1]!.split(',').map((part) => full.replace(expanded[0], part)) : [full];
          for (const method of m[1]!.split('|')) for (const p of paths) mentioned.add(`${method} ${shape(p)}`);
        }
        expect(mentioned.size).to.be.greaterThan(35);
        const absent = [...mentioned].filter((route) => !operations.has(route));
        expect(absent, 'routes the README names that the API does not document').to.deep.equal([]);
        for (const route of mentioned) {
          const op = operations.get(route)!;
          if ((op.security ?? []).length > 0) expect(op['x-permission'], route).to.match(/^[a-z_]+\.[a-z_-]+\.[a-z_-]+$/);
        }
      });
    });
  });
});
