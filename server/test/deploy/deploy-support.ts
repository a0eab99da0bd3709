import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../../src/cli/index.ts';
import { repositoryRoot } from '../cli/cli-process.ts';

/**
 * Every environment variable the configuration reads, taken from the source of server/src/config (the only reader of
 * process.env): `environment.NAME` and quoted NAME literals passed to the readers.
 */
export function configEnvironmentVariables(): Set<string> {
  const directory = path.join(repositoryRoot, 'server/src/config');
  const names = new Set<string>();
  for (const file of readdirSync(directory).filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'))) {
    const source = readFileSync(path.join(directory, file), 'utf8');
    for (const match of source.matchAll(/environment\.([A-Z][A-Z0-9_]+)|'([A-Z][A-Z0-9]*_[A-Z0-9_]+)'/g)) {
      names.add((match[1] ?? match[2])!);
    }
  }
  return names;
}

/** Provider key variables a providers file names (`api_key_env`): read by the config through the file. */
export function providerKeyVariables(configFile: unknown): string[] {
  const providers = (configFile as { providers?: Array<{ api_key_env?: string }> } | null)?.providers ?? [];
  return providers.flatMap((provider) => (provider.api_key_env ? [provider.api_key_env] : []));
}

/** The commands `aihub --help` lists. */
export async function cliCommands(): Promise<Set<string>> {
  const lines: string[] = [];
  await runCli(['node', 'aihub', '--help'], (line) => lines.push(line));
  const commands = lines
    .join('\n')
    .split('Commands:')[1]
    ?.split('\n')
    .map((line) => /^ {2}([a-z-]+)/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
  return new Set(commands);
}

export function readRepositoryFile(relativePath: string): string {
  return readFileSync(path.join(repositoryRoot, relativePath), 'utf8');
}
