import { AppError } from '../../errors/app-error.ts';
import { commonPasswords, commonPasswordWords } from './common-passwords.ts';
import { emailLocalPart } from './email-address.ts';

/**
 * The password policy, checked in this order; the first rule broken is reported (`weak_password`, 400, naming the
 * rule in the detail and the field in `param`):
 *
 * - `min_length`: at least 12 characters (Unicode code points).
 * - `max_length`: at most 256 characters.
 * - `contains_email`: must not contain the email address's local part (when it has 3 characters or more).
 * - `common`: not a common password, nor a common word dressed up with digits, symbols or leetspeak.
 * - `predictable`: at least 5 different characters and not one straight run such as `abcdefghijkl` or `987654321098`.
 * - `character_classes`: at least 3 of lowercase, uppercase, digits and other characters, unless 20 characters or
 *   longer (a passphrase of plain words is fine).
 *
 * Length beats composition (NIST SP 800-63B), which is why long passphrases skip the class rule.
 */
export type PasswordRule =
  'min_length' | 'max_length' | 'contains_email' | 'common' | 'predictable' | 'character_classes' | 'same_as_current';

export const passwordMinLength = 12;
export const passwordMaxLength = 256;
const passphraseLength = 20;

const ruleMessages: Record<PasswordRule, string> = {
  min_length: `must be at least ${passwordMinLength} characters long`,
  max_length: `must be at most ${passwordMaxLength} characters long`,
  contains_email: 'must not contain your email address or its name part',
  common: 'is a commonly used password; choose something less guessable',
  predictable: 'is too predictable (repeated characters or a simple sequence)',
  character_classes: `must mix at least 3 of lowercase letters, uppercase letters, digits and symbols, or be at least ${passphraseLength} characters long`,
  same_as_current: 'must differ from the current password',
};

/** The first rule `password` breaks, or undefined when it is acceptable. */
export function findPasswordViolation(password: string, email: string): PasswordRule | undefined {
  const length = [...password].length;
  if (length < passwordMinLength) return 'min_length';
  if (length > passwordMaxLength) return 'max_length';
  const lower = password.toLowerCase();
  const localPart = emailLocalPart(email.toLowerCase());
  if (localPart.length >= 3 && lower.includes(localPart)) return 'contains_email';
  if (commonPasswords.has(lower) || commonPasswordWords.has(skeletonOf(lower))) return 'common';
  if (new Set(password).size < 5 || isStraightRun(lower)) return 'predictable';
  if (length < passphraseLength && characterClassCount(password) < 3) return 'character_classes';
  return undefined;
}

/** Throws `weak_password` for the first rule broken; `param` is the request field holding the password. */
export function assertPasswordPolicy(password: string, email: string, param: string): void {
  const rule = findPasswordViolation(password, email);
  if (rule) throw weakPasswordError(rule, param);
}

export function weakPasswordError(rule: PasswordRule, param: string): AppError {
  return new AppError('weak_password', `${param} ${ruleMessages[rule]} (rule: ${rule})`, { param });
}

const leetspeak: Readonly<Record<string, string>> = {
  '0': 'o',
  '1': 'i',
  '3': 'e',
  '4': 'a',
  '5': 's',
  '7': 't',
  '@': 'a',
  $: 's',
  '!': 'i',
};

/** `P@ssw0rd2024!` → `password`: drop leading and trailing non-letters, undo leetspeak, keep letters only. */
function skeletonOf(lower: string): string {
  return lower
    .replace(/^[^a-z]+|[^a-z]+$/g, '')
    .replace(/[013457@$!]/g, (character) => leetspeak[character] ?? character)
    .replace(/[^a-z]/g, '');
}

// Digit runs wrap (…8, 9, 0, 1…) as on a keyboard row, so the digit line repeats to cover the longest password.
const straightRuns = ['0123456789'.repeat(27), 'abcdefghijklmnopqrstuvwxyz', 'qwertyuiopasdfghjklzxcvbnm'].flatMap(
  (run) => [run, [...run].reverse().join('')],
);

/** The whole password is one stretch of the alphabet, the digit row or the keyboard (`abcdef…`, `3456789012`). */
function isStraightRun(lower: string): boolean {
  return straightRuns.some((run) => run.includes(lower));
}

function characterClassCount(password: string): number {
  return [/\p{Ll}/u, /\p{Lu}/u, /\p{Nd}/u, /[^\p{Ll}\p{Lu}\p{Nd}]/u].filter((pattern) => pattern.test(password)).length;
}
