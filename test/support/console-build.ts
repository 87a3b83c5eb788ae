import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const WEB = fileURLToPath(new URL('../../web/', import.meta.url));

function newestInput(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestInput(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * Vitest global setup: the browser tests load the console as the hub serves it, from web/dist. `npm install`
 * builds it (the `prepare` script); this rebuilds it only when a source file is newer than the build, so a test
 * run never exercises a stale console. Vite builds offline.
 */
export default async function buildConsoleIfStale(): Promise<void> {
  const built = join(WEB, 'dist', 'index.html');
  const inputs = Math.max(
    newestInput(join(WEB, 'src')),
    statSync(join(WEB, 'index.html')).mtimeMs,
    statSync(join(WEB, 'vite.config.ts')).mtimeMs,
  );
  if (existsSync(built) && statSync(built).mtimeMs >= inputs) return;
  const { build } = await import('vite');
  await build({ configFile: join(WEB, 'vite.config.ts') });
}
