import { describe, expect, it } from 'vitest';
import { AuditClock } from './audit-clock.ts';

const uuidV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('AuditClock', () => {
  it('orders ids within one millisecond by the order they were made', () => {
    const clock = new AuditClock();
    const stamps = Array.from({ length: 100 }, () => clock.next(1_750_000_000_000));
    const ids = stamps.map((stamp) => stamp.id);
    expect(ids.every((id) => uuidV7.test(id))).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(stamps.every((stamp) => stamp.at === 1_750_000_000_000)).toBe(true);
  });

  it('never goes back when the wall clock does, and starts over on a later millisecond', () => {
    const clock = new AuditClock();
    const first = clock.next(2_000);
    const stepBack = clock.next(1_000);
    const later = clock.next(3_000);
    expect(stepBack.at).toBe(2_000);
    expect([first.id, stepBack.id, later.id].sort()).toEqual([first.id, stepBack.id, later.id]);
    expect(later.at).toBe(3_000);
    expect(later.id.slice(14, 18)).toBe('7000');
  });

  it('carries into the next millisecond after 4096 ids in one', () => {
    const clock = new AuditClock();
    const ids: string[] = [];
    for (let index = 0; index < 4097; index++) ids.push(clock.next(5_000).id);
    expect([...ids].sort()).toEqual(ids);
    expect(clock.next(5_000).at).toBe(5_001);
  });
});
