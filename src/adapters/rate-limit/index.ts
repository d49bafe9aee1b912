export * from './fixed-window.js';
export * from './login-rate-limit.js';
