import type { Principal } from '../access/index.js';
import { mayWriteSource } from '../access/index.js';
import { checkSourceName, HealthmeshError } from '../core/index.js';
import type { Hub } from '../hub/index.js';

/**
 * The source a write request names (`?source=`, or the `X-Healthmesh-Source` header; else the hub's
 * `defaultSource`), checked in this order: a well-formed source name (`INGEST_INVALID_SOURCE`, 400; the value is
 * never echoed or audited), then the caller's right to write under it (`AUTH_SOURCE_FORBIDDEN`, 403). `onChecked`
 * receives the name once it is known to be well-formed, so the audit entry of a refusal can say which source.
 */
export function writeSource(
  hub: Hub,
  principal: Principal | undefined,
  requested: string | undefined,
  onChecked: (source: string) => void,
): string {
  const source = requested === undefined ? hub.config.defaultSource : checkSourceName(requested, 'source');
  onChecked(source);
  if (!mayWriteSource(principal, source, hub.config.defaultSource)) {
    throw new HealthmeshError(
      'AUTH_SOURCE_FORBIDDEN',
      principal?.role === 'service'
        ? `token '${principal.name}' may not write under source '${source}'; bind it with \`healthmesh token create --source\``
        : `role '${principal?.role ?? 'none'}' may not write records`,
      { path: 'source' },
    );
  }
  return source;
}
