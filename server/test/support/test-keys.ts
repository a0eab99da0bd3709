import type { CreateKeyInput, KeySummary } from '../../src/modules/keys/index.ts';
import type { TestApp } from './test-app.ts';

/** Creates an API key owned by the bootstrap admin (the only user a test app has), in their default organization. */
export async function createTestKey(
  testApp: TestApp,
  input: Omit<CreateKeyInput, 'userId' | 'name'> & { name?: string },
): Promise<{ key: KeySummary; secret: string }> {
  const keys = await testApp.instance.services.keys.list();
  const owner = keys.find((key) => key.name === 'bootstrap');
  if (!owner) throw new Error('the test app has no bootstrap key');
  return testApp.instance.services.keys.create({
    name: 'test key',
    orgId: owner.orgId,
    ...input,
    userId: owner.userId,
  });
}
