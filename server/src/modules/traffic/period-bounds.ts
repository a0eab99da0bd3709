import type { BudgetPeriod, PeriodBounds } from './traffic-types.ts';

/** The zone every organization starts in. */
export const defaultTimeZone = 'UTC';

const formatters = new Map<string, Intl.DateTimeFormat>();

/** One formatter per zone: building one costs far more than using it, and budgets are checked on the hot path. */
function formatterOf(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Whether `timeZone` is an IANA zone name (or alias) this runtime knows. */
export function isValidTimeZone(timeZone: string): boolean {
  if (timeZone.trim() === '' || timeZone.length > 64) return false;
  try {
    new Intl.DateTimeFormat(undefined, { timeZone });
    return true;
  } catch {
    return false;
  }
}

interface WallTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

/** The wall-clock reading of `instant` in the zone, as milliseconds of a UTC calendar (seconds resolution). */
function wallClockOf(instant: number, timeZone: string): number {
  const fields: Record<string, string> = {};
  for (const part of formatterOf(timeZone).formatToParts(new Date(instant))) fields[part.type] = part.value;
  const year = Number(fields.year) * (fields.era === 'BC' || fields.era === 'B' ? -1 : 1);
  const date = new Date(0);
  date.setUTCFullYear(year, Number(fields.month) - 1, Number(fields.day));
  date.setUTCHours(Number(fields.hour), Number(fields.minute), Number(fields.second), 0);
  return date.getTime();
}

/** The zone's offset from UTC at `instant`, in milliseconds. */
function offsetAt(instant: number, timeZone: string): number {
  const wholeSecond = Math.floor(instant / 1000) * 1000;
  return wallClockOf(wholeSecond, timeZone) - wholeSecond;
}

function wallDateOf(instant: number, timeZone: string): WallTime {
  const wall = new Date(wallClockOf(instant, timeZone));
  return { year: wall.getUTCFullYear(), month: wall.getUTCMonth() + 1, day: wall.getUTCDate() };
}

const hour = 3_600_000;

/**
 * The first instant whose wall clock in the zone reads `wall` (a UTC-calendar millisecond value) or later. A wall time
 * lies at most 14 hours from the instant that shows it, so the zone's offsets around it are the only candidates;
 * of those that show `wall` exactly the earliest wins (a repeated hour after clocks go back). When none does, `wall`
 * fell into a gap (clocks went forward over midnight) and the day begins at the transition, found by bisection.
 */
function firstInstantAtOrAfter(wall: number, timeZone: string): number {
  const offsets = new Set<number>();
  for (let shift = -36; shift <= 36; shift += 6) offsets.add(offsetAt(wall + shift * hour, timeZone));
  const candidates = [...offsets].map((offset) => wall - offset).sort((left, right) => left - right);
  const exact = candidates.find((candidate) => wallClockOf(candidate, timeZone) === wall);
  if (exact !== undefined) return exact;
  let low = candidates[0] ?? wall;
  let high = candidates.at(-1) ?? wall;
  // Invariant: the wall clock at `low` is before `wall` and at `high` at or after it; offsets move in whole seconds.
  while (high - low > 1000) {
    const middle = Math.floor((low + high) / 2000) * 1000;
    if (middle <= low) break;
    if (wallClockOf(middle, timeZone) >= wall) high = middle;
    else low = middle;
  }
  return high;
}

function startOfDay(date: WallTime, timeZone: string): number {
  return firstInstantAtOrAfter(Date.UTC(date.year, date.month - 1, date.day), timeZone);
}

function addDays(date: WallTime, days: number): WallTime {
  const moved = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: moved.getUTCFullYear(), month: moved.getUTCMonth() + 1, day: moved.getUTCDate() };
}

/**
 * The budget period that contains `now`: the current day, ISO week (from Monday) or calendar month in `timeZone`,
 * from its first instant to the first instant of the next one. Days are not always 24 hours (clocks change), which is
 * why both ends are computed from the calendar rather than by adding a length. `total` never resets.
 */
export function periodBounds(period: BudgetPeriod, timeZone: string, now: number): PeriodBounds {
  if (period === 'total') return { start: 0, end: null };
  const today = wallDateOf(now, timeZone);
  let first: WallTime;
  let next: WallTime;
  switch (period) {
    case 'day':
      first = today;
      next = addDays(today, 1);
      break;
    case 'week': {
      const weekday = new Date(Date.UTC(today.year, today.month - 1, today.day)).getUTCDay();
      first = addDays(today, -((weekday + 6) % 7));
      next = addDays(first, 7);
      break;
    }
    case 'month':
      first = { year: today.year, month: today.month, day: 1 };
      next = today.month === 12 ? { year: today.year + 1, month: 1, day: 1 } : { ...first, month: today.month + 1 };
      break;
  }
  return { start: startOfDay(first, timeZone), end: startOfDay(next, timeZone) };
}
