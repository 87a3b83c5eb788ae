import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const FLUSH_BYTES = 1 << 20;

/**
 * One NDJSON file per resource type (the Bulk Data layout), written through a 1 MB buffer per file. Writes are
 * synchronous: the generator is CPU-bound, and blocking writes keep memory flat without stream back-pressure.
 */
export class NdjsonSink {
  private readonly files = new Map<
    string,
    { fd: number; chunks: string[]; pending: number; lines: number; bytes: number }
  >();

  private readonly only: ReadonlySet<string> | undefined;

  /** `only`: the types to write; a record of any other type is dropped before it is serialised. */
  constructor(
    private readonly dir: string,
    only?: readonly string[],
  ) {
    mkdirSync(dir, { recursive: true });
    this.only = only === undefined ? undefined : new Set(only);
  }

  write(type: string, record: unknown): void {
    if (this.only !== undefined && !this.only.has(type)) return;
    let f = this.files.get(type);
    if (f === undefined) {
      f = { fd: openSync(join(this.dir, `${type}.ndjson`), 'w'), chunks: [], pending: 0, lines: 0, bytes: 0 };
      this.files.set(type, f);
    }
    const line = `${JSON.stringify(record)}\n`;
    f.chunks.push(line);
    f.pending += line.length;
    f.lines++;
    if (f.pending >= FLUSH_BYTES) this.flush(f);
  }

  private flush(f: { fd: number; chunks: string[]; pending: number; bytes: number }): void {
    if (f.chunks.length === 0) return;
    const buf = Buffer.from(f.chunks.join(''), 'utf8');
    // writeSync may write less than asked: loop until the whole chunk is on disk.
    for (let off = 0; off < buf.length; ) off += writeSync(f.fd, buf, off, buf.length - off);
    f.bytes += buf.length;
    f.chunks = [];
    f.pending = 0;
  }

  /** Flushes and closes every file; returns lines and bytes per file name (without extension). */
  close(): Map<string, { lines: number; bytes: number }> {
    const out = new Map<string, { lines: number; bytes: number }>();
    for (const [type, f] of [...this.files].sort(([a], [b]) => a.localeCompare(b))) {
      this.flush(f);
      closeSync(f.fd);
      out.set(type, { lines: f.lines, bytes: f.bytes });
    }
    this.files.clear();
    return out;
  }
}
