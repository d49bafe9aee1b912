export * from './decider.js';
export * from './domain-error.js';
export * from './command-context.js';
export * from './event-ids.js';
export * from './command-handler.js';
export * from './aggregate.js';
export * from './event-codec.js';
