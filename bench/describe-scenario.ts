/**
 * Prints one field of a scenario for run.sh, which cannot import TypeScript:
 *   describe-scenario.ts <scenario> <field> [direct|gateway]
 * Fields: model, provider-type, provider-base-path, path, body, headers. The last three need a target; `headers`
 * prints one "name: value" per line, ready for wrk's and curl's -H.
 */
import { findScenario, type BenchTarget } from './scenarios.ts';

const fields = ['model', 'provider-type', 'provider-base-path', 'path', 'body', 'headers'] as const;
type Field = (typeof fields)[number];

function isField(text: string): text is Field {
  return (fields as readonly string[]).includes(text);
}

function isTarget(text: string | undefined): text is BenchTarget {
  return text === 'direct' || text === 'gateway';
}

function describeField(scenarioName: string, field: Field, target: string | undefined): string {
  const scenario = findScenario(scenarioName);
  switch (field) {
    case 'model':
      return scenario.model;
    case 'provider-type':
      return scenario.providerType;
    case 'provider-base-path':
      return scenario.providerBasePath;
    case 'path':
    case 'body':
    case 'headers': {
      if (!isTarget(target)) throw new RangeError(`${field} needs a target: direct or gateway`);
      if (field === 'path') return scenario.paths[target];
      if (field === 'body') return scenario.buildBody(target, { stream: false });
      return Object.entries(scenario.headers[target])
        .map(([name, value]) => `${name}: ${value}`)
        .join('\n');
    }
  }
}

const [scenarioName, field, target] = process.argv.slice(2);
if (scenarioName === undefined || field === undefined || !isField(field)) {
  console.error(`usage: describe-scenario.ts <scenario> ${fields.join('|')} [direct|gateway]`);
  process.exit(2);
}
try {
  console.log(describeField(scenarioName, field, target));
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(2);
}
