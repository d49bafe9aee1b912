export { EventStoreDbEventStore, createEventStoreDbEventStore, type EventStoreDbEventStoreOptions } from './eventstoredb-event-store.js';
export { EventStoreDbAllSubscription } from './all-subscription.js';
