export * from '../../application/proxy-selection.js';
export * from './redis-lease-store.js';
