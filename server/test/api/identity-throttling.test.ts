import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import { goodPassword, loginWithPassword, registerAccount, useIdentityTestApp } from '../support/identity.ts';
import { testEngines } from '../support/test-database.ts';

let addressCounter = 0;
function freshAddress(): string {
  addressCounter += 1;
  return `10.7.${Math.floor(addressCounter / 250)}.${(addressCounter % 250) + 1}`;
}

describe.each(testEngines)('sign-in throttling that an attacker cannot turn into a lockout, on %s', (engine) => {
  const identityApp = useIdentityTestApp(engine);

  const attempt = (email: string, password: string, remoteAddress: string, cookies: Record<string, string> = {}) =>
    identityApp.post('/auth/login', { email, password }, { remoteAddress, cookies });
  const deviceCookieOf = (response: LightMyRequestResponse) =>
    response.cookies.find((cookie) => cookie.name === 'aihub_device');

  /** Wrong passwords for `email` from `addresses` addresses, 5 from each (each pair then throttled). */
  async function attackFrom(email: string, addresses: number): Promise<void> {
    for (let index = 0; index < addresses; index++) {
      const remoteAddress = freshAddress();
      for (let guess = 0; guess < 5; guess++) {
        expect((await attempt(email, `Wrong-Password-${guess}`, remoteAddress)).statusCode).toBe(401);
      }
    }
  }

  it('lets the user in from elsewhere while one address is throttled for the account', async () => {
    const account = await registerAccount(identityApp);
    const attacker = freshAddress();
    for (let guess = 0; guess < 5; guess++) {
      expect((await attempt(account.email, `Wrong-Password-${guess}`, attacker)).statusCode).toBe(401);
    }
    expect((await attempt(account.email, goodPassword, attacker)).statusCode).toBe(429);
    expect((await attempt(account.email, goodPassword, freshAddress())).statusCode).toBe(200);
  });

  it('holds back new devices once 50 failures came from everywhere, but not a device that signed in before', async () => {
    const account = await registerAccount(identityApp);
    const home = await attempt(account.email, goodPassword, freshAddress());
    expect(home.statusCode).toBe(200);
    const device = deviceCookieOf(home);
    expect(device).toMatchObject({ httpOnly: true, path: '/api/v1/auth', sameSite: 'Lax' });

    await attackFrom(account.email, 10);

    const stranger = await attempt(account.email, goodPassword, freshAddress());
    expect(stranger.statusCode).toBe(429);
    expect(stranger.json().code).toBe('too_many_attempts');
    expect(Number(stranger.headers['retry-after'])).toBeGreaterThan(0);

    // The user's browser, on a new network, still gets in: its device cookie proves an earlier sign-in.
    const onTheRoad = await attempt(account.email, goodPassword, freshAddress(), { aihub_device: device!.value });
    expect(onTheRoad.statusCode).toBe(200);
  });

  it('treats an address a session started from as known (API clients without cookies)', async () => {
    const account = await registerAccount(identityApp);
    const office = freshAddress();
    await loginWithPassword(identityApp, account.email, goodPassword, office);
    await attackFrom(account.email, 10);
    expect((await attempt(account.email, goodPassword, freshAddress())).statusCode).toBe(429);
    expect((await attempt(account.email, goodPassword, office)).statusCode).toBe(200);
  });

  it("does not accept another account's device cookie, or a forged one, as known", async () => {
    const victim = await registerAccount(identityApp);
    const attackerAccount = await registerAccount(identityApp);
    const own = deviceCookieOf(await attempt(attackerAccount.email, goodPassword, freshAddress()));
    expect(own).toBeDefined();
    await attackFrom(victim.email, 10);
    for (const forged of [own!.value, 'bm9uY2U.c2lnbmF0dXJl', `${own!.value}.extra`]) {
      const response = await attempt(victim.email, goodPassword, freshAddress(), { aihub_device: forged });
      expect(response.statusCode).toBe(429);
    }
  });
});
