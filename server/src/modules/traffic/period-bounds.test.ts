import { describe, expect, it } from 'vitest';
import { isValidTimeZone, periodBounds } from './period-bounds.ts';

const at = (iso: string) => Date.parse(iso);
const bounds = (start: string, end: string) => ({ start: at(start), end: at(end) });

describe('periodBounds', () => {
  it('never resets a total budget', () => {
    expect(periodBounds('total', 'Europe/Berlin', at('2026-05-05T10:00:00Z'))).toEqual({ start: 0, end: null });
  });

  it('gives UTC days, ISO weeks from Monday and calendar months', () => {
    const now = at('2026-03-11T15:30:00Z'); // a Wednesday
    expect(periodBounds('day', 'UTC', now)).toEqual(bounds('2026-03-11T00:00:00Z', '2026-03-12T00:00:00Z'));
    expect(periodBounds('week', 'UTC', now)).toEqual(bounds('2026-03-09T00:00:00Z', '2026-03-16T00:00:00Z'));
    expect(periodBounds('month', 'UTC', now)).toEqual(bounds('2026-03-01T00:00:00Z', '2026-04-01T00:00:00Z'));
    expect(periodBounds('month', 'UTC', at('2026-12-31T23:59:59Z'))).toEqual(
      bounds('2026-12-01T00:00:00Z', '2027-01-01T00:00:00Z'),
    );
  });

  it('includes the first instant of a period and excludes its end', () => {
    expect(periodBounds('day', 'UTC', at('2026-03-11T00:00:00Z')).start).toBe(at('2026-03-11T00:00:00Z'));
    expect(periodBounds('day', 'UTC', at('2026-03-11T23:59:59.999Z')).end).toBe(at('2026-03-12T00:00:00Z'));
    // A Sunday night still belongs to the week that began on Monday.
    expect(periodBounds('week', 'UTC', at('2026-03-15T23:59:59Z')).start).toBe(at('2026-03-09T00:00:00Z'));
  });

  it('gives a 23-hour and a 25-hour day in Berlin when clocks change', () => {
    expect(periodBounds('day', 'Europe/Berlin', at('2026-03-29T12:00:00Z'))).toEqual(
      bounds('2026-03-28T23:00:00Z', '2026-03-29T22:00:00Z'),
    );
    expect(periodBounds('day', 'Europe/Berlin', at('2026-10-25T12:00:00Z'))).toEqual(
      bounds('2026-10-24T22:00:00Z', '2026-10-25T23:00:00Z'),
    );
    // 00:30 local on the 25th is still the previous UTC day.
    expect(periodBounds('day', 'Europe/Berlin', at('2026-10-24T22:30:00Z')).start).toBe(at('2026-10-24T22:00:00Z'));
  });

  it('spans the clock change in New York weeks and months', () => {
    expect(periodBounds('week', 'America/New_York', at('2026-03-07T12:00:00Z'))).toEqual(
      bounds('2026-03-02T05:00:00Z', '2026-03-09T04:00:00Z'),
    );
    expect(periodBounds('week', 'America/New_York', at('2026-03-11T12:00:00Z'))).toEqual(
      bounds('2026-03-09T04:00:00Z', '2026-03-16T04:00:00Z'),
    );
    expect(periodBounds('month', 'America/New_York', at('2026-11-15T12:00:00Z'))).toEqual(
      bounds('2026-11-01T04:00:00Z', '2026-12-01T05:00:00Z'),
    );
    // 23:30 on 31 October in New York is already November in UTC, but not there.
    expect(periodBounds('month', 'America/New_York', at('2026-11-01T03:30:00Z')).start).toBe(
      at('2026-10-01T04:00:00Z'),
    );
  });

  it('handles half-hour and quarter-hour offsets', () => {
    expect(periodBounds('day', 'Asia/Kolkata', at('2026-06-15T20:00:00Z'))).toEqual(
      bounds('2026-06-15T18:30:00Z', '2026-06-16T18:30:00Z'),
    );
    // Chatham is +12:45 in the southern winter and +13:45 in summer (from the last Sunday of September).
    expect(periodBounds('day', 'Pacific/Chatham', at('2026-06-15T12:00:00Z'))).toEqual(
      bounds('2026-06-15T11:15:00Z', '2026-06-16T11:15:00Z'),
    );
    expect(periodBounds('month', 'Pacific/Chatham', at('2026-10-10T00:00:00Z'))).toEqual(
      bounds('2026-09-30T10:15:00Z', '2026-10-31T10:15:00Z'),
    );
  });

  it('begins a day whose midnight was skipped at the moment clocks jumped', () => {
    // Chile moves from -04 to -03 at midnight: 6 September 2026 begins at 01:00 local.
    expect(periodBounds('day', 'America/Santiago', at('2026-09-06T12:00:00Z'))).toEqual(
      bounds('2026-09-06T04:00:00Z', '2026-09-07T03:00:00Z'),
    );
  });
});

describe('isValidTimeZone', () => {
  it('accepts IANA names and refuses anything else', () => {
    expect(isValidTimeZone('Europe/Berlin')).toBe(true);
    expect(isValidTimeZone('UTC')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus_Mons')).toBe(false);
    expect(isValidTimeZone('')).toBe(false);
  });
});
