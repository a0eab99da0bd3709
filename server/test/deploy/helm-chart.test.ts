import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments, stringify as stringifyYaml } from 'yaml';
import { loadConfig } from '../../src/config/load-config.ts';
import { repositoryRoot } from '../cli/cli-process.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { cliCommands, configEnvironmentVariables, providerKeyVariables } from './deploy-support.ts';

/**
 * No helm binary here: this renders the chart with the small template subset it uses ({{ .Values.* }},
 * {{ .Release.* }}, {{ .Chart.* }}, `| quote`, `toYaml … | nindent N`, `… | nindent N`), fails on anything else, and
 * checks the objects that come out.
 */

const chartDirectory = path.join(repositoryRoot, 'deploy/helm/aihub');
const releaseName = 'hub';

type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
};

function lookup(scope: Record<string, unknown>, dottedPath: string): unknown {
  let value: unknown = scope;
  for (const key of dottedPath.split('.').filter(Boolean)) {
    if (value === null || typeof value !== 'object' || !(key in value)) throw new Error(`no value at .${dottedPath}`);
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function indentLines(text: string, spaces: number): string {
  const padding = ' '.repeat(spaces);
  return text
    .replace(/\n$/, '')
    .split('\n')
    .map((line) => (line === '' ? line : padding + line))
    .join('\n');
}

/**
 * Renders one template. `nindent` starts a new line and indents, so the `{{ … | nindent N }}` expression is expected on
 * a line of its own (helm's usual layout); that line's own indentation is replaced by N.
 */
function renderTemplate(template: string, scope: Record<string, unknown>): string {
  const evaluate = (expression: string): { text: string; nindent: number | undefined } => {
    const [head = '', ...filters] = expression.split('|').map((part) => part.trim());
    const toYaml = /^toYaml\s+(\.\S+)$/.exec(head);
    let value: unknown;
    if (toYaml) value = stringifyYaml(lookup(scope, toYaml[1]!)).trimEnd();
    else if (/^\.[A-Za-z.]+$/.test(head)) value = lookup(scope, head);
    else throw new Error(`template expression the test renderer does not know: {{ ${expression} }}`);
    let text = typeof value === 'string' ? value : JSON.stringify(value);
    let nindent: number | undefined;
    for (const filter of filters) {
      const indentation = /^nindent\s+(\d+)$/.exec(filter);
      if (filter === 'quote') text = JSON.stringify(String(value));
      else if (indentation) nindent = Number(indentation[1]);
      else throw new Error(`template filter the test renderer does not know: ${filter}`);
    }
    return { text, nindent };
  };
  // `nindent` starts a new line and indents every line, so it stands alone on its line (helm's usual layout).
  const blocks = template.replace(
    /^[ \t]*\{\{-?\s*(.+?\|\s*nindent\s+\d+)\s*-?\}\}[ \t]*$/gm,
    (_line, expression: string) => {
      const { text, nindent } = evaluate(expression);
      return indentLines(text, nindent ?? 0);
    },
  );
  return blocks.replace(/\{\{-?\s*(.+?)\s*-?\}\}/g, (_whole, expression: string) => {
    const { text, nindent } = evaluate(expression);
    if (nindent !== undefined) throw new Error(`nindent must stand alone on its line: {{ ${expression} }}`);
    return text;
  });
}

function renderChart(): Manifest[] {
  const chart = parseYaml(readFileSync(path.join(chartDirectory, 'Chart.yaml'), 'utf8')) as Record<string, unknown>;
  const values = parseYaml(readFileSync(path.join(chartDirectory, 'values.yaml'), 'utf8')) as Record<string, unknown>;
  const scope = {
    Values: values,
    Release: { Name: releaseName, Namespace: 'default' },
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
  };
  const manifests: Manifest[] = [];
  for (const file of readdirSync(path.join(chartDirectory, 'templates')).sort()) {
    const rendered = renderTemplate(readFileSync(path.join(chartDirectory, 'templates', file), 'utf8'), scope);
    expect(rendered, file).not.toContain('{{');
    for (const document of parseAllDocuments(rendered)) {
      expect(document.errors.map((error) => `${file}: ${error.message}`)).toEqual([]);
      const manifest = document.toJS() as Manifest | null;
      if (manifest) manifests.push(manifest);
    }
  }
  return manifests;
}

const manifests = renderChart();
const values = parseYaml(readFileSync(path.join(chartDirectory, 'values.yaml'), 'utf8')) as {
  configFile: string;
  settings: Record<string, string>;
};

function only(kind: string, name?: string): Manifest {
  const matches = manifests.filter((manifest) => manifest.kind === kind && (!name || manifest.metadata.name === name));
  expect(matches, `${kind} ${name ?? ''}`).toHaveLength(1);
  return matches[0]!;
}

interface Container {
  name: string;
  image: string;
  args: string[];
  ports?: Array<{ name: string; containerPort: number }>;
  env?: Array<{ name: string }>;
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  livenessProbe?: { httpGet: { path: string; port: string } };
  readinessProbe?: { httpGet: { path: string; port: string } };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}

interface PodSpec {
  containers: Container[];
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  volumes?: Array<{ name: string; configMap?: { name: string } }>;
}

const podSpecOf = (manifest: Manifest) =>
  (manifest.spec as { template: { spec: PodSpec; metadata: { labels: Record<string, string> } } }).template;

describe('Helm chart (rendered by the test)', () => {
  let testApp: TestApp;
  beforeAll(async () => {
    testApp = await startTestApp();
  });
  afterAll(async () => {
    await testApp.close();
  });

  it('renders to valid YAML with the expected objects', () => {
    expect(manifests.map((manifest) => `${manifest.kind}/${manifest.metadata.name}`).sort()).toEqual(
      [
        'ConfigMap/hub-config',
        'ConfigMap/hub-settings',
        'Deployment/hub',
        'HorizontalPodAutoscaler/hub',
        'Job/hub-migrate',
        'PodDisruptionBudget/hub',
        'Secret/hub-secrets',
        'Service/hub',
      ].sort(),
    );
    for (const manifest of manifests)
      expect(manifest.apiVersion, manifest.kind).toMatch(/^(v1|apps\/v1|batch\/v1|autoscaling\/v2|policy\/v1)$/);
  });

  it('runs serve with liveness and readiness probes on routes the app serves, as a non-root user', async () => {
    const template = podSpecOf(only('Deployment'));
    const [container] = template.spec.containers;
    expect(container?.args).toEqual(['serve']);
    expect(template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    for (const probe of [container!.livenessProbe, container!.readinessProbe]) {
      expect(probe?.httpGet.port).toBe('http');
      expect(testApp.instance.app.hasRoute({ method: 'GET', url: probe!.httpGet.path })).toBe(true);
    }
    expect(container!.readinessProbe!.httpGet.path).toBe('/health/ready');
    expect(container!.ports).toEqual([{ name: 'http', containerPort: Number(values.settings.AIHUB_PORT) }]);
    const commands = await cliCommands();
    expect(commands).toContain('serve');
    expect(commands).toContain('migrate');
  });

  it('gives pods more time to stop than the drain delay plus the shutdown deadline', () => {
    const grace = podSpecOf(only('Deployment')).spec.terminationGracePeriodSeconds ?? 30;
    const needed =
      Number(values.settings.AIHUB_SHUTDOWN_DRAIN_DELAY_MS ?? 0) +
      Number(values.settings.AIHUB_SHUTDOWN_TIMEOUT_MS ?? 30_000);
    expect(grace * 1000).toBeGreaterThan(needed);
  });

  it('connects Service, autoscaler and disruption budget to the Deployment’s pods', () => {
    const deployment = only('Deployment');
    const podLabels = podSpecOf(deployment).metadata.labels;
    const selector = (deployment.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
    expect(podLabels).toMatchObject(selector);
    const service = only('Service').spec as { selector: Record<string, string>; ports: Array<{ targetPort: string }> };
    expect(podLabels).toMatchObject(service.selector);
    expect(service.ports[0]?.targetPort).toBe('http');
    const hpa = only('HorizontalPodAutoscaler').spec as {
      scaleTargetRef: { kind: string; name: string };
      minReplicas: number;
      maxReplicas: number;
    };
    expect(hpa.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: deployment.metadata.name });
    expect(hpa.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.maxReplicas).toBeGreaterThan(hpa.minReplicas);
    const pdb = only('PodDisruptionBudget').spec as {
      selector: { matchLabels: Record<string, string> };
      minAvailable: number;
    };
    expect(podLabels).toMatchObject(pdb.selector.matchLabels);
    expect(pdb.minAvailable).toBeLessThan(hpa.minReplicas);
  });

  it('runs migrations as a hook Job after its ConfigMaps and Secret exist', () => {
    const job = only('Job');
    expect(podSpecOf(job).spec.containers[0]?.args).toEqual(['migrate']);
    const weight = (manifest: Manifest) => Number(manifest.metadata.annotations?.['helm.sh/hook-weight'] ?? 0);
    expect(job.metadata.annotations?.['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    for (const dependency of [only('Secret'), only('ConfigMap', 'hub-settings'), only('ConfigMap', 'hub-config')]) {
      expect(dependency.metadata.annotations?.['helm.sh/hook']).toBe('pre-install,pre-upgrade');
      expect(weight(dependency)).toBeLessThan(weight(job));
    }
  });

  it('sets only environment variables the config reads, from objects the chart creates', () => {
    const configFile = parseYaml(only('ConfigMap', 'hub-config').data!['aihub.yaml']!) as unknown;
    expect(configFile).toEqual(parseYaml(values.configFile));
    const readable = new Set([...configEnvironmentVariables(), ...providerKeyVariables(configFile)]);
    const settings = only('ConfigMap', 'hub-settings').data!;
    const secrets = only('Secret').stringData!;
    for (const name of [...Object.keys(settings), ...Object.keys(secrets)]) expect(readable.has(name), name).toBe(true);
    expect(settings.AIHUB_CONFIG).toBe('/etc/aihub/aihub.yaml');
    for (const value of [...Object.values(settings), ...Object.values(secrets)]) expect(typeof value).toBe('string');

    // What a pod's environment makes of it: the settings load, once the operator fills in the secrets.
    const podEnvironment: Record<string, string> = {
      ...settings,
      ...secrets,
      AIHUB_SECRET_KEY: 'ab'.repeat(32),
      OPENAI_API_KEY: 'sk-filled-in',
    };
    // The providers file is mounted in the pod; here it is passed directly.
    const { AIHUB_CONFIG: _mountedFile, ...environment } = podEnvironment;
    const config = loadConfig({ environment, overrides: { file: configFile }, generateSecretKey: false });
    expect(config).toMatchObject({ host: '0.0.0.0', port: 8080, databaseUrl: secrets.DATABASE_URL });
    expect(config.operations).toMatchObject({
      trustProxy: ['uniquelocal'],
      redisUrl: secrets.REDIS_URL,
      demoProvider: false,
    });

    for (const workload of [only('Deployment'), only('Job')]) {
      const spec = podSpecOf(workload).spec;
      for (const container of spec.containers) {
        for (const variable of container.env ?? []) expect(readable.has(variable.name), variable.name).toBe(true);
        const sources = (container.envFrom ?? []).map((source) => source.configMapRef?.name ?? source.secretRef?.name);
        expect(sources).toEqual(['hub-settings', 'hub-secrets']);
        // The providers file is mounted where AIHUB_CONFIG points.
        const configMount = container.volumeMounts?.find((mount) => mount.name === 'config');
        expect(path.join(configMount!.mountPath, 'aihub.yaml')).toBe(settings.AIHUB_CONFIG);
        expect(container.volumeMounts?.find((mount) => mount.name === 'data')?.mountPath).toBe(settings.AIHUB_DATA_DIR);
      }
      expect(spec.volumes?.find((volume) => volume.name === 'config')?.configMap?.name).toBe('hub-config');
    }
  });
});
