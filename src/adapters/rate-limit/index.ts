export * from './fixed-window.js';
export * from './login-rate-limit.js';
export * from './auth-rate-limits.js';
