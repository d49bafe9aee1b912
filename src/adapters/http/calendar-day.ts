import { z } from 'zod';

/**
 * A calendar day Postgres can hold, `YYYY-MM-DD`. `Date.parse` rolls
 * 2026-02-30 over into March, so a real day is one that prints back the
 * same; Postgres has no year 0 (it would answer an error, not rows).
 */
export function isCalendarDay(day: string): boolean {
  const t = Date.parse(`${day}T00:00:00Z`);
  return /^\d{4}-\d{2}-\d{2}$/.test(day) && !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === day && !day.startsWith('0000');
}

/** The query and body schema of a day: 422 for anything but a calendar day. */
export const calendarDaySchema = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a day is YYYY-MM-DD')
  .refine(isCalendarDay, 'not a calendar day');
