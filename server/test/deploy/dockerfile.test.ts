import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repositoryRoot } from '../cli/cli-process.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { cliCommands, configEnvironmentVariables, readRepositoryFile } from './deploy-support.ts';

/**
 * No Docker engine runs here, so the Dockerfile is checked statically: its stages, what it copies, who it runs as,
 * and that the commands, routes and settings it names exist in this repository.
 */

interface Instruction {
  readonly keyword: string;
  readonly argument: string;
}

interface Stage {
  readonly base: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

/** Instructions with line continuations joined and comments dropped, grouped by FROM. */
function parseDockerfile(text: string): Stage[] {
  const logical = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of logical) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    const argument = rest.join(' ');
    if (keyword.toUpperCase() === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(argument);
      stages.push({ base: from?.[1] ?? argument, name: from?.[2], instructions: [] });
    } else {
      stages.at(-1)?.instructions.push({ keyword: keyword.toUpperCase(), argument });
    }
  }
  return stages;
}

function execForm(argument: string): string[] {
  const parsed: unknown = JSON.parse(argument);
  if (!Array.isArray(parsed) || !parsed.every((part) => typeof part === 'string')) {
    throw new Error(`not an exec-form array: ${argument}`);
  }
  return parsed;
}

const stages = parseDockerfile(readRepositoryFile('Dockerfile'));
const runtime = stages.at(-1)!;
const find = (keyword: string) => runtime.instructions.filter((instruction) => instruction.keyword === keyword);

describe('Dockerfile', () => {
  let testApp: TestApp;
  beforeAll(async () => {
    testApp = await startTestApp();
  });
  afterAll(async () => {
    await testApp.close();
  });

  it('is multi-stage on a small Node 24 base, and the runtime stage takes only node_modules from the build', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage.base).toMatch(/^node:24-alpine$/);
    const stageNames = new Set(stages.map((stage) => stage.name));
    const fromOtherStages = find('COPY').filter((copy) => copy.argument.startsWith('--from='));
    expect(fromOtherStages.map((copy) => copy.argument)).toEqual(['--from=deps /app/node_modules ./node_modules']);
    for (const copy of fromOtherStages) expect(stageNames.has(/--from=(\S+)/.exec(copy.argument)?.[1])).toBe(true);
    // Dependencies are installed for production only.
    const install = stages[0]!.instructions.find((instruction) => instruction.keyword === 'RUN');
    expect(install?.argument).toMatch(/npm ci --omit=dev/);
  });

  it('copies only files that exist, including every workspace manifest npm ci needs', () => {
    const copies = stages.flatMap((stage) =>
      stage.instructions.filter(
        (instruction) => instruction.keyword === 'COPY' && !instruction.argument.startsWith('--'),
      ),
    );
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      const parts = copy.argument.split(/\s+/);
      for (const source of parts.slice(0, -1)) {
        expect(existsSync(path.join(repositoryRoot, source)), `COPY source ${source}`).toBe(true);
      }
    }
    const rootPackage = JSON.parse(readRepositoryFile('package.json')) as { workspaces: string[] };
    const depsSources = stages[0]!.instructions
      .filter((instruction) => instruction.keyword === 'COPY')
      .flatMap((copy) => copy.argument.split(/\s+/).slice(0, -1));
    for (const workspace of rootPackage.workspaces) expect(depsSources).toContain(`${workspace}/package.json`);
    expect(depsSources).toContain('package-lock.json');
  });

  it('runs `aihub serve` through the repository bin, as a non-root user', async () => {
    const user = find('USER').at(-1)?.argument;
    expect(user).toBeDefined();
    expect(['root', '0', '0:0']).not.toContain(user);

    const entrypoint = execForm(find('ENTRYPOINT').at(-1)!.argument);
    expect(entrypoint[0]).toBe('node');
    const script = entrypoint.find((part) => part.endsWith('.ts'));
    expect(script).toBe('server/bin/aihub.ts');
    expect(existsSync(path.join(repositoryRoot, script!))).toBe(true);
    // The bin and its sources are in the image.
    const copied = find('COPY').map((copy) => copy.argument.split(/\s+/)[0]);
    expect(copied).toEqual(expect.arrayContaining(['server/bin', 'server/src', 'mock-upstream/src']));

    const command = execForm(find('CMD').at(-1)!.argument);
    expect(command).toEqual(['serve']);
    expect(await cliCommands()).toContain('serve');
    expect(find('STOPSIGNAL').at(-1)?.argument).toBe('SIGTERM');
  });

  it('checks health on a route the app serves, on the port it exposes and listens on', () => {
    const healthcheck = find('HEALTHCHECK').at(-1)?.argument ?? '';
    const probedPath = /\/health\/[a-z]+/.exec(healthcheck)?.[0];
    expect(probedPath).toBe('/health/ready');
    expect(testApp.instance.app.hasRoute({ method: 'GET', url: probedPath! })).toBe(true);

    const environment = Object.fromEntries(
      find('ENV').flatMap((instruction) =>
        [...instruction.argument.matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)].map((match) => [match[1], match[2]]),
      ),
    );
    expect(find('EXPOSE').map((instruction) => instruction.argument)).toEqual([environment.AIHUB_PORT]);
    expect(environment.AIHUB_HOST).toBe('0.0.0.0');
    expect(find('VOLUME').at(-1)?.argument).toContain(environment.AIHUB_DATA_DIR);
  });

  it('sets only environment variables that AI Hub reads (or Node itself)', () => {
    const readByConfig = configEnvironmentVariables();
    const names = find('ENV').flatMap((instruction) =>
      [...instruction.argument.matchAll(/([A-Z_][A-Z0-9_]*)=/g)].map((match) => match[1]!),
    );
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(readByConfig.has(name) || name === 'NODE_ENV', name).toBe(true);
  });

  it('keeps local state, dependencies and tests out of the build context', () => {
    const ignored = readRepositoryFile('.dockerignore')
      .split('\n')
      .map((line) => line.trim());
    for (const entry of ['.git', '**/node_modules', 'data', 'server/test']) expect(ignored).toContain(entry);
    // Nothing the image copies is ignored.
    for (const source of ['server/bin', 'server/src', 'mock-upstream/src', 'package-lock.json']) {
      expect(ignored).not.toContain(source);
    }
  });
});

describe('configEnvironmentVariables', () => {
  it('finds the settings the config reads', () => {
    const names = configEnvironmentVariables();
    for (const name of ['DATABASE_URL', 'REDIS_URL', 'AIHUB_PORT', 'AIHUB_TRUST_PROXY', 'AIHUB_SHUTDOWN_TIMEOUT_MS']) {
      expect(names.has(name), name).toBe(true);
    }
    expect(names.has('AIHUB_NOT_A_SETTING')).toBe(false);
  });
});
