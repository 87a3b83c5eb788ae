import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { StagedBatch, StagedFiles } from '../store/index.js';
import { STAGED_TABLES } from '../store/index.js';

/**
 * The staged files of one bulk ingest run, in a directory of their own under the hub's staging directory. A
 * chunk's files live while its outcomes are being applied or a write batch that holds its records is pending;
 * then they are removed, so the disk holds at most the batches in flight. The store lock admits one process per
 * hub, so a directory left by another process id is a crashed run's, removed when the next ingest starts.
 */
export class StagingArea {
  private readonly chunks = new Map<number, { files: StagedFiles; refs: number }>();

  private constructor(readonly dir: string) {}

  /** Remove what crashed runs of other processes left under `root` (run at the start of every ingest). */
  static sweep(root: string): void {
    if (!existsSync(root)) return;
    const mine = `${process.pid}-`;
    for (const name of readdirSync(root)) {
      if (!name.startsWith(mine)) rmSync(join(root, name), { recursive: true, force: true });
    }
  }

  static open(root: string): StagingArea {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    StagingArea.sweep(root);
    const dir = join(root, `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`);
    mkdirSync(dir, { mode: 0o700 });
    return new StagingArea(dir);
  }

  /** A chunk's files, held once (released when its outcomes are applied). */
  add(seq: number, files: StagedFiles): void {
    this.chunks.set(seq, { files, refs: 1 });
  }

  retain(seq: number): void {
    const chunk = this.chunks.get(seq);
    if (chunk) chunk.refs++;
  }

  release(seq: number): void {
    const chunk = this.chunks.get(seq);
    if (!chunk || --chunk.refs > 0) return;
    this.chunks.delete(seq);
    const { files } = chunk;
    for (const table of STAGED_TABLES) {
      const file = files[table];
      if (file) rmSync(file, { force: true });
    }
  }

  /** The files of these chunks, per table. */
  batchFiles(seqs: Iterable<number>): StagedBatch['files'] {
    const files: StagedBatch['files'] = {
      records: [],
      versions: [],
      tokens: [],
      dates: [],
      references: [],
      longestLine: 0,
    };
    for (const seq of seqs) {
      const chunk = this.chunks.get(seq)?.files;
      if (!chunk) throw new Error(`staged chunk ${seq} is gone before its batch was written`);
      for (const table of STAGED_TABLES) {
        const file = chunk[table];
        if (file) files[table].push(file);
      }
      files.longestLine = Math.max(files.longestLine, chunk.longestLine);
    }
    return files;
  }

  close(): void {
    this.chunks.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
