import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

/** A person known to the test identity provider; their login name at its dev sign-in form is `id`. */
export interface TestAccount {
  readonly id: string;
  readonly email: string;
  readonly emailVerified: boolean;
  readonly name: string;
}

export interface OidcTestProvider {
  /** `http://127.0.0.1:<port>`: loopback, so AI Hub needs its allow-insecure-loopback switch to talk to it. */
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Add or change people between sign-ins (for example to change someone's email). */
  readonly accounts: Map<string, TestAccount>;
  close(): Promise<void>;
}

/**
 * A real OpenID Connect provider (the oidc-provider package) on an ephemeral loopback port, with one confidential
 * client that must use PKCE, and its development sign-in and consent pages, which `signInAtProvider` fills in.
 */
export async function startOidcTestProvider(options: {
  redirectUris: readonly string[];
  accounts?: readonly TestAccount[];
}): Promise<OidcTestProvider> {
  const accounts = new Map((options.accounts ?? []).map((account) => [account.id, account]));
  // The issuer URL names the port, so the provider is built, and attached, once the server is listening.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'aihub-test';
  const clientSecret = randomBytes(24).toString('base64url');
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [...options.redirectUris],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    pkce: { required: () => true },
    findAccount: (_context, id) => {
      const account = accounts.get(id);
      if (!account) return undefined;
      return {
        accountId: id,
        claims: () => ({
          sub: account.id,
          email: account.email,
          email_verified: account.emailVerified,
          name: account.name,
        }),
      };
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    features: { devInteractions: { enabled: true } },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    jwks: { keys: [{ ...(await exportJWK(privateKey)), use: 'sig', alg: 'RS256', kid: 'test-signing-key' }] },
    ttl: { AccessToken: 600, AuthorizationCode: 60, Grant: 3600, IdToken: 600, Interaction: 600, Session: 3600 },
  });
  server.on('request', provider.callback());

  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

interface StoredCookie {
  readonly name: string;
  readonly value: string;
  readonly host: string;
  readonly path: string;
}

/**
 * Just enough of a browser for redirect flows: plain fetch that never follows redirects, and a cookie jar that keeps
 * cookies per host (ports share them, as in browsers) and sends them by path prefix, honouring Max-Age/Expires
 * deletions.
 */
export class TestBrowser {
  #cookies: StoredCookie[] = [];

  async fetch(url: string | URL, init: { method?: string; form?: Record<string, string> } = {}): Promise<Response> {
    const target = new URL(url);
    const headers: Record<string, string> = {};
    const cookieHeader = this.cookieHeader(target);
    if (cookieHeader) headers.cookie = cookieHeader;
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const response = await fetch(target, {
      method: init.method ?? (body === undefined ? 'GET' : 'POST'),
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(10_000),
    });
    this.#store(target, response.headers.getSetCookie());
    return response;
  }

  /** The value of a cookie the browser would send to `url`, if any. */
  cookie(url: string | URL, name: string): string | undefined {
    return this.#matching(new URL(url)).find((cookie) => cookie.name === name)?.value;
  }

  cookieHeader(url: URL): string {
    return this.#matching(url)
      .map((cookie) => `${cookie.name}=${cookie.value}`)
      .join('; ');
  }

  #matching(url: URL): StoredCookie[] {
    return this.#cookies.filter(
      (cookie) =>
        cookie.host === url.hostname &&
        (url.pathname === cookie.path ||
          url.pathname.startsWith(cookie.path.endsWith('/') ? cookie.path : `${cookie.path}/`)),
    );
  }

  #store(url: URL, setCookies: readonly string[]): void {
    for (const line of setCookies) {
      const [pair = '', ...attributeParts] = line.split(';');
      const separator = pair.indexOf('=');
      if (separator <= 0) continue;
      const name = pair.slice(0, separator).trim();
      const value = pair.slice(separator + 1).trim();
      const attributes = new Map(
        attributeParts.map((part) => {
          const [key = '', ...rest] = part.split('=');
          return [key.trim().toLowerCase(), rest.join('=').trim()] as const;
        }),
      );
      const defaultPath = url.pathname.slice(0, Math.max(1, url.pathname.lastIndexOf('/')));
      const path = attributes.get('path') || defaultPath;
      const maxAge = attributes.get('max-age');
      const expires = attributes.get('expires');
      const deleted =
        (maxAge !== undefined && Number(maxAge) <= 0) ||
        (expires !== undefined && maxAge === undefined && Date.parse(expires) <= Date.now());
      this.#cookies = this.#cookies.filter(
        (cookie) => !(cookie.name === name && cookie.host === url.hostname && cookie.path === path),
      );
      if (!deleted) this.#cookies.push({ name, value, host: url.hostname, path });
    }
  }
}

/**
 * Plays the person at the identity provider: from its authorization URL through the dev sign-in form (as `login`)
 * and the consent page (or declines at the first page), following the provider's own redirects, until it redirects away from itself. Returns that
 * URL (the relying party's callback, with code and state).
 */
export async function signInAtProvider(
  browser: TestBrowser,
  authorizationUrl: string,
  login: string,
  options: { decline?: boolean } = {},
): Promise<URL> {
  let next = new URL(authorizationUrl);
  const providerOrigin = next.origin;
  for (let step = 0; step < 20; step += 1) {
    if (next.origin !== providerOrigin) return next;
    let response = await browser.fetch(next);
    if (response.status === 200) {
      const page = await response.text();
      const prompt = /name="prompt" value="(\w+)"/.exec(page)?.[1];
      if (options.decline) {
        // The dev pages' "cancel" link: the provider answers the relying party with access_denied.
        response = await browser.fetch(new URL(`${next.pathname}/abort`, next));
      } else if (prompt === 'login') {
        response = await browser.fetch(next, { form: { prompt, login, password: 'any' } });
      } else if (prompt === 'consent') {
        response = await browser.fetch(next, { form: { prompt } });
      } else {
        throw new Error(`the provider showed a page this test cannot answer: ${page.slice(0, 300)}`);
      }
    }
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location) {
      throw new Error(
        `the provider answered ${response.status} at ${next.href}: ${(await response.text()).slice(0, 300)}`,
      );
    }
    next = new URL(location, next);
  }
  throw new Error('the provider kept redirecting');
}
