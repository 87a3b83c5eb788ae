import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { cohortIdsIncluding } from '../../cohort/index.js';
import { HealthmeshError } from '../../core/index.js';
import type { Federation } from '../../federation/index.js';
import { flattenRecords } from '../../models/index.js';
import type { ConsentReachFederation, PeerPart, PeerRecords } from '../../mydata/index.js';
import {
  everythingBundle,
  myCarePlan,
  myModelRisks,
  myRisks,
  TIMELINE_TYPES,
  timeline,
  timelineCsv,
  withPeerRecords,
} from '../../mydata/index.js';
import type { RouteContext } from '../app.js';
import { FHIR_JSON, fhirBase } from '../app.js';
import { writeSource } from '../write-source.js';

const Day = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'a date, YYYY-MM-DD' });
const EnrolmentCodeBody = Type.Object(
  {
    patientId: Type.String({ minLength: 1, maxLength: 256, description: "the source's id of the person" }),
    source: Type.Optional(Type.String({ description: "the source's name (default: the hub's defaultSource)" })),
  },
  { additionalProperties: false },
);
const EnrolBody = Type.Object(
  {
    code: Type.String({ minLength: 1, maxLength: 40 }),
    hub: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 63,
        description: "the peer hub whose source issued the code (default: this hub's sources)",
      }),
    ),
  },
  { additionalProperties: false },
);
const HubParams = Type.Object({ hub: Type.String({ minLength: 1, maxLength: 63 }) });
const PurposeParams = Type.Object({ purpose: Type.String({ minLength: 1, maxLength: 63 }) });
const ConsentChoiceBody = Type.Object(
  {
    choice: Type.Union([Type.Literal('permit'), Type.Literal('deny'), Type.Null()], {
      description: 'permit or deny the purpose; null withdraws the choice, so the hub default applies',
    }),
  },
  { additionalProperties: false },
);
const AppGrantBody = Type.Object(
  {
    app: Type.String({
      minLength: 1,
      maxLength: 60,
      description: 'the name of the app the citizen lets read their records',
    }),
    days: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 90, description: 'how long the grant lasts (default 30)' }),
    ),
  },
  { additionalProperties: false },
);
const GrantParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 60 }) });
const TimelineQuery = Type.Object(
  {
    from: Type.Optional(Day),
    to: Type.Optional(Day),
    type: Type.Optional(Type.String({ description: `one of ${TIMELINE_TYPES.join(', ')}` })),
  },
  { additionalProperties: false },
);

/**
 * A citizen's own records (issue 5/7). A source issues a one-time enrolment code for one of its patients
 * (`POST /mydata/enrolment-codes`, a writer of that source); the citizen redeems it (`POST /me/enrol`) and from then
 * reads the linked records: `GET /me`, `GET /me/timeline`, `GET /me/$everything` (FHIR Bundle), `GET /me/export.csv`,
 * and sets their consent per purpose (`GET /me/consent`, `PUT /me/consent/:purpose`).
 * The `self` routes read only the records linked to the caller's account.
 */
