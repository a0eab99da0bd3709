import type { LookupAddress } from 'node:dns';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  OutboundUrlError,
  assertOutboundUrl,
  checkOutboundUrl,
  createGuardedLookup,
  createOutboundFetch,
  isBlockedAddress,
} from './outbound-url.ts';

const strict = { allowInsecureLoopback: false };
const loopbackAllowed = { allowInsecureLoopback: true };
const resolvesTo =
  (...addresses: string[]) =>
  async (): Promise<LookupAddress[]> =>
    addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

describe('outbound URL policy', () => {
  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '::1',
    '::',
    'fd00:ec2::254',
    'fe80::1',
    '::ffff:127.0.0.1',
    '::ffff:169.254.169.254',
  ])('blocks %s', (address) => {
    expect(isBlockedAddress(address)).toBe(true);
  });

  it.each(['93.184.215.14', '8.8.8.8', '2606:4700:4700::1111'])('allows the public address %s', (address) => {
    expect(isBlockedAddress(address)).toBe(false);
  });

  it('accepts https to a public host and refuses plain http', () => {
    expect(checkOutboundUrl('https://login.example.com/tenant', strict).href).toBe('https://login.example.com/tenant');
    expect(() => checkOutboundUrl('http://login.example.com', strict)).toThrow(OutboundUrlError);
    expect(() => checkOutboundUrl('ftp://login.example.com', strict)).toThrow(OutboundUrlError);
    expect(() => checkOutboundUrl('not a url', strict)).toThrow(OutboundUrlError);
    expect(() => checkOutboundUrl('https://user:pass@login.example.com', strict)).toThrow(/credentials/);
  });

  it('refuses literal private, metadata and loopback addresses in every spelling', () => {
    for (const url of [
      'https://169.254.169.254/latest/meta-data',
      'https://10.0.0.1',
      'https://[::1]/',
      'https://[::ffff:127.0.0.1]/',
      'https://2130706433/',
      'https://0x7f.1/',
      'http://127.0.0.1:8080',
    ]) {
      expect(() => checkOutboundUrl(url, strict), url).toThrow(OutboundUrlError);
    }
  });

  it('allows http and https to loopback only with allowInsecureLoopback, and never to private networks', () => {
    expect(checkOutboundUrl('http://127.0.0.1:4000', loopbackAllowed).port).toBe('4000');
    expect(checkOutboundUrl('http://localhost:4000', loopbackAllowed).hostname).toBe('localhost');
    expect(checkOutboundUrl('http://[::1]:4000', loopbackAllowed).hostname).toBe('[::1]');
    expect(() => checkOutboundUrl('http://10.0.0.1', loopbackAllowed)).toThrow(OutboundUrlError);
    expect(() => checkOutboundUrl('http://idp.example.com', loopbackAllowed)).toThrow(/must use https/);
  });

  it('resolves names and refuses one that points at a private or metadata address', async () => {
    await expect(
      assertOutboundUrl('https://idp.example.com', strict, resolvesTo('93.184.215.14')),
    ).resolves.toBeInstanceOf(URL);
    await expect(
      assertOutboundUrl('https://idp.example.com', strict, resolvesTo('93.184.215.14', '169.254.169.254')),
    ).rejects.toThrow(/169\.254\.169\.254/);
    await expect(assertOutboundUrl('https://internal.example.com', strict, resolvesTo('10.0.0.5'))).rejects.toThrow(
      OutboundUrlError,
    );
    // A public name that resolves to loopback is refused even when loopback is allowed for loopback names.
    await expect(
      assertOutboundUrl('https://rebind.example.com', loopbackAllowed, resolvesTo('127.0.0.1')),
    ).rejects.toThrow(OutboundUrlError);
    await expect(
      assertOutboundUrl('https://nowhere.example.com', strict, async () => {
        throw new Error('ENOTFOUND');
      }),
    ).rejects.toThrow(/does not resolve/);
  });

  it('checks the addresses a connection really uses: a name resolving to loopback is cut before connecting', async () => {
    expect(() => checkOutboundUrl('https://localhost/', strict)).toThrow(/loopback/);
    // Names that are not obviously loopback are only found out by resolving them, which the socket's lookup does.
    const lookup = createGuardedLookup(strict);
    const failure = await new Promise<unknown>((resolve) => {
      lookup('localhost', {}, (error) => resolve(error));
    });
    expect(failure).toBeInstanceOf(OutboundUrlError);
    const allowed = await new Promise<unknown>((resolve) => {
      createGuardedLookup(loopbackAllowed)('localhost', { all: true }, (error, addresses) =>
        resolve(error ?? addresses),
      );
    });
    expect(allowed).toEqual(expect.arrayContaining([expect.objectContaining({ address: expect.any(String) })]));
  });

  it('lets a loopback name through the connect-time check when allowInsecureLoopback is set', async () => {
    const server = createServer((_request, response) => response.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const outbound = createOutboundFetch(loopbackAllowed);
    try {
      const response = await outbound.fetch(`http://localhost:${(server.address() as AddressInfo).port}/`);
      expect(await response.text()).toBe('ok');
    } finally {
      await outbound.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
