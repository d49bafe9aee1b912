import pg from 'pg';

/**
 * One statement that the server may refuse as a matter of course (a wrong
 * expected version, a unique violation on a race). `pool.query` destroys the
 * connection on any error, and with it every statement prepared on it; a
 * refusal the server answered with an ERROR leaves the connection sound (no
 * transaction is open), so it goes back to the pool. Anything else — a lost
 * connection, a FATAL — still discards it.
 */
export async function refusableQuery<R extends pg.QueryResultRow>(pool: pg.Pool, statement: pg.QueryConfig): Promise<pg.QueryResult<R>> {
  const client = await pool.connect();
  let result: pg.QueryResult<R>;
  try {
    result = await client.query<R>(statement);
  } catch (error) {
    client.release(isRefusal(error) ? undefined : (error as Error));
    throw error;
  }
  client.release();
  return result;
}

function isRefusal(error: unknown): boolean {
  return error instanceof pg.DatabaseError && error.severity === 'ERROR';
}
