import { LostOwnershipError } from './checkpoints.js';

/**
 * Errors that say nothing about the event being handled: the database or a
 * connection had a bad moment, or another instance took the consumer over.
 * The consumer runner retries these without end and never parks an event for
 * them; any other error that repeats on the same event counts toward its
 * retry budget. An error may also say so itself, with `transient: true`
 * (a mail relay that is down says nothing about the mail).
 */

const SQLSTATES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available (lock_timeout)
  '57014', // query_canceled (statement_timeout)
  '57P01', // admin_shutdown (pg_terminate_backend)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53000', // insufficient_resources
  '53100', // disk_full
  '53200', // out_of_memory
  '53300', // too_many_connections
  '25P03', // idle_in_transaction_session_timeout
  '58000', // system_error
  '58030', // io_error
]);

const ERRNOS = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

/** pg, knex, ioredis and the EventStoreDB client word their connection troubles like this. */
const MESSAGES = [
  /connection terminated/i,
  /connection (is )?closed/i,
  /client has encountered a connection error/i,
  /client was closed/i,
  /timeout acquiring a connection/i,
  /timeout exceeded when trying to connect/i,
  /terminating connection/i,
  /socket hang up/i,
  /the database system is (starting up|shutting down)/i,
];

const NAMES = new Set(['KnexTimeoutError', 'UnavailableError', 'DeadlineExceededError', 'NotLeaderError', 'MaxRetriesPerRequestError']);

export function isTransientError(error: unknown, depth = 0): boolean {
  if (error === null || typeof error !== 'object' || depth > 5) return false;
  if (error instanceof LostOwnershipError) return true;
  const { code, name, message, cause, transient } = error as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown; transient?: unknown };
  if (transient === true) return true;
  if (typeof code === 'string') {
    if (SQLSTATES.has(code) || code.startsWith('08')) return true;
    if (ERRNOS.has(code)) return true;
  }
  if (typeof name === 'string' && NAMES.has(name)) return true;
  if (typeof message === 'string' && MESSAGES.some((re) => re.test(message))) return true;
  if (error instanceof AggregateError && error.errors.length > 0) return error.errors.every((e) => isTransientError(e, depth + 1));
  return cause !== undefined && isTransientError(cause, depth + 1);
}
