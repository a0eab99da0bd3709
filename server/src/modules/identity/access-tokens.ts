import { hkdfSync } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { AppError } from '../../errors/app-error.ts';

export interface AccessTokenClaims {
  userId: string;
  /** The refresh-token family (login session) this access token belongs to. */
  sessionId: string;
}

const issuer = 'aihub';
const audience = 'aihub-api';

/** Short-lived HS256 access tokens; the signing key is derived from AIHUB_SECRET_KEY so every instance shares it. */
export class AccessTokens {
  readonly #key: Uint8Array;
  readonly #ttlSeconds: number;

  constructor(secretKey: Buffer, ttlSeconds = 15 * 60) {
    this.#key = new Uint8Array(hkdfSync('sha256', secretKey, Buffer.alloc(0), 'aihub access tokens v1', 32));
    this.#ttlSeconds = ttlSeconds;
  }

  get ttlSeconds(): number {
    return this.#ttlSeconds;
  }

  issue(claims: AccessTokenClaims): Promise<string> {
    return new SignJWT({ sid: claims.sessionId })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.userId)
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime(`${this.#ttlSeconds}s`)
      .sign(this.#key);
  }

  async verify(token: string): Promise<AccessTokenClaims> {
    try {
      const { payload } = await jwtVerify(token, this.#key, { issuer, audience, algorithms: ['HS256'] });
      if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string') throw new Error('claims missing');
      return { userId: payload.sub, sessionId: payload.sid };
    } catch (error) {
      const expired = error instanceof joseErrors.JWTExpired;
      throw new AppError(
        'unauthenticated',
        expired ? 'the access token has expired; refresh it' : 'the access token is not valid',
      );
    }
  }
}

/** A JWT has three dot-separated parts; API keys never contain dots. */
export function looksLikeJwt(token: string): boolean {
  return token.split('.').length === 3;
}
