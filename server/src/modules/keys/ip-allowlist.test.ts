import { describe, expect, it } from 'vitest';
import { AppError } from '../../errors/app-error.ts';
import { maxIpAllowlistEntries, normalizeIpAllowlist, parseIpAllowlistEntry } from './ip-allowlist.ts';

describe('normalizeIpAllowlist', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    [' 203.0.113.7 ', '203.0.113.7'],
    ['203.0.113.7/32', '203.0.113.7'],
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['192.168.77.255/23', '192.168.76.0/23'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['255.255.255.255/1', '128.0.0.0/1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8::1/128', '2001:db8::1'],
    ['2001:db8:abcd:12ff::1/52', '2001:db8:abcd:1000::/52'],
    ['2001:db8::ffff/127', '2001:db8::fffe/127'],
    ['::/0', '::/0'],
    ['::1', '::1'],
    ['fe80::1:2:3:4/64', 'fe80::/64'],
    ['::ffff:10.1.2.3', '::ffff:10.1.2.3'],
    ['::ffff:10.1.2.3/120', '::ffff:10.1.2.0/120'],
    ['1:2:3:4:5:6:7:8/33', '1:2::/33'],
    ['1:2:8003:4:5:6:7:8/33', '1:2:8000::/33'],
  ])('writes %s as %s', (entry, normal) => {
    expect(normalizeIpAllowlist([entry])).toEqual([normal]);
  });

  it('removes entries that are the same once normalised, keeping the first position', () => {
    expect(normalizeIpAllowlist(['10.0.0.0/8', '2001:db8::1', '10.9.9.9/8', '2001:DB8::1'])).toEqual([
      '10.0.0.0/8',
      '2001:db8::1',
    ]);
  });

  it.each([
    'example.com',
    '',
    '10.0.0.0/33',
    '10.0.0.0/',
    '10.0.0.0/-1',
    '10.0.0.0/8/8',
    '10.0.0.0/ 8',
    '10.0.0.0/0x8',
    '2001:db8::/129',
    '256.0.0.1',
    '010.0.0.1',
    '1.2.3',
    'fe80::1%eth0',
    '2001:db8:::1',
    '1:2:3:4:5:6:7:8:9',
  ])('rejects %j naming the entry', (entry) => {
    let caught: unknown;
    try {
      normalizeIpAllowlist(['10.0.0.1', entry]);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AppError);
    expect(caught).toMatchObject({ code: 'invalid_request', param: 'ip_allowlist[1]' });
  });

  it('rejects an empty list (null means anywhere) and one that is too long', () => {
    expect(() => normalizeIpAllowlist([])).toThrow(/use null to allow every address/);
    const tooMany = Array.from({ length: maxIpAllowlistEntries + 1 }, (_, index) => `10.0.${index}.1`);
    expect(() => normalizeIpAllowlist(tooMany)).toThrow(/at most/);
  });
});

describe('parseIpAllowlistEntry', () => {
  it('reads a normal-form entry back as address, prefix and family', () => {
    expect(parseIpAllowlistEntry('10.0.0.0/8')).toEqual({ address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseIpAllowlistEntry('2001:db8::1')).toEqual({ address: '2001:db8::1', prefix: 128, family: 'ipv6' });
  });
});
