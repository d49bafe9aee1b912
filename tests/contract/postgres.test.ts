import pg from 'pg';
import { fastAppendStatement } from '../../src/adapters/event-store/postgres/append.js';
import { createPostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { eventStoreContract } from './event-store.contract.js';

describe('Postgres event store: contract', () => {
  eventStoreContract(async () => createPostgresEventStore({ connectionString: testDatabaseUrl, poolSize: 12 }), {
    // A writer whose transaction takes its global numbers first and commits last: the gap problem.
    async appendInHeldTransaction(streamName, events, holdMs) {
      const client = new pg.Client({ connectionString: testDatabaseUrl });
      await client.connect();
      try {
        await client.query('BEGIN');
        await client.query(fastAppendStatement(streamName, events, 'any'));
        await new Promise((resolve) => setTimeout(resolve, holdMs));
        await client.query('COMMIT');
      } finally {
        await client.end();
      }
    },
  });
});
