/** Where a command writes, so tests can capture it. */
export interface Io {
  out: { isTTY?: boolean; write(s: string): unknown };
  err: { write(s: string): unknown };
}

export function processIo(): Io {
  return { out: process.stdout, err: process.stderr };
}
