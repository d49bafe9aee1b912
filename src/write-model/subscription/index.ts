export * from './plans.js';
export * from './events.js';
export * from './commands.js';
export * from './state.js';
export * from './decider.js';
export * from './quota-terms.js';
export * from './quota-refusal.js';
