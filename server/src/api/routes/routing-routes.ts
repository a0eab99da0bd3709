import Type from 'typebox';
import { AppError } from '../../errors/app-error.ts';
import type { ApiRoutes } from '../api-context.ts';
import { problemResponses } from '../problem.ts';

const Nullable = <T extends Type.TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

const CredentialHealthSchema = Type.Object({
  credential_id: Type.String(),
  state: Type.String({ description: 'closed, open, half-open, or disabled (refused by the upstream: 401/403)' }),
  since: Nullable(Type.Integer({ description: 'When it entered this state (epoch ms)' })),
  reason: Nullable(Type.String()),
  retry_at: Nullable(Type.Integer({ description: 'While open: when probe requests are let through (epoch ms)' })),
  consecutive_failures: Type.Integer(),
  upstream_limited_until: Nullable(
    Type.Integer({ description: 'While the upstream says this key has no requests or tokens left (epoch ms)' }),
  ),
});

const DeploymentHealthSchema = Type.Object({
  id: Type.String({ description: '<provider>/<upstream model>, as in the x-aihub-deployment response header' }),
  models: Type.Array(Type.String()),
  provider_id: Type.String(),
  organization_id: Nullable(Type.String()),
  upstream_model: Type.String(),
  priority: Type.Integer(),
  weight: Type.Integer(),
  in_flight: Type.Integer(),
  requests: Type.Integer({ description: 'Attempts finished in the last minute on this instance' }),
  failures: Type.Integer(),
  success_rate: Nullable(Type.Number()),
  p50_latency_ms: Nullable(Type.Number()),
  p95_latency_ms: Nullable(Type.Number()),
  ewma_first_byte_ms: Nullable(Type.Number()),
  credentials: Type.Array(CredentialHealthSchema),
});

const EnableBodySchema = Type.Object(
  {
    deployment_id: Type.String({ minLength: 1, maxLength: 600 }),
    credential_id: Type.String({ minLength: 1, maxLength: 64 }),
  },
  { additionalProperties: false },
);
type EnableBody = Type.Static<typeof EnableBodySchema>;

/**
 * Routing health for platform admins: every deployment with its breakers (per credential), success rate, latency and
 * in-flight count as this instance sees them (breaker states are shared in cluster mode; the statistics are per
 * instance), and putting a credential the upstream refused back into rotation.
 */
export const registerRoutingRoutes: ApiRoutes = (api, context) => {
  api.get(
    '/routing/deployments',
    {
      schema: {
        tags: ['routing'],
        summary: 'Deployment health: breakers, success rate, latency',
        description:
          'Platform admins only. Each deployment of every model with its circuit breakers (one per upstream ' +
          'credential), its success rate and latency over the last minute, and the requests in flight.',
        response: { 200: Type.Object({ data: Type.Array(DeploymentHealthSchema) }), ...problemResponses },
      },
    },
    async (request) => {
      context.authorizer.authorizePlatform(request.actor);
      const data = context.routing.deployments().map((deployment) => ({
        id: deployment.id,
        models: [...deployment.models],
        provider_id: deployment.providerId,
        organization_id: deployment.orgId,
        upstream_model: deployment.upstreamModel,
        priority: deployment.priority,
        weight: deployment.weight,
        in_flight: deployment.inFlight,
        requests: deployment.requests,
        failures: deployment.failures,
        success_rate: deployment.successRate,
        p50_latency_ms: deployment.p50LatencyMs,
        p95_latency_ms: deployment.p95LatencyMs,
        ewma_first_byte_ms: deployment.ewmaFirstByteMs,
        credentials: deployment.credentials.map((credential) => ({
          credential_id: credential.credentialId,
          state: credential.state,
          since: credential.since,
          reason: credential.reason,
          retry_at: credential.retryAt,
          consecutive_failures: credential.consecutiveFailures,
          upstream_limited_until: credential.upstreamLimitedUntil,
        })),
      }));
      return { data };
    },
  );

  api.post<{ Body: EnableBody }>(
    '/routing/credentials/enable',
    {
      schema: {
        tags: ['routing'],
        summary: 'Put a credential back into rotation',
        description:
          'Platform admins only. Closes the breaker of one credential of one deployment, e.g. after a key the ' +
          'upstream refused (401/403) was fixed. Every instance follows in cluster mode.',
        body: EnableBodySchema,
        response: { 204: Type.Null(), ...problemResponses },
      },
    },
    async (request, reply) => {
      context.authorizer.authorizePlatform(request.actor);
      const { deployment_id: deploymentId, credential_id: credentialId } = request.body;
      if (!context.routing.enable(`${deploymentId}#${credentialId}`)) {
        throw new AppError('not_found', 'no such deployment credential has a breaker on this instance');
      }
      return reply.code(204).send();
    },
  );
};
