export * from './events.js';
export * from './commands.js';
export * from './state.js';
export * from './decider.js';
export * from './rule-reservation.js';
