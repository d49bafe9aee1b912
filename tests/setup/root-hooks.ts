import type { Context } from 'mocha';
import { createKnex } from '../../src/adapters/db/knex.js';
import { ensureDatabase } from '../../src/adapters/db/ensure-database.js';
import { runMigrations } from '../../src/adapters/db/migrate.js';
import { describeMismatches, enableResponseSchemaCheck, takeResponseMismatches } from '../support/response-schema-check.js';
import { testDatabaseUrl } from './test-env.js';

// every route any test defines (the API apps, a test's own routes) checks its answers, errors too, against its documented responses
enableResponseSchemaCheck();

/** A test during which (or in whose before hooks) an answer departed from its schema fails, with the test's own error if it has one. */
function failOnResponseMismatch(this: Context): void {
  const test = this.currentTest;
  const body = test?.fn;
  if (!test || !body || body.length > 0) return;
  test.fn = async function (this: Context) {
    let failure: unknown;
    try {
      await (body as (this: Context) => unknown).call(this);
    } catch (error) {
      failure = error;
    }
    const mismatches = takeResponseMismatches();
    if (mismatches.length > 0) {
      const then = failure ? `\n(the test then failed: ${(failure as Error)?.message ?? String(failure)})` : '';
      throw new Error(`the API answered outside its documented response schema:\n${describeMismatches(mismatches)}${then}`);
    }
    if (failure) throw failure;
  };
}

/** Once per test run: the test database exists and its schema is current. */
export const mochaHooks = {
  async beforeAll(): Promise<void> {
    await ensureDatabase(testDatabaseUrl);
    const knex = createKnex(testDatabaseUrl, 2);
    try {
      await runMigrations(knex);
    } finally {
      await knex.destroy();
    }
  },
  beforeEach: failOnResponseMismatch,
  afterAll(): void {
    // answers of the last after hooks
    const mismatches = takeResponseMismatches();
    if (mismatches.length > 0) throw new Error(`the API answered outside its documented response schema:\n${describeMismatches(mismatches)}`);
  },
};
