import { AppError } from '../../errors/app-error.ts';

const maxReturnToLength = 2048;
const probeOrigin = 'https://return-to.invalid';

/**
 * Where to send the browser after signing in: only a path on this site, so the login link cannot be used as an open
 * redirect. Refused: absolute URLs, scheme-relative `//host` and its backslash variants (browsers treat `\` as `/`),
 * control characters, anything that does not start with `/`.
 */
export function readReturnTo(value: string | undefined): string {
  if (value === undefined || value === '') return '/';
  const invalid = new AppError('invalid_request', 'return_to must be a path on this site, such as /console/keys', {
    param: 'return_to',
  });
  if (value.length > maxReturnToLength) throw invalid;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is being refused
  if (!value.startsWith('/') || /^\/[/\\]|\\|[\u0000-\u001f\u007f]/.test(value)) throw invalid;
  const resolved = new URL(value, probeOrigin);
  if (resolved.origin !== probeOrigin) throw invalid;
  return resolved.pathname + resolved.search + resolved.hash;
}
