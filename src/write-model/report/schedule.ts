/**
 * When a scheduled report is due: a frequency (daily, weekly on an ISO
 * weekday, monthly on a day 1–28), an hour 0–23, in an IANA time zone (the
 * user's). Pure: slots are computed with the platform's Intl time zone data.
 */

export const REPORT_FREQUENCIES = ['daily', 'weekly', 'monthly'] as const;
export type ReportFrequency = (typeof REPORT_FREQUENCIES)[number];

export interface ReportSchedule {
  frequency: ReportFrequency;
  /** 0–23, local time */
  hour: number;
  /** weekly: 1 (Monday) – 7 (Sunday); null otherwise */
  weekday: number | null;
  /** monthly: 1–28 (every month has it); null otherwise */
  dayOfMonth: number | null;
  /** IANA zone, e.g. Asia/Shanghai */
  timeZone: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Whether the platform knows the zone. */
export function isTimeZone(value: unknown): value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 64) return false;
  try {
    formatter(value);
    return true;
  } catch {
    return false;
  }
}

interface Local {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function localParts(instant: number, timeZone: string): Local {
  const parts = Object.fromEntries(
    formatter(timeZone)
      .formatToParts(new Date(instant))
      .map((p) => [p.type, p.value]),
  );
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour) % 24,
    minute: Number(parts.minute),
    second: Number(parts.second),
  };
}

/** The zone's offset from UTC at an instant, in ms. */
function offsetAt(instant: number, timeZone: string): number {
  const l = localParts(instant, timeZone);
  return Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute, l.second) - Math.floor(instant / 1000) * 1000;
}

/** The instant a local date and hour happen in the zone (a skipped hour: the hour after the jump). */
function zoned(year: number, month: number, day: number, hour: number, timeZone: string): number {
  const guess = Date.UTC(year, month - 1, day, hour);
  let instant = guess - offsetAt(guess, timeZone);
  instant = guess - offsetAt(instant, timeZone);
  return instant;
}

/** ISO weekday (1 = Monday … 7 = Sunday) of a calendar date. */
function isoWeekday(year: number, month: number, day: number): number {
  const d = new Date(Date.UTC(year, month - 1, day)).getUTCDay();
  return d === 0 ? 7 : d;
}

function matches(s: ReportSchedule, year: number, month: number, day: number): boolean {
  if (s.frequency === 'daily') return true;
  if (s.frequency === 'weekly') return isoWeekday(year, month, day) === s.weekday;
  return day === s.dayOfMonth;
}

/** The first slot strictly after `after`. */
export function nextSlotAfter(s: ReportSchedule, after: Date): Date {
  const start = localParts(after.getTime(), s.timeZone);
  const base = Date.UTC(start.year, start.month - 1, start.day);
  // a month and a bit covers every frequency
  for (let i = 0; i <= 62; i++) {
    const d = new Date(base + i * 86_400_000);
    const [y, m, day] = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
    if (!matches(s, y, m, day)) continue;
    const slot = zoned(y, m, day, s.hour, s.timeZone);
    if (slot > after.getTime()) return new Date(slot);
  }
  throw new Error(`no slot of ${JSON.stringify(s)} after ${after.toISOString()}`);
}

/** The latest slot at or before `now`, at or after `from` (a due slot); undefined when none is. */
export function latestSlot(s: ReportSchedule, from: Date, now: Date): Date | undefined {
  let slot = from.getTime() <= now.getTime() ? from : undefined;
  if (!slot) return undefined;
  // bounded: a year of daily slots at most
  for (let i = 0; i < 400; i++) {
    const next = nextSlotAfter(s, slot);
    if (next.getTime() > now.getTime()) return slot;
    slot = next;
  }
  return slot;
}

/** The number of days a report of this frequency covers by default. */
export const DEFAULT_REPORT_DAYS: { readonly [F in ReportFrequency]: number } = { daily: 1, weekly: 7, monthly: 30 };
