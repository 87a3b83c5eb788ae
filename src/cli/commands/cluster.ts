import type { Command } from 'commander';
import { HealthmeshError } from '../../core/index.js';
import { defaultHubDir, openHub } from '../../hub/index.js';
import type { ShardTransferMode } from '../../store/index.js';
import { addWorker, clusterStatus, rebalance } from '../../store/index.js';
import { audited } from '../audited-work.js';
import type { Io } from '../io.js';

const MODES: readonly ShardTransferMode[] = ['block_writes', 'auto', 'force_logical'];

function parseNode(arg: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(arg);
  if (!m) throw new HealthmeshError('CLUSTER_INVALID_ARGUMENT', `expected HOST:PORT, got ${arg}`, { path: 'node' });
  return { host: m[1]!, port: Number(m[2]) };
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/**
 * `healthmesh cluster`: a hub on a Citus coordinator (docs/citus.md). Like every PostgreSQL hub command it opens the
 * store beside the serving processes, which keep serving while workers are added and shards move.
 */
export function clusterCommand(program: Command, io: Io, setCode: (c: number) => void): void {
  const cluster = program
    .command('cluster')
    .description(
      'A hub on distributed PostgreSQL (Citus): its nodes, shards and tables; adding a worker; rebalancing.',
    );

  cluster
    .command('show')
    .description(
      'List the nodes with their shards and sizes, and each table: distributed (by which column), reference or local.',
    )
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExample:\n  $ healthmesh cluster show --dir ./gwangju\n')
    .action(async (opts: { dir: string; json?: boolean }) => {
      const hub = await openHub(opts.dir);
      try {
        const status = await audited(hub, 'cluster-show', 'cluster', () => clusterStatus(hub.db));
        if (opts.json) io.out.write(`${JSON.stringify(status, null, 2)}\n`);
        else {
          for (const n of status.nodes) {
            io.out.write(
              `${n.role.padEnd(11)} ${`${n.host}:${n.port}`.padEnd(22)} ${n.active ? 'active  ' : 'inactive'} ${String(n.shards).padStart(5)} shards ${mib(n.bytes).padStart(12)}\n`,
            );
          }
          for (const t of status.tables) {
            const kind = t.kind === 'distributed' ? `distributed by ${t.column}` : t.kind;
            io.out.write(
              `  ${t.table.padEnd(32)} ${kind.padEnd(28)} ${String(t.shards).padStart(5)} shards ${mib(t.bytes).padStart(12)}\n`,
            );
          }
        }
        setCode(0);
      } finally {
        await hub.close();
      }
    });

  cluster
    .command('add-worker')
    .description(
      'Register a worker (PostgreSQL with Citus preloaded, the hub database and its citus extension made); shards move to it at rebalance.',
    )
    .argument('<node>', 'the worker as HOST:PORT, as the coordinator reaches it')
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .addHelpText('after', '\nExample:\n  $ healthmesh cluster add-worker 10.0.0.7:5432 --dir ./gwangju\n')
    .action(async (node: string, opts: { dir: string }) => {
      const { host, port } = parseNode(node);
      const hub = await openHub(opts.dir);
      try {
        await audited(hub, 'cluster-add-worker', `node:${host}:${port}`, () => addWorker(hub.db, host, port));
        io.out.write(`added worker ${host}:${port}; run \`healthmesh cluster rebalance\` to move shards to it\n`);
        setCode(0);
      } finally {
        await hub.close();
      }
    });

  cluster
    .command('rebalance')
    .description(
      'Move shards until every worker holds its share; the hub keeps serving (writes to a shard wait while it moves).',
    )
    .option('-d, --dir <dir>', 'hub data directory', defaultHubDir())
    .option('--mode <mode>', `shard transfer mode: ${MODES.join(', ')}`, 'block_writes')
    .addHelpText('after', '\nExample:\n  $ healthmesh cluster rebalance --dir ./gwangju\n')
    .action(async (opts: { dir: string; mode: string }) => {
      if (!MODES.includes(opts.mode as ShardTransferMode)) {
        throw new HealthmeshError('CLUSTER_INVALID_ARGUMENT', `--mode must be one of ${MODES.join(', ')}`, {
          path: 'mode',
        });
      }
      const hub = await openHub(opts.dir);
      try {
        const moves = await audited(hub, 'cluster-rebalance', 'cluster', () =>
          rebalance(hub.db, opts.mode as ShardTransferMode),
        );
        io.out.write(`rebalanced: ${moves} shard moves\n`);
        setCode(0);
      } finally {
        await hub.close();
      }
    });
}
