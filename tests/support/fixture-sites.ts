/** Moved to the sandbox (sandbox/sites/server.ts), which `npm run demo` runs too; kept here so the tests' imports stay as they were. */
export * from '../../sandbox/sites/server.js';
