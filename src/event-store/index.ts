export * from './port.js';
export * from './position.js';
export * from './errors.js';
export * from './snapshots.js';
