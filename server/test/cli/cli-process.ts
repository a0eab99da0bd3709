import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));
const nodeBinary = path.join(repositoryRoot, 'node_modules/.bin/node');

/** `aihub <arguments>` as a real child process, its output collected as it comes. */
export interface CliProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stdout match of `pattern`; rejects if the process exits first. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Resolves with the exit code (null when killed by a signal). */
  exited(): Promise<number | null>;
  /** Sends `signal` and waits for the exit (SIGKILL after 20 s so a hung server cannot hang the suite). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running = new Set<ChildProcess>();

/** Kills whatever a failed test left running. */
export function killLeftoverProcesses(): void {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** The environment a child gets: this process's, minus every AI Hub setting, plus `settings`. */
function cliEnvironment(settings: Record<string, string>): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(
    ([name]) =>
      !name.startsWith('AIHUB_') && !['DATABASE_URL', 'REDIS_URL', 'NODE_OPTIONS', 'OPENAI_API_KEY'].includes(name),
  );
  return { ...Object.fromEntries(inherited), ...settings };
}

export function startCli(commandArguments: readonly string[], settings: Record<string, string>): CliProcess {
  const child = spawn(nodeBinary, ['server/bin/aihub.ts', ...commandArguments], {
    cwd: repositoryRoot,
    env: cliEnvironment(settings),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (text: string) => (stdout += text));
  child.stderr?.on('data', (text: string) => (stderr += text));
  const exit = once(child, 'exit').then(([code]) => code as number | null);

  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    waitForOutput(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const match = pattern.exec(stdout);
          if (!match) return false;
          cleanUp();
          resolve(match);
          return true;
        };
        const onExit = (code: number | null): void => {
          if (check()) return;
          cleanUp();
          reject(new Error(`aihub exited (${String(code)}) before printing ${pattern}:\n${stdout}\n${stderr}`));
        };
        const timer = setTimeout(() => {
          cleanUp();
          reject(new Error(`aihub did not print ${pattern} within ${timeoutMs} ms:\n${stdout}\n${stderr}`));
        }, timeoutMs);
        const cleanUp = (): void => {
          clearTimeout(timer);
          child.stdout?.off('data', check);
          child.off('exit', onExit);
        };
        if (check()) return;
        child.stdout?.on('data', check);
        child.once('exit', onExit);
      });
    },
    exited: () => exit,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exit;
      clearTimeout(timer);
      return code;
    },
  };
}

/**
 * Splits a shell command line the way sh would for the subset the banner prints: words separated by spaces, with
 * '…' and "…" quoting (no escapes inside single quotes; `\"` and `\\` inside double quotes).
 */
function splitShellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let index = 0; index < line.length; index += 1) {
    const character = line[index]!;
    if (character === ' ') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (character === "'") {
      const end = line.indexOf("'", index + 1);
      if (end === -1) throw new Error(`unterminated ' in ${line}`);
      word = (word ?? '') + line.slice(index + 1, end);
      index = end;
    } else if (character === '"') {
      let text = '';
      index += 1;
      while (index < line.length && line[index] !== '"') {
        if (line[index] === '\\' && (line[index + 1] === '"' || line[index + 1] === '\\')) index += 1;
        text += line[index];
        index += 1;
      }
      if (index >= line.length) throw new Error(`unterminated " in ${line}`);
      word = (word ?? '') + text;
    } else {
      word = (word ?? '') + character;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

export interface CurlRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
}

/** Reads the options a printed `curl` uses (-H, -d, -s, -N) into a request fetch can send; anything else fails. */
export function parseCurl(line: string): CurlRequest {
  const words = splitShellWords(line.trim());
  if (words[0] !== 'curl') throw new Error(`not a curl command: ${line}`);
  const headers: Record<string, string> = {};
  let url: string | undefined;
  let body: string | undefined;
  for (let index = 1; index < words.length; index += 1) {
    const word = words[index]!;
    if (word === '-H') {
      const header = words[++index] ?? '';
      const colon = header.indexOf(':');
      headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
    } else if (word === '-d') {
      body = words[++index];
    } else if (/^-[sN]+$/.test(word)) {
      continue;
    } else if (/^https?:\/\//.test(word)) {
      url = word;
    } else {
      throw new Error(`the test does not understand curl argument ${word}`);
    }
  }
  if (!url) throw new Error(`no URL in ${line}`);
  return { url, method: body === undefined ? 'GET' : 'POST', headers, body };
}
