import { z } from 'zod';

// what Postgres's timestamptz holds of what ISO-8601 can say: beyond it a query fails, which is the caller's mistake (422), not ours (500)
const EARLIEST = Date.parse('0001-01-01T00:00:00.000Z');
const LATEST = Date.parse('9999-12-31T23:59:59.999Z');

/** An instant a route takes (a query's period, a body's time): an ISO-8601 date-time with an offset, in years 0001–9999 once taken to UTC. */
export const instantQuery = z.iso.datetime({ offset: true }).refine((value) => {
  const at = Date.parse(value);
  // an unparseable one is the format check's issue already
  return Number.isNaN(at) || (at >= EARLIEST && at <= LATEST);
}, 'a time from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z');
