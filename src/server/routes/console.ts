import { basename } from 'node:path';
import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { mayReadRowLevel } from '../../access/index.js';
import { omopHoldings, searchConcepts } from '../../cohort/index.js';
import { HealthmeshError, HUB_ROLE_SERVICES } from '../../core/index.js';
import type { Federation } from '../../federation/index.js';
import type { Hub } from '../../hub/index.js';
import type { Gated, ReleaseGate } from '../../privacy/index.js';
import { applicantCatalog, catalogRows, ProjectFederation } from '../../projects/index.js';
import {
  CONFIRMED_FLU_TARGET,
  gatedHubSeries,
  hubWeeklySeries,
  ILI_TARGET,
  isoDay,
  parseIsoDay,
} from '../../surveillance/index.js';
import type { TableProfile } from '../../views/index.js';
import {
  CatalogParams,
  CatalogQuery,
  ConceptQuery,
  ConsolePolicy,
  ObservedSeries,
  PeerHealth,
} from '../api-schemas.js';
import { badRequest } from '../operation-outcome.js';

/** The weekly series the console charts under the forecasts (the surveillance module's own target names). */
const ObservedQuery = Type.Object({
  target: Type.Optional(
    Type.Union([Type.Literal(ILI_TARGET), Type.Literal(CONFIRMED_FLU_TARGET)], { description: 'the weekly series' }),
  ),
});

/** Ingest runs listed on the overview. */
const HISTORY = 25;
/** How long the overview waits for a peer's signed ping. */
const PING_TIMEOUT_MS = 3000;

/**
 * The figures the web console shows that no other route gives: the hub's overview, its peers' health, the data
 * catalog, concept search for the cohort builder, and the observed weekly series under the forecasts. Roles with
 * row-level rights get exact figures; every other role gets an answer built by the hub's release gate
 * (docs/disclosure-control.md): counts of people or records through `gate.count`, numbers that describe no one
 * (policy values, timings, sequence numbers) through `gate.parameter`. Each request is audited by the app's hook.
 */
