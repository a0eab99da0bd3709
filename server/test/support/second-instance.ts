import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createApp, type AppInstance } from '../../src/http/create-app.ts';
import type { TestApp } from './test-app.ts';

/**
 * Another AI Hub on the same database as `testApp`, as in a cluster behind a load balancer: same configuration, its
 * own data dir and connection. Closing it also removes its data dir.
 */
export async function startSecondInstance(
  testApp: TestApp,
  options: { now?: () => number } = {},
): Promise<AppInstance> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'aihub-other-instance-'));
  const instance = await createApp(
    { ...testApp.config, dataDir },
    { database: testApp.database.reopen(), logger: false, ...(options.now ? { now: options.now } : {}) },
  );
  return {
    ...instance,
    close: async (closeOptions) => {
      await instance.close(closeOptions);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const chatPayload = { model: 'test', messages: [{ role: 'user', content: 'hello' }] };

/** A small chat completion on `instance` with the key `secret`. */
export function chatWithKey(instance: AppInstance, secret: string) {
  return instance.app.inject({
    method: 'POST',
    url: '/v1/chat/completions',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    payload: chatPayload,
  });
}

/** The `error.code` of a gateway (OpenAI-format) error answer. */
export function gatewayErrorCode(response: { json<Body>(): Body }): string {
  return response.json<{ error: { code: string } }>().error.code;
}
