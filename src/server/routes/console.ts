import { basename } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { mayReadRowLevel } from '../../access/index.js';
import { searchConcepts } from '../../cohort/index.js';
import type { DisclosurePolicy } from '../../core/index.js';
import type { Federation } from '../../federation/index.js';
import type { Hub } from '../../hub/index.js';
import { releaseCount } from '../../privacy/index.js';
import {
  CONFIRMED_FLU_TARGET,
  hubWeeklySeries,
  ILI_TARGET,
  isoDay,
  releaseHubSeries,
} from '../../surveillance/index.js';
import type { TableProfile } from '../../views/index.js';
import { openAnalyticTables } from '../../views/index.js';
import { badRequest } from '../operation-outcome.js';

/** Ingest runs listed on the overview. */
const HISTORY = 25;
/** How long the overview waits for a peer's signed ping. */
const PING_TIMEOUT_MS = 3000;

/**
 * The figures the web console shows that no other route gives: the hub's overview, its peers' health, the data
 * catalog, concept search for the cohort builder, and the observed weekly series under the forecasts. Aggregates
 * only, and counts of people or values pass disclosure control (a value seen fewer times than the threshold is
 * withheld), so any authenticated role may read them. Each request is audited by the app's hook.
 */
export function consoleRoutes(ctx: { hub: Hub; federation: Federation | undefined }) {
  const { hub } = ctx;
  const policy = hub.config.privacy.disclosure;
  return async (app: FastifyInstance) => {
    app.get('/console/overview', async (req) => {
      req.auditAction = { action: 'console-overview', target: 'console/overview' };
      const counts = await hub.store.countByType();
      const audit = await hub.audit.verify();
      const ingests = await hub.audit.recent(HISTORY, ['ingest']);
      const rowLevel = mayReadRowLevel(req.principal);
      return {
        hub: { name: hub.config.name, role: hub.config.role },
        you: req.principal ?? null,
        counts: Object.entries(counts)
          .map(([type, resources]) => ({ type, resources }))
          .sort((a, b) => b.resources - a.resources),
        audit,
        // Who loaded which file is for the hub's stewards; other roles see when, how much and how many rejects.
        ingests: ingests.map((e) => ({
          seq: e.seq,
          at: e.at.toISOString(),
          actor: rowLevel ? e.actor : null,
          // CLI runs name the file by its path on the server: the name is enough for the history.
          target: !rowLevel ? null : e.target.startsWith('file:') ? `file:${basename(e.target.slice(5))}` : e.target,
          outcome: e.outcome,
          source: rowLevel ? (e.detail?.source ?? null) : null,
          bytes: e.detail?.bytes ?? null,
          entries: e.detail?.entries ?? null,
          rejected: e.detail?.rejected ?? null,
        })),
        peers: ctx.federation?.peers.list().map((p) => ({ name: p.name, url: p.url })) ?? [],
        federation: ctx.federation !== undefined,
      };
    });

    // The disclosure rules the console explains next to withheld figures ("fewer than {threshold}").
    app.get('/console/policy', async (req) => {
      req.auditAction = { action: 'console-policy', target: 'console/policy' };
      return {
        disclosure: { threshold: policy.threshold, rounding: policy.rounding, minCellSize: policy.minCellSize },
      };
    });

    app.get('/console/peers', async (req) => {
      req.auditAction = { action: 'console-peers', target: 'console/peers' };
      const f = ctx.federation;
      if (f === undefined) return { peers: [] };
      const peers = await Promise.all(
        f.peers.list().map(async (p) => {
          const started = performance.now();
          try {
            await f.client.call(p.name, 'hub.ping', {}, { timeoutMs: PING_TIMEOUT_MS });
            return { name: p.name, url: p.url, ok: true, ms: Math.round(performance.now() - started) };
          } catch (e) {
            const code = (e as { code?: unknown }).code;
            return {
              name: p.name,
              url: p.url,
              ok: false,
              ms: Math.round(performance.now() - started),
              error: typeof code === 'string' ? code : 'INTERNAL',
            };
          }
        }),
      );
      return { peers };
    });

    app.get('/console/catalog', async (req) => {
      req.auditAction = { action: 'console-catalog', target: 'console/catalog' };
      const tables = await (await openAnalyticTables(hub)).list();
      return {
        tables: tables.map((t) => ({ ...t, refreshedAt: t.refreshedAt?.toISOString() ?? null })),
      };
    });

    app.get<{ Params: { view: string } }>('/console/catalog/:view', async (req) => {
      req.auditAction = { action: 'console-catalog', target: `console/catalog/${req.params.view}` };
      const profile = await (await openAnalyticTables(hub)).profile(req.params.view);
      return releasedProfile(profile, policy);
    });

    app.get<{ Querystring: { q?: string } }>('/console/concepts', async (req) => {
      const q = (req.query.q ?? '').trim();
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

    app.get<{ Querystring: { target?: string } }>('/console/surveillance/observed', async (req) => {
      const target = req.query.target ?? ILI_TARGET;
      if (target !== ILI_TARGET && target !== CONFIRMED_FLU_TARGET) {
        throw badRequest(`target must be '${ILI_TARGET}' or '${CONFIRMED_FLU_TARGET}'`, 'target');
      }
      req.auditAction = { action: 'console-observed', target: 'console/surveillance/observed' };
      const both = await hubWeeklySeries(hub);
      const s = target === ILI_TARGET ? both.ili : both.confirmed;
      // The same weekly counts the stored forecasts were made from (`healthmesh forecast run`), served beside them:
      // exact to the roles that may see row-level data, otherwise as the hub would release them to a peer
      // (small weeks suppressed as null, the rest rounded; docs/surveillance.md, "Federated series").
      const exact = mayReadRowLevel(req.principal);
      // Through the release log like a peer's series, so polling it cannot difference a late record out.
      const released = exact ? undefined : await releaseHubSeries(hub, `user:${req.principal?.name ?? 'unknown'}`);
      const values = released ? (target === ILI_TARGET ? released.ili : released.confirmed) : Array.from(s.values);
      return {
        target,
        location: s.location,
        disclosureControlled: !exact,
        weeks: values.map((value, i) => ({ weekEnd: isoDay(s.startDay + 7 * i), value })),
      };
    });
  };
}

/** A table profile with every count released: values seen too rarely are withheld and counted as withheld. */
function releasedProfile(p: TableProfile, policy: DisclosurePolicy) {
  return {
    view: p.view,
    table: p.table,
    rows: releaseCount(p.rows, policy),
    columns: p.columns.map((c) => {
      const values = c.values?.map((v) => ({ value: v.value, rows: releaseCount(v.rows, policy) }));
      return {
        name: c.name,
        type: c.type,
        description: c.description,
        kind: c.kind,
        // Counts of records with a value (deaths recorded, say) are released like any count.
        filled: releaseCount(c.filled, policy),
        distinct: releaseCount(c.distinct, policy),
        ...(values && {
          values: values.filter((v) => v.rows !== null),
          withheldValues: values.filter((v) => v.rows === null).length,
        }),
        // A quartile is one record's value: released only with minCellSize values on each side of it (n/4 >= it),
        // the rule of releaseSummary.
        ...(c.quartiles && c.filled * 0.25 >= policy.minCellSize && { quartiles: c.quartiles }),
      };
    }),
  };
}
