import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { Agent } from 'undici';

/**
 * The one check for outbound requests to URLs that operators or tenants configure (SSO issuers today), so a
 * setting cannot turn the server into a proxy to its own network (SSRF).
 *
 * Rules:
 * - https only; http only for a loopback host when `allowInsecureLoopback` is set (tests, local development).
 * - No credentials in the URL.
 * - Every address the host resolves to must be public: loopback, private (RFC 1918, unique-local IPv6), link-local
 *   (169.254.0.0/16 holds the cloud metadata endpoints, fe80::/10), carrier-grade NAT, unspecified, multicast and
 *   reserved ranges are refused, IPv4-mapped IPv6 included. Loopback is allowed only with `allowInsecureLoopback`
 *   and only for a host that names loopback itself (`localhost`, `127.0.0.1`, `[::1]`).
 * - `checkOutboundUrl` decides from the URL alone (scheme, literal addresses); `assertOutboundUrl` also resolves the
 *   name, for validating a setting when it is saved; `createOutboundFetch` enforces the address rule again at
 *   connect time, on the addresses the connection really uses, so DNS rebinding between check and use does not help.
 */
export interface OutboundUrlPolicy {
  readonly allowInsecureLoopback: boolean;
}

export class OutboundUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutboundUrlError';
  }
}

const blockedRanges = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blockedRanges.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  blockedRanges.addSubnet(network, prefix, 'ipv6');
}

const loopbackRanges = new BlockList();
loopbackRanges.addSubnet('127.0.0.0', 8, 'ipv4');
loopbackRanges.addAddress('::1', 'ipv6');

const loopbackNames = new Set(['localhost', 'localhost.']);

function addressFamily(address: string): 'ipv4' | 'ipv6' {
  return isIP(address) === 6 ? 'ipv6' : 'ipv4';
}

export function isLoopbackAddress(address: string): boolean {
  return isIP(address) !== 0 && loopbackRanges.check(address, addressFamily(address));
}

/** True for any address an outbound request to a configured URL must never reach (loopback included). */
export function isBlockedAddress(address: string): boolean {
  if (isIP(address) === 0) return true;
  return blockedRanges.check(address, addressFamily(address));
}

/** The URL's host without IPv6 brackets, lowercased. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
}

function namesLoopback(host: string): boolean {
  return loopbackNames.has(host) || isLoopbackAddress(host);
}

function isAllowedAddress(address: string, host: string, policy: OutboundUrlPolicy): boolean {
  if (isLoopbackAddress(address)) return policy.allowInsecureLoopback && namesLoopback(host);
  return !isBlockedAddress(address);
}

/** Scheme, credentials and literal-address rules; no DNS. Returns the parsed URL. */
export function checkOutboundUrl(input: string | URL, policy: OutboundUrlPolicy): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new OutboundUrlError('not a valid URL');
  }
  const host = hostOf(url);
  const loopbackAllowed = policy.allowInsecureLoopback && namesLoopback(host);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopbackAllowed)) {
    throw new OutboundUrlError(`${url.origin} must use https`);
  }
  if (url.username !== '' || url.password !== '') throw new OutboundUrlError('the URL must not carry credentials');
  if (namesLoopback(host) && !loopbackAllowed) throw new OutboundUrlError(`${url.origin} is a loopback address`);
  if (isIP(host) !== 0 && !isAllowedAddress(host, host, policy)) {
    throw new OutboundUrlError(`${url.origin} is not a public address`);
  }
  return url;
}

type ResolveAll = (host: string) => Promise<readonly LookupAddress[]>;

const resolveWithSystem: ResolveAll = (host) =>
  new Promise((resolve, reject) => {
    dnsLookup(host, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses)));
  });

/** `checkOutboundUrl` plus DNS: every address the host resolves to must be allowed. */
export async function assertOutboundUrl(
  input: string | URL,
  policy: OutboundUrlPolicy,
  resolveAll: ResolveAll = resolveWithSystem,
): Promise<URL> {
  const url = checkOutboundUrl(input, policy);
  const host = hostOf(url);
  if (isIP(host) !== 0) return url;
  let addresses: readonly LookupAddress[];
  try {
    addresses = await resolveAll(host);
  } catch {
    throw new OutboundUrlError(`${host} does not resolve`);
  }
  if (addresses.length === 0) throw new OutboundUrlError(`${host} does not resolve`);
  const refused = addresses.find((entry) => !isAllowedAddress(entry.address, host, policy));
  if (refused) throw new OutboundUrlError(`${host} resolves to ${refused.address}, which is not a public address`);
  return url;
}

/** A DNS lookup for sockets that refuses to hand back an address the policy does not allow. */
export function createGuardedLookup(policy: OutboundUrlPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) {
        callback(error, '', 0);
        return;
      }
      const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
      const refused = addresses.find((entry) => !isAllowedAddress(entry.address, host, policy));
      const first = addresses[0];
      if (refused || !first) {
        const reason = refused ? `resolves to ${refused.address}, which is not a public address` : 'does not resolve';
        callback(Object.assign(new OutboundUrlError(`${hostname} ${reason}`), { code: 'EOUTBOUNDBLOCKED' }), '', 0);
        return;
      }
      if (options.all) callback(null, addresses);
      else callback(null, first.address, first.family);
    });
  };
}

export interface OutboundFetch {
  /** `fetch` with the URL checked first and every connection's addresses checked as it opens. Never follows redirects. */
  fetch(url: string | URL, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

export function createOutboundFetch(
  policy: OutboundUrlPolicy,
  options: { connectTimeoutMs?: number } = {},
): OutboundFetch {
  const agent = new Agent({
    connect: { lookup: createGuardedLookup(policy), timeout: options.connectTimeoutMs ?? 10_000 },
    keepAliveTimeout: 10_000,
  });
  return {
    async fetch(url, init = {}) {
      checkOutboundUrl(url, policy);
      return fetch(url, { ...init, redirect: 'manual', dispatcher: agent });
    },
    close: () => agent.close(),
  };
}
