import { PostgresEventStore, type PostgresEventStoreOptions } from './postgres-event-store.js';

export { PostgresEventStore, type PostgresEventStoreOptions };

export function createPostgresEventStore(options: PostgresEventStoreOptions): PostgresEventStore {
  return new PostgresEventStore(options);
}
