import type { FastifyInstance } from 'fastify';

/** The parts of an OpenAPI 3.1 document the route-table tests read; the validator checks the rest. */
export interface OpenApiParameter {
  readonly name: string;
  readonly in: 'path' | 'query' | 'header' | 'cookie';
  readonly required?: boolean;
}

export interface OpenApiResponse {
  readonly description?: string;
  readonly content?: Readonly<Record<string, { readonly schema?: unknown }>>;
}

export interface OpenApiOperation {
  readonly summary?: string;
  readonly tags?: readonly string[];
  readonly deprecated?: boolean;
  readonly security?: readonly unknown[];
  readonly parameters?: readonly OpenApiParameter[];
  readonly responses?: Readonly<Record<string, OpenApiResponse>>;
}

export interface OpenApiDocument {
  readonly openapi: string;
  readonly info: { readonly title: string; readonly version: string };
  readonly paths: Readonly<Record<string, Readonly<Record<string, OpenApiOperation>>>>;
}

const operationMethods = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

/** One operation of the document, keyed like `GET /api/v1/organizations/{org_id}`. */
export interface DocumentedRoute {
  readonly key: string;
  readonly method: string;
  readonly path: string;
  readonly operation: OpenApiOperation;
  /** Path parameters in the order they appear in the path. */
  readonly pathParameters: readonly string[];
  /** Required query parameters that name a resource (`org_id`, `team_id`, ...), like `GET /audit-events?org_id=`. */
  readonly queryIdParameters: readonly string[];
}

/** The management API's versions: the routes the tenancy and documentation tests are about. */
export const managementPrefixes = ['/api/v1/', '/api/v2/'] as const;

export const isManagementPath = (path: string): boolean => managementPrefixes.some((prefix) => path.startsWith(prefix));

/** The document as served at /api/openapi.json (also makes the app ready, which `app.swagger()` needs). */
export async function readOpenApiDocument(app: FastifyInstance): Promise<OpenApiDocument> {
  const response = await app.inject({ method: 'GET', url: '/api/openapi.json' });
  if (response.statusCode !== 200) throw new Error(`/api/openapi.json answered ${response.statusCode}`);
  return response.json<OpenApiDocument>();
}

/** Every operation of the document whose path passes `include`, in document order. */
export function listDocumentedRoutes(
  document: OpenApiDocument,
  include: (path: string) => boolean = isManagementPath,
): DocumentedRoute[] {
  return Object.entries(document.paths)
    .filter(([path]) => include(path))
    .flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => operationMethods.has(method))
        .map(([method, operation]) => {
          const parameters = operation.parameters ?? [];
          return {
            key: `${method.toUpperCase()} ${path}`,
            method: method.toUpperCase(),
            path,
            operation,
            pathParameters: [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1] ?? ''),
            queryIdParameters: parameters
              .filter((parameter) => parameter.in === 'query' && parameter.required && parameter.name.endsWith('_id'))
              .map((parameter) => parameter.name),
          };
        }),
    );
}

/**
 * Every method and path Fastify's router serves, keyed like the document (`{param}`, no automatic HEAD), read from
 * `printRoutes`: Fastify has no route listing API, and routes hidden from the document must not escape the tests.
 */
export function listServedRoutes(app: FastifyInstance): string[] {
  const segments: string[] = [];
  const routes: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^((?:│ {3}| {4})*)[├└]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    segments.length = (match[1] ?? '').length / 4;
    segments.push(match[2] ?? '');
    const path = segments.join('').replace(/:(\w+)/g, '{$1}');
    for (const method of (match[3] ?? '').split(', ')) {
      if (method !== '' && method !== 'HEAD') routes.push(`${method} ${path}`);
    }
  }
  if (routes.length === 0) throw new Error('could not read any route from printRoutes: has its format changed?');
  return routes;
}
