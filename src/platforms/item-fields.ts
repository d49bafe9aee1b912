import { z } from 'zod';

/**
 * Fields of collected items that the read tables must be able to hold: an
 * item the worker or the workers' door records is projected as it is, so a
 * value Postgres refuses would park the whole batch in a dead letter instead
 * of being refused (422 at the door, skipped by a scraper).
 */

const EARLIEST = Date.parse('0001-01-01T00:00:00.000Z');
const LATEST = Date.parse('9999-12-31T23:59:59.999Z');

/** An ISO-8601 date-time with an offset, in years 0001–9999 once taken to UTC (what timestamptz holds of it). */
export const itemInstant = z.iso.datetime({ offset: true }).refine((value) => {
  const at = Date.parse(value);
  return Number.isNaN(at) || (at >= EARLIEST && at <= LATEST);
}, 'a time from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z');

/** The largest value of an `integer` column. */
export const MAX_INT32 = 2_147_483_647;

/** A count kept in an `integer` column (likes, chapters, a rank): 0 to 2^31 − 1. */
export const int32Count = z.number().int().nonnegative().max(MAX_INT32);