export function consoleRoutes(ctx: { hub: Hub; federation: Federation | undefined }) {
  const { hub } = ctx;
  return async (app: FastifyInstance) => {
    // Aggregates for every role: exact to row-level roles, through the release gate to the others.
    const config = { allow: 'authenticated' } as const;
    app.get('/console/overview', { config }, async (req) => {
      req.auditAction = { action: 'console-overview', target: 'console/overview' };
      const counts = await hub.store.countByType();
      // From where this process last verified (or the newest signed checkpoint): not the whole chain per request.
      const audit = await hub.audit.verifyRecent();
      const ingests = await hub.audit.recent(HISTORY, ['ingest']);
      const rowLevel = mayReadRowLevel(req.principal);
      const peers = ctx.federation?.peers.list().map((p) => ({ name: p.name, url: p.url })) ?? [];
      // A loaded OMOP CDM is not in the FHIR store: its persons and tables are listed beside the resource types.
      const omop = (await omopHoldings(hub.db)).flatMap((o) => [
        { type: `OMOP ${o.source} person`, resources: o.persons },
        ...o.tables.map((t) => ({ type: `OMOP ${o.source} ${t.table}`, resources: t.rows })),
      ]);
      const byType = [...Object.entries(counts).map(([type, resources]) => ({ type, resources })), ...omop].sort(
        (a, b) => b.resources - a.resources,
      );
      if (rowLevel) {
        return {
          hub: { name: hub.config.name, role: hub.config.role },
          you: req.principal ?? null,
          counts: byType,
          audit,
          ingests: ingests.map((e) => ({
            seq: e.seq,
            at: e.at.toISOString(),
            actor: e.actor,
            // CLI runs name the file by its path on the server: the name is enough for the history.
            target: e.target.startsWith('file:') ? `file:${basename(e.target.slice(5))}` : e.target,
            outcome: e.outcome,
            source: e.detail?.source ?? null,
            bytes: e.detail?.bytes ?? null,
            entries: e.detail?.entries ?? null,
            rejected: e.detail?.rejected ?? null,
          })),
          peers,
          federation: ctx.federation !== undefined,
        };
      }
      // Other roles get the same page through the gate: records per type and per ingest run counted like people
      // (a file of 3 records tells of 3 people), who loaded which file and its size withheld.
      const { gate } = hub;
      const count = (v: unknown) => (typeof v === 'number' ? gate.count(v) : null);
      return gate.bundle({
        hub: { name: hub.config.name, role: hub.config.role },
        you: req.principal ? { name: req.principal.name, role: req.principal.role } : null,
        counts: byType.map((c) => ({ type: c.type, resources: gate.count(c.resources) })),
        audit: {
          ok: audit.ok,
          entries: gate.parameter(audit.entries, 'entries in the audit log'),
          ...(audit.fault && {
            fault: { seq: gate.parameter(audit.fault.seq, 'audit log sequence number'), reason: audit.fault.reason },
          }),
        },
        ingests: ingests.map((e) => ({
          seq: gate.parameter(e.seq, 'audit log sequence number'),
          at: e.at.toISOString(),
          actor: null,
          target: null,
          outcome: e.outcome,
          source: null,
          bytes: null,
          entries: count(e.detail?.entries),
          rejected: count(e.detail?.rejected),
        })),
        peers,
        federation: ctx.federation !== undefined,
      });
    });

    // The disclosure rules the console explains next to withheld figures ("fewer than {threshold}").
    app.get('/console/policy', { config, schema: { response: { 200: ConsolePolicy } } }, async (req) => {
      req.auditAction = { action: 'console-policy', target: 'console/policy' };
      const { gate } = hub;
      const policy = hub.config.privacy.disclosure;
      return gate.bundle({
        disclosure: {
          threshold: gate.parameter(policy.threshold, 'disclosure threshold'),
          rounding: gate.parameter(policy.rounding, 'rounding base of released counts'),
          minCellSize: gate.parameter(policy.minCellSize, 'fewest people behind a statistic'),
        },
        // The console shows the pages of this hub's services and the caller's role only.
        hub: { name: hub.config.name, role: hub.config.role, services: [...HUB_ROLE_SERVICES[hub.config.role]] },
        you: { name: req.principal?.name ?? '', role: req.principal?.role ?? '' },
      });
    });

    app.get('/console/peers', { config, schema: { response: { 200: PeerHealth } } }, async (req) => {
      req.auditAction = { action: 'console-peers', target: 'console/peers' };
      const f = ctx.federation;
      if (f === undefined) return hub.gate.bundle({ peers: [] });
      const ms = (started: number) => hub.gate.parameter(Math.round(performance.now() - started), 'ping time in ms');
      const peers = await Promise.all(
        f.peers.list().map(async (p) => {
          const started = performance.now();
          try {
            await f.client.call(p.name, 'hub.ping', {}, { timeoutMs: PING_TIMEOUT_MS });
            return { name: p.name, url: p.url, ok: true, ms: ms(started) };
          } catch (e) {
            const code = (e as { code?: unknown }).code;
            return {
              name: p.name,
              url: p.url,
              ok: false,
              ms: ms(started),
              error: typeof code === 'string' ? code : 'INTERNAL',
            };
          }
        }),
      );
      return hub.gate.bundle({ peers });
    });

    // The catalog for applicants (docs/projects.md): tables, their columns and descriptions, record counts and the
    // years covered, before any approval; `hubs` adds what those peers hold, each released by its own gate.
    const catalogs = new ProjectFederation(hub);
    const catalog = { config, schema: { querystring: CatalogQuery } };
    app.get<{ Querystring: Static<typeof CatalogQuery> }>('/console/catalog', catalog, async (req) => {
      req.auditAction = { action: 'console-catalog', target: 'console/catalog' };
      const hubs = req.query.hubs
        ?.split(',')
        .map((h) => h.trim())
        .filter(Boolean);
      const exact = await catalogRows(hub);
      const rowLevel = mayReadRowLevel(req.principal);
      const listed = (await applicantCatalog(hub)).value.tables;
      const peers = hubs && hubs.length > 0 ? await catalogs.catalogs(ctx.federation, hubs) : undefined;
      if (rowLevel) {
        const tables = listed.map((t) => ({ ...t, rows: exact.get(t.view) ?? 0 }));
        return { tables, ...(peers && { peers: peers.value }) };
      }
      // A table's rows are records of people: counted like people for roles without row-level rights.
      const tables = listed.map((t) => ({ ...t, rows: hub.gate.count(exact.get(t.view) ?? 0) }));
      // Typed as plain data; `bundle` still refuses any raw number in it at run time.
      return hub.gate.bundle({ tables: tables as unknown as Gated, ...(peers && { peers }) });
    });

    const profile = { config, schema: { params: CatalogParams } };
    app.get<{ Params: Static<typeof CatalogParams> }>('/console/catalog/:view', profile, async (req) => {
      req.auditAction = { action: 'console-catalog', target: `console/catalog/${req.params.view}` };
      const profile = await hub.tables.profile(req.params.view);
      return releasedProfile(profile, hub.gate);
    });

    const concepts = { config, schema: { querystring: ConceptQuery } };
    app.get<{ Querystring: Static<typeof ConceptQuery> }>('/console/concepts', concepts, async (req) => {
      const q = req.query.q.trim();
      if (q.length < 2 || q.length > 100) throw badRequest('q must be 2 to 100 characters', 'q');
      req.auditAction = { action: 'console-concepts', target: 'console/concepts' };
      const found = await searchConcepts(hub, q);
      // Row-level roles see the exact number of people per code. Others get it through the gate, and a code held
      // by fewer people than the threshold is not listed at all: even listing it tells that it occurs here.
      if (mayReadRowLevel(req.principal)) return { concepts: found };
      const concepts = found
        .map((c) => ({ ...c, persons: hub.gate.count(c.persons) }))
        .filter((c) => c.persons.value !== null);
      return hub.gate.bundle({ concepts });
    });

    const observed = { config, schema: { querystring: ObservedQuery, response: { 200: ObservedSeries } } };
    app.get<{ Querystring: Static<typeof ObservedQuery> }>('/console/surveillance/observed', observed, async (req) => {
      const target = req.query.target ?? ILI_TARGET;
      req.auditAction = { action: 'console-observed', target: 'console/surveillance/observed' };
      if (mayReadRowLevel(req.principal)) {
        // The same weekly counts the stored forecasts were made from (`healthmesh forecast run`), served beside them.
        const both = await hubWeeklySeries(hub);
        const s = target === ILI_TARGET ? both.ili : both.confirmed;
        return {
          target,
          location: s.location,
          disclosureControlled: false,
          weeks: Array.from(s.values, (value, i) => ({ weekEnd: isoDay(s.startDay + 7 * i), value })),
        };
      }
      // Other roles get the series as the hub releases it to a peer (small weeks null, the rest rounded), through the
      // release log, so polling it cannot difference a late record out (docs/surveillance.md, "Federated series").
      const released = (await gatedHubSeries(hub, `user:${req.principal?.name ?? 'unknown'}`)).value;
      const values = target === ILI_TARGET ? released.ili : released.confirmed;
      const start = parseIsoDay(released.startDate);
      if (start === undefined) throw new HealthmeshError('INTERNAL', 'a released series has no start day');
      return hub.gate.bundle({
        target,
        location: released.location,
        disclosureControlled: true,
        weeks: values.map((value, i) => ({
          weekEnd: isoDay(start + 7 * i),
          value: hub.gate.reissue(value, 'release-log'),
        })),
      });
    });
  };
}

