import { Router } from '@koa/router';
import { z } from 'zod';
import { planView, servicePlansSchema, serviceSchema, serviceView, SERVICE_DISPLAY_NAMES } from '../../../read-api/services.js';
import { featuresOf, isService, plansOf, SERVICES, type AnyPlan } from '../../../write-model/subscription/plans.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { HttpError } from '../http-error.js';
import type { AppState } from '../state.js';

/** The public catalogue: GET /api/v1/services and GET /api/v1/services/{service_type}/plans (no auth). */
export function servicesRouter(api: HttpApi): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1' });

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/services',
      summary: 'The services on offer, with their plan codes',
      tags: ['services'],
      operationId: 'listServices',
      responses: { 200: { description: 'every service', schema: z.array(serviceSchema) } },
    },
    () => SERVICES.map(serviceView),
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/services/:service/plans',
      summary: "A service's plans: prices and every feature",
      tags: ['services'],
      operationId: 'listServicePlans',
      request: { params: z.object({ service: z.string().min(1).max(50).describe('xiaohongshu or qidian') }) },
      responses: { 200: { description: 'the plans, lowest rank first', schema: servicePlansSchema } },
      errors: [404],
    },
    ({ params }) => {
      const service = params.service;
      if (!isService(service)) throw new HttpError(404, 'NOT_FOUND', `unknown service '${service}'`, { service });
      return {
        service,
        display_name: SERVICE_DISPLAY_NAMES[service],
        features: featuresOf(service),
        plans: (plansOf(service) as AnyPlan[]).map(planView),
      };
    },
  );

  return router;
}
