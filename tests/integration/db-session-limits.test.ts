import { expect } from 'chai';
import pg from 'pg';
import { createKnex, sessionSettings } from '../../src/adapters/db/knex.js';
import { sessionLimits } from '../../src/container.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';

describe('database sessions: statement and idle-in-transaction limits', () => {
  it('every session of the platform pool carries the configured limits', async () => {
    const config = testConfig({ DB_STATEMENT_TIMEOUT_MS: '45000', DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '20000' });
    const knex = createKnex(testDatabaseUrl, 2, sessionLimits(config));
    try {
      const statement = await knex.raw<{ rows: { statement_timeout: string }[] }>('SHOW statement_timeout');
      const idle = await knex.raw<{ rows: { idle_in_transaction_session_timeout: string }[] }>('SHOW idle_in_transaction_session_timeout');
      expect(statement.rows[0]!.statement_timeout).to.equal('45s');
      expect(idle.rows[0]!.idle_in_transaction_session_timeout).to.equal('20s');
    } finally {
      await knex.destroy();
    }
  });

  it('a transaction left idle is ended by Postgres, not left to hold back $all', async () => {
    const client = new pg.Client(sessionSettings(testDatabaseUrl, { idleInTransactionTimeoutMs: 300 }));
    client.on('error', () => undefined); // the server ends the session
    await client.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid'); // takes a transaction id
      await new Promise((resolve) => setTimeout(resolve, 800));
      const error = await client.query('SELECT 1').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(String(error)).to.match(/terminat|idle-in-transaction|connection error/i);
      const admin = new pg.Client({ connectionString: testDatabaseUrl });
      await admin.connect();
      const open = await admin.query('SELECT 1 FROM pg_stat_activity WHERE backend_xid::text = $1', [rows[0]!.xid]);
      await admin.end();
      expect(open.rowCount, 'the transaction id is released').to.equal(0);
    } finally {
      await client.end().catch(() => undefined);
    }
  });

  it('a statement over the limit is cancelled', async () => {
    const knex = createKnex(testDatabaseUrl, 1, { statementTimeoutMs: 200 });
    try {
      const error = await knex.raw('SELECT pg_sleep(2)').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(String(error)).to.match(/statement timeout/);
    } finally {
      await knex.destroy();
    }
  });
});
