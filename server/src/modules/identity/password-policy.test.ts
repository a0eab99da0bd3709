import { describe, expect, it } from 'vitest';
import { findPasswordViolation } from './password-policy.ts';

const email = 'grace.hopper@example.com';

describe('password policy', () => {
  it.each([
    ['Velvet-Otter-Lantern-42', undefined],
    ['purple elephants juggle quietly', undefined],
    ['Tr0ub4dor&3-horse', undefined],
    ['Short-1a', 'min_length'],
    ['Aa1!'.repeat(65), 'max_length'],
    ['Grace.Hopper-1906!', 'contains_email'],
    ['Password1234!', 'common'],
    ['P@ssw0rd2024!', 'common'],
    ['123Qwertyuiop!', 'common'],
    ['correcthorsebatterystaple', 'common'],
    ['aaaaaaaaaaaaaaaaaaaaaaaa', 'predictable'],
    ['34567890123456789012', 'predictable'],
    ['zyxwvutsrqponmlkjihg', 'predictable'],
    ['alllowercase123', 'character_classes'],
    ['ALLUPPERCASEWORDS', 'character_classes'],
  ])('%s → %s', (password, rule) => {
    expect(findPasswordViolation(password, email)).toBe(rule);
  });

  it('counts length in characters, not bytes', () => {
    expect(findPasswordViolation('Ünïcödé-Wörd-9', email)).toBeUndefined();
    expect(findPasswordViolation('密码很长很长很长很长很长1A', email)).toBeUndefined();
  });

  it('ignores a local part too short to matter', () => {
    expect(findPasswordViolation('Velvet-Otter-Lantern-42', 'ot@example.com')).toBeUndefined();
  });
});
