import { z } from 'zod';
import { isCalendarDay } from '../../application/quota-day.js';

/** The query and body schema of a day: 422 for anything but a calendar day. */
export const calendarDaySchema = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a day is YYYY-MM-DD')
  .refine(isCalendarDay, 'not a calendar day');
