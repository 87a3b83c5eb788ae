import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ErrorCode } from '../core/index.js';
import { scrubText } from '../privacy/index.js';

/** Where a rejected record came from and why it was rejected. Never holds the record's content. */
export interface Reject {
  file: string;
  line?: number;
  entry?: number;
  resourceType?: string;
  id?: string;
  code: ErrorCode;
  path?: string;
  message: string;
}

/**
 * Rejects, one JSON line each, appended as they happen so none is lost if the run dies. Messages pass the
 * identifier scrubber: a rejected value can itself be an identifier, and the rejects file lives on disk.
 */
export class RejectLog {
  private fd: number | undefined;
  count = 0;

  constructor(readonly path: string) {}

  add(reject: Reject): void {
    if (this.fd === undefined) {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
      this.fd = openSync(this.path, 'a', 0o600);
    }
    const safe = { ...reject, message: scrubText(reject.message) };
    writeSync(this.fd, `${JSON.stringify(safe)}\n`);
    this.count++;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
