import { isIP, SocketAddress } from 'node:net';
import { AppError } from '../../errors/app-error.ts';

/** One parsed allowlist entry: an address, or a subnet when `prefix` is shorter than the address. */
export interface IpAllowlistEntry {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

export const maxIpAllowlistEntries = 100;

/**
 * Validates and normalises a key's IP allowlist: each entry an IPv4/IPv6 address or CIDR range, written in canonical
 * form (lower-case, compressed IPv6, host bits of a range cleared, `/32` and `/128` dropped), duplicates removed.
 * `param` names the request field so errors point at the offending entry (`ip_allowlist[2]`).
 */
export function normalizeIpAllowlist(entries: readonly string[], param = 'ip_allowlist'): string[] {
  if (entries.length === 0) {
    throw new AppError('invalid_request', `${param} must not be empty; use null to allow every address`, { param });
  }
  if (entries.length > maxIpAllowlistEntries) {
    throw new AppError('invalid_request', `${param} takes at most ${maxIpAllowlistEntries} entries`, { param });
  }
  const normalized = entries.map((entry, index) => formatIpAllowlistEntry(parseEntry(entry, `${param}[${index}]`)));
  return [...new Set(normalized)];
}

/** Parses an entry already stored in normal form (see normalizeIpAllowlist); throws on anything else. */
export function parseIpAllowlistEntry(entry: string): IpAllowlistEntry {
  return parseEntry(entry, 'ip_allowlist');
}

function parseEntry(raw: string, param: string): IpAllowlistEntry {
  const text = raw.trim();
  const invalid = new AppError(
    'invalid_request',
    `${param}: "${raw}" is not an IP address or CIDR range (e.g. 203.0.113.7, 10.0.0.0/8, 2001:db8::/32)`,
    { param },
  );
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const prefixText = slash === -1 ? undefined : text.slice(slash + 1);
  // Zone ids (fe80::1%eth0) name an interface on one machine; they mean nothing in a shared allowlist.
  const version = addressText.includes('%') ? 0 : isIP(addressText);
  if (version === 0) throw invalid;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const bits = version === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) throw invalid;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (prefix > bits) throw invalid;
  const networkBytes = clearHostBits(toBytes(addressText, family), prefix);
  return { address: fromBytes(networkBytes, family), prefix, family };
}

function formatIpAllowlistEntry(entry: IpAllowlistEntry): string {
  const bits = entry.family === 'ipv4' ? 32 : 128;
  return entry.prefix === bits ? entry.address : `${entry.address}/${entry.prefix}`;
}

/*
 * node:net validates addresses (isIP) and checks them (BlockList) but has no way to clear the host bits of a range,
 * so that small part is done here on bytes. Inputs are already valid per isIP, which keeps the parsing simple.
 */
function toBytes(address: string, family: 'ipv4' | 'ipv6'): number[] {
  if (family === 'ipv4') return address.split('.').map(Number);
  const [head = '', tail] = address.split('::');
  const groupsOf = (part: string): number[] => {
    if (part === '') return [];
    return part.split(':').flatMap((group) => {
      if (!group.includes('.')) return [Number.parseInt(group, 16)];
      const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number);
      return [(a << 8) | b, (c << 8) | d];
    });
  };
  const headGroups = groupsOf(head);
  const tailGroups = tail === undefined ? [] : groupsOf(tail);
  const zeros = new Array<number>(8 - headGroups.length - tailGroups.length).fill(0);
  return [...headGroups, ...zeros, ...tailGroups].flatMap((group) => [group >> 8, group & 0xff]);
}

function clearHostBits(bytes: number[], prefix: number): number[] {
  return bytes.map((byte, index) => {
    const keep = Math.max(0, Math.min(8, prefix - index * 8));
    return byte & ((0xff << (8 - keep)) & 0xff);
  });
}

function fromBytes(bytes: number[], family: 'ipv4' | 'ipv6'): string {
  if (family === 'ipv4') return bytes.join('.');
  const groups: string[] = [];
  for (let index = 0; index < 16; index += 2) {
    groups.push((((bytes[index] ?? 0) << 8) | (bytes[index + 1] ?? 0)).toString(16));
  }
  // SocketAddress prints the canonical (RFC 5952) compressed form.
  return new SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}
