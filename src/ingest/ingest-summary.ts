import type { DerivedRefresh } from '../context/index.js';
import type { WriteStatus } from '../store/index.js';

export interface TypeCounts {
  created: number;
  updated: number;
  unchanged: number;
  rejected: number;
}

/** What one ingest run did, per resource type, with its throughput. */
export interface IngestSummary {
  source: string;
  files: number;
  bytes: number;
  seconds: number;
  mbPerSecond: number;
  byType: Record<string, TypeCounts>;
  totals: TypeCounts;
  rejectsFile?: string;
  /** Paths not read because they are not FHIR: a `healthmesh synth` folder's `manifest.json` and `truth/`. */
  skipped?: string[];
  /** The after-commit pipeline's pass that followed the run (absent on a pipeline without one). */
  derived?: DerivedRefresh;
}

export class SummaryBuilder {
  private readonly byType = new Map<string, TypeCounts>();
  files = 0;
  bytes = 0;

  constructor(
    private readonly source: string,
    private readonly startedAt: number,
  ) {}

  private counts(type: string): TypeCounts {
    let c = this.byType.get(type);
    if (!c) {
      c = { created: 0, updated: 0, unchanged: 0, rejected: 0 };
      this.byType.set(type, c);
    }
    return c;
  }

  written(type: string, status: WriteStatus, count = 1): void {
    this.counts(type)[status] += count;
  }

  rejected(type: string | undefined): void {
    this.counts(type ?? '(unknown)').rejected++;
  }

  build(now: number, rejectsFile: string | undefined): IngestSummary {
    const seconds = Math.max((now - this.startedAt) / 1000, 1e-6);
    const totals: TypeCounts = { created: 0, updated: 0, unchanged: 0, rejected: 0 };
    const byType: Record<string, TypeCounts> = {};
    for (const [type, c] of [...this.byType].sort(([a], [b]) => a.localeCompare(b))) {
      byType[type] = c;
      totals.created += c.created;
      totals.updated += c.updated;
      totals.unchanged += c.unchanged;
      totals.rejected += c.rejected;
    }
    return {
      source: this.source,
      files: this.files,
      bytes: this.bytes,
      seconds,
      mbPerSecond: this.bytes / 1e6 / seconds,
      byType,
      totals,
      ...(rejectsFile !== undefined && { rejectsFile }),
    };
  }
}

/** A plain-text table of a summary, for the CLI. */
export function formatSummary(s: IngestSummary): string {
  const rows = Object.entries(s.byType).map(([type, c]) => [
    type,
    String(c.created + c.updated),
    String(c.unchanged),
    String(c.rejected),
  ]);
  const header = ['resource type', 'accepted', 'unchanged', 'rejected'];
  const total = [
    'total',
    String(s.totals.created + s.totals.updated),
    String(s.totals.unchanged),
    String(s.totals.rejected),
  ];
  const all = [header, ...rows, total];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  const out = [line(header), ...rows.map(line), line(total)];
  out.push(
    `${s.files} file(s), ${(s.bytes / 1e6).toFixed(1)} MB in ${s.seconds.toFixed(2)} s: ${s.mbPerSecond.toFixed(1)} MB/s`,
  );
  for (const p of s.skipped ?? []) out.push(`skipped (synth ground truth or manifest, not FHIR): ${p}`);
  if (s.skipped) out.push(`${s.skipped.length} path(s) skipped`);
  if (s.rejectsFile) out.push(`rejects: ${s.rejectsFile}`);
  return out.join('\n');
}
