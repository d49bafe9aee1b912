import { z } from 'zod';
import { inKeptYears, KEPT_YEARS_MESSAGE } from '../../write-model/core/validate.js';

// what Postgres's timestamptz holds of what ISO-8601 can say: beyond it a query fails, which is the caller's mistake (422), not ours (500)

/** An instant a route takes (a query's period, a body's time): an ISO-8601 date-time with an offset, in years 0001–9999 once taken to UTC. */
export const instantQuery = z.iso.datetime({ offset: true }).refine((value) => {
  const at = Date.parse(value);
  // an unparseable one is the format check's issue already
  return Number.isNaN(at) || inKeptYears(at);
}, KEPT_YEARS_MESSAGE);
