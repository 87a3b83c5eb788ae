import cliProgress from 'cli-progress';
import type { IngestProgress } from '../ingest/index.js';

/**
 * A progress bar on a terminal; plain lines every few seconds otherwise (logs, CI). Written to stderr, so the
 * results on stdout stay machine-readable.
 */
export function ingestProgress(out: { isTTY?: boolean; write(s: string): unknown }): {
  update: (p: IngestProgress) => void;
  stop: () => void;
} {
  if (out.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: 'ingest [{bar}] {percentage}% | {records} records | {mb} MB',
        hideCursor: true,
        stream: out as NodeJS.WritableStream,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(p) {
        if (!started) {
          bar.start(Math.max(p.bytesTotal, 1), 0, { records: 0, mb: '0' });
          started = true;
        }
        bar.update(Math.min(p.bytesDone, p.bytesTotal), { records: p.records, mb: (p.bytesDone / 1e6).toFixed(1) });
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let last = 0;
  return {
    update(p) {
      const now = Date.now();
      if (now - last < 5000) return;
      last = now;
      out.write(
        `ingest: ${p.records} records, ${(p.bytesDone / 1e6).toFixed(1)} of ${(p.bytesTotal / 1e6).toFixed(1)} MB\n`,
      );
    },
    stop() {},
  };
}
