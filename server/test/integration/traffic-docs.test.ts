import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.ts';
import { costMicros } from '../../src/lib/money.ts';
import { callApi, type Method } from '../api/tenancy-support.ts';
import { createOrganization, createSignedInUser, type SignedInUser } from '../support/api-users.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

const repositoryRoot = path.resolve(import.meta.dirname, '../../..');
const guide = readFileSync(path.join(repositoryRoot, 'docs/traffic.md'), 'utf8');

/** The worked example of docs/traffic.md, run as written against a real AI Hub, does what the text says. */
describe('the traffic guide', () => {
  let testApp: TestApp;
  let owner: SignedInUser;
  let orgId: string;

  beforeAll(async () => {
    testApp = await startTestApp();
    owner = await createSignedInUser(testApp);
    orgId = await createOrganization(testApp, owner);
  });
  afterAll(async () => {
    await testApp.close();
  });

  it('sets up the worked example through the API, and a key of the team is held to it', async () => {
    const team = await callApi(testApp, owner, 'POST', `/api/v1/organizations/${orgId}/teams`, {
      body: { name: 'Team A' },
    });
    const teamId = team.json<{ id: string }>().id;
    const created = await callApi(testApp, owner, 'POST', `/api/v1/organizations/${orgId}/keys`, {
      body: { name: 'team key', team_id: teamId },
    });
    expect(created.statusCode).toBe(201);
    const { id: keyId, secret } = created.json<{ id: string; secret: string }>();

    const block = /```http\n([\s\S]*?)```/.exec(guide)?.[1] ?? '';
    const calls = [...block.matchAll(/^(GET|POST|PATCH|DELETE) (\S+)\n(\{.*\})$/gm)];
    expect(calls).toHaveLength(4);
    for (const [, method, url, body] of calls) {
      const real = (text: string): string =>
        text.replaceAll('org_123', orgId).replaceAll('team_a', teamId).replaceAll('key_456', keyId);
      const answer = await callApi(testApp, owner, method as Method, real(url ?? ''), {
        body: JSON.parse(real(body ?? '{}')) as unknown,
      });
      expect(answer.statusCode, `${method} ${url}: ${answer.body}`).toBeLessThan(300);
    }

    const budgets = await callApi(testApp, owner, 'GET', `/api/v1/organizations/${orgId}/budgets`);
    expect(budgets.json<{ data: unknown[] }>().data).toEqual([
      expect.objectContaining({ amount_micros: 200_000_000, period: 'month', alert_thresholds: [50, 80, 100] }),
    ]);
    const key = await callApi(testApp, owner, 'GET', `/api/v1/organizations/${orgId}/keys/${keyId}`);
    expect(key.json()).toMatchObject({ budget_micros: 5_000_000, budget_period: 'day', budget_spent_micros: 0 });
    // A day in Berlin starts at 23:00 or 22:00 UTC.
    const resetsAt = new Date(key.json<{ budget_resets_at: number }>().budget_resets_at);
    expect([22, 23]).toContain(resetsAt.getUTCHours());

    await testApp.instance.services.traffic.control.poll();
    const chat = await testApp.instance.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: testApp.headers(secret),
      payload: { model: 'test', max_tokens: 16, messages: [{ role: 'user', content: 'hello' }] },
    });
    expect(chat.statusCode).toBe(200);
    expect(chat.headers).toMatchObject({
      'x-ratelimit-limit-requests': '600',
      'x-ratelimit-remaining-requests': '599',
      'x-ratelimit-limit-tokens': '2000000',
    });
  });

  it('lists the settings with their real defaults', () => {
    const config = loadConfig({
      environment: {},
      overrides: { secretKey: Buffer.alloc(32), dataDir: '/nonexistent' },
      generateSecretKey: false,
    });
    const rows = Object.fromEntries(
      [...guide.matchAll(/^\| `(AIHUB_[A-Z_]+)` +\| (\d+) +\|/gm)].map((match) => [match[1], Number(match[2])]),
    );
    expect(rows).toEqual({
      AIHUB_TRAFFIC_DEFAULT_MAX_TOKENS: config.traffic.defaultMaxTokens,
      AIHUB_TRAFFIC_LEASE_MS: config.traffic.leaseMs,
      AIHUB_TRAFFIC_POLL_MS: config.traffic.pollMs,
      AIHUB_INSTANCE_HEARTBEAT_MS: config.traffic.heartbeatMs,
    });
  });

  it('works the reservation example out as the text does', () => {
    const prices = { input: 2_500_000, output: 10_000_000, cachedInput: 2_500_000 };
    const reserve = costMicros({ prompt: 1200, completion: 500, cached: 0, requests: 1 }, prices);
    const trueCost = costMicros({ prompt: 300, completion: 200, cached: 0, requests: 1 }, prices);
    expect([reserve, trueCost]).toEqual([8000, 2750]);
    expect(guide).toContain('1,200 × 2.5 + 500 × 10 = 8,000 µ$');
    expect(guide).toContain('4,995,000 + 8,000 > 5,000,000');
    expect(4_995_000 + reserve).toBeGreaterThan(5_000_000);
    expect(4_995_000 + trueCost).toBeLessThanOrEqual(5_000_000);
  });
});