export function mydataRoutes(
  ctx: RouteContext & {
    federation: Federation | undefined;
    consentReach: ConsentReachFederation;
    peerRecords: PeerRecords;
  },
) {
  const { hub, federation, consentReach, peerRecords } = ctx;
  return async (app: FastifyInstance) => {
    app.post<{ Body: { patientId: string; source?: string } }>(
      '/mydata/enrolment-codes',
      { config: { allow: 'ingest' }, schema: { body: EnrolmentCodeBody } },
      async (req, reply) => {
        const source = writeSource(hub, req.principal, req.body.source, () => undefined);
        const issued = await hub.enrolment.issue(req.principal!, source, req.body.patientId);
        // Audited with the code's issue, in its transaction, naming the source and never the person.
        req.auditedByRoute = true;
        return reply.code(201).send({ code: issued.code, expiresAt: issued.expiresAt.toISOString() });
      },
    );

    const self = { allow: 'self' } as const;
    app.post<{ Body: { code: string; hub?: string } }>(
      '/me/enrol',
      { config: self, schema: { body: EnrolBody } },
      async (req, reply) => {
        const peer = req.body.hub;
        if (peer !== undefined && peer !== hub.config.name) {
          // A code of a peer's source: that peer redeems it and links the record there (mydata/peer-records.ts).
          // The server's hook audits the attempt whatever its outcome; the peer audits its side.
          req.auditAction = { action: 'enrol', target: `hub/${peer}` };
          const linked = await peerRecords.link(federation, req.principal!, peer, req.body.code);
          return reply.code(201).send({
            hub: linked.hub,
            source: linked.source,
            linkedAt: linked.linkedAt.toISOString(),
            // Whether linkage tokens showed the peer's patient to be this citizen, or could not be compared.
            checked: linked.checked ?? 'not-possible',
          });
        }
        // Audited with the redemption, in its transaction.
        req.auditedByRoute = true;
        const linked = await hub.enrolment.redeem(req.principal!, req.body.code);
        return reply.code(201).send({ source: linked.source, linkedAt: linked.linkedAt.toISOString() });
      },
    );

    app.get('/me', { config: self }, async (req) => {
      req.auditAction = { action: 'me', target: 'me' };
      const records = await hub.enrolment.records(req.principal!.name);
      const peers = await peerRecords.links(req.principal!.name);
      return {
        name: req.principal!.name,
        records: records.map((r) => ({ source: r.source, linkedAt: r.linkedAt.toISOString() })),
        ...(peers.length > 0 && {
          peerRecords: peers.map((p) => ({ hub: p.hub, source: p.source, linkedAt: p.linkedAt.toISOString() })),
        }),
      };
    });

    app.get<{ Querystring: { from?: string; to?: string; type?: string } }>(
      '/me/timeline',
      { config: self, schema: { querystring: TimelineQuery } },
      async (req) => {
        req.auditAction = { action: 'me-timeline', target: 'me/timeline' };
        const { from, to, type } = req.query;
        for (const [field, day] of [
          ['from', from],
          ['to', to],
        ] as const) {
          // The pattern admits 2026-13-45; a calendar date survives the round trip through Date unchanged.
          const parsed = day === undefined ? undefined : new Date(`${day}T00:00:00Z`);
          if (parsed !== undefined && (Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== day)) {
            throw new HealthmeshError('API_BAD_REQUEST', `${field} must be a calendar date (YYYY-MM-DD)`, {
              path: field,
            });
          }
        }
        if (type !== undefined && !(TIMELINE_TYPES as readonly string[]).includes(type)) {
          throw new HealthmeshError('API_BAD_REQUEST', `type must be one of ${TIMELINE_TYPES.join(', ')}`, {
            path: 'type',
          });
        }
        const keys = await linkedKeys(req.principal!.name);
        const range = {
          ...(from !== undefined && { from }),
          ...(to !== undefined && { to }),
          ...(type !== undefined && { types: [type] }),
        };
        const entries = await timeline(hub.store, keys, range);
        const parts = await peerParts(req);
        if (parts.length === 0) return { entries };
        return { entries: withPeerRecords(entries, reachedParts(parts), range), peers: partsSaid(parts) };
      },
    );

    // Withdraw the link to my records at a peer: that hub stops sending them here (its side first).
    app.delete<{ Params: { hub: string } }>(
      '/me/peer-records/:hub',
      { config: self, schema: { params: HubParams } },
      async (req, reply) => {
        req.auditAction = { action: 'unlink', target: `hub/${req.params.hub}` };
        await peerRecords.unlink(federation, req.principal!.name, req.params.hub);
        return reply.code(204).send();
      },
    );

    app.get('/me/consent', { config: self }, async (req) => {
      req.auditAction = { action: 'me-consent', target: 'me/consent' };
      return { purposes: await hub.myConsent.choices(await linkedKeys(req.principal!.name)) };
    });

    app.put<{ Params: { purpose: string }; Body: { choice: 'permit' | 'deny' | null } }>(
      '/me/consent/:purpose',
      { config: self, schema: { params: PurposeParams, body: ConsentChoiceBody } },
      async (req) => {
        const keys = await linkedKeys(req.principal!.name);
        await hub.myConsent.choose(req.principal!, keys, req.params.purpose, req.body.choice);
        // Audited with the write, in its transaction; then carried to the citizen's records at every peer.
        req.auditedByRoute = true;
        const reach = await consentReach.reach(federation, keys, req.params.purpose, req.body.choice);
        return { purposes: await hub.myConsent.choices(keys), federation: reach };
      },
    );

    // My risks from the models served here, from my own records as of today, with what raises and lowers each:
    // `risks` from validated third-party models, `trained` from the hub's own registry (with what reaching a care-plan
    // target would change).
    app.get('/me/risks', { config: self }, async (req) => {
      req.auditAction = { action: 'me-risks', target: 'me/risks' };
      const keys = await linkedKeys(req.principal!.name);
      // The features the models score, and the care plan's targets behind what would change each risk, read the
      // records at peers with this hub's, for this answer only (docs/mydata.md).
      const today = hub.clock.now().toISOString().slice(0, 10);
      const parts = await peerParts(req);
      const peer = peerResources(parts);
      // Flattened once for every model scored below.
      const records = flattenRecords(
        hub.config.name,
        peer.map((r) => JSON.parse(r.content) as Record<string, unknown>),
      );
      const plan = await myCarePlan(hub.store, keys, today, peer);
      const trained = await myModelRisks(hub, keys, plan, records);
      // Which model versions read the citizen's records, as a prediction's audit entry names its model.
      req.auditAction.detail = {
        ...req.auditAction.detail,
        trained: trained.map((r) => `${r.model}/${r.version}`).join(','),
      };
      const risks = await myRisks(hub, keys, records);
      // Whose records the numbers stand on: this hub's and each peer that answered.
      const from = [hub.config.name, ...parts.flatMap((p) => (p.reached ? [p.hub] : []))];
      return parts.length === 0
        ? { risks, trained, recordsFrom: from }
        : { risks, trained, recordsFrom: from, peers: partsSaid(parts) };
    });

    // My care plan: targets and screenings due, from my own records here and at linked peers, and the guidelines
    // (mydata/care-plan.ts); a peer not reached is named.
    app.get('/me/plan', { config: self }, async (req) => {
      req.auditAction = { action: 'me-plan', target: 'me/plan' };
      const today = hub.clock.now().toISOString().slice(0, 10);
      const parts = await peerParts(req);
      const plan = await myCarePlan(hub.store, await linkedKeys(req.principal!.name), today, peerResources(parts));
      return parts.length === 0 ? plan : { ...plan, peers: partsSaid(parts) };
    });

    // Who used my data: the projects whose work at this hub (cohorts, models' training, tabulations) included the
    // citizen, what ran, what for and when.
    app.get('/me/uses', { config: self }, async (req) => {
      req.auditAction = { action: 'me-uses', target: 'me/uses' };
      const keys = await linkedKeys(req.principal!.name);
      const uses = await hub.projectUses.including(keys, await cohortIdsIncluding(hub.db, keys));
      return {
        uses: uses.map((u) => ({
          project: u.projectId,
          title: u.title,
          purpose: u.purpose,
          kind: u.kind,
          what: u.ref,
          at: u.usedAt.toISOString(),
        })),
      };
    });

    // Apps the citizen lets read their records (SMART-style patient/*.read): the token is shown once.
    app.post<{ Body: { app: string; days?: number } }>(
      '/me/app-grants',
      { config: self, schema: { body: AppGrantBody } },
      async (req, reply) => {
        const granted = await hub.appGrants.grant(req.principal!, req.body.app, req.body.days ?? 30);
        req.auditedByRoute = true;
        return reply.code(201).send(granted);
      },
    );
    app.get('/me/app-grants', { config: self }, async (req) => {
      req.auditAction = { action: 'me-app-grants', target: 'me/app-grants' };
      return { grants: await hub.appGrants.list(req.principal!.name) };
    });
    app.delete<{ Params: { id: string } }>(
      '/me/app-grants/:id',
      { config: self, schema: { params: GrantParams } },
      async (req, reply) => {
        await hub.appGrants.revoke(req.principal!, req.params.id);
        req.auditedByRoute = true;
        return reply.code(204).send();
      },
    );

    app.get('/me/$everything', { config: self }, async (req, reply) => {
      req.auditAction = { action: 'me-everything', target: 'me/$everything' };
      const bundle = await everythingBundle(hub.store, await linkedKeys(req.principal!.name), fhirBase(ctx, req));
      const parts = await peerParts(req);
      if (parts.length > 0) {
        // Records held at peers, under the peer's own URL; a peer not reached is an outcome entry saying so.
        const entry = bundle.entry as Record<string, unknown>[];
        for (const p of parts) {
          if (!p.reached) {
            entry.push({
              resource: {
                resourceType: 'OperationOutcome',
                issue: [{ severity: 'warning', code: 'incomplete', diagnostics: `${p.hub}: not reached (${p.why})` }],
              },
              search: { mode: 'outcome' },
            });
            continue;
          }
          for (const r of p.resources) {
            const resource = JSON.parse(r.content) as Record<string, unknown>;
            const meta = (resource.meta ?? {}) as Record<string, unknown>;
            resource.meta = { ...meta, versionId: r.versionId, lastUpdated: r.lastUpdated };
            entry.push({ fullUrl: `${p.url}/fhir/${r.type}/${r.id}`, resource, search: { mode: 'match' } });
          }
        }
        bundle.total = entry.filter((e) => (e.search as { mode: string }).mode === 'match').length;
      }
      return reply.type(FHIR_JSON).header('content-disposition', 'attachment; filename="my-record.json"').send(bundle);
    });

    app.get('/me/export.csv', { config: self }, async (req, reply) => {
      req.auditAction = { action: 'me-export', target: 'me/export.csv' };
      const local = await timeline(hub.store, await linkedKeys(req.principal!.name));
      const entries = withPeerRecords(local, reachedParts(await peerParts(req)));
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', 'attachment; filename="my-record.csv"')
        .send(timelineCsv(entries));
    });

    /** The citizen's records at peers, read now for this answer only; the audit entry names the peers asked. */
    async function peerParts(req: FastifyRequest): Promise<PeerPart[]> {
      const parts = await peerRecords.fetch(federation, req.principal!.name);
      if (parts.length > 0 && req.auditAction !== undefined) {
        req.auditAction.detail = {
          ...req.auditAction.detail,
          peers: parts.map((p) => `${p.hub}:${p.reached ? 'reached' : 'not-reached'}`).join(','),
        };
      }
      return parts;
    }

    async function linkedKeys(citizen: string): Promise<string[]> {
      return (await hub.enrolment.records(citizen)).map((r) => r.patientKey);
    }
  };
}

/** The records every reached peer sent, for an answer computed from the citizen's whole record. */
function peerResources(parts: readonly PeerPart[]) {
  return parts.flatMap((p) => (p.reached ? p.resources : []));
}

function reachedParts(parts: readonly PeerPart[]) {
  return parts.flatMap((p) => (p.reached ? [{ hub: p.hub, resources: p.resources }] : []));
}

/** Which peers were read, and why one was not: the citizen sees when a part of their record is missing. */
function partsSaid(parts: readonly PeerPart[]) {
  return parts.map((p) => (p.reached ? { hub: p.hub, reached: true } : { hub: p.hub, reached: false, why: p.why }));
}
