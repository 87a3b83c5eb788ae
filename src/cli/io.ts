/** Where a command writes, so tests can capture it. */
export interface Io {
  out: { isTTY?: boolean; write(s: string): unknown };
  /** Progress and errors: stdout stays clean for results (`--json` output can be piped). */
  err: { isTTY?: boolean; write(s: string): unknown };
}

export function processIo(): Io {
  return { out: process.stdout, err: process.stderr };
}
