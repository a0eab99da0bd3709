import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';

describe.each(testEngines)('gateway smoke on %s', (engine) => {
  let testApp: TestApp;
  beforeAll(async () => {
    testApp = await startTestApp({ engine });
  });
  afterAll(async () => {
    await testApp.close();
  });

  it('serves a chat completion and records its usage', async () => {
    const response = await testApp.instance.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: testApp.headers(),
      payload: { model: 'test', messages: [{ role: 'user', content: 'hello there' }] },
    });
    expect(response.statusCode).toBe(200);
    expect(response.json().choices[0].message.content).toContain('tok0');
    await testApp.instance.services.gateway.journal.flush();
    const records = await testApp.instance.services.usage.listRecent(10);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ model: 'gpt-test', status: 200, outcome: 'success', usage_source: 'upstream' });
  });
});
