import type { FastifyInstance, RouteOptions } from 'fastify';
import { SIGNATURE_HEADER } from '../federation/index.js';

type Json = Record<string, unknown>;

/** One route as registered: what the OpenAPI document is built from. */
export interface RouteEntry {
  method: string;
  url: string;
  schema: Json;
  auth: 'bearer' | 'peer-signature' | 'none';
}

/** `/fhir/:type/:id` → `/fhir/{type}/{id}`; Fastify's wildcard `*` is the parameter named `*`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}').replace(/\*$/, '{*}');
}

/**
 * Record every route registered after this call (an `onRoute` hook sees the routes of every plugin). HEAD is left
 * out: Fastify adds one for each GET on its own, and the hub declares none.
 */
export function collectRoutes(app: FastifyInstance): RouteEntry[] {
  const routes: RouteEntry[] = [];
  app.addHook('onRoute', (r: RouteOptions) => {
    const allow = r.config?.allow;
    for (const method of Array.isArray(r.method) ? r.method : [r.method]) {
      if (method === 'HEAD') continue;
      routes.push({
        method,
        url: r.url,
        schema: (r.schema ?? {}) as Json,
        auth: allow === 'peer' ? 'peer-signature' : allow === 'public' ? 'none' : 'bearer',
      });
    }
  });
  return routes;
}

/** JSON Schema as OpenAPI 3.1 takes it: TypeBox's symbol keys dropped (JSON has none). */
const plain = (schema: unknown): Json => JSON.parse(JSON.stringify(schema)) as Json;

function parameters(schema: unknown, where: 'path' | 'query'): Json[] {
  const s = (schema ?? {}) as { properties?: Json; required?: string[] };
  return Object.entries(s.properties ?? {}).map(([name, p]) => ({
    name,
    in: where,
    required: where === 'path' || (s.required ?? []).includes(name),
    ...(typeof (p as Json).description === 'string' && { description: (p as Json).description }),
    schema: plain(p),
  }));
}

function operation(r: RouteEntry): Json {
  const { schema } = r;
  const fhir = r.url === '/fhir' || r.url.startsWith('/fhir/');
  const bodyType = fhir ? 'application/fhir+json' : 'application/json';
  const responses: Json = {};
  for (const [status, s] of Object.entries((schema.response ?? {}) as Json)) {
    responses[status] = { description: 'the answer', content: { 'application/json': { schema: plain(s) } } };
  }
  responses.default = {
    description: 'an error: an OperationOutcome whose issue carries the error code (docs/errors.md)',
    content: { 'application/fhir+json': { schema: { $ref: '#/components/schemas/OperationOutcome' } } },
  };
  const params = [...parameters(schema.params, 'path'), ...parameters(schema.querystring, 'query')];
  return {
    operationId: `${r.method.toLowerCase()} ${r.url}`,
    ...(typeof schema.summary === 'string' && { summary: schema.summary }),
    ...(params.length > 0 && { parameters: params }),
    ...(schema.body !== undefined && {
      requestBody: { required: true, content: { [bodyType]: { schema: plain(schema.body) } } },
    }),
    responses,
    security: r.auth === 'bearer' ? [{ bearer: [] }] : r.auth === 'peer-signature' ? [{ peerSignature: [] }] : [],
  };
}

/** The OpenAPI 3.1 document of the routes recorded by `collectRoutes`. */
export function openApiDocument(routes: readonly RouteEntry[], info: { title: string; version: string }): Json {
  const paths: Record<string, Json> = {};
  for (const r of routes) {
    const path = openApiPath(r.url);
    paths[path] = { ...paths[path], [r.method.toLowerCase()]: operation(r) };
  }
  return {
    openapi: '3.1.0',
    info,
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'a token from `healthmesh token create`' },
        peerSignature: {
          type: 'apiKey',
          in: 'header',
          name: SIGNATURE_HEADER,
          description: 'hub-to-hub requests are signed by the calling hub (docs/federation.md)',
        },
      },
      schemas: {
        OperationOutcome: {
          type: 'object',
          required: ['resourceType', 'issue'],
          properties: {
            resourceType: { const: 'OperationOutcome' },
            issue: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  severity: { type: 'string' },
                  code: { type: 'string', description: 'the FHIR issue type of the error kind' },
                  details: {
                    type: 'object',
                    properties: { coding: { type: 'array' }, text: { type: 'string' } },
                    description: 'coding[0].code is the healthmesh error code',
                  },
                  diagnostics: { type: 'string' },
                  expression: { type: 'array', items: { type: 'string' }, description: 'the field at fault' },
                },
              },
            },
          },
        },
      },
    },
  };
}

/**
 * `GET /openapi.json`: the hub's API as OpenAPI 3.1, built from the route schemas once every route is registered.
 * It describes routes, never data, so it needs no token (`public`, like the console's files).
 */
export function openApiRoutes(routes: readonly RouteEntry[], info: { title: string; version: string }) {
  return async (app: FastifyInstance) => {
    let document: Json | undefined;
    app.get('/openapi.json', { config: { allow: 'public' } }, async (req) => {
      req.auditAction = { action: 'openapi', target: 'openapi.json' };
      document ??= openApiDocument(routes, info);
      return document;
    });
  };
}
