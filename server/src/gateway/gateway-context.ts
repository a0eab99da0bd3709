import type { KeyPrincipal } from '../modules/keys/index.ts';
import type { UpstreamHttpRequest } from '../providers/spec/provider-adapter.ts';
import type { KeyAuthenticator } from './key-authenticator.ts';
import type { UsageJournal } from './meter/usage-journal.ts';
import type { TokenCounter } from './meter/token-counter.ts';
import { isDeploymentAllowed, type CatalogModel, type ModelCatalog } from './model-catalog.ts';
import type { RegistryHolder } from './registry-holder.ts';
import type { RequestMeter } from './meter/request-meter.ts';
import type { Attempt, RouteInput, Router } from './routing/router.ts';
import {
  throwUpstreamError,
  upstreamErrorFrom,
  type BufferedUpstreamResponse,
  type UpstreamClient,
  type UpstreamResponse,
} from './upstream-client.ts';
import { AppError } from '../errors/app-error.ts';

/** What the gateway routes need, wired once by the app factory. */
export interface GatewayContext {
  readonly authenticator: KeyAuthenticator;
  /** The current routing table is `registry.table`; read it once per request. */
  readonly registry: RegistryHolder;
  readonly router: Router;
  readonly upstream: UpstreamClient;
  readonly journal: UsageJournal;
  readonly tokenCounter: TokenCounter;
}

/**
 * Resolves a requested model for a principal: 404 when it does not exist for the key's organization, 403 when the
 * key may not use it or the organization's settings leave it out.
 */
export function resolveModelFor(
  table: ModelCatalog,
  principal: KeyPrincipal,
  requested: string,
  kind: CatalogModel['kind'],
): CatalogModel {
  const model = table.resolve(requested, principal.orgId);
  if (!model) throw new AppError('model_not_found', `the model "${requested}" does not exist`, { param: 'model' });
  // Models a key may not see are reported as missing only when listing; asking for one by name gets a 403.
  const refusal = refusalFor(table, principal, model);
  if (refusal === 'key') {
    throw new AppError('model_not_allowed', `this API key may not use the model "${requested}"`, { param: 'model' });
  }
  if (refusal === 'defaults') {
    throw new AppError(
      'model_not_allowed',
      `the model "${requested}" is not among your organization's default models, and this key names no models of its own`,
      { param: 'model' },
    );
  }
  if (refusal === 'providers') {
    throw new AppError(
      'model_not_allowed',
      `the model "${requested}" is served only by providers your organization does not allow`,
      { param: 'model' },
    );
  }
  if (model.kind !== kind) {
    throw new AppError(
      'invalid_request',
      `the model "${requested}" is a ${model.kind} model and cannot serve this endpoint`,
      { param: 'model' },
    );
  }
  return model;
}

/** A fallback model the principal may use, or undefined (fallbacks never widen what a key may reach). */
export function resolveFallbackFor(
  table: ModelCatalog,
  principal: KeyPrincipal,
  name: string,
): CatalogModel | undefined {
  const model = table.resolve(name, principal.orgId);
  return model && refusalFor(table, principal, model) === undefined ? model : undefined;
}

/**
 * Why a principal may not use a model, or undefined when it may:
 * - `key`: the key's allowlist names neither the model nor any of its aliases;
 * - `defaults`: the key has no allowlist and the organization's `default_models` (its keys' allowlist by default)
 *   leave the model out;
 * - `providers`: the organization's `allowed_providers` leave the model no deployment.
 */
export function refusalFor(
  table: ModelCatalog,
  principal: KeyPrincipal,
  model: CatalogModel,
): 'key' | 'defaults' | 'providers' | undefined {
  const policy = table.policyFor(principal.orgId);
  const allowed = principal.allowedModels;
  if (allowed !== null) {
    if (!model.names.some((name) => allowed.has(name))) return 'key';
  } else if (policy.defaultModels.length > 0) {
    if (!model.names.some((name) => policy.defaultModels.includes(name))) return 'defaults';
  }
  if (
    policy.allowedProviders !== null &&
    !model.deployments.some((deployment) => isDeploymentAllowed(deployment, policy))
  ) {
    return 'providers';
  }
  return undefined;
}

/** A request's routing input that also counts its attempts (for the attempts header of an error answer). */
export interface TrackedRoute extends RouteInput {
  attempts: number;
}

/**
 * How the router may serve a principal's request for a model: its organization's policy, fallbacks only to models
 * it may use, and each attempt's deployment noted on the request's meter.
 */
export function routeFor(
  table: ModelCatalog,
  principal: KeyPrincipal,
  model: CatalogModel,
  signal: AbortSignal,
  meter: RequestMeter,
): TrackedRoute {
  const route: TrackedRoute = {
    model,
    policy: table.policyFor(principal.orgId),
    signal,
    resolveFallback: (name) => resolveFallbackFor(table, principal, name),
    onAttempt: (attempt) => {
      meter.setTarget(attempt.model, attempt.deployment);
      route.attempts = attempt.number;
    },
    attempts: 0,
  };
  return route;
}

/**
 * One attempt's non-streamed upstream call: sent with the deployment's timeouts, its rate-limit headers read for the
 * credential, and an error status thrown as our error (which the router classifies).
 */
export async function fetchForAttempt(
  gateway: GatewayContext,
  attempt: Attempt,
  request: UpstreamHttpRequest,
): Promise<BufferedUpstreamResponse> {
  const { provider, timeouts } = attempt.deployment;
  const response = await gateway.upstream.fetchText(provider.config, timeouts, request, attempt.signal);
  gateway.router.observeResponse(attempt, response.headers, response.statusCode);
  if (response.statusCode >= 400) throw upstreamErrorFrom(response, provider.adapter);
  return response;
}

/** The same for a streamed call: the response comes back as soon as its headers are in. */
export async function sendForAttempt(
  gateway: GatewayContext,
  attempt: Attempt,
  request: UpstreamHttpRequest,
): Promise<UpstreamResponse> {
  const { provider, timeouts } = attempt.deployment;
  const response = await gateway.upstream.send(provider.config, timeouts, request, attempt.signal);
  gateway.router.observeResponse(attempt, response.headers, response.statusCode);
  if (response.statusCode >= 400) await throwUpstreamError(response, provider.adapter);
  return response;
}
