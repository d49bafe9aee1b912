/**
 * The quota day: usage is counted per day in a configured time
 * zone (config QUOTA_TIME_ZONE, default Asia/Shanghai).
 */

export interface QuotaDay {
  /** YYYY-MM-DD in the zone */
  day: string;
  /** the instant the next day starts in the zone (ISO-8601, UTC) */
  resetsAt: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The wall clock of `instant` in the zone, as fields. */
function wallClock(instant: number, timeZone: string): { year: number; month: number; day: number; hour: number; minute: number; second: number } {
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(instant))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour! % 24, minute: parts.minute!, second: parts.second! };
}

/** The zone's offset from UTC at `instant`, in ms (Shanghai: +8 h). */
function offsetAt(instant: number, timeZone: string): number {
  const w = wallClock(instant, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(instant / 1000) * 1000;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** The zone's day of `now`, and when the next one starts. Throws RangeError for an unknown zone. */
export function quotaDay(now: Date, timeZone: string): QuotaDay {
  // a day starts on a whole quarter hour in every zone (offsets and their changes are whole quarter hours since 1972):
  // the answer holds for the quarter hour, and a replay of history asks about the same few thousand again and again
  const quarter = Math.floor(now.getTime() / QUARTER_HOUR_MS);
  let zone = answers.get(timeZone);
  if (!zone) answers.set(timeZone, (zone = new Map()));
  const cached = zone.get(quarter);
  if (cached) return cached;
  const day = computeQuotaDay(now, timeZone);
  if (zone.size >= MAX_CACHED) zone.clear();
  zone.set(quarter, day);
  return day;
}

const QUARTER_HOUR_MS = 15 * 60_000;
/** about 200 days of quarter hours per zone; then it starts over */
const MAX_CACHED = 20_000;
/** zone → quarter hour since the epoch → its day: every quota use and every usage event asks, and Intl's formatToParts is not cheap */
const answers = new Map<string, Map<number, QuotaDay>>();

function computeQuotaDay(now: Date, timeZone: string): QuotaDay {
  const w = wallClock(now.getTime(), timeZone);
  const day = `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}`;
  // midnight of the next day as if it were UTC, then corrected by the zone's offset (twice: a DST change may lie between)
  const nextMidnightUtc = Date.UTC(w.year, w.month - 1, w.day + 1);
  let instant = nextMidnightUtc - offsetAt(nextMidnightUtc, timeZone);
  instant = nextMidnightUtc - offsetAt(instant, timeZone);
  return { day, resetsAt: new Date(instant).toISOString() };
}

/** The day `days` after a YYYY-MM-DD (calendar arithmetic, no zone). */
export function addDays(day: string, days: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/**
 * A calendar day Postgres can hold, `YYYY-MM-DD`. `Date.parse` rolls
 * 2026-02-30 over into March, so a real day is one that prints back the
 * same; Postgres has no year 0 (it would answer an error, not rows).
 */
export function isCalendarDay(day: string): boolean {
  const t = Date.parse(`${day}T00:00:00Z`);
  return /^\d{4}-\d{2}-\d{2}$/.test(day) && !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === day && !day.startsWith('0000');
}
