import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readJson, type ChatCompletionBody } from './test-support.ts';

const mainPath = fileURLToPath(new URL('./main.ts', import.meta.url));

describe('mock upstream CLI', () => {
  it('prints its URL when ready, serves the flags it was given and exits cleanly on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [mainPath, '--port', '0', '--chunks', '2', '--fail', '503', '--fail-rate', '0'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    try {
      const lines = createInterface({ input: child.stdout });
      const [firstLine] = (await once(lines, 'line')) as [string];
      const match = /^mock upstream listening on (http:\/\/127\.0\.0\.1:\d+\/v1)$/.exec(firstLine);
      expect(match).not.toBeNull();

      const response = await fetch(`${match![1]}/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({ model: 'mock-gpt', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(response.status).toBe(200);
      expect((await readJson<ChatCompletionBody>(response)).choices[0]!.message.content).toBe('tok0 tok1 ');

      child.kill('SIGTERM');
      const [exitCode] = (await once(child, 'exit')) as [number | null];
      expect(exitCode).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('refuses a failure mix naming an unknown mode, naming it', async () => {
    const child = spawn(process.execPath, [mainPath, '--port', '0', '--fail-mix', '500:1,explode:2'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let errorOutput = '';
    child.stderr.on('data', (chunk: Buffer) => (errorOutput += chunk.toString('utf8')));
    const [exitCode] = (await once(child, 'exit')) as [number | null];
    expect(exitCode).toBe(1);
    expect(errorOutput).toContain('unknown failure mode "explode"');
  });
});
