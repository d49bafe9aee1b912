import { createEventStoreDbEventStore } from '../../src/adapters/event-store/eventstoredb/index.js';
import { eventStoreContract } from './event-store.contract.js';

const connectionString = process.env.EVENTSTORE_CONNECTION_STRING;

if (connectionString) {
  describe('EventStoreDB adapter contract', () => {
    // ESDB keeps every stream between runs: the suite names its streams with a fresh uuid category per test.
    // No held-transaction writer: EventStoreDB orders events when they commit, so that gap cannot occur.
    eventStoreContract(async () => createEventStoreDbEventStore(connectionString));
  });
} else {
  console.log('EventStoreDB contract suite skipped: EVENTSTORE_CONNECTION_STRING is not set');
  describe('EventStoreDB adapter contract', () => {
    it.skip('runs against EventStoreDB when EVENTSTORE_CONNECTION_STRING is set (e.g. esdb://localhost:2113?tls=false)');
  });
}
