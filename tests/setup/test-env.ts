import { loadConfig, type Config, type ConfigVariable } from '../../src/config.js';

/** The tests' own database, never the one `npm run up` uses. */
export const testDatabaseUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/collector_test';

/** Redis logical database 1, so tests that clear keys never touch a running platform's (database 0). */
export const testRedisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/1';

/**
 * A Config for tests: the test database and Redis, silent logs (TEST_LOG_LEVEL
 * shows them), the Postgres event store. Overrides are environment strings
 * and go through the same validation as in production.
 */
export function testConfig(overrides: Partial<Record<ConfigVariable, string>> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATABASE_URL: testDatabaseUrl,
    REDIS_URL: testRedisUrl,
    // the suites sign up and sign in many users from 127.0.0.1 within a minute, counted in the one Redis
    // they share (one suite's logins count against the next's): the limits' own tests set theirs
    LOGIN_RATE_LIMIT_PER_IP: '100000',
    LOGIN_RATE_LIMIT_PER_ACCOUNT: '1000',
    AUTH_RATE_LIMIT_PER_IP: '100000',
    AUTH_RATE_LIMIT_PER_ACCOUNT_HOURLY: '10000',
    REFRESH_RATE_LIMIT_PER_IP: '100000',
    ...overrides,
  });
}

/** The Idempotency-Key fingerprint key of test APIs built without the container (what api-app derives from JWT_SECRET). */
export const TEST_IDEMPOTENCY_KEY: Buffer = Buffer.alloc(32, 'test idempotency fingerprint key');
