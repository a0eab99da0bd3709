import { BlockList, isIP } from 'node:net';
import { AppError } from '../errors/app-error.ts';
import {
  parseIpAllowlistEntry,
  type IpAllowlistEntry,
  type KeyPrincipal,
  type KeyScope,
} from '../modules/keys/index.ts';

/**
 * The scope each gateway route needs, by route pattern. A /v1 route missing here fails at startup (see
 * authenticate.ts), so a new endpoint cannot ship reachable by every key by accident.
 */
export const endpointScopes: Readonly<Record<string, KeyScope>> = {
  '/v1/chat/completions': 'chat',
  '/v1/messages': 'chat',
  '/v1/messages/count_tokens': 'chat',
  '/v1/embeddings': 'embeddings',
  '/v1/models': 'models',
  '/v1/models/:model': 'models',
};

export function scopeForRoute(routeUrl: string): KeyScope | undefined {
  return Object.hasOwn(endpointScopes, routeUrl) ? endpointScopes[routeUrl] : undefined;
}

/** Refuses a key without the scope its endpoint needs (403 scope_not_allowed). */
export function assertKeyScope(principal: KeyPrincipal, scope: KeyScope): void {
  if (!principal.scopes.has(scope)) {
    throw new AppError('scope_not_allowed', `this API key lacks the "${scope}" scope needed for this endpoint`);
  }
}

/**
 * Compiled allowlists, one per principal object. Principals are immutable and replaced whenever the key cache
 * reloads (after any change to a key), so the cache needs no invalidation of its own and a warm request costs one
 * WeakMap read plus one BlockList check: no database, no parsing.
 */
const compiledAllowlists = new WeakMap<KeyPrincipal, BlockList>();

/** Refuses a request from an address outside the key's IP allowlist (403 ip_not_allowed). */
export function assertKeyAllowedFrom(principal: KeyPrincipal, address: string): void {
  if (principal.ipAllowlist === null) return;
  let allowlist = compiledAllowlists.get(principal);
  if (allowlist === undefined) {
    allowlist = compileAllowlist(principal.ipAllowlist);
    compiledAllowlists.set(principal, allowlist);
  }
  const version = isIP(address);
  // BlockList matches IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) against IPv4 rules and back, so dual-stack
  // listeners need no special casing.
  if (version === 0 || !allowlist.check(address, version === 4 ? 'ipv4' : 'ipv6')) {
    throw new AppError('ip_not_allowed', `this API key may not be used from ${address || 'this address'}`);
  }
}

function compileAllowlist(entries: readonly string[]): BlockList {
  const allowlist = new BlockList();
  for (const text of entries) {
    let entry: IpAllowlistEntry;
    try {
      entry = parseIpAllowlistEntry(text);
    } catch {
      // Entries are validated on write; one that is not (edited in the database) matches nothing: fail closed.
      continue;
    }
    const bits = entry.family === 'ipv4' ? 32 : 128;
    if (entry.prefix === bits) allowlist.addAddress(entry.address, entry.family);
    else allowlist.addSubnet(entry.address, entry.prefix, entry.family);
  }
  return allowlist;
}
