import { resolve } from 'node:path';
import { HealthmeshError } from '../core/index.js';
import type { Hub } from '../hub/index.js';
import type { CliActor } from './hub-operation.js';

/** Runs a command's work and writes one audit entry for it, success or failure (with the error code). */
export async function audited<T>(
  hub: Hub,
  action: string,
  target: string,
  work: () => Promise<T>,
  actor: CliActor = 'cli',
): Promise<T> {
  try {
    const result = await work();
    await hub.audit.append({ actor, action, target, outcome: 'success' });
    return result;
  } catch (e) {
    await hub.audit.append({
      actor,
      action,
      target,
      outcome: 'failure',
      detail: { code: e instanceof HealthmeshError ? e.code : 'INTERNAL' },
    });
    throw e;
  }
}

/**
 * An audit target naming a file or folder the command read: `kind:` and its keyed label (`Pseudonymiser.pathLabel`),
 * never the path, which may hold a person's name or registration number.
 */
export function pathTarget(hub: Hub, kind: string, path: string): string {
  return `${kind}:${hub.pseudonymiser.pathLabel(resolve(path))}`;
}
