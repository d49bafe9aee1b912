import { z } from 'zod';

/**
 * Configuration comes from the environment only, is validated once at start
 * and is immutable afterwards. To add a variable, add one line to `schema`
 * (and a row to the README's configuration table).
 */

/** `message` holds one line per bad or missing variable, naming it. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function integer(min: number, max: number) {
  return z
    .string()
    .refine((s) => /^\d+$/.test(s) && Number(s) >= min && Number(s) <= max, `must be an integer between ${min} and ${max}`)
    .transform(Number);
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, `must be one of ${values.join(', ')}`);
}

function url(protocols: readonly string[]) {
  return z
    .string()
    .refine(
      (s) => URL.canParse(s) && protocols.includes(new URL(s).protocol),
      `must be a ${protocols.map((p) => `${p}//`).join(' or ')} URL`,
    );
}

const schema = z.object({
  NODE_ENV: oneOf(['development', 'test', 'production']).default('development'),
  HOST: z.string().default('0.0.0.0'),
  // 0 asks the OS for a free port (tests); the bound port is printed at start
  PORT: integer(0, 65535).default(3000),
  DATABASE_URL: url(['postgres:', 'postgresql:']).default('postgres://postgres@127.0.0.1:5432/collector'),
  REDIS_URL: url(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),
  // When set, events go to EventStoreDB instead of Postgres. Not parsed as a URL:
  // cluster strings (`esdb://a:2113,b:2113`) are not valid URLs.
  EVENTSTORE_CONNECTION_STRING: z
    .string()
    .regex(/^esdb(\+discover)?:\/\/\S+$/, 'must look like esdb://host:2113?tls=false')
    .optional(),
  LOG_LEVEL: oneOf(LOG_LEVELS).default('info'),
  // at least 2: migrations hold an advisory lock on one connection while migrating on another
  DB_POOL_SIZE: integer(2, 100).default(10),
  SHUTDOWN_TIMEOUT_MS: integer(100, 600_000).default(10_000),
});

export type Config = Readonly<z.output<typeof schema>>;
export type ConfigVariable = keyof typeof schema.shape;

/** Reads and validates the configuration; throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Only our variables, and an empty value counts as unset (`FOO=` in a compose file).
  const input = Object.fromEntries(
    Object.keys(schema.shape).map((name) => [name, env[name] === '' ? undefined : env[name]]),
  );
  const result = schema.safeParse(input);
  if (result.success) return Object.freeze(result.data);

  const problems = new Map<string, string>();
  for (const issue of result.error.issues) {
    const name = String(issue.path[0]);
    if (problems.has(name)) continue;
    const value = input[name];
    problems.set(name, value === undefined ? `${name}: is required` : `${name}: ${issue.message} (got ${shown(name, value)})`);
  }
  throw new ConfigError([...problems.values()]);
}

/** The offending value as it may appear in a terminal or a log: no secrets. */
function shown(name: string, value: string): string {
  if (/SECRET|PASSWORD|TOKEN|KEY/i.test(name)) return `a value of ${value.length} characters`;
  // a URL's password (`scheme://user:password@host`), even in a URL that does not parse
  return JSON.stringify(value.replace(/(\/\/[^/@\s]*?:)[^/@\s]*@/, '$1***@'));
}
