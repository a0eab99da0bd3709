import { describe, expect, it } from 'vitest';
import { AppError } from '../../errors/app-error.ts';
import { readReturnTo } from './return-to.ts';

describe('return_to', () => {
  it('defaults to the site root', () => {
    expect(readReturnTo(undefined)).toBe('/');
    expect(readReturnTo('')).toBe('/');
  });

  it('keeps a path with its query and fragment', () => {
    expect(readReturnTo('/console/keys?tab=mine#new')).toBe('/console/keys?tab=mine#new');
    expect(readReturnTo('/a/../b')).toBe('/b');
  });

  it.each([
    'https://evil.example/',
    'http:/evil.example',
    '//evil.example',
    '/\\evil.example',
    '\\\\evil.example',
    '/ok\\..\\..\\evil',
    'javascript:alert(1)',
    'relative/path',
    '/line\nbreak',
    '/tab\there',
    `/${'a'.repeat(2048)}`,
  ])('refuses %j', (value) => {
    expect(() => readReturnTo(value)).toThrow(AppError);
  });
});
