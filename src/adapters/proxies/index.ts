export * from './lease-selection.js';
export * from './redis-lease-store.js';
