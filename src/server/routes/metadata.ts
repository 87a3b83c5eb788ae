import type { FastifyInstance } from 'fastify';
import { SEARCH_PARAMETERS } from '../../fhir/index.js';
import type { RouteContext } from '../app.js';
import { FHIR_JSON, fhirBase } from '../app.js';

const COMMON = [
  { name: '_id', type: 'token', documentation: 'Logical id (comma-separated for several)' },
  {
    name: '_lastUpdated',
    type: 'date',
    documentation: 'When this hub stored the version; prefixes eq, ne, gt, lt, ge, le',
  },
];

/**
 * The CapabilityStatement lists exactly what works: read, vread, history-instance and search-type for the
 * indexed types; read/vread/history for every other type; transaction, batch, system search and $export.
 */
export function metadataRoutes(ctx: RouteContext) {
  return async (app: FastifyInstance) => {
    // Any role: it describes the API, and like every FHIR route it wants a token (its `security` says so).
    app.get('/fhir/metadata', { config: { allow: 'authenticated' } }, async (req, reply) => {
      req.auditAction = { action: 'metadata', target: 'CapabilityStatement' };
      const base = fhirBase(ctx, req);
      const indexed = Object.entries(SEARCH_PARAMETERS).map(([type, params]) => ({
        type,
        interaction: ['read', 'vread', 'history-instance', 'search-type'].map((code) => ({ code })),
        versioning: 'versioned',
        readHistory: true,
        searchParam: [...COMMON, ...params.map((p) => ({ name: p.name, type: p.type, documentation: p.description }))],
      }));
      const patient = {
        type: 'Patient',
        interaction: ['read', 'vread', 'history-instance', 'search-type'].map((code) => ({ code })),
        versioning: 'versioned',
        readHistory: true,
        searchParam: COMMON,
        operation: [
          { name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export' },
        ],
      };
      // What the hub can do, not a figure about anyone: text only, which the gate checks.
      return reply.type(FHIR_JSON).send(
        ctx.hub.gate.text({
          resourceType: 'CapabilityStatement',
          status: 'active',
          date: ctx.hub.clock.now().toISOString(),
          kind: 'instance',
          software: { name: 'healthmesh', version: '0.1.0' },
          implementation: { description: `healthmesh hub ${ctx.hub.config.name} (${ctx.hub.config.role})`, url: base },
          fhirVersion: '4.0.1',
          format: ['application/fhir+json', 'json'],
          rest: [
            {
              mode: 'server',
              documentation:
                'All data is pseudonymised at ingest. Other resource types support read, vread and history-instance. Unsupported search parameters are refused with 400.',
              security: {
                service: [
                  {
                    coding: [
                      { system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'OAuth' },
                    ],
                  },
                ],
                description: 'Bearer token required on every request',
              },
              resource: [patient, ...indexed],
              interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'search-system' }],
              searchParam: [...COMMON, { name: '_type', type: 'token', documentation: 'Resource types to search' }],
              operation: [{ name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export' }],
            },
          ],
        }),
      );
    });
  };
}
