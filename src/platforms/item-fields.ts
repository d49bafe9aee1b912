import { z } from 'zod';
import { inKeptYears, KEPT_YEARS_MESSAGE, MAX_INT32 } from '../write-model/core/validate.js';

/**
 * Fields of collected items that the read tables must be able to hold: an
 * item the worker or the workers' door records is projected as it is, so a
 * value Postgres refuses would park the whole batch in a dead letter instead
 * of being refused (422 at the door, skipped by a scraper).
 */

/** An ISO-8601 date-time with an offset, in years 0001–9999 once taken to UTC (what timestamptz holds of it). */
export const itemInstant = z.iso.datetime({ offset: true }).refine((value) => {
  const at = Date.parse(value);
  return Number.isNaN(at) || inKeptYears(at);
}, KEPT_YEARS_MESSAGE);

/** A count kept in an `integer` column (likes, chapters, a rank): 0 to 2^31 − 1. */
export const int32Count = z.number().int().nonnegative().max(MAX_INT32);
