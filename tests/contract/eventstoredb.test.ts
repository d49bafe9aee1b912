import { createEventStoreDbEventStore } from '../../src/adapters/event-store/eventstoredb/index.js';
import { PostgresSnapshotStore } from '../../src/adapters/event-store/postgres/snapshot-store.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { eventStoreContract } from './event-store.contract.js';

const connectionString = process.env.EVENTSTORE_CONNECTION_STRING;

if (connectionString) {
  describe('EventStoreDB adapter contract', () => {
    // ESDB keeps every stream between runs: the suite names its streams with a fresh uuid category per test.
    // No held-transaction writer: EventStoreDB orders events when they commit, so that gap cannot occur.
    // snapshots live in Postgres for both adapters, as the composition root wires them
    eventStoreContract(async () => createEventStoreDbEventStore(connectionString, { snapshots: PostgresSnapshotStore.open(testDatabaseUrl) }), {
      // the server's default MaxAppendSize
      appendLimitBytes: 1024 * 1024,
    });
  });
} else {
  console.log('EventStoreDB contract suite skipped: EVENTSTORE_CONNECTION_STRING is not set');
  describe('EventStoreDB adapter contract', () => {
    it.skip('runs against EventStoreDB when EVENTSTORE_CONNECTION_STRING is set (e.g. esdb://localhost:2113?tls=false)');
  });
}
