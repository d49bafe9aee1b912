export * from './events.js';
export * from './commands.js';
export * from './state.js';
export * from './decider.js';
export * from './email-reservation.js';
export * from './totp.js';
export * from './phone.js';
