import type pg from 'pg';

/**
 * Makes a pg pool survive its server going away. The pool listens for errors
 * only on idle clients; a checked-out client that receives the server's
 * "terminating connection" between two queries (a restart, an
 * administrator's pg_terminate_backend) emits 'error' with nobody listening,
 * and Node ends the process. Every client gets a listener for its whole
 * life; the failed query still rejects on its own, and the pool drops the
 * broken client when it is released.
 */
export function survivePoolErrors(pool: pg.Pool, onError: (error: Error) => void = () => undefined): pg.Pool {
  pool.on('error', onError);
  pool.on('connect', (client) => client.on('error', onError));
  return pool;
}
