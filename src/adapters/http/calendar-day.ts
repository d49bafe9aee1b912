import { z } from 'zod';
import { addDays, isCalendarDay } from '../../application/quota-day.js';

/** The query and body schema of a day: 422 for anything but a calendar day. */
export const calendarDaySchema = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a day is YYYY-MM-DD')
  .refine(isCalendarDay, 'not a calendar day');

/** The first day Postgres holds (it has no year 0). */
export const FIRST_CALENDAR_DAY = '0001-01-01';

/**
 * The first day of a period of `days` days ending on `to` (both included),
 * no earlier than 0001-01-01: a default period counted back from an early
 * `to` starts at the first day instead of a year 0 no query can take.
 */
export function periodStart(to: string, days: number): string {
  const from = addDays(to, -(days - 1));
  return isCalendarDay(from) ? from : FIRST_CALENDAR_DAY;
}
