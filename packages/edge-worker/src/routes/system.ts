// Operations routes, without authentication: /healthz, /metrics (Prometheus text), /openapi.json.
import { createRoute, z } from '@hono/zod-openapi';
import type { EdgeApp, RouteDeps } from './deps.ts';

export type SystemOptions = {
  /** True while the server drains before shutdown: /healthz answers 503 so balancers stop sending. */
  isDraining: () => boolean;
  /** The edge's version (package.json), shown by /healthz and /openapi.json. */
  version: string;
  /** Why the edge cannot serve /v1 whatever the storage says (no usable JWT secret), or null. */
  problem?: () => string | null;
};

export function systemRoutes(app: EdgeApp, deps: RouteDeps, options: SystemOptions): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/healthz',
      tags: ['operations'],
      summary: 'Liveness, storage and configuration check',
      description:
        'A 503 while draining, when the storage does not answer, or when the edge cannot verify any token ' +
        '(a Worker without a usable `VIREO_JWT_SECRET` or `VIREO_JWKS_URL`): every `/v1` request would fail.',
      responses: {
        200: {
          description: 'Serving',
          content: {
            'application/json': {
              schema: z.object({ status: z.literal('ok'), storage: z.string(), version: z.string() }),
            },
          },
        },
        503: {
          description: 'Draining, storage unavailable, or not configured to verify tokens',
          content: {
            'application/json': {
              schema: z.object({
                status: z.string(),
                storage: z.string(),
                version: z.string(),
                error: z.string().optional(),
              }),
            },
          },
        },
      },
    }),
    async (c) => {
      c.header('Cache-Control', 'no-store');
      if (options.isDraining())
        return c.json({ status: 'draining', storage: deps.storage.kind, version: options.version }, 503);
      // A deploy that missed `wrangler secret put` looked healthy here while every /v1 request was a 503.
      const problem = options.problem?.();
      if (problem)
        return c.json(
          { status: 'misconfigured', storage: deps.storage.kind, version: options.version, error: problem },
          503,
        );
      try {
        await deps.storage.ping();
      } catch (err) {
        return c.json(
          {
            status: 'unavailable',
            storage: deps.storage.kind,
            version: options.version,
            error: (err as Error).message,
          },
          503,
        );
      }
      return c.json({ status: 'ok' as const, storage: deps.storage.kind, version: options.version }, 200);
    },
  );

  app.get('/metrics', (c) =>
    c.body(deps.metrics.render(), 200, {
      'Content-Type': 'text/plain; version=0.0.4; charset=utf-8',
      'Cache-Control': 'no-store',
    }),
  );

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      'JWT with claims sub, exp and scope (space-separated: ' +
      "'features:read', 'events:write', 'models:publish', 'service', 'events:export', 'features:export'; " +
      "'admin' grants all). A token acts for the user in its sub only, unless it has 'service'.",
  });
  app.doc('/openapi.json', {
    openapi: '3.0.3',
    info: {
      title: 'Vireo edge',
      version: options.version,
      description:
        'Feature store, event ingestion and model registry. Errors are { error: { code, message, details } }.',
    },
  });
}
