import { describe, expect, it } from 'vitest';
import { defaultPasswordHashParameters, hashPassword, needsRehash, verifyPassword } from './password.ts';

const cheap = { logCost: 10, blockSize: 8, parallelism: 1 };

describe('password hashing', () => {
  it('uses strong defaults: scrypt N=2^15, r=8, p=1', () => {
    expect(defaultPasswordHashParameters).toEqual({ logCost: 15, blockSize: 8, parallelism: 1 });
  });

  it('encodes its parameters and a per-hash salt, and verifies only the right password', async () => {
    const first = await hashPassword('Velvet-Otter-Lantern-42', cheap);
    const second = await hashPassword('Velvet-Otter-Lantern-42', cheap);
    expect(first).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(first).not.toBe(second);
    expect(await verifyPassword('Velvet-Otter-Lantern-42', first)).toBe(true);
    expect(await verifyPassword('Velvet-Otter-Lantern-43', first)).toBe(false);
  });

  it('verifies with the parameters stored in the hash, and flags hashes made with other ones', async () => {
    const stored = await hashPassword('Velvet-Otter-Lantern-42', cheap);
    expect(await verifyPassword('Velvet-Otter-Lantern-42', stored)).toBe(true);
    expect(needsRehash(stored, cheap)).toBe(false);
    expect(needsRehash(stored, defaultPasswordHashParameters)).toBe(true);
  });

  it('treats equivalent Unicode forms as the same password', async () => {
    const stored = await hashPassword('Caf\u00e9-Lantern-Otter-42', cheap);
    expect(await verifyPassword('Cafe\u0301-Lantern-Otter-42', stored)).toBe(true);
  });

  it('never verifies against a malformed or tampered hash', async () => {
    expect(await verifyPassword('anything', '')).toBe(false);
    expect(await verifyPassword('anything', 'plaintext')).toBe(false);
    expect(await verifyPassword('anything', '$scrypt$ln=30,r=8,p=1$AAAA$AAAA')).toBe(false);
  });

  it('does not block the event loop while hashing', async () => {
    let ticks = 0;
    const timer = setInterval(() => (ticks += 1), 1);
    await hashPassword('Velvet-Otter-Lantern-42', { logCost: 14, blockSize: 8, parallelism: 1 });
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
  });
});
