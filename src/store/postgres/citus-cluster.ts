import { HealthmeshError } from '../../core/index.js';
import type { Database } from '../database.js';

/** One node of a Citus cluster as the coordinator's metadata lists it, with the shards it holds. */
export interface ClusterNode {
  host: string;
  port: number;
  role: 'coordinator' | 'worker';
  /** Whether the coordinator can use the node (`isactive` in `pg_dist_node`). */
  active: boolean;
  shards: number;
  bytes: number;
}

/** One table of the hub as it lives on the cluster. */
export interface ClusterTable {
  table: string;
  /** `distributed` by `column`, `reference` (a copy on every node), or `local` on the coordinator. */
  kind: 'distributed' | 'reference' | 'local';
  column: string | null;
  shards: number;
  bytes: number;
}

export interface ClusterStatus {
  nodes: ClusterNode[];
  tables: ClusterTable[];
}

/** Shard moves copy by logical replication when the server allows it, else they block writes to the shard moved. */
export type ShardTransferMode = 'auto' | 'force_logical' | 'block_writes';

async function requireCitus(db: Database): Promise<void> {
  if (db.engine !== 'postgres') {
    throw new HealthmeshError(
      'STORE_NOT_DISTRIBUTED',
      'the store is DuckDB: cluster commands need PostgreSQL with Citus',
    );
  }
  const [row] = await db.all<{ citus: boolean }>(
    "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') AS citus",
  );
  if (row?.citus !== true) {
    throw new HealthmeshError(
      'STORE_NOT_DISTRIBUTED',
      'the PostgreSQL store has no citus extension: cluster commands need a Citus coordinator',
    );
  }
}

/**
 * The cluster behind a Citus store: its nodes with their shards and bytes, and every table of the hub with how it
 * is placed. Sizes come from `citus_shards` (one row per shard placement) and, for local tables, the coordinator.
 */
export async function clusterStatus(db: Database): Promise<ClusterStatus> {
  await requireCitus(db);
  const nodes = await db.all<{
    host: string;
    port: number;
    group: number;
    active: boolean;
    shards: number;
    bytes: number;
  }>(
    `SELECT n.nodename AS host, n.nodeport AS port, n.groupid AS "group", n.isactive AS active,
            COUNT(s.shardid) AS shards, COALESCE(SUM(s.shard_size), 0) AS bytes
       FROM pg_dist_node n LEFT JOIN citus_shards s ON s.nodename = n.nodename AND s.nodeport = n.nodeport
      WHERE n.noderole = 'primary'
      GROUP BY n.nodename, n.nodeport, n.groupid, n.isactive ORDER BY n.groupid`,
  );
  const tables = await db.all<{
    table: string;
    kind: ClusterTable['kind'];
    column: string | null;
    shards: number;
    bytes: number;
  }>(
    `SELECT c.relname AS "table",
            CASE WHEN p.partmethod = 'h' THEN 'distributed' WHEN p.partmethod = 'n' AND p.repmodel = 't' THEN 'reference'
                 ELSE 'local' END AS kind,
            CASE WHEN p.partmethod = 'h' THEN column_to_column_name(p.logicalrelid, p.partkey) END AS "column",
            (SELECT COUNT(*) FROM pg_dist_shard s WHERE s.logicalrelid = c.oid) AS shards,
            CASE WHEN p.logicalrelid IS NULL THEN pg_total_relation_size(c.oid)
                 ELSE (SELECT COALESCE(SUM(cs.shard_size), 0) FROM citus_shards cs WHERE cs.table_name = c.oid::regclass) END
              AS bytes
       FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
       LEFT JOIN pg_dist_partition p ON p.logicalrelid = c.oid
      WHERE ns.nspname = 'public' AND c.relkind IN ('r', 'p')
      ORDER BY 1`,
  );
  return {
    nodes: nodes.map((n) => ({
      host: n.host,
      port: Number(n.port),
      role: Number(n.group) === 0 ? 'coordinator' : 'worker',
      active: n.active,
      shards: Number(n.shards),
      bytes: Number(n.bytes),
    })),
    tables: tables.map((t) => ({ ...t, shards: Number(t.shards), bytes: Number(t.bytes) })),
  };
}

/**
 * Register a worker (`citus_add_node`): it must run PostgreSQL with Citus preloaded and hold the hub's database with
 * the extension created. Reference tables are copied to it at once; distributed shards move only at `rebalance`.
 */
export async function addWorker(db: Database, host: string, port: number): Promise<void> {
  await requireCitus(db);
  if (!/^[A-Za-z0-9.:_-]{1,253}$/.test(host) || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new HealthmeshError('CLUSTER_INVALID_ARGUMENT', `not a worker address: ${host}:${port}`, { path: 'node' });
  }
  await db.run('SELECT citus_add_node($1, $2)', [host, port]);
  await db.run("SELECT replicate_reference_tables('block_writes')");
}

/**
 * Move shards until every worker holds its share (`rebalance_table_shards`, waiting until done); returns the moves
 * planned. Reads go on meanwhile. The default, `block_writes`, holds a shard's writes while it is copied: logical
 * replication (`auto`, `force_logical`) needs a replica identity, which the event index (no primary key) lacks.
 */
export async function rebalance(db: Database, mode: ShardTransferMode = 'block_writes'): Promise<number> {
  await requireCitus(db);
  const [plan] = await db.all<{ n: number }>('SELECT COUNT(*) AS n FROM get_rebalance_table_shards_plan()');
  await db.run('SELECT rebalance_table_shards(shard_transfer_mode => $1::citus.shard_transfer_mode)', [mode]);
  return Number(plan?.n ?? 0);
}
