import type { ApiRoutes } from '../api-context.ts';
import { registerMeRoutes } from './me-routes.ts';

/** Every management route group, registered in this order under /api/v1. */
export const managementRoutes: readonly ApiRoutes[] = [registerMeRoutes];
