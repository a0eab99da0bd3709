import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { version } from '../lib/version.ts';

/**
 * OpenAPI 3.1 generated from the route schemas (nothing is written by hand), served at /api/openapi.json with an
 * interactive page at /api/docs. Must be registered before the routes it describes.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'AI Hub API',
        version,
        description:
          'Management API (/api/v1) and OpenAI/Anthropic-compatible gateway (/v1). Management errors are RFC 9457 problem+json.',
      },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'An access token from /api/v1/auth/login, or an API key with a management scope',
          },
          session: { type: 'apiKey', in: 'cookie', name: 'aihub_session' },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
  });
  await app.register(swaggerUi, {
    routePrefix: '/api/docs',
    uiConfig: { docExpansion: 'list', deepLinking: true },
    // The page carries the product's name and mark, not the framework's.
    logo: { type: 'image/svg+xml', content: Buffer.from(aihubLogoSvg), href: '/console', target: '_self' },
    theme: {
      title: 'AI Hub API reference',
      favicon: [
        { filename: 'aihub.svg', rel: 'icon', sizes: 'any', type: 'image/svg+xml', content: Buffer.from(aihubIconSvg) },
      ],
    },
  });
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

const aihubLogoSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="150" height="40" viewBox="0 0 150 40" role="img" aria-label="AI Hub">
<rect x="2" y="6" width="28" height="28" rx="7" fill="#ffffff"/><circle cx="16" cy="20" r="6" fill="#0b5cad"/>
<text x="40" y="28" font-family="system-ui, sans-serif" font-size="22" font-weight="700" fill="#ffffff">AI Hub</text>
</svg>`;

const aihubIconSvg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="8" fill="#0b5cad"/><circle cx="16" cy="16" r="7" fill="#ffffff"/></svg>`;