/**
 * A table profile through the gate: every count released like a count of people, values seen too rarely withheld
 * and counted as withheld, quartiles only with minCellSize values on each side and on the precision grid.
 */
function releasedProfile(p: TableProfile, gate: ReleaseGate) {
  const { minCellSize } = gate.policy;
  return gate.bundle({
    view: p.view,
    table: p.table,
    rows: gate.count(p.rows),
    columns: p.columns.map((c) => {
      const values = c.values?.map((v) => ({ value: v.value, rows: gate.count(v.rows) }));
      const q = c.quartiles;
      return {
        name: c.name,
        type: c.type,
        description: c.description,
        kind: c.kind,
        // Counts of records with a value (deaths recorded, say) are released like any count.
        filled: gate.count(c.filled),
        distinct: gate.count(c.distinct),
        ...(values && {
          values: values.filter((v) => v.rows.value !== null),
          withheldValues: gate.parameter(
            values.filter((v) => v.rows.value === null).length,
            'how many listed values were withheld (values, not people)',
          ),
        }),
        // A quartile is one record's value: released only with minCellSize values on each side of it (n/4 >= it),
        // the quantile rule of releaseSummary, and then on the gate's precision grid.
        ...(q &&
          c.filled * 0.25 >= minCellSize && {
            quartiles: {
              p25: gate.statistic(q.p25, c.filled),
              median: gate.statistic(q.median, c.filled),
              p75: gate.statistic(q.p75, c.filled),
            },
          }),
      };
    }),
  });
}
