import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import type { RegistryHolder } from '../registry-holder.ts';
import type { TrafficControl } from './traffic-control.ts';
import { formatDuration, registerTrafficControl } from './traffic-hook.ts';

describe('registerTrafficControl', () => {
  it('refuses to start with a gateway route that has no traffic demand', async () => {
    const app = Fastify();
    registerTrafficControl(app, {} as TrafficControl, {} as RegistryHolder);
    expect(() => app.post('/v1/something-new', async () => ({}))).toThrow(
      'gateway route /v1/something-new needs an entry in endpointDemands',
    );
    await app.close();
  });
});

describe('formatDuration', () => {
  it("writes reset times the way OpenAI's headers do", () => {
    expect(formatDuration(0)).toBe('0ms');
    expect(formatDuration(250.2)).toBe('251ms');
    expect(formatDuration(1000)).toBe('1s');
    expect(formatDuration(12_001)).toBe('13s');
    expect(formatDuration(60_000)).toBe('1m0s');
    expect(formatDuration(65_000)).toBe('1m5s');
  });
});
