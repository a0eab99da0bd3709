import type { ApiRoutes } from '../api-context.ts';
import { registerAuthRoutes } from './auth-routes.ts';
import { registerKeyRoutes } from './keys-routes.ts';
import { registerMeRoutes } from './me-routes.ts';
import { registerOrganizationRegistryRoutes, registerPlatformRegistryRoutes } from './registry-routes.ts';
import { registerRoutingRoutes } from './routing-routes.ts';
import { registerSsoRoutes } from './sso-routes.ts';
import { tenancyRoutes } from './tenancy-routes.ts';
import { registerTrafficRoutes } from './traffic-routes.ts';
import { registerUserRoutes } from './users-routes.ts';

/** Every management route group, registered in this order under /api/v1. */
export const managementRoutes: readonly ApiRoutes[] = [
  registerMeRoutes,
  registerAuthRoutes,
  registerSsoRoutes,
  registerKeyRoutes,
  registerUserRoutes,
  ...tenancyRoutes,
  registerPlatformRegistryRoutes,
  registerOrganizationRegistryRoutes,
  registerRoutingRoutes,
  registerTrafficRoutes,
];
