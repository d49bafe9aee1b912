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
    ...overrides,
  });
}
