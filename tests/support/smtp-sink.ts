/** Moved to the sandbox (sandbox/mail/smtp-sink.ts), which `npm run demo` runs too; kept here so the tests' imports stay as they were. */
export * from '../../sandbox/mail/smtp-sink.js';
