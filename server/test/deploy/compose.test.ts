import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config/load-config.ts';
import { repositoryRoot } from '../cli/cli-process.ts';
import { cliCommands, configEnvironmentVariables } from './deploy-support.ts';

/**
 * No Docker engine here: deploy/compose.yaml is checked statically — two AI Hub instances behind a load balancer on
 * PostgreSQL and Redis, every reference resolving to a service or a file, and settings AI Hub actually reads.
 */

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  ports?: string[];
}

const composeDirectory = path.join(repositoryRoot, 'deploy');
const compose = parseYaml(readFileSync(path.join(composeDirectory, 'compose.yaml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};
const services = compose.services;
const aihubServices = Object.entries(services).filter(([, service]) => service.build !== undefined);
const servers = aihubServices.filter(([, service]) => service.command?.[0] === 'serve').map(([name]) => name);

/** `${NAME:?message}` and `${NAME:-default}` as compose would see them with NAME set to `value`. */
function interpolate(text: string, value: string): string {
  return text.replace(/\$\{[A-Z_]+(?::[?-][^}]*)?\}/g, value);
}

describe('deploy/compose.yaml', () => {
  it('runs two AI Hub instances, PostgreSQL, Redis, a load balancer and a migration step', () => {
    expect(servers).toEqual(['aihub-1', 'aihub-2']);
    expect(services.postgres?.image).toMatch(/^postgres:/);
    expect(services.redis?.image).toMatch(/^redis:/);
    expect(services.lb?.image).toMatch(/^nginx:/);
    expect(services.migrate?.command).toEqual(['migrate']);
  });

  it('builds AI Hub from the repository Dockerfile and runs CLI commands that exist', async () => {
    const commands = await cliCommands();
    for (const [name, service] of aihubServices) {
      const context = path.resolve(composeDirectory, service.build!.context);
      expect(existsSync(path.join(context, service.build!.dockerfile)), name).toBe(true);
      expect(context).toBe(path.resolve(repositoryRoot));
      expect(commands.has(service.command![0]!), `${name}: ${service.command?.join(' ')}`).toBe(true);
    }
  });

  it('references only services, volumes and files that exist', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const dependency of Object.keys(service.depends_on ?? {})) {
        expect(services[dependency], `${name} depends on ${dependency}`).toBeDefined();
      }
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('.')) expect(existsSync(path.resolve(composeDirectory, source)), volume).toBe(true);
        else expect(compose.volumes?.[source], volume).toBeDefined();
      }
    }
    // Instances start once migrations succeeded and, for the second, once the first (which creates the admin) is up.
    expect(services['aihub-1']?.depends_on?.migrate?.condition).toBe('service_completed_successfully');
    expect(services['aihub-2']?.depends_on?.['aihub-1']?.condition).toBe('service_healthy');
  });

  it('balances across both instances on the port they listen on, without buffering streams', () => {
    const nginx = readFileSync(path.join(composeDirectory, 'nginx.conf'), 'utf8');
    const upstreamServers = [...nginx.matchAll(/^\s*server\s+([a-z0-9-]+):(\d+)/gm)].map((match) => [
      match[1],
      match[2],
    ]);
    const port = loadConfig({
      environment: { ...services['aihub-1']!.environment, DATABASE_URL: undefined, AIHUB_SECRET_KEY: 'ab'.repeat(32) },
      generateSecretKey: false,
    }).port;
    expect(upstreamServers).toEqual(servers.map((name) => [name, String(port)]));
    const listen = /^\s*listen\s+(\d+);/m.exec(nginx)?.[1];
    expect(services.lb?.ports).toEqual([`${listen}:${listen}`]);
    expect(nginx).toMatch(/proxy_buffering off;/);
    expect(nginx).toMatch(/X-Forwarded-For \$proxy_add_x_forwarded_for/);
  });

  it('gives AI Hub only settings it reads, pointing at the compose services, that load as a valid config', () => {
    const readable = configEnvironmentVariables();
    for (const [name, service] of aihubServices) {
      const environment = service.environment ?? {};
      for (const variable of Object.keys(environment))
        expect(readable.has(variable), `${name}: ${variable}`).toBe(true);
      const filled = Object.fromEntries(
        Object.entries(environment).map(([key, value]) => [
          key,
          interpolate(String(value), key === 'AIHUB_SECRET_KEY' ? 'ab'.repeat(32) : 'secret'),
        ]),
      );
      expect(new URL(filled.DATABASE_URL!).hostname).toBe('postgres');
      expect(new URL(filled.REDIS_URL!).hostname).toBe('redis');
      const config = loadConfig({ environment: filled, generateSecretKey: false });
      expect(config.host).toBe('0.0.0.0');
      expect(config.operations.trustProxy).toEqual(['uniquelocal']);
    }
  });
});
